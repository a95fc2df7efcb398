/* Setting a study up from its experiment file or folder, and finishing it; see
 * study_internal.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "experiments/experiment.h"
#include "experiments/file_lock.h"
#include "experiments/study_internal.h"
#include "experiments/study_mpi.h"
#include "experiments/study_report.h"

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

static dr_status dr_study_open(dr_study *S, const dr_study_request *r)
{
    const char *config_path = r->config_path, *resume_dir = r->resume_dir;
    const char *const *overrides = r->overrides;
    int n_overrides = r->n_overrides;
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
    if (r->workers > 0)
        S->st.workers = r->workers;
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
        if (!*name)
            name = dr_run_stem(config_path, stem, sizeof stem);
        DR_TRY(dr_run_create(&S->run, dir, name));
        DR_TRY(dr_run_save_inputs(&S->run, config_path, overrides, n_overrides));
        const char *const folders[] = {"trials", "workers"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", S->run.dir, folders[i]);
            if (mkdir(path, 0755) != 0)
                return dr_error(DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        }
    }
    char name[300];
    dr_process_name(name, sizeof name);
    snprintf(path, sizeof path, "%s/workers", S->run.dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) /* a study from before heartbeats */
        return dr_error(DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    snprintf(S->heartbeat, sizeof S->heartbeat, "%s/%s", path, name);
    dr_study_beat(S);
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
    DR_TRY(dr_journal_open(&S->j, path, &S->st.space, base ? base + 1 : S->run.dir, S->st.maximize, fp, 1));
    if (!S->st.grid) {
        dr_tpe_options o;
        dr_tpe_options_default(&o);
        o.n_startup = S->st.startup_trials;
        o.maximize = S->st.maximize;
        o.multivariate = S->st.multivariate;
        DR_TRY(dr_tpe_create(&S->tpe, &S->st.space.tpe, (uint64_t)S->st.seed, &o));
    }
    return DR_OK;
}

static void dr_study_free(dr_study *S)
{
    dr_study_stop_workers(S);
    dr_tpe_free(S->tpe);
    dr_journal_close(S->j);
    if (S->heartbeat[0])
        unlink(S->heartbeat);
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
    dr_journal_close(S->j); /* its own lock file goes with it */
    S->j = NULL;
    unlink(S->heartbeat);
    S->heartbeat[0] = '\0';
    const char *const files[] = {"journal.jsonl", "check.output", "trials", "workers"};
    for (int i = 0; i < 4; i++) {
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
        if (t && t->state == DR_TRIAL_COMPLETE && (!best || dr_study_better(S, t->value, best->value)))
            best = t;
    }
    return best;
}

/* Whether this process finishes the study (the grid's table, the refit): the
 * first to find every slot settled claims it in the journal; the claim of a
 * process that is gone before it was done passes on. */
static dr_status dr_claim_finish(dr_study *S, int *mine)
{
    *mine = 0;
    DR_TRY(dr_journal_lock(S->j));
    dr_status s = dr_study_scan(S);
    const char *by = dr_journal_get_study_attr(S->j, "defrisk:finished_by");
    const char *done = dr_journal_get_study_attr(S->j, "defrisk:finished");
    if (s == DR_OK && S->prefix == S->st.trials && !done && (!by || !dr_study_worker_alive(S, by))) {
        s = dr_journal_study_attr(S->j, "defrisk:finished_by", dr_journal_worker_id(S->j));
        *mine = s == DR_OK;
    } else if (s == DR_OK && S->prefix == S->st.trials) {
        dr_run_log(&S->run, "every trial has settled; %s %s the study\n", done ? done : by,
                   done ? "finished" : "finishes");
    }
    dr_journal_unlock(S->j);
    return s;
}

static void dr_log_start(dr_study *S, const dr_study_request *r)
{
    dr_run_log(&S->run, "%s study %s: %d trials of %s, %s %s on validation, %d%s x %d thread%s\n",
               r->resume_dir ? "resuming" : "running", S->run.dir, S->st.trials, S->st.model,
               S->st.maximize ? "maximizing" : "minimizing", S->st.metric, S->st.workers,
               S->mpi ? S->st.workers > 1 ? " MPI ranks" : " MPI rank" : S->st.workers > 1 ? " workers" : " worker",
               S->st.threads, S->st.threads > 1 ? "s" : "");
    if (S->mpi && S->st.workers > S->st.trials)
        dr_run_log(&S->run, "warning: %d ranks run trials, but the study has %d: %d of them stay idle\n",
                   S->st.workers, S->st.trials, S->st.workers - S->st.trials);
    else if (S->mpi && !S->st.grid && S->st.workers > S->st.lag + 1)
        dr_run_log(&S->run, "warning: search.lag = %d lets at most %d trials run at once: %d of the %d ranks stay "
                   "idle (a larger lag uses them, at some cost to the sampler)\n", S->st.lag, S->st.lag + 1,
                   S->st.workers - S->st.lag - 1, S->st.workers);
}

/* The end of a study: the grid's table, the best trial, the refit. */
static dr_status dr_finish(dr_study *S)
{
    int mine = 0;
    DR_TRY(dr_claim_finish(S, &mine));
    const dr_journal_trial *best = dr_best(S);
    if (mine && S->st.grid)
        DR_TRY(dr_sensitivity_table(S->j, &S->st, S->final, S->run.dir));
    if (best)
        dr_run_log(&S->run, "\nbest: trial %ld, validation %s %.4f\n", best->number, S->st.metric, best->value);
    else
        dr_run_log(&S->run, "\nno trial completed\n");
    if (mine && best && S->st.refit) {
        DR_TRY(dr_study_beat_start(S));
        dr_status s = dr_refit(S, best);
        dr_study_beat_stop(S);
        DR_TRY(s);
    }
    if (mine)
        DR_TRY(dr_journal_study_attr(S->j, "defrisk:finished", dr_journal_worker_id(S->j)));
    dr_run_log(&S->run, "study in %s (journal.jsonl: optuna.load_study reads it)\n", S->run.dir);
    return DR_OK;
}

dr_status dr_study_run(const dr_study_request *r)
{
    dr_study S;
    memset(&S, 0, sizeof S);
    S.t0 = dr_now();
    dr_status s = dr_study_open(&S, r);
    if (s == DR_OK && r->dir_out)
        snprintf(r->dir_out, r->dir_cap, "%s", S.run.dir);
    if (s == DR_OK)
        dr_log_start(&S, r);
    if (s == DR_OK && !r->resume_dir) {
        s = dr_study_check(&S, r->config_path);
        if (s != DR_OK) {
            dr_remove_new_study(&S);
            fprintf(stderr, "stopped before any trial: %s removed\n", S.run.dir);
        }
    }
    if (s == DR_OK && r->create_only)
        dr_run_log(&S.run, "study %s is ready: no trial runs until a process continues it (--resume)\n", S.run.dir);
    else if (s == DR_OK)
        s = dr_study_loop(&S);
    if (s == DR_OK && !r->create_only && S.prefix == S.st.trials)
        s = dr_finish(&S);
    if (s != DR_OK && S.run.log)
        fprintf(S.run.log, "error: %s\n", dr_last_error());
    dr_study_free(&S);
    return s;
}
