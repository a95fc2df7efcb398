/* The ensemble stage, [ensemble]: the TPE-weighted blend of the members' validation
 * and test probabilities, beside equal weights. It runs at the end of a run over
 * that run's models (dr_ensemble_stage), or alone over the predictions.h5 files of
 * earlier runs on the same split (dr_experiment_ensemble: `run_experiment ensemble`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/ensemble.h"
#include "experiments/experiment.h"

static const char *const dr_default_members[] = {"hybrid", "xgboost", "lightgbm", "random_forest"};

/* The [ensemble] keys. When the stage runs alone their defaults are the first
 * earlier run's values (its config.toml), so that with no override it repeats
 * that run's ensemble. */
typedef struct dr_ensemble_keys {
    const char *const *members;
    int k, trials, bootstrap;
    int64_t seed;
} dr_ensemble_keys;

static dr_status dr_read_ensemble_keys(dr_config *cfg, const dr_ensemble_keys *def, dr_ensemble_keys *out)
{
    DR_TRY(dr_config_string_list(cfg, "ensemble.members", def->members, def->k, dr_model_names, 0,
                                 DR_ENSEMBLE_MAX_MEMBERS, &out->members, &out->k));
    for (int i = 0; i < out->k; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(out->members[i], out->members[j]) == 0)
                return dr_error(DR_ERR_INVALID, "%s: ensemble.members names '%s' twice",
                                dr_config_where(cfg, "ensemble.members"), out->members[i]);
    DR_TRY(dr_config_int(cfg, "ensemble.trials", def->trials, 0, 100000, &out->trials));
    DR_TRY(dr_config_int(cfg, "ensemble.bootstrap", def->bootstrap, 0, 10000, &out->bootstrap));
    return dr_config_int64(cfg, "ensemble.seed", def->seed, 0, INT64_MAX, &out->seed);
}

/* Fits the weights of ks->members (in e->models: checked when the keys were read,
 * or loaded) and adds "ensemble" and "ensemble_equal" to e->models. */
static dr_status dr_blend_members(dr_experiment *e, const dr_ensemble_keys *ks)
{
    int k = ks->k;
    const float *val[DR_ENSEMBLE_MAX_MEMBERS], *test[DR_ENSEMBLE_MAX_MEMBERS];
    for (int i = 0; i < k; i++) {
        const dr_model_result *m = dr_find_result(e, ks->members[i]);
        DR_ASSERT(m);
        val[i] = m->val;
        test[i] = m->test;
    }
    dr_ensemble_options o;
    dr_ensemble_options_default(&o);
    o.n_trials = ks->trials;
    o.n_bootstrap = ks->bootstrap;
    o.seed = (uint64_t)ks->seed;
    dr_ensemble_result r;
    DR_TRY(dr_ensemble_fit(&r, k, val, e->val.y, e->val.m.n_rows, test, e->test.y, e->test.m.n_rows, &o));
    if (ks->bootstrap)
        dr_run_log(&e->run, "ensemble (TPE on %d bootstrap resamples, %d weight vectors, mean weights):",
                   ks->bootstrap, r.n_evaluated);
    else
        dr_run_log(&e->run, "ensemble (TPE, %d weight vectors):", r.n_evaluated);
    for (int i = 0; i < k; i++)
        dr_run_log(&e->run, " %s %.3f", ks->members[i], r.weights[i]);
    dr_run_log(&e->run, "\n  validation AUC %.4f (equal weights %.4f, best member %s %.4f)\n", r.val_auc,
               r.equal_val_auc, ks->members[r.best_member], r.member_val_auc[r.best_member]);
    dr_model_result *ens, *eq;
    double equal[DR_ENSEMBLE_MAX_MEMBERS];
    for (int i = 0; i < k; i++)
        equal[i] = 1.0 / k;
    DR_TRY(dr_explain_ensemble(e, ks->members, r.weights, k));
    DR_TRY(dr_add_result(e, "ensemble", &ens));
    DR_TRY(dr_ensemble_blend(ens->val, r.weights, k, val, e->val.m.n_rows));
    DR_TRY(dr_ensemble_blend(ens->test, r.weights, k, test, e->test.m.n_rows));
    DR_TRY(dr_add_result(e, "ensemble_equal", &eq));
    DR_TRY(dr_ensemble_blend(eq->val, equal, k, val, e->val.m.n_rows));
    return dr_ensemble_blend(eq->test, equal, k, test, e->test.m.n_rows);
}

