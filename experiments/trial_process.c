/* Trial processes behind pipes; see trial_process.h. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/trial_process.h"

extern char **environ;

/* Our environment with the thread counts of one trial. */
static char **dr_trial_env(int threads, char *omp, char *blas, size_t cap)
{
    long n = 0;
    while (environ[n])
        n++;
    char **env = calloc((size_t)n + 3, sizeof *env);
    if (!env)
        return NULL;
    long k = 0;
    for (long i = 0; i < n; i++)
        if (strncmp(environ[i], "OMP_NUM_THREADS=", 16) != 0 && strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0)
            env[k++] = environ[i];
    snprintf(omp, cap, "OMP_NUM_THREADS=%d", threads);
    snprintf(blas, cap, "OPENBLAS_NUM_THREADS=%d", threads);
    env[k++] = omp;
    env[k++] = blas;
    return env;
}

dr_status dr_trial_proc_start(dr_trial_proc *p, char *const *argv, int threads, const char *output_path)
{
    int up[2], down[2];
    if (pipe2(up, O_CLOEXEC) != 0)
        return dr_error(DR_ERR_IO, "pipe: %s", strerror(errno));
    if (pipe2(down, O_CLOEXEC) != 0) {
        close(up[0]), close(up[1]);
        return dr_error(DR_ERR_IO, "pipe: %s", strerror(errno));
    }
    int out = open(output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char omp[64], blas[64];
    char **env = dr_trial_env(threads, omp, blas, sizeof omp);
    pid_t parent = getpid();
    pid_t pid = out >= 0 && env ? fork() : -2;
    if (pid == 0) {
        /* a killed study takes its trials with it (no orphan keeps training) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int a = fcntl(up[1], F_DUPFD, 10), b = fcntl(down[0], F_DUPFD, 10);
        if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    int err = errno;
    close(up[1]);
    close(down[0]);
    if (out >= 0)
        close(out);
    free(env);
    if (pid < 0) {
        close(up[0]);
        close(down[1]);
        return dr_error(DR_ERR_IO, pid == -2 ? "cannot start a trial (writing %s)" : "cannot start a trial: %s",
                        pid == -2 ? output_path : strerror(err));
    }
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->from = up[0];
    p->to = fdopen(down[1], "w");
    return DR_OK;
}

dr_status dr_trial_proc_read(dr_trial_proc *p, dr_status (*on_line)(void *ctx, char *line), void *ctx, int *eof)
{
    ssize_t got = read(p->from, p->line + p->len, sizeof p->line - 1 - p->len);
    if (got < 0 && errno == EINTR)
        return DR_OK;
    *eof = got <= 0;
    if (got > 0)
        p->len += (size_t)got;
    p->line[p->len] = '\0';
    char *nl;
    while ((nl = strchr(p->line, '\n'))) {
        *nl = '\0';
        DR_TRY(on_line(ctx, p->line));
        p->len -= (size_t)(nl + 1 - p->line);
        memmove(p->line, nl + 1, p->len + 1);
    }
    if (p->len == sizeof p->line - 1)
        p->len = 0;
    return DR_OK;
}

void dr_trial_proc_answer(dr_trial_proc *p, const char *answer)
{
    fprintf(p->to, "%s\n", answer);
    fflush(p->to);
}

void dr_trial_proc_close(dr_trial_proc *p)
{
    if (p->from >= 0)
        close(p->from), fclose(p->to);
    p->from = -1;
    p->to = NULL;
}

int dr_trial_proc_wait(dr_trial_proc *p, char *why, size_t cap)
{
    int status = 0;
    dr_trial_proc_close(p);
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFSIGNALED(status))
        snprintf(why, cap, "the trial process was killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGKILL ? ", perhaps for lack of memory" : "");
    else
        snprintf(why, cap, "the trial process exited with status %d without a result", WEXITSTATUS(status));
    return 0;
}
