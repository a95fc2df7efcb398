/* The study's coordinator: draws each slot's values (TPE, or the grid), runs
 * up to `workers` trial processes (experiments/trial.c) at once, answers their
 * pruning questions, and records everything in the journal. See study.h for the
 * rule that makes the study independent of the number of workers. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "experiments/experiment.h"
#include "experiments/journal.h"
#include "experiments/study.h"
#include "experiments/study_mpi.h"
#include "experiments/study_report.h"
#include "experiments/trial_process.h"

/* one running trial: a process of ours, or one that an MPI rank runs */
typedef struct dr_worker {
    dr_trial_proc proc;
    int rank; /* 0: the process is ours */
    long number, slot;
    int told_prune, done;
    double value;
    char reason[1024];
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
    char *running;    /* per slot: a trial runs it now */
    long prefix;      /* slots 0 .. prefix-1 are all settled */
    dr_worker *w;
    int n_running;
    int mpi;          /* the workers are MPI ranks 1 .. workers */
    double t0;
    long n_settled_here; /* slots settled by this process (for the ETA) */
} dr_study;

static int dr_interrupted(const dr_journal_trial *t)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (strcmp(t->attrs[a].key, "fail_reason") == 0 && strncmp(t->attrs[a].str, "interrupted", 11) == 0)
            return 1;
    return 0;
}

/* --- the study's state from its journal -------------------------------------- */

static dr_status dr_replay_slots(dr_study *S)
{
    long n = dr_journal_n_trials(S->j);
    for (long k = 0; k < n; k++) {
        const dr_journal_trial *t = dr_journal_trial_at(S->j, k);
        if (t->slot < 0 || t->slot >= S->st.trials)
            return dr_error(DR_ERR_FORMAT, "%s: trial %ld runs slot %ld, but the study has %d", dr_journal_path(S->j),
                            k, t->slot, S->st.trials);
        if (t->state == DR_TRIAL_RUNNING) {
            /* the study was killed while it ran: its slot runs again, same values */
            DR_TRY(dr_journal_attr_str(S->j, k, "fail_reason", "interrupted: the study stopped while it ran; its "
                                       "slot was run again"));
            DR_TRY(dr_journal_finish(S->j, k, DR_TRIAL_FAIL, NAN));
            dr_run_log(&S->run, "trial %ld (slot %ld) was running when the study stopped: failed, slot retried\n", k,
                       t->slot);
        }
        memcpy(S->v[t->slot], t->v, sizeof S->v[0]);
        if (t->slot >= S->drawn)
            S->drawn = t->slot + 1;
        if (!dr_interrupted(t))
            S->final[t->slot] = k;
    }
    while (S->prefix < S->st.trials && S->final[S->prefix] >= 0)
        S->prefix++;
    return DR_OK;
}

/* --- drawing a slot's values ------------------------------------------------ */

static dr_tpe_state dr_tpe_state_of(dr_trial_state s)
{
    return s == DR_TRIAL_COMPLETE ? DR_TPE_COMPLETE : s == DR_TRIAL_PRUNED ? DR_TPE_PRUNED : DR_TPE_FAILED;
}

/* Cell values of a grid slot: every combination (first key slowest), or one key
 * at a time with the others as the file has them (NaN), each repeated per seed. */
static void dr_grid_values(const dr_study *S, long slot, double *v)
{
    const dr_search_space *sp = &S->st.space;
    long cell = slot / S->st.n_seeds;
    for (int j = 0; j < DR_TPE_MAX_PARAMS; j++)
        v[j] = NAN;
    if (S->st.grid == 1) {
        for (int j = sp->n - 1; j >= 0; j--) {
            v[j] = (double)(cell % sp->p[j].n_choices);
            cell /= sp->p[j].n_choices;
        }
        return;
    }
    for (int j = 0; j < sp->n; j++) {
        if (cell < sp->p[j].n_choices) {
            v[j] = (double)cell;
            return;
        }
        cell -= sp->p[j].n_choices;
    }
}

static dr_status dr_draw(dr_study *S, long slot)
{
    if (S->st.grid) {
        dr_grid_values(S, slot, S->v[slot]);
        return DR_OK;
    }
    long upto = slot - S->st.lag; /* the sampler sees exactly slots 0 .. slot-lag-1 */
    for (; S->told < upto; S->told++) {
        const dr_journal_trial *t = dr_journal_trial_at(S->j, S->final[S->told]);
        dr_tpe_trial tt = {.number = S->told};
        memcpy(tt.v, S->v[S->told], sizeof tt.v);
        DR_TRY(dr_tpe_tell(S->tpe, &tt, dr_tpe_state_of(t->state), t->state == DR_TRIAL_COMPLETE ? t->value : NAN));
    }
    dr_tpe_trial liars[1024], out;
    int n_liars = 0;
    for (long k = upto > 0 ? upto : 0; k < slot; k++) {
        liars[n_liars].number = k;
        memcpy(liars[n_liars++].v, S->v[k], sizeof liars[0].v);
    }
    DR_TRY(dr_tpe_suggest_at(S->tpe, slot, liars, n_liars, &out));
    dr_search_space_deactivate(&S->st.space, out.v);
    memcpy(S->v[slot], out.v, sizeof out.v);
    return DR_OK;
}

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
    if (sscanf(line, "attr %63s %lf", name, &x) == 2)
        return w->number >= 0 ? dr_journal_attr_num(S->j, w->number, name, x) : DR_OK;
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

