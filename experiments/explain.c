/* [explain] settings; the values come from the model stage, the file from the report. */
#include <stdlib.h>
#include <string.h>

#include "experiments/explain.h"

static const char *const dr_explainable[] = {"xgboost", "lightgbm", "xgboost_leafwise", "random_forest",
                                             "hybrid",  "logistic", "mlp",              "svm", NULL};

dr_status dr_explain_settings(dr_config *cfg, const char *const *trained, int n_trained, long n_train, long n_test,
                              uint64_t seed, dr_explain *ex)
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
    /* the shap package's GradientExplainer draws 200 samples per loan */
    int64_t samples, background;
    DR_TRY(dr_config_int64(cfg, "explain.samples", 200, 1, 1000000, &samples));
    DR_TRY(dr_config_int64(cfg, "explain.background", n_train < 1000 ? (n_train > 0 ? n_train : 1) : 1000, 1,
                           100000000, &background));
    if (background > n_train)
        return dr_error(DR_ERR_INVALID, "%s: explain.background = %lld, but the training split has %ld rows",
                        dr_config_where(cfg, "explain.background"), (long long)background, n_train);
    ex->samples = (long)samples;
    ex->background = (long)background;
    ex->lime_rows = lime_rows < n_test ? (long)lime_rows : n_test;
    ex->lime_samples = (long)lime_samples;
    ex->seed = seed;
    for (int i = 0; i < n; i++) {
        int known = 0, is_trained = 0;
        for (int k = 0; dr_explainable[k]; k++)
            known |= strcmp(models[i], dr_explainable[k]) == 0;
        for (int k = 0; k < n_trained; k++)
            is_trained |= strcmp(models[i], trained[k]) == 0;
        if (!known)
            return dr_error(DR_ERR_UNSUPPORTED,
                            "%s: explain.models: \"%s\": not done yet; SHAP values exist for the tree models "
                            "(\"xgboost\", \"lightgbm\", \"xgboost_leafwise\", \"random_forest\") and the neural "
                            "ones (\"hybrid\", \"logistic\", \"mlp\", \"svm\"), not yet for the ensemble",
                            dr_config_where(cfg, "explain.models"), models[i]);
        if (!is_trained)
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
    return DR_OK;
}

int dr_explain_slot(const dr_explain *ex, const char *model)
{
    for (int i = 0; i < ex->n_models; i++)
        if (strcmp(ex->model[i], model) == 0)
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
    }
    memset(ex, 0, sizeof *ex);
}
