/* A study: many trials of one experiment, each a process that trains with the
 * values the sampler (TPE, or a grid for sensitivity) gave it and reports one
 * validation metric, recorded in an Optuna journal (experiments/journal.h).
 *
 * Determinism: slot k (the k-th suggestion) is drawn from the final results of
 * slots 0 .. k-L-1, told in slot order, with slots k-L .. k-1 as constant liars,
 * whatever has finished by then; L = search.lag. A worker waits only when it
 * would run more than L slots ahead of the oldest unfinished one, so 1, 2 or 8
 * workers give the same study, slot for slot; pruning decisions are taken
 * against the same reference slots. A killed study resumes from its journal
 * (--resume STUDY_DIR): trials left running are marked failed and their slots
 * run again with the same values. Several processes may run one study at
 * once (experiments/study_internal.h), and MPI ranks (experiments/study_mpi.h). */
#ifndef DR_EXPERIMENTS_STUDY_H
#define DR_EXPERIMENTS_STUDY_H

#include "core/config.h"
#include "experiments/search_space.h"

typedef enum dr_pruner_kind { DR_PRUNER_NONE, DR_PRUNER_MEDIAN, DR_PRUNER_ASHA } dr_pruner_kind;

typedef struct dr_pruner {
    dr_pruner_kind kind;
    int startup;     /* median: completed reference trials needed first (Optuna: 5) */
    int warmup;      /* median: steps before the first decision (0) */
    int reduction;   /* ASHA: reduction factor (4) */
    int min_resource; /* ASHA: first rung's step; 0 = Optuna's "auto" */
} dr_pruner;

typedef struct dr_study_settings {
    const char *section;     /* "search" or "sensitivity" */
    dr_search_space space;
    int grid;                /* sensitivity: every cell of the grid x seeds, no sampler */
    int trials;              /* slots (a grid: cells x seeds) */
    double timeout;          /* seconds after which no new trial starts; 0 = none */
    const char *metric;      /* a column of the results table, on validation */
    const char *model;       /* the model whose metric counts, or "ensemble" */
    int maximize;
    int workers, lag, threads;
    int64_t seed;
    int startup_trials;
    int multivariate;        /* the TPE's joint mixture (experiments/tpe.h) */
    dr_pruner pruner;
    int refit;
    /* grid only */
    int n_seeds;
    const int64_t *seeds;
} dr_study_settings;

/* True when the experiment file asks for a study ([search] or [sensitivity]). */
int dr_study_requested(const dr_config *cfg);
/* Reads [search] or [sensitivity] (whichever the file has; both is an error
 * when they vary the same key). */
dr_status dr_study_settings_read(dr_config *cfg, dr_study_settings *st);
/* Whether a metric of the results table is better larger (all but brier, log_loss). */
int dr_study_metric_maximize(const char *metric);

typedef struct dr_study_request {
    const char *config_path;       /* a new study of this experiment file and overrides, */
    const char *const *overrides;
    int n_overrides;
    const char *resume_dir;        /* or this study folder: stopped, or running in other processes */
    int workers;                   /* trial processes at once in this process; 0: search.workers */
    int create_only;               /* make the folder and check the experiment; run no trial */
    char *dir_out;                 /* when not NULL: the study folder */
    size_t dir_cap;
} dr_study_request;

/* Runs, continues or joins a study. */
dr_status dr_study_run(const dr_study_request *r);
/* The process behind one trial: defrisk trial STUDY_DIR NUMBER OUT_FD IN_FD key=value... */
int dr_trial_main(int argc, char **argv);
/* run_experiment study ls|best|trials|export STUDY_DIR [OUT.csv] */
int dr_study_command(int argc, char **argv);
/* run_experiment sweep --slurm [--submit] [--ranks N] EXP.toml [key=value ...] */
int dr_sweep_command(int argc, char **argv);
/* Pruning decision for trial t at step, against the reference trials (see above). */
struct dr_journal_trial;
int dr_pruner_prune(const dr_pruner *p, int maximize, const struct dr_journal_trial *const *refs, int n_refs,
                    const struct dr_journal_trial *t, int step);

#endif
