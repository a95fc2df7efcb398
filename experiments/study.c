/* The study's loop: runs up to `workers` trial processes (experiments/trial.c)
 * at once, or one per MPI rank, answers their pruning questions, and records
 * everything in the journal. See study.h for the rule that makes the study
 * independent of the number of workers, and study_internal.h for how several
 * processes share one study. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "core/clock.h"
#include "experiments/study_internal.h"
#include "experiments/study_mpi.h"

/* --- trial processes ---------------------------------------------------------- */

/* argv of a trial: defrisk trial STUDY NUMBER key=value... (values as TOML) */
static char **dr_trial_argv(const dr_study *S, const char *number, const double *v, long slot)
{
    const dr_search_space *sp = &S->st.space;
    char **argv = calloc((size_t)sp->n + 6, sizeof *argv);
    if (!argv)
        return NULL;
    int a = 0;
    argv[a++] = strdup("defrisk");
    argv[a++] = strdup("trial");
    argv[a++] = strdup(S->run.dir);
    argv[a++] = strdup(number);
    for (int j = 0; j < sp->n; j++) {
        if (isnan(v[j]))
            continue;
        char val[2048], kv[2200];
        snprintf(kv, sizeof kv, "%s=%s", sp->p[j].key, dr_search_value_toml(sp, j, v[j], val, sizeof val));
        argv[a++] = strdup(kv);
    }
    if (S->st.grid && slot >= 0) {
        char kv[64];
        snprintf(kv, sizeof kv, "train.seed=%lld", (long long)S->st.seeds[slot % S->st.n_seeds]);
        argv[a++] = strdup(kv);
    }
    return argv;
}

static void dr_free_argv(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}

/* Starts a trial, in a process of ours or on the worker's MPI rank; its stdout
 * and stderr go to output_path. */
static dr_status dr_spawn(dr_study *S, dr_worker *w, const char *number, const double *v, long slot,
                          const char *output_path)
{
    char **argv = dr_trial_argv(S, number, v, slot);
    if (!argv)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    int rank = w->rank;
    memset(w, 0, sizeof *w);
    w->rank = rank;
    w->slot = slot;
    dr_status s = rank ? dr_mpi_send_trial(rank, argv, S->st.threads, output_path)
                       : dr_trial_proc_start(&w->proc, argv, S->st.threads, output_path);
    dr_free_argv(argv);
    return s;
}

static void dr_answer(dr_worker *w, const char *answer)
{
    if (w->rank)
        dr_mpi_send_answer(w->rank, answer);
    else
        dr_trial_proc_answer(&w->proc, answer);
}

/* Reference slots of slot k's pruning decisions: the settled slots 0 .. k-lag-1. */
static dr_status dr_answer_step(dr_study *S, dr_worker *w, int step, double auc)
{
    DR_TRY(dr_journal_step(S->j, w->number, step, auc));
    int prune = 0;
    if (S->st.pruner.kind != DR_PRUNER_NONE) {
        long n_refs = w->slot - S->st.lag;
        const dr_journal_trial **refs = malloc((size_t)(n_refs > 0 ? n_refs : 1) * sizeof *refs);
        if (!refs)
            return dr_error(DR_ERR_NOMEM, "out of memory");
        for (long k = 0; k < n_refs; k++)
            refs[k] = dr_journal_trial_at(S->j, S->final[k]);
        prune = dr_pruner_prune(&S->st.pruner, S->st.maximize, refs, (int)(n_refs > 0 ? n_refs : 0),
                                dr_journal_trial_at(S->j, w->number), step);
        free(refs);
    }
    w->told_prune |= prune;
    dr_answer(w, prune ? "prune" : "go");
    return DR_OK;
}

static dr_status dr_handle_line(dr_study *S, dr_worker *w, char *line)
{
    int step;
    double x;
    char name[64];
    if (sscanf(line, "step %d %lf", &step, &x) == 2)
        return w->number >= 0 ? dr_answer_step(S, w, step, x) : DR_OK;
    if (sscanf(line, "attr %63s %lf", name, &x) == 2) {
        if (w->number >= 0 && w->n_attrs < 2 * DR_JOURNAL_MAX_ATTRS) {
            snprintf(w->attr_key[w->n_attrs], DR_JOURNAL_KEY_CAP, "%s", name);
            w->attr_value[w->n_attrs++] = x;
        }
        return DR_OK;
    }
    if (sscanf(line, "done %lf", &x) == 1) {
        w->done = 1;
        w->value = x;
    } else if (strncmp(line, "fail ", 5) == 0) {
        snprintf(w->reason, sizeof w->reason, "%s", line + 5);
    }
    return DR_OK;
}

