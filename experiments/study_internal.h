/* The study's coordinator, in three files: study_slots.c (each slot's state
 * from the journal, its values), study.c (the trial processes and the loop),
 * study_run.c (setting a study up, finishing it).
 *
 * Every study process shares its journal (experiments/journal.h): it decides
 * which slot to run next holding the journal's lock, on the state the journal
 * shows then, so several processes (a Slurm job array, or a --resume beside a
 * running study) run one study as one process would. Each keeps a heartbeat,
 * STUDY_DIR/workers/HOST.PID, touched every second; a trial left running by a
 * process that is gone (on this host) or whose heartbeat is older than
 * DR_HEARTBEAT_STALE_S fails as interrupted and its slot runs again. */
#ifndef DR_EXPERIMENTS_STUDY_INTERNAL_H
#define DR_EXPERIMENTS_STUDY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "experiments/journal.h"
#include "experiments/run.h"
#include "experiments/study.h"
#include "experiments/tpe.h"
#include "experiments/trial_process.h"

enum { DR_HEARTBEAT_STALE_S = 60 };

/* one running trial: a process of ours, or one that an MPI rank runs */
typedef struct dr_worker {
    dr_trial_proc proc;
    int rank; /* 0: the process is ours */
    long number, slot;
    int told_prune, done;
    double value;
    char reason[1024];
    int n_attrs; /* the trial's metrics, written with its end: one journal operation */
    char attr_key[2 * DR_JOURNAL_MAX_ATTRS][DR_JOURNAL_KEY_CAP];
    double attr_value[2 * DR_JOURNAL_MAX_ATTRS];
} dr_worker;

typedef struct dr_study {
    dr_study_settings st;
    dr_config *cfg;
    dr_run run;
    dr_journal *j;
    dr_tpe *tpe;
    long told;        /* slots 0 .. told-1 are in the sampler */
    double (*v)[DR_TPE_MAX_PARAMS]; /* each drawn slot's values */
    long drawn;       /* slots 0 .. drawn-1 have values */
    long *final;      /* per slot: the trial number that settled it, or -1 */
    char *running;    /* per slot: a trial runs it now (here or in another process) */
    long prefix;      /* slots 0 .. prefix-1 are all settled */
    dr_worker *w;
    int n_running;    /* trials of this process */
    pid_t exiting[64]; /* trial processes that answered and closed their pipes, not yet reaped */
    int n_exiting;
    int mpi;          /* the workers are MPI ranks 1 .. workers */
    char heartbeat[1200];
    double last_beat, last_scan;
    pthread_t beater; /* beats while the loop does not (the refit) */
    atomic_int stop_beating;
    int settled_since_scan;
    double t0;
    long n_settled_here; /* slots settled by this process (for the ETA) */
    double loop_s, waited_s; /* the loop's time, and how much of it went waiting for trials */
    double loop_cpu_s;       /* the CPU time this process spent in the loop */
} dr_study;

/* study_slots.c */
/* The slots' state from the journal, which the caller holds locked; trials left
 * running by processes that are gone fail as interrupted. */
dr_status dr_study_scan(dr_study *S);
/* Draws slot's values (the sampler, or the grid's cell). */
dr_status dr_study_draw(dr_study *S, long slot);
/* The next slot that may start now, or -1. */
long dr_study_next_slot(const dr_study *S);
/* Touches this process's heartbeat (at most once a second). */
void dr_study_beat(dr_study *S);
/* A thread that touches it every second until stopped: for the refit, which runs
 * for minutes outside the loop, so no other process takes the finishing one for
 * gone and finishes the study a second time. */
dr_status dr_study_beat_start(dr_study *S);
void dr_study_beat_stop(dr_study *S);
/* Whether the process of a journal worker_id still runs (ours does). */
int dr_study_worker_alive(const dr_study *S, const char *worker_id);

/* study.c */
dr_status dr_study_loop(dr_study *S);
/* The check run: every key read with the first value of each parameter. */
dr_status dr_study_check(dr_study *S, const char *config_path);
/* Kills this process's trial processes. */
void dr_study_stop_workers(dr_study *S);
int dr_study_better(const dr_study *S, double a, double b);

#endif
