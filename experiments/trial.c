/* The process behind one trial of a study (started by experiments/study.c):
 *
 *   defrisk trial STUDY_DIR NUMBER|check key=TOML...
 *
 * It rebuilds the study's configuration (STUDY_DIR/experiment.toml and its
 * overrides), sets the trial's values, trains the model the study scores and
 * reports to the coordinator, one line each, on descriptor 3, reading answers on
 * descriptor 4:
 *   step EPOCH AUC    after every epoch; the answer is "go" or "prune"
 *   attr NAME VALUE   a metric of the trial (validation and test)
 *   done VALUE        the study's metric on validation
 *   fail REASON       the trial cannot run (a value the model refuses, NaN loss)
 * "check" reads every key with the values given and stops before training: the
 * study runs it once before any trial, so that a search key nothing reads is an
 * error up front. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/experiment.h"
#include "experiments/study.h"

enum { DR_TRIAL_OUT_FD = 3, DR_TRIAL_IN_FD = 4 };

typedef struct dr_trial_link {
    FILE *out, *in;
    int pruned;
} dr_trial_link;

static dr_status dr_report_epoch(void *ctx, int epoch, double val_auc, int *stop)
{
    dr_trial_link *l = ctx;
    char answer[32];
    fprintf(l->out, "step %d %.17g\n", epoch, val_auc);
    fflush(l->out);
    if (!fgets(answer, sizeof answer, l->in))
        return dr_error(DR_ERR_IO, "the study stopped answering");
    *stop = strncmp(answer, "prune", 5) == 0;
    l->pruned |= *stop;
    return DR_OK;
}

/* Sets the trial's values; a value the configuration refuses names its search entry. */
static dr_status dr_apply_values(dr_config *cfg, const dr_study_settings *st, char **kv, int n)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq)
            return dr_error(DR_ERR_INVALID, "trial argument '%s' is not key=value", kv[i]);
        *eq = '\0';
        dr_status s = dr_config_set_toml(cfg, kv[i], eq + 1);
        int j = dr_search_space_find(&st->space, kv[i]);
        *eq = '=';
        if (s != DR_OK)
            return j >= 0 ? dr_error_context(s, "%s: search key \"%s\": ", st->space.p[j].where, st->space.p[j].key) : s;
    }
    return DR_OK;
}

/* A check that fails over a search key (one nothing reads, a value out of
 * range) names the key's entry in [search.space] too. */
static dr_status dr_name_search_key(const dr_study_settings *st, dr_status s)
{
    for (int j = 0; j < st->space.n; j++) {
        const char *k = strstr(dr_last_error(), st->space.p[j].key);
        size_t n = strlen(st->space.p[j].key);
        if (k && !(isalnum((unsigned char)k[n]) || k[n] == '_' || k[n] == '.'))
            return dr_error_context(s, "%s: search key \"%s\": ", st->space.p[j].where, st->space.p[j].key);
    }
    return s;
}

/* The model's row of the results table on validation (threshold fitted there). */
static dr_status dr_report_result(const dr_experiment *e, const dr_study_settings *st, FILE *out)
{
    const dr_model_result *r = dr_find_result(e, st->model);
    if (!r)
        return dr_error(DR_ERR_INVALID, "the trial made no predictions of %s", st->model);
    double val[DR_N_COLS], test[DR_N_COLS];
    long nv = e->val.m.n_rows, nt = e->test.m.n_rows;
    const dr_evaluation *ev = &e->eval;
    DR_TRY(dr_result_row(ev, r->val, e->val.y, nv, r->val, e->val.y, ev->val_exposure, nv, val));
    DR_TRY(dr_result_row(ev, r->val, e->val.y, nv, r->test, e->test.y, ev->test_exposure, nt, test));
    double value = NAN;
    for (int c = 0; c < DR_N_COLS; c++) {
        fprintf(out, "attr val_%s %.17g\n", dr_result_columns[c], val[c]);
        fprintf(out, "attr test_%s %.17g\n", dr_result_columns[c], test[c]);
        if (strcmp(dr_result_columns[c], st->metric) == 0)
            value = val[c];
    }
    if (!isfinite(value))
        return dr_error(DR_ERR_NUMERIC, "validation %s is %g", st->metric, value);
    fprintf(out, "done %.17g\n", value);
    return DR_OK;
}

static dr_status dr_trial_run(const char *study_dir, const char *number, char **kv, int n, dr_trial_link *link)
{
    char path[1200];
    dr_experiment e;
    dr_study_settings st;
    memset(&e, 0, sizeof e);
    snprintf(path, sizeof path, "%s/experiment.toml", study_dir);
    dr_status s = dr_config_load(&e.cfg, path);
    if (s == DR_OK)
        s = dr_run_load_overrides(e.cfg, study_dir);
    if (s == DR_OK)
        s = dr_study_settings_read(e.cfg, &st);
    if (s == DR_OK)
        s = dr_apply_values(e.cfg, &st, kv, n);
    if (s == DR_OK)
        s = dr_config_set_bool(e.cfg, "train.progress", false);
    if (s == DR_OK && strcmp(st.model, "ensemble") != 0) {
        char list[64];
        snprintf(list, sizeof list, "[\"%s\"]", st.model);
        s = dr_config_set_toml(e.cfg, "baselines.models", list);
        if (s == DR_OK)
            s = dr_config_set_toml(e.cfg, "ensemble.members", list);
    }
    dr_trial_hooks hooks = {.model = st.model, .check_only = strcmp(number, "check") == 0,
                            .epoch_end = dr_report_epoch, .ctx = link};
    e.trial = &hooks;
    /* the check's log is the study's own */
    if (hooks.check_only)
        snprintf(path, sizeof path, "%s", study_dir);
    else
        snprintf(path, sizeof path, "%s/trials/%s", study_dir, number);
    if (s == DR_OK)
        s = dr_experiment_trial(&e, path);
    if (s != DR_OK && hooks.check_only)
        s = dr_name_search_key(&st, s);
    if (s == DR_OK && !hooks.check_only && !link->pruned)
        s = dr_report_result(&e, &st, link->out);
    dr_experiment_free(&e);
    return s;
}

int dr_trial_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: defrisk trial STUDY_DIR NUMBER|check key=value...\n");
        return 2;
    }
    dr_trial_link link = {fdopen(DR_TRIAL_OUT_FD, "w"), fdopen(DR_TRIAL_IN_FD, "r"), 0};
    if (!link.out || !link.in) {
        fprintf(stderr, "defrisk trial: descriptors 3 and 4 must lead to the study\n");
        return 2;
    }
    dr_status s = dr_trial_run(argv[2], argv[3], argv + 4, argc - 4, &link);
    if (s != DR_OK) {
        char *msg = strdup(dr_last_error());
        for (char *c = msg; c && *c; c++)
            if (*c == '\n')
                *c = ' ';
        fprintf(stderr, "error: %s\n", msg ? msg : dr_last_error());
        fprintf(link.out, "fail %s\n", msg ? msg : dr_last_error());
        free(msg);
    }
    fclose(link.out);
    fclose(link.in);
    return s == DR_OK ? 0 : 1;
}