typedef struct dr_line_ctx {
    dr_study *S;
    dr_worker *w;
} dr_line_ctx;

static dr_status dr_on_line(void *ctx, char *line)
{
    dr_line_ctx *c = ctx;
    return dr_handle_line(c->S, c->w, line);
}

/* The trial ended (how, when not with status 0: why); sets w->reason when it
 * gave no answer (the check answers nothing but its exit status). */
static void dr_ended(dr_worker *w, int exited_0, const char *why, int check)
{
    if (w->done || w->told_prune || w->reason[0] || (check && exited_0))
        return;
    snprintf(w->reason, sizeof w->reason, "%s", exited_0 ? "the trial process exited with status 0 without a result"
                                                         : why);
}

/* Waits for the processes that answered and have exited; blocking waits for all
 * of them. */
static void dr_reap_exited(dr_study *S, int blocking)
{
    for (int i = S->n_exiting - 1; i >= 0; i--) {
        pid_t r;
        while ((r = waitpid(S->exiting[i], NULL, blocking ? 0 : WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r != 0)
            S->exiting[i] = S->exiting[--S->n_exiting];
    }
}

/* A trial process that has answered takes a while to exit (its memory, its
 * thread pools): the study goes on meanwhile, and reaps it later. */
static void dr_reap_later(dr_study *S, dr_worker *w)
{
    dr_trial_proc_close(&w->proc);
    if (S->n_exiting == (int)(sizeof S->exiting / sizeof S->exiting[0]))
        dr_reap_exited(S, 1);
    S->exiting[S->n_exiting++] = w->proc.pid;
}

static void dr_reap(dr_worker *w, int check)
{
    char why[1024] = "";
    int exited_0 = dr_trial_proc_wait(&w->proc, why, sizeof why);
    dr_ended(w, exited_0, why, check);
}

/* --- progress ----------------------------------------------------------------- */

int dr_study_better(const dr_study *S, double a, double b)
{
    return isnan(b) || (S->st.maximize ? a > b : a < b);
}

static void dr_print_settled(dr_study *S, const dr_journal_trial *t)
{
    static const char *const states[] = {"running", "complete", "pruned", "failed"};
    long settled = 0, best = -1;
    double best_v = NAN;
    for (long k = 0; k < S->st.trials; k++) {
        if (S->final[k] < 0)
            continue;
        settled++;
        const dr_journal_trial *u = dr_journal_trial_at(S->j, S->final[k]);
        if (u->state == DR_TRIAL_COMPLETE && dr_study_better(S, u->value, best_v))
            best_v = u->value, best = u->number;
    }
    double el = dr_now() - S->t0;
    double eta = S->n_settled_here ? el / (double)S->n_settled_here * (double)(S->st.trials - settled) : NAN;
    char params[1024] = "", val[256];
    size_t k = 0;
    for (int p = 0; p < dr_journal_n_params(S->j) && k < sizeof params; p++) {
        dr_journal_param_text(S->j, t, p, 4, val, sizeof val);
        if (*val)
            k += (size_t)snprintf(params + k, sizeof params - k, " %s=%s", dr_journal_param_name(S->j, p), val);
    }
    char value[64] = "";
    if (t->state == DR_TRIAL_COMPLETE)
        snprintf(value, sizeof value, " %s %.4f", S->st.metric, t->value);
    dr_run_log(&S->run, "[%ld/%d] trial %ld (slot %ld) %s%s |%s | best %.4f (trial %ld) | %.0fs, ETA %s%.0fs\n",
               settled, S->st.trials, t->number, t->slot, states[t->state], value, params, best_v, best, el,
               isnan(eta) ? "?" : "", isnan(eta) ? 0.0 : eta);
}

static dr_status dr_settle(dr_study *S, dr_worker *w)
{
    dr_trial_state state = w->told_prune ? DR_TRIAL_PRUNED : w->done ? DR_TRIAL_COMPLETE : DR_TRIAL_FAIL;
    DR_TRY(dr_journal_lock(S->j)); /* the metrics and the end: one lock */
    dr_status s = w->n_attrs ? dr_journal_attrs_num(S->j, w->number, w->n_attrs, w->attr_key, w->attr_value) : DR_OK;
    if (s == DR_OK && state == DR_TRIAL_FAIL)
        s = dr_journal_attr_str(S->j, w->number, "fail_reason", w->reason);
    if (s == DR_OK)
        s = dr_journal_finish(S->j, w->number, state, w->value);
    dr_journal_unlock(S->j);
    DR_TRY(s);
    S->final[w->slot] = w->number;
    S->running[w->slot] = 0;
    S->n_settled_here++;
    while (S->prefix < S->st.trials && S->final[S->prefix] >= 0)
        S->prefix++;
    const dr_journal_trial *t = dr_journal_trial_at(S->j, w->number);
    dr_print_settled(S, t);
    if (state == DR_TRIAL_FAIL)
        dr_run_log(&S->run, "  trial %ld failed: %s\n", w->number, w->reason);
    return DR_OK;
}

/* --- the loop ----------------------------------------------------------------- */

static dr_status dr_start_slot(dr_study *S, dr_worker *w, long slot)
{
    if (slot == S->drawn) { /* every slot before it is drawn: they settled or run */
        DR_TRY(dr_study_draw(S, slot));
        S->drawn++;
    }
    long number;
    char num[32], path[1400];
    DR_TRY(dr_journal_start(S->j, slot, S->v[slot], &number));
    snprintf(num, sizeof num, "%ld", number);
    snprintf(path, sizeof path, "%s/trials/%ld", S->run.dir, number);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return dr_error(DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    DR_TRY(dr_journal_attr_str(S->j, number, "trial_dir", path));
    if (S->st.grid)
        DR_TRY(dr_journal_attr_num(S->j, number, "train.seed", (double)S->st.seeds[slot % S->st.n_seeds]));
    snprintf(path, sizeof path, "%s/trials/%ld/output", S->run.dir, number);
    DR_TRY(dr_spawn(S, w, num, S->v[slot], slot, path));
    w->number = number;
    S->running[slot] = 1;
    return DR_OK;
}

/* The first MPI rank that runs no trial now. */
static int dr_free_rank(const dr_study *S)
{
    for (int r = 1;; r++) {
        int busy = 0;
        for (int i = 0; i < S->n_running; i++)
            busy |= S->w[i].rank == r;
        if (!busy)
            return r;
    }
}

static dr_status dr_finish_worker(dr_study *S, int i)
{
    DR_TRY(dr_settle(S, &S->w[i]));
    S->settled_since_scan = 1;
    S->w[i] = S->w[--S->n_running];
    return DR_OK;
}

/* Waits for what the trial processes of ours send (a second at most). */
static dr_status dr_wait_local(dr_study *S)
{
    struct pollfd fds[256];
    for (int i = 0; i < S->n_running; i++)
        fds[i] = (struct pollfd){.fd = S->w[i].proc.from, .events = POLLIN};
    double t = dr_now();
    int r = poll(fds, (nfds_t)S->n_running, 1000); /* at least once a second: the heartbeat, others' trials */
    S->waited_s += dr_now() - t;
    if (r < 0 && errno != EINTR)
        return dr_error(DR_ERR_IO, "poll: %s", strerror(errno));
    for (int i = S->n_running - 1; r > 0 && i >= 0; i--) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        int eof = 0;
        dr_line_ctx c = {S, &S->w[i]};
        DR_TRY(dr_trial_proc_read(&S->w[i].proc, dr_on_line, &c, &eof));
        if (eof) {
            dr_worker *w = &S->w[i];
            if (w->done || w->told_prune || w->reason[0]) /* answered: its exit needs no waiting for */
                dr_reap_later(S, w);
            else
                dr_reap(w, 0);
            DR_TRY(dr_finish_worker(S, i));
        }
    }
    return DR_OK;
}

/* Waits for the next message of a rank's trial. */
static dr_status dr_wait_ranks(dr_study *S)
{
    int rank = 0;
    dr_mpi_event ev;
    char text[DR_TRIAL_LINE_CAP];
    double t = dr_now();
    dr_status s = dr_mpi_next(1.0, &rank, &ev, text, sizeof text);
    S->waited_s += dr_now() - t;
    DR_TRY(s);
    if (ev == DR_MPI_NOTHING)
        return DR_OK;
    int i = 0;
    while (i < S->n_running && S->w[i].rank != rank)
        i++;
    if (i == S->n_running)
        return dr_error(DR_ERR_IO, "MPI: a message from rank %d, which runs no trial", rank);
    if (ev == DR_MPI_LINE)
        return dr_handle_line(S, &S->w[i], text);
    dr_ended(&S->w[i], text[0] == '\0', text, 0);
    return dr_finish_worker(S, i);
}

static double dr_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

dr_status dr_study_loop(dr_study *S)
{
    int timed_out = 0;
    double t0 = dr_now(), cpu0 = dr_cpu_now();
    for (;;) {
        timed_out |= S->st.timeout > 0 && dr_now() - S->t0 > S->st.timeout;
        dr_study_beat(S);
        dr_reap_exited(S, 0);
        /* what to start is decided on the journal as it is now, others' trials
         * included: read again when one of ours has settled, or every half second
         * while a worker is free (each trial's report lines wake the loop too) */
        if (S->n_running < S->st.workers && (S->settled_since_scan || dr_now() - S->last_scan > 0.5)) {
            DR_TRY(dr_journal_lock(S->j));
            dr_status s = dr_study_scan(S);
            S->settled_since_scan = 0;
            S->last_scan = dr_now();
            long slot;
            while (s == DR_OK && !timed_out && S->n_running < S->st.workers && (slot = dr_study_next_slot(S)) >= 0) {
                dr_worker *w = &S->w[S->n_running];
                w->rank = S->mpi ? dr_free_rank(S) : 0;
                s = dr_start_slot(S, w, slot);
                S->n_running += s == DR_OK;
            }
            dr_journal_unlock(S->j);
            DR_TRY(s);
        }
        if (S->n_running == 0 && (timed_out || S->prefix == S->st.trials))
            break;
        if (S->n_running == 0) { /* the slots left run in other processes, or wait for theirs */
            nanosleep(&(struct timespec){.tv_nsec = 500000000}, NULL);
            S->waited_s += 0.5;
        } else {
            DR_TRY(S->mpi ? dr_wait_ranks(S) : dr_wait_local(S));
        }
    }
    S->loop_s = dr_now() - t0;
    S->loop_cpu_s = dr_cpu_now() - cpu0;
    if (timed_out && S->prefix < S->st.trials)
        dr_run_log(&S->run, "%s.timeout (%.0f s) reached: no new trial started; --resume %s continues\n",
                   S->st.section, S->st.timeout, S->run.dir);
    if (S->n_settled_here)
        dr_run_log(&S->run, "coordinator: %.0f us per trial, %.0f us of CPU (sampler, journal, %s; %ld trials in %.1f "
                   "s, %.1f s of it waiting for them)\n", 1e6 * (S->loop_s - S->waited_s) / (double)S->n_settled_here,
                   1e6 * S->loop_cpu_s / (double)S->n_settled_here, S->mpi ? "MPI messages" : "starting trial processes",
                   S->n_settled_here, S->loop_s, S->waited_s);
    return DR_OK;
}

/* The check run: one trial process that reads every key with the first value of
 * each parameter (conditions aside) and stops before training. */
dr_status dr_study_check(dr_study *S, const char *config_path)
{
    double v[DR_TPE_MAX_PARAMS];
    const dr_search_space *sp = &S->st.space;
    for (int j = 0; j < DR_TPE_MAX_PARAMS; j++)
        v[j] = j < sp->n ? sp->tpe.p[j].kind == DR_TPE_CATEGORICAL ? 0.0 : sp->tpe.p[j].lo : NAN;
    char path[1100];
    snprintf(path, sizeof path, "%s/check.output", S->run.dir);
    dr_worker w = {.rank = 0};
    DR_TRY(dr_spawn(S, &w, "check", v, -1, path));
    w.number = -1;
    dr_run_log(&S->run, "checking the experiment with the search keys set (data stage, then every key read)\n");
    int eof = 0;
    dr_status s = DR_OK;
    dr_line_ctx c = {S, &w};
    while (!eof && s == DR_OK)
        s = dr_trial_proc_read(&w.proc, dr_on_line, &c, &eof);
    dr_reap(&w, 1);
    DR_TRY(s);
    if (!w.reason[0])
        return DR_OK;
    /* the trial read the study's copy of the file: name the user's */
    char copy[1100];
    snprintf(copy, sizeof copy, "%s/experiment.toml", S->run.dir);
    char *at = strstr(w.reason, copy);
    if (at && config_path)
        return dr_error(DR_ERR_INVALID, "%.*s%s%s", (int)(at - w.reason), w.reason, config_path, at + strlen(copy));
    return dr_error(DR_ERR_INVALID, "%s", w.reason);
}

void dr_study_stop_workers(dr_study *S)
{
    for (int i = 0; i < S->n_running; i++)
        if (!S->w[i].rank) /* a rank's trial stops with the rank (dr_mpi_end) */
            kill(S->w[i].proc.pid, SIGKILL), dr_reap(&S->w[i], 0);
    S->n_running = 0;
    dr_reap_exited(S, 1);
}
