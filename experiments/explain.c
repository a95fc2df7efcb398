/* [explain] settings; the values come from the model stage, the file from the report. */
#include <stdlib.h>
#include <string.h>

#include "experiments/explain.h"

static const char *const dr_explainable[] = {"xgboost", "lightgbm", "xgboost_leafwise", "random_forest", "hybrid",
                                             "logistic", "mlp",      "svm",              "ensemble",      NULL};

/* A count of training rows (a background): default min(cap, n_train), more
 * than the training split an error naming the key. */
static dr_status dr_training_rows_key(dr_config *cfg, const char *key, long cap, long n_train, int64_t *out)
{
    DR_TRY(dr_config_int64(cfg, key, n_train < cap ? (n_train > 0 ? n_train : 1) : cap, 1, 100000000, out));
    if (*out > n_train)
        return dr_error(DR_ERR_INVALID, "%s: %s = %lld, but the training split has %ld rows",
                        dr_config_where(cfg, key), key, (long long)*out, n_train);
    return DR_OK;
}

/* explain.kernel_*: Kernel SHAP's loans, background and coalitions. */
static dr_status dr_kernel_settings(dr_config *cfg, long n_train, long n_test, int players, dr_explain *ex)
{
    int64_t rows, background, samples;
    const char *method;
    DR_TRY(dr_config_string(cfg, "explain.method", "auto", (const char *const[]){"auto", "kernel", NULL}, &method));
    ex->kernel = strcmp(method, "kernel") == 0;
    /* KernelExplainer's cost grows with loans x coalitions x background: shap's
     * examples explain some 100 loans against shap.kmeans(X, 10) */
    DR_TRY(dr_config_int64(cfg, "explain.kernel_rows", 100, 1, 100000000, &rows));
    DR_TRY(dr_training_rows_key(cfg, "explain.kernel_background", 10, n_train, &background));
    /* shap's nsamples = "auto" */
    DR_TRY(dr_config_int64(cfg, "explain.kernel_samples", 2 * (int64_t)players + 2048, 1, 100000000, &samples));
    if (samples < players + 1)
        return dr_error(DR_ERR_INVALID, "%s: explain.kernel_samples = %lld is too few for Kernel SHAP's regression "
                        "over %d inputs: it needs at least %d coalitions (the default is %d)",
                        dr_config_where(cfg, "explain.kernel_samples"), (long long)samples, players, players + 1,
                        2 * players + 2048);
    ex->kernel_rows = rows < n_test ? (long)rows : n_test;
    ex->kernel_background = (long)background;
    ex->kernel_samples = (long)samples;
    return DR_OK;
}

/* explain.interaction_rows: for XGBoost's models by TreeSHAP (LightGBM has none). */
static dr_status dr_interaction_settings(dr_config *cfg, dr_explain *ex)
{
    int64_t rows;
    DR_TRY(dr_config_int64(cfg, "explain.interaction_rows", 0, 0, 100000, &rows));
    ex->interaction_rows = rows < ex->rows ? (long)rows : ex->rows;
    int xgboost = 0;
    for (int i = 0; i < ex->n_models; i++)
        xgboost |= strcmp(ex->model[i], "xgboost") == 0 || strcmp(ex->model[i], "xgboost_leafwise") == 0 ||
                   strcmp(ex->model[i], "random_forest") == 0;
    if (rows && (!xgboost || ex->kernel))
        return dr_error(DR_ERR_INVALID, "%s: explain.interaction_rows: SHAP interaction values come from TreeSHAP of "
                        "\"xgboost\", \"xgboost_leafwise\" or \"random_forest\" (explain.method = \"auto\"; "
                        "LightGBM computes none), and explain.models names none of them",
                        dr_config_where(cfg, "explain.interaction_rows"));
    return DR_OK;
}