/* The defaults inside a run. */
static dr_ensemble_keys dr_run_defaults(uint64_t seed)
{
    return (dr_ensemble_keys){dr_default_members, 4, 200, 0, (int64_t)seed};
}

dr_status dr_ensemble_settings(dr_experiment *e, uint64_t default_seed, const char *const *trained, int n_trained,
                               const char *const **members, int *k)
{
    dr_ensemble_keys def = dr_run_defaults(default_seed), ks;
    DR_TRY(dr_read_ensemble_keys(e->cfg, &def, &ks));
    *members = ks.members;
    *k = ks.k;
    for (int i = 0; ks.k >= 2 && i < ks.k; i++) {
        int found = 0;
        for (int j = 0; j < n_trained; j++)
            found |= strcmp(ks.members[i], trained[j]) == 0;
        if (!found)
            return dr_error(DR_ERR_INVALID, "%s: ensemble.members includes '%s', which baselines.models does not "
                            "train (add it there or change ensemble.members)",
                            dr_config_where(e->cfg, "ensemble.members"), ks.members[i]);
    }
    return DR_OK;
}

dr_status dr_ensemble_stage(dr_experiment *e, uint64_t default_seed)
{
    dr_ensemble_keys def = dr_run_defaults(default_seed), ks;
    DR_TRY(dr_read_ensemble_keys(e->cfg, &def, &ks));
    return ks.k < 2 ? DR_OK : dr_blend_members(e, &ks);
}

/* --- alone over earlier runs --------------------------------------------------------- */

/* One split's labels and row indices from a predictions.h5. */
typedef struct dr_saved_split {
    float *label;
    int32_t *row;
    int64_t n;
} dr_saved_split;

static dr_status dr_read_split(dr_h5 *f, const char *path, const char *part, dr_saved_split *s)
{
    char name[32];
    int64_t nr;
    int rank;
    snprintf(name, sizeof name, "%s/label", part);
    DR_TRY(dr_h5_read_f32(f, name, &s->label, &rank, &s->n));
    snprintf(name, sizeof name, "%s/row", part);
    DR_TRY(dr_h5_read_i32(f, name, &s->row, &rank, &nr));
    if (nr != s->n)
        return dr_error(DR_ERR_FORMAT, "%s: %s/label has %lld rows, %s/row %lld", path, part, (long long)s->n, part,
                        (long long)nr);
    return DR_OK;
}

/* Blending runs on other splits would score one loan's prediction against another
 * loan's label: the rows and labels must be the first run's. */
static dr_status dr_same_split(const dr_saved_split *a, const dr_saved_split *b, const char *part,
                               const char *path_a, const char *path_b)
{
    if (a->n != b->n)
        return dr_error(DR_ERR_INVALID, "%s has %lld %s rows, %s %lld: not the same split", path_b, (long long)b->n,
                        part, path_a, (long long)a->n);
    for (int64_t i = 0; i < a->n; i++)
        if (a->row[i] != b->row[i] || a->label[i] != b->label[i])
            return dr_error(DR_ERR_INVALID, "%s: %s position %lld is row %d (label %g), in %s row %d (label %g): "
                            "not the same split", path_b, part, (long long)i, b->row[i], b->label[i], path_a,
                            a->row[i], a->label[i]);
    return DR_OK;
}

static void dr_saved_split_free(dr_saved_split *s)
{
    free(s->label);
    free(s->row);
    memset(s, 0, sizeof *s);
}

/* Takes the split of the first file as the experiment's val / test parts. */
static dr_status dr_adopt_split(dr_part *p, dr_saved_split *s)
{
    long *rows = malloc((size_t)(s->n ? s->n : 1) * sizeof *rows);
    if (!rows)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int64_t i = 0; i < s->n; i++)
        rows[i] = s->row[i];
    p->rows = rows;
    p->y = s->label;
    p->m.n_rows = (long)s->n;
    s->label = NULL;
    return DR_OK;
}

