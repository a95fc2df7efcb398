/* Studies across MPI ranks; see study_mpi.h. */
#include <stdlib.h>
#include <string.h>

#include "experiments/study_mpi.h"

int dr_mpi_launched(void)
{
    /* Open MPI's mpirun, PMIx (srun --mpi=pmix) and PMI-1/2 launchers */
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

#ifndef DR_HAVE_MPI

dr_status dr_mpi_begin(int *rank, int *size)
{
    *rank = 0, *size = 1;
    return dr_error(DR_ERR_INVALID, "started by mpirun or srun, but this defrisk was built without MPI, so every "
                    "rank would run a study of its own: install Open MPI (Debian: libopenmpi-dev openmpi-bin) and "
                    "rebuild, or run the study without mpirun");
}
void dr_mpi_stop_ranks(void) {}
void dr_mpi_end(void) {}
int dr_mpi_ranks(void) { return 0; }
dr_status dr_mpi_send_trial(int rank, char *const *argv, int threads, const char *output_path)
{
    (void)rank, (void)argv, (void)threads, (void)output_path;
    return dr_error(DR_ERR_INVALID, "this defrisk was built without MPI");
}
dr_status dr_mpi_send_answer(int rank, const char *answer)
{
    (void)rank, (void)answer;
    return dr_error(DR_ERR_INVALID, "this defrisk was built without MPI");
}
dr_status dr_mpi_next(double timeout_s, int *rank, dr_mpi_event *event, char *text, size_t cap)
{
    (void)timeout_s, (void)rank, (void)event, (void)text, (void)cap;
    return dr_error(DR_ERR_INVALID, "this defrisk was built without MPI");
}
int dr_mpi_relay_main(void) { return 1; }

#else

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include <mpi.h>

#include "core/clock.h"
#include "experiments/trial_process.h"

enum { DR_TAG_TRIAL = 1, DR_TAG_ANSWER, DR_TAG_STOP, DR_TAG_LINE, DR_TAG_ENDED };

static int dr_size, dr_rank;

dr_status dr_mpi_begin(int *rank, int *size)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return dr_error(DR_ERR_IO, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &dr_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dr_size);
    *rank = dr_rank, *size = dr_size;
    return DR_OK;
}

void dr_mpi_stop_ranks(void)
{
    for (int r = 1; dr_rank == 0 && r < dr_size; r++)
        MPI_Send(NULL, 0, MPI_CHAR, r, DR_TAG_STOP, MPI_COMM_WORLD);
}

void dr_mpi_end(void)
{
    if (dr_size)
        MPI_Finalize();
    dr_size = 0;
}

int dr_mpi_ranks(void) { return dr_size; }

static dr_status dr_send(int rank, int tag, const char *buf, size_t len)
{
    if (len > (size_t)0x7fffffff || MPI_Send(buf, (int)len, MPI_CHAR, rank, tag, MPI_COMM_WORLD) != MPI_SUCCESS)
        return dr_error(DR_ERR_IO, "MPI_Send to rank %d failed", rank);
    return DR_OK;
}

/* threads, output path, then argv: each NUL-terminated */
dr_status dr_mpi_send_trial(int rank, char *const *argv, int threads, const char *output_path)
{
    char head[32];
    size_t len = (size_t)snprintf(head, sizeof head, "%d", threads) + 1 + strlen(output_path) + 1;
    for (char *const *a = argv; *a; a++)
        len += strlen(*a) + 1;
    char *msg = malloc(len), *at = msg;
    if (!msg)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    at = stpcpy(at, head) + 1;
    at = stpcpy(at, output_path) + 1;
    for (char *const *a = argv; *a; a++)
        at = stpcpy(at, *a) + 1;
    dr_status s = dr_send(rank, DR_TAG_TRIAL, msg, len);
    free(msg);
    return s;
}

dr_status dr_mpi_send_answer(int rank, const char *answer)
{
    return dr_send(rank, DR_TAG_ANSWER, answer, strlen(answer) + 1);
}