dr_status dr_explain_settings(dr_config *cfg, const char *const *trained, int n_trained, const char *const *members,
                              int n_members, long n_train, long n_test, int d, int has_history, uint64_t seed,
                              dr_explain *ex)
{
    memset(ex, 0, sizeof *ex);
    const char *const *models;
    int n, top;
    int64_t rows;
    DR_TRY(dr_config_string_list(cfg, "explain.models", (const char *const[]){NULL}, 0, NULL, 0,
                                 DR_EXPLAIN_MAX_MODELS, &models, &n));
    DR_TRY(dr_config_int64(cfg, "explain.rows", 1000, 1, 100000000, &rows));
    DR_TRY(dr_config_int(cfg, "explain.top", 20, 1, 100000, &top));
    int64_t lime_rows, lime_samples;
    DR_TRY(dr_config_int64(cfg, "explain.lime_rows", 5, 0, 100000, &lime_rows));
    DR_TRY(dr_config_int64(cfg, "explain.lime_samples", 5000, 2, 10000000, &lime_samples));
    DR_TRY(dr_config_int(cfg, "explain.lime_features", 10, 1, 64, &ex->lime_features));
    DR_TRY(dr_config_int(cfg, "explain.lime_seeds", 20, 1, 1000, &ex->lime_seeds));
    /* adverse-action notices give the principal reasons, commonly up to four */
    DR_TRY(dr_config_int(cfg, "explain.reasons", 4, 0, 64, &ex->reasons));
    /* the shap package's GradientExplainer draws 200 samples per loan */
    int64_t samples, background;
    DR_TRY(dr_config_int64(cfg, "explain.samples", 200, 1, 1000000, &samples));
    DR_TRY(dr_training_rows_key(cfg, "explain.background", 1000, n_train, &background));
    ex->samples = (long)samples;
    ex->background = (long)background;
    ex->lime_rows = lime_rows < n_test ? (long)lime_rows : n_test;
    ex->lime_samples = (long)lime_samples;
    ex->seed = seed;
    DR_TRY(dr_kernel_settings(cfg, n_train, n_test, d + has_history, ex));
    for (int i = 0; i < n; i++) {
        int known = 0, is_trained = 0;
        for (int k = 0; dr_explainable[k]; k++)
            known |= strcmp(models[i], dr_explainable[k]) == 0;
        for (int k = 0; k < n_trained; k++)
            is_trained |= strcmp(models[i], trained[k]) == 0;
        if (!known)
            return dr_error(DR_ERR_INVALID,
                            "%s: explain.models: \"%s\" is no model; SHAP values exist for the tree models "
                            "(\"xgboost\", \"lightgbm\", \"xgboost_leafwise\", \"random_forest\"), the neural "
                            "ones (\"hybrid\", \"logistic\", \"mlp\", \"svm\") and \"ensemble\"",
                            dr_config_where(cfg, "explain.models"), models[i]);
        if (strcmp(models[i], "ensemble") == 0) {
            if (n_members < 2)
                return dr_error(DR_ERR_INVALID, "%s: explain.models names \"ensemble\", but ensemble.members "
                                "names %d model(s): no ensemble is fitted",
                                dr_config_where(cfg, "explain.models"), n_members);
            ex->n_members = n_members;
            memcpy(ex->member, members, (size_t)n_members * sizeof *members);
        } else if (!is_trained)
            return dr_error(DR_ERR_INVALID, "%s: explain.models names \"%s\", which baselines.models does not train",
                            dr_config_where(cfg, "explain.models"), models[i]);
        for (int k = 0; k < i; k++)
            if (strcmp(models[i], models[k]) == 0)
                return dr_error(DR_ERR_INVALID, "%s: explain.models names \"%s\" twice",
                                dr_config_where(cfg, "explain.models"), models[i]);
        ex->model[i] = models[i];
    }
    ex->n_models = n;
    ex->rows = rows < n_test ? (long)rows : n_test;
    ex->top = top;
    return dr_interaction_settings(cfg, ex);
}

int dr_explain_slot(const dr_explain *ex, const char *model)
{
    for (int i = 0; i < ex->n_models; i++)
        if (strcmp(ex->model[i], model) == 0)
            return i;
    return -1;
}

int dr_explain_member(const dr_explain *ex, const char *model)
{
    for (int i = 0; i < ex->n_members; i++)
        if (strcmp(ex->member[i], model) == 0)
            return i;
    return -1;
}

void dr_explain_free(dr_explain *ex)
{
    for (int i = 0; i < ex->n_models; i++) {
        free(ex->phi[i]);
        free(ex->phi_seq[i]);
        free(ex->margin[i]);
        free(ex->lime[i]);
        free(ex->stability[i]);
        free(ex->interaction[i]);
    }
    for (int i = 0; i < ex->n_members; i++)
        free(ex->member_phi[i]), free(ex->member_prob[i]), free(ex->member_lime[i]);
    dr_kshap_background_free(&ex->bg);
    dr_lime_stats_free(&ex->lime_stats);
    memset(ex, 0, sizeof *ex);
}