typedef struct dr_sources {
    int n;
    const char *const *dirs;
    char path[DR_ENSEMBLE_MAX_MEMBERS * 4][1100];
} dr_sources;

/* Loads member `name` from the first run folder that has it; *from receives that
 * folder's index. */
static dr_status dr_load_member(dr_experiment *e, const dr_sources *src, const char *name, int *from)
{
    char vname[64], tname[64];
    snprintf(vname, sizeof vname, "val/%s", name);
    snprintf(tname, sizeof tname, "test/%s", name);
    for (int i = 0; i < src->n; i++) {
        dr_h5 *f;
        DR_TRY(dr_h5_open(&f, src->path[i]));
        if (!dr_h5_exists(f, vname)) {
            dr_h5_close(f);
            continue;
        }
        dr_model_result *r;
        dr_status s = dr_add_result(e, name, &r);
        if (s == DR_OK)
            s = dr_h5_read_f32_into(f, vname, r->val, e->val.m.n_rows);
        if (s == DR_OK)
            s = dr_h5_read_f32_into(f, tname, r->test, e->test.m.n_rows);
        dr_h5_close(f);
        *from = i;
        return s == DR_OK ? s : dr_error_context(s, "%s: ", src->path[i]);
    }
    return dr_error(DR_ERR_INVALID, "%s: member '%s' is in none of the runs' predictions.h5",
                    dr_config_where(e->cfg, "ensemble.members"), name);
}

/* Checks that every run folder holds predictions of the same split and adopts it. */
static dr_status dr_load_splits(dr_experiment *e, dr_sources *src)
{
    dr_saved_split first[2] = {{0}}, other[2] = {{0}};
    const char *parts[2] = {"val", "test"};
    dr_status s = DR_OK;
    for (int i = 0; i < src->n && s == DR_OK; i++) {
        snprintf(src->path[i], sizeof src->path[i], "%s/predictions.h5", src->dirs[i]);
        dr_h5 *f = NULL;
        s = dr_h5_open(&f, src->path[i]);
        for (int p = 0; p < 2 && s == DR_OK; p++) {
            s = dr_read_split(f, src->path[i], parts[p], i ? &other[p] : &first[p]);
            if (s == DR_OK && i)
                s = dr_same_split(&first[p], &other[p], parts[p], src->path[0], src->path[i]);
            dr_saved_split_free(&other[p]);
        }
        if (f)
            dr_h5_close(f);
    }
    if (s == DR_OK)
        s = dr_adopt_split(&e->val, &first[0]);
    if (s == DR_OK)
        s = dr_adopt_split(&e->test, &first[1]);
    for (int p = 0; p < 2; p++)
        dr_saved_split_free(&first[p]);
    return s;
}

/* The first run's [evaluation] and the exposures it stored with its predictions
 * (runs from before exposures were stored: 1 each). */
static dr_status dr_load_evaluation(dr_experiment *e, dr_config *base, const char *predictions)
{
    DR_TRY(dr_evaluation_keys(base, &e->eval));
    long n[2] = {e->val.m.n_rows, e->test.m.n_rows};
    float **out[2] = {&e->eval.val_exposure, &e->eval.test_exposure};
    const char *name[2] = {"val/exposure", "test/exposure"};
    dr_h5 *f;
    DR_TRY(dr_h5_open(&f, predictions));
    int stored = dr_h5_exists(f, name[0]) && dr_h5_exists(f, name[1]);
    dr_status s = DR_OK;
    for (int p = 0; p < 2 && s == DR_OK; p++) {
        *out[p] = malloc((size_t)(n[p] ? n[p] : 1) * sizeof(float));
        if (!*out[p])
            s = dr_error(DR_ERR_NOMEM, "out of host memory");
        else if (stored)
            s = dr_h5_read_f32_into(f, name[p], *out[p], n[p]);
        else
            for (long i = 0; i < n[p]; i++)
                (*out[p])[i] = 1;
    }
    dr_h5_close(f);
    snprintf(e->eval.exposure, sizeof e->eval.exposure, "%s",
             stored ? "the exposures of the first run" : "exposure 1 (the first run stored none)");
    return s == DR_OK ? s : dr_error_context(s, "%s: ", predictions);
}

