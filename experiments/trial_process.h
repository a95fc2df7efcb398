/* A trial process (experiments/trial.c) with pipes to it: its report lines come
 * on one, the answers go on the other, its stdout and stderr into a file. The
 * study (experiments/study.c) starts its local workers this way, and so does an
 * MPI rank that runs trials for the coordinator (experiments/study_mpi.c). */
#ifndef DR_EXPERIMENTS_TRIAL_PROCESS_H
#define DR_EXPERIMENTS_TRIAL_PROCESS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/status.h"

enum { DR_TRIAL_LINE_CAP = 4096 };

typedef struct dr_trial_proc {
    pid_t pid;
    int from; /* the trial's reports */
    FILE *to; /* the answers */
    size_t len;
    char line[DR_TRIAL_LINE_CAP];
} dr_trial_proc;

/* Starts argv (defrisk trial ...) as /proc/self/exe with OpenMP and OpenBLAS at
 * `threads`; a killed parent takes the trial with it. */
dr_status dr_trial_proc_start(dr_trial_proc *p, char *const *argv, int threads, const char *output_path);
/* Reads what the trial sent and calls on_line for each whole line (a line
 * longer than any report is dropped); *eof when the trial closed its end. */
dr_status dr_trial_proc_read(dr_trial_proc *p, dr_status (*on_line)(void *ctx, char *line), void *ctx, int *eof);
/* One answer line ("go" or "prune"). */
void dr_trial_proc_answer(dr_trial_proc *p, const char *answer);
/* Closes the pipes (the process may still be exiting). */
void dr_trial_proc_close(dr_trial_proc *p);
/* Closes the pipes and waits for the process: 1 when it exited with status 0;
 * otherwise how it ended (an exit status, or the signal) goes into why. */
int dr_trial_proc_wait(dr_trial_proc *p, char *why, size_t cap);

#endif
