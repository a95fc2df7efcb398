/* Feature selection in the data stage (features.select):
 *   "paper"   the paper's VIF -> mutual information -> RFECV with a random
 *             forest (data/select.h), its subset used as it comes;
 *   "guarded" (the default) the same subset, kept only when it does not cost
 *             validation AUC: XGBoost with its defaults but no row or column
 *             sampling, early-stopped on validation, is trained on all
 *             features and on the subset, and
 *             the subset stays when its validation AUC is at least that of all
 *             features minus features.guard_tolerance. RFECV scores subsets
 *             with a forest that is not the model they are for, and on small or
 *             wide data it keeps too few (README, "What is measured");
 *   "none"    every feature.
 * true and false mean "paper" and "none". */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "data/select.h"
#include "experiments/experiment.h"
#include "models/trees.h"

static const char *const dr_select_methods[] = {"none", "paper", "guarded", NULL};

static dr_status dr_select_method(dr_config *cfg, const char **method)
{
    if (dr_config_type_of(cfg, "features.select") == DR_CONFIG_BOOL) {
        bool on;
        DR_TRY(dr_config_bool(cfg, "features.select", true, &on));
        *method = on ? "paper" : "none";
        return DR_OK;
    }
    return dr_config_string(cfg, "features.select", "guarded", dr_select_methods, method);
}

/* Validation AUC of XGBoost (its defaults, early-stopped on validation) on the
 * columns with keep[j] set. */
static dr_status dr_guard_auc(const dr_matrix *tr, const float *ytr, const dr_matrix *va, const float *yva,
                              const int *keep, uint64_t seed, double *auc)
{
    int d = tr->n_features, k = 0;
    for (int j = 0; j < d; j++)
        k += keep[j] != 0;
    float *xt = malloc((size_t)tr->n_rows * (size_t)k * sizeof *xt);
    float *xv = malloc((size_t)(va->n_rows ? va->n_rows : 1) * (size_t)k * sizeof *xv);
    if (!xt || !xv) {
        free(xt);
        free(xv);
        return dr_error(DR_ERR_NOMEM, "selection guard: out of host memory");
    }
    const dr_matrix *src[2] = {tr, va};
    float *dst[2] = {xt, xv};
    for (int p = 0; p < 2; p++)
        for (long i = 0; i < src[p]->n_rows; i++)
            for (int j = 0, c = 0; j < d; j++)
                if (keep[j])
                    dst[p][i * k + c++] = src[p]->x[i * d + j];
    dr_tree_params prm;
    dr_tree_params_default(&prm, DR_TREE_XGBOOST);
    /* every row and column in every tree: the comparison then reflects the
     * features, not which rows and columns a seed drew */
    prm.subsample = 1.0f;
    prm.colsample = 1.0f;
    prm.seed = seed;
    prm.nthread = omp_get_max_threads(); /* a study's trial: its share of the cores */
    dr_tree_model *m = NULL;
    dr_status s = dr_tree_train(&m, &prm, xt, ytr, tr->n_rows, k, xv, yva, va->n_rows);
    dr_tree_info info;
    if (s == DR_OK)
        s = dr_tree_get_info(m, &info);
    if (s == DR_OK)
        *auc = info.best_val_auc;
    dr_tree_free(m);
    free(xt);
    free(xv);
    return s;
}