/* The first run's ensemble keys, the defaults of this one. */
static dr_status dr_base_keys(const char *run_dir, dr_config **base, dr_ensemble_keys *out)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.toml", run_dir);
    DR_TRY(dr_config_load(base, path));
    int64_t train_seed;
    DR_TRY(dr_config_int64(*base, "train.seed", 42, 0, INT64_MAX, &train_seed));
    dr_ensemble_keys def = dr_run_defaults((uint64_t)train_seed);
    return dr_read_ensemble_keys(*base, &def, out);
}

static dr_status dr_ensemble_alone(dr_experiment *e, dr_sources *src, const char *const *overrides, int n_ov)
{
    dr_config *base = NULL;
    dr_ensemble_keys def;
    dr_status s = dr_base_keys(src->dirs[0], &base, &def);
    if (s == DR_OK)
        s = dr_config_create(&e->cfg);
    for (int i = 0; i < n_ov && s == DR_OK; i++)
        s = dr_config_override(e->cfg, overrides[i]);
    const char *dir = NULL, *name = NULL;
    dr_ensemble_keys ks = {0};
    int from[DR_ENSEMBLE_MAX_MEMBERS];
    if (s == DR_OK)
        s = dr_config_string(e->cfg, "output.dir", "runs", NULL, &dir);
    if (s == DR_OK)
        s = dr_config_string(e->cfg, "output.name", "ensemble", NULL, &name);
    if (s == DR_OK)
        s = dr_read_ensemble_keys(e->cfg, &def, &ks);
    if (s == DR_OK)
        s = dr_config_check_unused(e->cfg);
    if (s == DR_OK && ks.k < 2)
        s = dr_error(DR_ERR_INVALID, "%s: %d member(s); an ensemble needs 2 or more",
                     dr_config_where(e->cfg, "ensemble.members"), ks.k);
    /* everything is read and checked before the run folder exists: a mistake
     * leaves nothing behind */
    if (s == DR_OK)
        s = dr_load_splits(e, src);
    if (s == DR_OK)
        s = dr_load_evaluation(e, base, src->path[0]);
    for (int i = 0; s == DR_OK && i < ks.k; i++)
        s = dr_load_member(e, src, ks.members[i], &from[i]);
    if (s == DR_OK)
        s = dr_run_create(&e->run, dir, name);
    if (s == DR_OK)
        dr_run_log(&e->run, "ensemble over the predictions of %d run(s), in %s\n", src->n, e->run.dir);
    for (int i = 0; s == DR_OK && i < ks.k; i++)
        dr_run_log(&e->run, "  %-15s from %s\n", ks.members[i], src->dirs[from[i]]);
    if (s == DR_OK)
        s = dr_blend_members(e, &ks);
    if (s == DR_OK) {
        char path[1100];
        s = dr_config_write_resolved(e->cfg, dr_run_path(&e->run, "config.toml", path, sizeof path));
    }
    if (s == DR_OK)
        s = dr_report_stage(e);
    dr_config_free(base);
    return s;
}

dr_status dr_experiment_ensemble(const char *const *run_dirs, int n_dirs, const char *const *overrides, int n_ov)
{
    dr_sources *src = calloc(1, sizeof *src);
    if (!src)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    if (n_dirs < 1 || n_dirs > (int)(sizeof src->path / sizeof src->path[0])) {
        free(src);
        return dr_error(DR_ERR_INVALID, "ensemble: %d run folders, expected 1 .. %d", n_dirs,
                        (int)(sizeof src->path / sizeof src->path[0]));
    }
    src->n = n_dirs;
    src->dirs = run_dirs;
    dr_experiment e;
    memset(&e, 0, sizeof e);
    dr_status s = dr_ensemble_alone(&e, src, overrides, n_ov);
    if (s == DR_OK)
        dr_run_log(&e.run, "\nresults in %s\n", e.run.dir);
    else if (e.run.log)
        fprintf(e.run.log, "error: %s\n", dr_last_error());
    free((void *)e.val.rows);
    free((void *)e.test.rows);
    dr_experiment_free(&e);
    free(src);
    return s;
}