static void dr_reap(dr_worker *w, int check)
{
    char why[1024] = "";
    int exited_0 = dr_trial_proc_wait(&w->proc, why, sizeof why);
    dr_ended(w, exited_0, why, check);
}

/* --- progress ----------------------------------------------------------------- */

static int dr_better(const dr_study *S, double a, double b)
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
        if (u->state == DR_TRIAL_COMPLETE && dr_better(S, u->value, best_v))
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
    if (state == DR_TRIAL_FAIL)
        DR_TRY(dr_journal_attr_str(S->j, w->number, "fail_reason", w->reason));
    DR_TRY(dr_journal_finish(S->j, w->number, state, w->value));
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

/* The next slot that may start now, or -1: the first one neither settled nor
 * running, when (search) it is at most lag slots ahead of the settled prefix:
 * its values and pruning decisions depend on slots 0 .. slot-lag-1 only. */
static long dr_next_slot(const dr_study *S)
{
    for (long k = S->prefix; k < S->st.trials; k++) {
        if (S->final[k] >= 0 || S->running[k])
            continue;
        return S->st.grid || k - S->st.lag <= S->prefix ? k : -1;
    }
    return -1;
}

static dr_status dr_start_slot(dr_study *S, dr_worker *w, long slot)
{
    if (slot == S->drawn) { /* every slot before it is drawn: they settled or run */
        DR_TRY(dr_draw(S, slot));
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
    S->w[i] = S->w[--S->n_running];
    return DR_OK;
}

/* Waits for what the trial processes of ours send (a second at most with a timeout). */
static dr_status dr_wait_local(dr_study *S)
{
    struct pollfd fds[256];
    for (int i = 0; i < S->n_running; i++)
        fds[i] = (struct pollfd){.fd = S->w[i].proc.from, .events = POLLIN};
    int r = poll(fds, (nfds_t)S->n_running, S->st.timeout > 0 ? 1000 : -1);
    if (r < 0 && errno != EINTR)
        return dr_error(DR_ERR_IO, "poll: %s", strerror(errno));
    for (int i = S->n_running - 1; r > 0 && i >= 0; i--) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        int eof = 0;
        dr_line_ctx c = {S, &S->w[i]};
        DR_TRY(dr_trial_proc_read(&S->w[i].proc, dr_on_line, &c, &eof));
        if (eof) {
            dr_reap(&S->w[i], 0);
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
    DR_TRY(dr_mpi_next(S->st.timeout > 0 ? 1.0 : -1.0, &rank, &ev, text, sizeof text));
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

static dr_status dr_loop(dr_study *S)
{
    int timed_out = 0;
    for (;;) {
        timed_out |= S->st.timeout > 0 && dr_now() - S->t0 > S->st.timeout;
        long slot;
        while (!timed_out && S->n_running < S->st.workers && (slot = dr_next_slot(S)) >= 0) {
            dr_worker *w = &S->w[S->n_running];
            w->rank = S->mpi ? dr_free_rank(S) : 0;
            DR_TRY(dr_start_slot(S, w, slot));
            S->n_running++;
        }
        if (S->n_running == 0)
            break;
        DR_TRY(S->mpi ? dr_wait_ranks(S) : dr_wait_local(S));
    }
    if (timed_out && S->prefix < S->st.trials)
        dr_run_log(&S->run, "%s.timeout (%.0f s) reached: no new trial started; --resume %s continues\n",
                   S->st.section, S->st.timeout, S->run.dir);
    return DR_OK;
}

/* The check run: one trial process that reads every key with the first value of
 * each parameter (conditions aside) and stops before training. */
static dr_status dr_check(dr_study *S, const char *config_path)
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

/* --- setting up ----------------------------------------------------------------- */

/* FNV-1a of the experiment file and overrides a study started from. */
static dr_status dr_fingerprint(const char *dir, char *out, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    const char *const files[] = {"experiment.toml", "overrides"};
    for (int i = 0; i < 2; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            return dr_error(DR_ERR_IO, "cannot read %s", path);
        int c;
        while ((c = fgetc(f)) != EOF)
            h = (h ^ (uint64_t)(unsigned char)c) * 1099511628211ull;
        fclose(f);
    }
    snprintf(out, cap, "%016llx", (unsigned long long)h);
    return DR_OK;
}

static dr_status dr_study_open(dr_study *S, const char *config_path, const char *const *overrides, int n_overrides,
                               const char *resume_dir)
{
    char path[1200];
    if (resume_dir) {
        snprintf(path, sizeof path, "%s/experiment.toml", resume_dir);
        DR_TRY(dr_config_load(&S->cfg, path));
        DR_TRY(dr_run_load_overrides(S->cfg, resume_dir));
    } else {
        DR_TRY(dr_config_load(&S->cfg, config_path));
        for (int i = 0; i < n_overrides; i++)
            DR_TRY(dr_config_override(S->cfg, overrides[i]));
    }
    DR_TRY(dr_study_settings_read(S->cfg, &S->st));
    if (dr_mpi_ranks() > 1) { /* one trial at a time on each rank but rank 0 */
        S->mpi = 1;
        S->st.workers = dr_mpi_ranks() - 1;
    }
    if (resume_dir) {
        DR_TRY(dr_run_open(&S->run, resume_dir));
    } else {
        const char *dir, *name;
        char stem[256];
        DR_TRY(dr_config_string(S->cfg, "output.dir", "runs", NULL, &dir));
        DR_TRY(dr_config_string(S->cfg, "output.name", "", NULL, &name));
        if (!*name) {
            const char *base = strrchr(config_path, '/');
            snprintf(stem, sizeof stem, "%s", base ? base + 1 : config_path);
            char *dot = strrchr(stem, '.');
            if (dot)
                *dot = '\0';
            name = stem;
        }
        DR_TRY(dr_run_create(&S->run, dir, name));
        DR_TRY(dr_run_save_inputs(&S->run, config_path, overrides, n_overrides));
        snprintf(path, sizeof path, "%s/trials", S->run.dir);
        if (mkdir(path, 0755) != 0)
            return dr_error(DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    long n = S->st.trials;
    S->v = calloc((size_t)n, sizeof *S->v);
    S->final = malloc((size_t)n * sizeof *S->final);
    S->running = calloc((size_t)n, 1);
    S->w = calloc((size_t)S->st.workers, sizeof *S->w);
    if (!S->v || !S->final || !S->running || !S->w)
        return dr_error(DR_ERR_NOMEM, "out of memory for %ld trials", n);
    for (long k = 0; k < n; k++)
        S->final[k] = -1;
    char fp[32];
    DR_TRY(dr_fingerprint(S->run.dir, fp, sizeof fp));
    const char *base = strrchr(S->run.dir, '/');
    snprintf(path, sizeof path, "%s/journal.jsonl", S->run.dir);
    DR_TRY(dr_journal_open(&S->j, path, &S->st.space, base ? base + 1 : S->run.dir, S->st.maximize, fp, 0));
    if (!S->st.grid) {
        dr_tpe_options o;
        dr_tpe_options_default(&o);
        o.n_startup = S->st.startup_trials;
        o.maximize = S->st.maximize;
        o.multivariate = S->st.multivariate;
        DR_TRY(dr_tpe_create(&S->tpe, &S->st.space.tpe, (uint64_t)S->st.seed, &o));
    }
    return dr_replay_slots(S);
}

static void dr_study_free(dr_study *S)
{
    for (int i = 0; i < S->n_running; i++)
        if (!S->w[i].rank) /* a rank's trial stops with the rank (dr_mpi_end) */
            kill(S->w[i].proc.pid, SIGKILL), dr_reap(&S->w[i], 0);
    dr_tpe_free(S->tpe);
    dr_journal_close(S->j);
    free(S->v);
    free(S->final);
    free(S->running);
    free(S->w);
    dr_run_close(&S->run);
    dr_config_free(S->cfg);
}

static void dr_remove_new_study(dr_study *S)
{
    char path[1200];
    const char *const files[] = {"journal.jsonl", "check.output", "trials"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", S->run.dir, files[i]);
        remove(path);
    }
    dr_run_discard(&S->run);
}

/* search.refit: the best trial's values as a normal run of the experiment. */
static dr_status dr_refit(dr_study *S, const dr_journal_trial *best)
{
    char path[1200], line[4096];
    const char *ov[DR_TPE_MAX_PARAMS + 256];
    char *own[DR_TPE_MAX_PARAMS + 256];
    int n = 0;
    snprintf(path, sizeof path, "%s/overrides", S->run.dir);
    FILE *f = fopen(path, "r");
    while (f && n < 256 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (*line)
            ov[n] = own[n] = strdup(line), n++;
    }
    if (f)
        fclose(f);
    for (int j = 0; j < S->st.space.n; j++) {
        if (isnan(best->v[j]))
            continue;
        char val[2048], kv[2200];
        snprintf(kv, sizeof kv, "%s=%s", S->st.space.p[j].key,
                 dr_search_value_toml(&S->st.space, j, best->v[j], val, sizeof val));
        ov[n] = own[n] = strdup(kv), n++;
    }
    /* the study's name (its folder's, less the time) with _refit */
    const char *base = strrchr(S->run.dir, '/') ? strrchr(S->run.dir, '/') + 1 : S->run.dir;
    int stem = (int)strlen(base) > 16 ? (int)strlen(base) - 16 : (int)strlen(base);
    char name_kv[400];
    snprintf(name_kv, sizeof name_kv, "output.name=\"%.*s_refit\"", stem, base);
    ov[n] = own[n] = strdup(name_kv), n++;
    char run_dir[1024];
    snprintf(path, sizeof path, "%s/experiment.toml", S->run.dir);
    dr_run_log(&S->run, "\nsearch.refit: trial %ld's values as a full run\n", best->number);
    dr_status s = dr_experiment_run_in(path, ov, n, NULL, run_dir, sizeof run_dir);
    for (int i = 0; i < n; i++)
        free(own[i]);
    if (s == DR_OK)
        s = dr_journal_study_attr(S->j, "refit_run", run_dir);
    if (s == DR_OK)
        dr_run_log(&S->run, "refit run: %s (study attribute refit_run)\n", run_dir);
    return s;
}

static const dr_journal_trial *dr_best(const dr_study *S)
{
    const dr_journal_trial *best = NULL;
    for (long k = 0; k < S->st.trials; k++) {
        const dr_journal_trial *t = S->final[k] >= 0 ? dr_journal_trial_at(S->j, S->final[k]) : NULL;
        if (t && t->state == DR_TRIAL_COMPLETE && (!best || dr_better(S, t->value, best->value)))
            best = t;
    }
    return best;
}

dr_status dr_study_run(const char *config_path, const char *const *overrides, int n_overrides, const char *resume_dir)
{
    dr_study S;
    memset(&S, 0, sizeof S);
    S.t0 = dr_now();
    dr_status s = dr_study_open(&S, config_path, overrides, n_overrides, resume_dir);
    if (s == DR_OK)
        dr_run_log(&S.run, "%s study %s: %d trials of %s, %s %s on validation, %d%s x %d thread%s\n",
                   resume_dir ? "resuming" : "running", S.run.dir, S.st.trials, S.st.model,
                   S.st.maximize ? "maximizing" : "minimizing", S.st.metric, S.st.workers,
                   S.mpi ? S.st.workers > 1 ? " MPI ranks" : " MPI rank" : S.st.workers > 1 ? " workers" : " worker",
                   S.st.threads, S.st.threads > 1 ? "s" : "");
    if (s == DR_OK && S.mpi && S.st.workers > S.st.trials)
        dr_run_log(&S.run, "warning: %d ranks run trials, but the study has %d: %d of them stay idle\n", S.st.workers,
                   S.st.trials, S.st.workers - S.st.trials);
    else if (s == DR_OK && S.mpi && !S.st.grid && S.st.workers > S.st.lag + 1)
        dr_run_log(&S.run, "warning: search.lag = %d lets at most %d trials run at once: %d of the %d ranks stay "
                   "idle (a larger lag uses them, at some cost to the sampler)\n", S.st.lag, S.st.lag + 1,
                   S.st.workers - S.st.lag - 1, S.st.workers);
    if (s == DR_OK && !resume_dir) {
        s = dr_check(&S, config_path);
        if (s != DR_OK) {
            dr_remove_new_study(&S);
            fprintf(stderr, "stopped before any trial: %s removed\n", S.run.dir);
        }
    }
    if (s == DR_OK)
        s = dr_loop(&S);
    const dr_journal_trial *best = s == DR_OK ? dr_best(&S) : NULL;
    if (s == DR_OK && S.st.grid)
        s = dr_sensitivity_table(S.j, &S.st, S.final, S.run.dir);
    if (s == DR_OK && best)
        dr_run_log(&S.run, "\nbest: trial %ld, validation %s %.4f\n", best->number, S.st.metric, best->value);
    if (s == DR_OK && !best)
        dr_run_log(&S.run, "\nno trial completed\n");
    if (s == DR_OK && best && S.st.refit && S.prefix == S.st.trials)
        s = dr_refit(&S, best);
    if (s == DR_OK)
        dr_run_log(&S.run, "study in %s (journal.jsonl: optuna.load_study reads it)\n", S.run.dir);
    else if (S.run.log)
        fprintf(S.run.log, "error: %s\n", dr_last_error());
    dr_study_free(&S);
    return s;
}
