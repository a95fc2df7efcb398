/* The experiment's model results: the model names a run knows, and the result
 * slot (validation and test probabilities) each model and the ensemble fill. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/experiment.h"

const char *const dr_model_names[] = {"hybrid",   "logistic",         "mlp",           "svm", "xgboost",
                                      "lightgbm", "xgboost_leafwise", "random_forest", NULL};

dr_status dr_add_result(dr_experiment *e, const char *name, dr_model_result **out)
{
    if (e->n_models == DR_MAX_MODELS)
        return dr_error(DR_ERR_INVALID, "more than %d models in one run", DR_MAX_MODELS);
    dr_model_result *r = &e->models[e->n_models];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->val = malloc((size_t)(e->val.m.n_rows ? e->val.m.n_rows : 1) * sizeof(float));
    r->test = malloc((size_t)(e->test.m.n_rows ? e->test.m.n_rows : 1) * sizeof(float));
    e->n_models++; /* counted even on failure, so dr_experiment_free frees both */
    if (!r->val || !r->test)
        return dr_error(DR_ERR_NOMEM, "out of host memory for predictions");
    *out = r;
    return DR_OK;
}

const dr_model_result *dr_find_result(const dr_experiment *e, const char *name)
{
    for (int i = 0; i < e->n_models; i++)
        if (strcmp(e->models[i].name, name) == 0)
            return &e->models[i];
    return NULL;
}
