/* Many processes appending to one shared study journal (a Slurm job array's
 * case): each writes `trials` trials (start, a metric, finish: three locked
 * operations) into DIR/journal.jsonl; then the file is read back and checked:
 * every line whole, every trial there once, complete, numbered 0 .. N-1, each
 * process with exactly its own. With --kill-holder a first process takes the
 * lock and is killed with SIGKILL while it holds it, so the others must break
 * it. Prints the time and the cost of one locked operation; exits 1 on any
 * lost, torn or misnumbered trial.
 *   journal_bench DIR PROCESSES TRIALS [--kill-holder]
 * bench/journal_concurrency.sh runs it at 64 x 1,000 and has Optuna read the file. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "experiments/journal.h"

static dr_status open_journal(const char *path, dr_config **cfg, dr_search_space *sp, dr_journal **j)
{
    DR_TRY(dr_config_load_string(cfg, "[search.space]\n\"train.lr\" = { type = \"float\", low = 1e-4, high = 1e-1, "
                                      "log = true }\n", "journal_bench"));
    DR_TRY(dr_search_space_read(*cfg, "search.space", sp));
    return dr_journal_open(j, path, sp, "journal_bench", 1, "0123456789abcdef", 1);
}

/* One writer process: its trials, then exit status 0 when all went in. */
static int writer(const char *path, int trials, int id)
{
    dr_config *cfg = NULL;
    dr_search_space sp;
    dr_journal *j = NULL;
    dr_status s = open_journal(path, &cfg, &sp, &j);
    for (int t = 0; s == DR_OK && t < trials; t++) {
        long number;
        double v[DR_TPE_MAX_PARAMS];
        for (int k = 0; k < DR_TPE_MAX_PARAMS; k++)
            v[k] = NAN;
        v[0] = 1e-3;
        s = dr_journal_start(j, (long)id * trials + t, v, &number);
        if (s == DR_OK)
            s = dr_journal_attr_num(j, number, "writer", id);
        if (s == DR_OK)
            s = dr_journal_finish(j, number, DR_TRIAL_COMPLETE, 0.5 + 1e-6 * t);
    }
    if (s != DR_OK)
        fprintf(stderr, "writer %d: %s\n", id, dr_last_error());
    dr_journal_close(j);
    dr_config_free(cfg);
    return s == DR_OK ? 0 : 1;
}

static int check(const char *path, int procs, int trials)
{
    dr_journal *j = NULL;
    if (dr_journal_read_only(&j, path) != DR_OK) {
        printf("FAIL: %s\n", dr_last_error());
        return 1;
    }
    long n = dr_journal_n_trials(j), bad = 0;
    int *per = calloc((size_t)procs, sizeof *per);
    for (long k = 0; k < n; k++) {
        const dr_journal_trial *t = dr_journal_trial_at(j, k);
        int id = -1;
        for (int a = 0; a < t->n_attrs; a++)
            if (!strcmp(t->attrs[a].key, "writer"))
                id = (int)t->attrs[a].num;
        if (t->state != DR_TRIAL_COMPLETE || id < 0 || id >= procs || t->slot / trials != id)
            bad++;
        else
            per[id]++;
    }
    for (int p = 0; p < procs; p++)
        bad += per[p] != trials;
    printf("%s: %ld trials of %d expected, %ld lost, misplaced or unfinished\n", path, n, procs * trials,
           bad + (procs * (long)trials - n > 0 ? procs * (long)trials - n : 0));
    free(per);
    dr_journal_close(j);
    return n == (long)procs * trials && bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: journal_bench DIR PROCESSES TRIALS [--kill-holder]\n");
        return 2;
    }
    int procs = atoi(argv[2]), trials = atoi(argv[3]);
    int kill_holder = argc > 4 && !strcmp(argv[4], "--kill-holder");
    char path[1100];
    snprintf(path, sizeof path, "%s/journal.jsonl", argv[1]);
    unlink(path);
    if (kill_holder) { /* a process that dies holding the lock */
        int ready[2];
        if (pipe(ready) != 0)
            return 1;
        pid_t holder = fork();
        if (holder == 0) {
            dr_config *cfg = NULL;
            dr_search_space sp;
            dr_journal *j = NULL;
            if (open_journal(path, &cfg, &sp, &j) != DR_OK || dr_journal_lock(j) != DR_OK)
                _exit(1);
            (void)!write(ready[1], "x", 1);
            pause();
        }
        char c;
        if (read(ready[0], &c, 1) != 1)
            return 1;
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        printf("a process killed while it held %s.lock\n", path);
    }
    double t0 = dr_now();
    for (int p = 0; p < procs; p++)
        if (fork() == 0)
            _exit(writer(path, trials, p));
    int failed = 0, status;
    while (wait(&status) > 0)
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    double el = dr_now() - t0;
    long ops = 3L * procs * trials;
    printf("%d processes x %d trials: %.2f s, %.1f us per locked operation (%ld operations)\n", procs, trials, el,
           1e6 * el / (double)ops, ops);
    if (failed)
        printf("FAIL: %d writers failed\n", failed);
    return check(path, procs, trials) || failed;
}
