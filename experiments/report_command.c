#include "experiments/report_command.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/clock.h"

extern char **environ;

void dr_make_report(dr_run *run)
{
    char script[1200];
    snprintf(script, sizeof script, "%s/scripts/report.sh", DR_SOURCE_DIR);
    char *argv[] = {script, run->dir, NULL};
    pid_t pid;
    double t0 = dr_now();
    int status = 0, err = posix_spawn(&pid, script, NULL, NULL, argv, environ);
    if (err == 0 && waitpid(pid, &status, 0) < 0)
        err = errno;
    if (err != 0)
        dr_run_log(run, "report: cannot start %s: %s\n", script, strerror(err));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        dr_run_log(run, "report: not made (%s exited with %d, see above); the run's results are complete\n", script,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    else
        dr_run_log(run, "report: %s/report.html in %.1f s\n", run->dir, dr_now() - t0);
}