static void dr_nap(void)
{
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

/* The next message from `from` (or any rank), received whole into a new buffer;
 * NULL in *msg when none is there. */
static dr_status dr_take(int from, char **msg, int *len, MPI_Status *st)
{
    int flag = 0;
    *msg = NULL;
    MPI_Iprobe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, st);
    if (!flag)
        return DR_OK;
    MPI_Get_count(st, MPI_CHAR, len);
    *msg = malloc((size_t)*len + 1);
    if (!*msg)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    MPI_Recv(*msg, *len, MPI_CHAR, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    (*msg)[*len] = '\0';
    return DR_OK;
}

dr_status dr_mpi_next(double timeout_s, int *rank, dr_mpi_event *event, char *text, size_t cap)
{
    double until = dr_now() + timeout_s;
    *event = DR_MPI_NOTHING;
    for (;;) {
        char *msg;
        int len;
        MPI_Status st;
        DR_TRY(dr_take(MPI_ANY_SOURCE, &msg, &len, &st));
        if (msg) {
            *rank = st.MPI_SOURCE;
            *event = st.MPI_TAG == DR_TAG_ENDED ? DR_MPI_ENDED : DR_MPI_LINE;
            snprintf(text, cap, "%s", msg);
            free(msg);
            return DR_OK;
        }
        if (timeout_s >= 0 && dr_now() > until)
            return DR_OK;
        dr_nap();
    }
}

/* --- the ranks that run trials ------------------------------------------------ */

static dr_status dr_relay_line(void *ctx, char *line)
{
    (void)ctx;
    return dr_send(0, DR_TAG_LINE, line, strlen(line) + 1);
}

/* Starts the trial a DR_TAG_TRIAL message describes; a trial that cannot start
 * fails with the reason, as a local one would. */
static dr_status dr_relay_start(dr_trial_proc *p, char *msg, int len, int *running)
{
    int threads = atoi(msg);
    char *output = msg + strlen(msg) + 1;
    char *argv[4096];
    int n = 0;
    for (char *a = output + strlen(output) + 1; a < msg + len && n < 4095; a += strlen(a) + 1)
        argv[n++] = a;
    argv[n] = NULL;
    if (dr_trial_proc_start(p, argv, threads, output) == DR_OK) {
        *running = 1;
        return DR_OK;
    }
    char line[1200];
    snprintf(line, sizeof line, "fail on rank %d: %s", dr_rank, dr_last_error());
    DR_TRY(dr_relay_line(NULL, line));
    return dr_send(0, DR_TAG_ENDED, "", 1);
}

static dr_status dr_relay(void)
{
    dr_trial_proc p;
    int running = 0;
    for (;;) {
        char *msg;
        int len;
        MPI_Status st;
        DR_TRY(dr_take(0, &msg, &len, &st));
        if (msg && st.MPI_TAG == DR_TAG_STOP) {
            free(msg);
            if (running) {
                char why[256];
                kill(p.pid, SIGKILL);
                dr_trial_proc_wait(&p, why, sizeof why);
            }
            return DR_OK;
        }
        dr_status s = DR_OK;
        if (msg && st.MPI_TAG == DR_TAG_TRIAL && !running)
            s = dr_relay_start(&p, msg, len, &running);
        else if (msg && st.MPI_TAG == DR_TAG_ANSWER && running)
            dr_trial_proc_answer(&p, msg);
        free(msg);
        DR_TRY(s);
        if (!running) {
            if (!msg)
                dr_nap();
            continue;
        }
        struct pollfd fd = {.fd = p.from, .events = POLLIN};
        if (poll(&fd, 1, msg ? 0 : 1) < 0 && errno != EINTR)
            return dr_error(DR_ERR_IO, "poll: %s", strerror(errno));
        int eof = 0;
        if (fd.revents & (POLLIN | POLLHUP | POLLERR))
            DR_TRY(dr_trial_proc_read(&p, dr_relay_line, NULL, &eof));
        if (eof) {
            char why[1024] = "";
            dr_trial_proc_wait(&p, why, sizeof why);
            running = 0;
            DR_TRY(dr_send(0, DR_TAG_ENDED, why, strlen(why) + 1));
        }
    }
}

int dr_mpi_relay_main(void)
{
    dr_status s = dr_relay();
    if (s != DR_OK) {
        fprintf(stderr, "error on rank %d: %s\n", dr_rank, dr_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return 0;
}

#endif