static dr_status dr_guard(dr_experiment *e, const dr_matrix *tr, int *selected, double tolerance, uint64_t seed,
                          int *kept)
{
    dr_matrix va;
    DR_TRY(dr_prep_transform(&e->prep, &e->table, e->split.val, e->split.n_val, &va));
    float *yva = malloc((size_t)(e->split.n_val ? e->split.n_val : 1) * sizeof *yva);
    int *all = malloc((size_t)tr->n_features * sizeof *all);
    dr_status s = yva && all ? DR_OK : dr_error(DR_ERR_NOMEM, "selection guard: out of host memory");
    for (long i = 0; s == DR_OK && i < e->split.n_val; i++)
        yva[i] = e->label[e->split.val[i]];
    for (int j = 0; all && j < tr->n_features; j++)
        all[j] = 1;
    double auc_all = NAN, auc_sel = NAN;
    if (s == DR_OK)
        s = dr_guard_auc(tr, e->train.y, &va, yva, all, seed, &auc_all);
    if (s == DR_OK)
        s = dr_guard_auc(tr, e->train.y, &va, yva, selected, seed, &auc_sel);
    if (s == DR_OK) {
        int keep = *kept = auc_sel >= auc_all - tolerance;
        dr_run_log(&e->run,
                   "selection guard: XGBoost validation AUC %.4f on the subset, %.4f on all %d features: %s\n",
                   auc_sel, auc_all, tr->n_features,
                   keep ? "the subset is kept" : "the subset costs accuracy, all features are kept");
        if (!keep)
            memcpy(selected, all, (size_t)tr->n_features * sizeof *selected);
    }
    s = s == DR_OK ? s : dr_error_context(s, "features.select = \"guarded\": ");
    dr_matrix_free(&va);
    free(yva);
    free(all);
    return s;
}

dr_status dr_select_stage(dr_experiment *e, const dr_matrix *tr, int *selected)
{
    const char *method;
    DR_TRY(dr_select_method(e->cfg, &method));
    dr_select_options o;
    dr_select_options_default(&o);
    int64_t max_rows, seed;
    bool rfecv;
    double tolerance;
    DR_TRY(dr_config_float(e->cfg, "features.vif_threshold", 10.0, 1.0, 1e300, &o.vif_threshold));
    DR_TRY(dr_config_float(e->cfg, "features.mi_min", -INFINITY, -INFINITY, 10.0, &o.mi_min));
    DR_TRY(dr_config_bool(e->cfg, "features.rfecv", true, &rfecv));
    DR_TRY(dr_config_int(e->cfg, "features.rfecv_trees", o.rfecv.n_trees, 1, 10000, &o.rfecv.n_trees));
    DR_TRY(dr_config_int(e->cfg, "features.rfecv_folds", o.rfecv.folds, 2, 20, &o.rfecv.folds));
    DR_TRY(dr_config_int64(e->cfg, "features.rfecv_max_rows", 30000, 0, INT64_MAX, &max_rows));
    DR_TRY(dr_config_float(e->cfg, "features.guard_tolerance", 0.0, 0.0, 1.0, &tolerance));
    DR_TRY(dr_config_int64(e->cfg, "train.seed", 42, 0, INT64_MAX, &seed));
    o.rfecv.max_rows = (long)max_rows;
    o.rfecv.n_threads = 2;
    if (strcmp(method, "none") == 0) {
        for (int f = 0; f < tr->n_features; f++)
            selected[f] = 1;
        dr_run_log(&e->run, "selection: off, all %d features kept\n", tr->n_features);
        return DR_OK;
    }
    if (!rfecv)
        o.rfecv.min_features = tr->n_features; /* elimination never starts */
    dr_select_result r;
    DR_TRY(dr_select_hybrid(tr->x, tr->n_rows, tr->n_features, (const char *const *)tr->names, e->train.y, &o, &r,
                            e->run.log ? e->run.log : stderr));
    memcpy(selected, r.selected, (size_t)tr->n_features * sizeof *selected);
    dr_run_log(&e->run, "selection (%s): %d of %d features chosen (VIF > %g dropped, RFECV best size %d)\n", method,
               r.n_selected, tr->n_features, o.vif_threshold, r.rfecv.best_size);
    int kept = 1;
    dr_status s = strcmp(method, "guarded") == 0 ? dr_guard(e, tr, selected, tolerance, (uint64_t)seed, &kept) : DR_OK;
    char path[1100];
    FILE *f = s == DR_OK ? fopen(dr_run_path(&e->run, "features.txt", path, sizeof path), "w") : NULL;
    if (f) {
        if (!kept)
            fprintf(f, "# not used: the selection guard kept all %d features (see the log)\n", tr->n_features);
        dr_select_table_print(f, &r, (const char *const *)tr->names);
        fclose(f);
    }
    if (s == DR_OK)
        dr_select_table_print(stderr, &r, (const char *const *)tr->names);
    dr_select_result_free(&r);
    return s;
}
