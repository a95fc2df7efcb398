/* A study across MPI ranks (mpirun -np N, or srun): rank 0 is the coordinator of
 * experiments/study.c, the only one to hold the sampler and the journal; every
 * other rank runs one trial process at a time as rank 0 asks (its argv, thread
 * count and output file), and relays the trial's report lines to rank 0 and
 * rank 0's answers to the trial: the pipe protocol of experiments/trial.c,
 * carried by MPI messages. The study folder must be on a file system every
 * rank sees. Since slot k's values depend only on slots 0 .. k-lag-1, N ranks
 * give the study of one process, slot for slot.
 *
 * Open MPI 4 ends the whole job when one rank dies: the study then continues
 * with --resume (under mpirun or not), and only the trials that ran are lost
 * and run again. Without MPI at build time a launch by mpirun is refused, since
 * every rank would run a study of its own. */
#ifndef DR_EXPERIMENTS_STUDY_MPI_H
#define DR_EXPERIMENTS_STUDY_MPI_H

#include <stddef.h>

#include "core/status.h"

/* Whether a launcher (mpirun, srun with PMI) started this process as a rank. */
int dr_mpi_launched(void);
/* MPI_Init; DR_ERR_INVALID when this build has no MPI. */
dr_status dr_mpi_begin(int *rank, int *size);
/* Rank 0: tells every other rank to stop (a trial still running is killed). */
void dr_mpi_stop_ranks(void);
/* MPI_Finalize, once begun. */
void dr_mpi_end(void);
/* The ranks of the job once begun, otherwise 0. */
int dr_mpi_ranks(void);

/* Rank 0's side. */
dr_status dr_mpi_send_trial(int rank, char *const *argv, int threads, const char *output_path);
dr_status dr_mpi_send_answer(int rank, const char *answer);
typedef enum dr_mpi_event {
    DR_MPI_NOTHING, /* nothing came within the timeout */
    DR_MPI_LINE,    /* a report line of the rank's trial */
    DR_MPI_ENDED    /* the trial process ended: text says how when not with status 0 ("" otherwise) */
} dr_mpi_event;
dr_status dr_mpi_next(double timeout_s, int *rank, dr_mpi_event *event, char *text, size_t cap);

/* The other ranks: runs trials until rank 0 says stop; the exit status. */
int dr_mpi_relay_main(void);

#endif
