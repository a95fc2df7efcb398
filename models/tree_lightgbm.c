#include "models/tree_lightgbm.h"

#ifndef DR_HAVE_LIGHTGBM

static dr_status no_lightgbm(void)
{
    return dr_error(DR_ERR_UNSUPPORTED, "lightgbm: this build has no LightGBM library; ./run_experiment and "
                                        "./run_tests fetch it into .deps/lightgbm (scripts/bootstrap.sh, "
                                        "needs PyPI), then rebuild: cmake -S . -B build && cmake --build build");
}

const char *dr_lgbm_version(void) { return NULL; }
dr_status dr_lgbm_train(dr_lgbm **out, const dr_tree_params *p, const float *x, const float *y, long n,
                        int n_features, const float *x_val, const float *y_val, long n_val, dr_tree_info *info,
                        double *history, int *n_history)
{
    return no_lightgbm();
}
dr_status dr_lgbm_predict(const dr_lgbm *m, const float *x, long n, int n_features, float *prob)
{
    return no_lightgbm();
}
dr_status dr_lgbm_margin(const dr_lgbm *m, const float *x, long n, int n_features, float *margin)
{
    return no_lightgbm();
}
dr_status dr_lgbm_shap(const dr_lgbm *m, const float *x, long n, int n_features, float *phi, float *margin)
{
    return no_lightgbm();
}
dr_status dr_lgbm_importance(const dr_lgbm *m, int gain, double *score, int n_features) { return no_lightgbm(); }
dr_status dr_lgbm_save(const dr_lgbm *m, const char *path) { return no_lightgbm(); }
dr_status dr_lgbm_load(dr_lgbm **out, const char *path, dr_tree_info *info) { return no_lightgbm(); }
void dr_lgbm_free(dr_lgbm *m) {}

#else

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <LightGBM/c_api.h>

struct dr_lgbm {
    BoosterHandle h;
    int nthread;
};

const char *dr_lgbm_version(void) { return DR_LIGHTGBM_VERSION; }

/* Every LightGBM call goes through here: its text and LightGBM's message reach
 * the caller. */
#define LGBM(call, code)                                                                                       \
    do {                                                                                                       \
        if ((call) != 0) {                                                                                     \
            st = dr_error((code), "%s failed: %s", #call, LGBM_GetLastError());                            \
            goto done;                                                                                         \
        }                                                                                                      \
    } while (0)

/* One parameter string for the datasets and the booster (LightGBM refuses a
 * booster whose binning parameters differ from its dataset's). */
static void format_params(char *buf, size_t cap, const dr_tree_params *p, int nf)
{
    double colsample = p->colsample > 0.0f ? p->colsample : fmin(1.0, sqrt((double)nf) / nf);
    /* LightGBM's seed is an int: the 64-bit seed folded into 31 bits */
    unsigned seed = (unsigned)((p->seed ^ (p->seed >> 32)) & 0x7fffffffu);
    /* deterministic with a fixed histogram layout: the same seed and thread
     * count give the same model */
    snprintf(buf, cap,
             "objective=binary metric=auc boosting=gbdt num_leaves=%d max_depth=%d learning_rate=%.9g "
             "bagging_fraction=%.9g bagging_freq=%d feature_fraction=%.9g min_sum_hessian_in_leaf=%.9g "
             "lambda_l2=%.9g max_bin=%d seed=%u num_threads=%d deterministic=true force_col_wise=true "
             "verbosity=-1",
             p->max_leaves > 0 ? p->max_leaves : 131072, p->max_depth > 0 ? p->max_depth : -1, p->eta,
             p->subsample, p->subsample < 1.0f ? 1 : 0, colsample, p->min_child_weight, p->lambda, p->max_bin, seed,
             p->nthread);
}

static dr_status make_dataset(DatasetHandle *d, const char *params, DatasetHandle ref, const float *x,
                              const float *y, long n, int nf)
{
    dr_status st = DR_OK;
    *d = NULL;
    LGBM(LGBM_DatasetCreateFromMat(x, C_API_DTYPE_FLOAT32, (int32_t)n, nf, 1, params, ref, d), DR_ERR_INVALID);
    LGBM(LGBM_DatasetSetField(*d, "label", y, (int)n, C_API_DTYPE_FLOAT32), DR_ERR_INVALID);
done:
    if (st != DR_OK && *d) {
        LGBM_DatasetFree(*d);
        *d = NULL;
    }
    return st;
}

/* The first `rounds` rounds of h as a booster of their own, through LightGBM's
 * text format (the C API has no slice). */
static dr_status keep_rounds(BoosterHandle h, int rounds, BoosterHandle *out)
{
    dr_status st = DR_OK;
    int64_t len = 0;
    char *text = NULL;
    int iters = 0;
    *out = NULL;
    LGBM(LGBM_BoosterSaveModelToString(h, 0, rounds, C_API_FEATURE_IMPORTANCE_SPLIT, 0, &len, NULL), DR_ERR_INVALID);
    if (!(text = malloc((size_t)len))) {
        st = dr_error(DR_ERR_NOMEM, "model text of %lld bytes", (long long)len);
        goto done;
    }
    LGBM(LGBM_BoosterSaveModelToString(h, 0, rounds, C_API_FEATURE_IMPORTANCE_SPLIT, len, &len, text),
         DR_ERR_INVALID);
    LGBM(LGBM_BoosterLoadModelFromString(text, &iters, out), DR_ERR_INVALID);
done:
    free(text);
    return st;
}

dr_status dr_lgbm_train(dr_lgbm **out, const dr_tree_params *p, const float *x, const float *y, long n,
                        int n_features, const float *x_val, const float *y_val, long n_val, dr_tree_info *info,
                        double *history, int *n_history)
{
    if (n > INT32_MAX || n_val > INT32_MAX)
        return dr_error(DR_ERR_INVALID, "%ld rows, at most %d", n > n_val ? n : n_val, INT32_MAX);
    dr_status st = DR_OK;
    char params[512];
    format_params(params, sizeof params, p, n_features);
    DatasetHandle dtrain = NULL, dval = NULL;
    dr_lgbm *m = calloc(1, sizeof *m);
    if (!m)
        return dr_error(DR_ERR_NOMEM, "model");
    m->nthread = p->nthread;
    int have_val = n_val > 0;
    if ((st = make_dataset(&dtrain, params, NULL, x, y, n, n_features)) != DR_OK)
        goto done;
    if (have_val && (st = make_dataset(&dval, params, dtrain, x_val, y_val, n_val, n_features)) != DR_OK)
        goto done;
    LGBM(LGBM_BoosterCreate(dtrain, params, &m->h), DR_ERR_INVALID);
    if (have_val)
        LGBM(LGBM_BoosterAddValidData(m->h, dval), DR_ERR_INVALID);
    int best = 0, trained = 0;
    double best_auc = -INFINITY;
    *n_history = 0;
    for (int it = 0; it < p->n_estimators; it++) {
        int finished = 0;
        LGBM(LGBM_BoosterUpdateOneIter(m->h, &finished), DR_ERR_INVALID);
        if (finished)
            break; /* no split gains anything: later rounds would add empty trees */
        trained = it + 1;
        if (!have_val) {
            best = it;
            continue;
        }
        int len = 0;
        double auc = NAN;
        LGBM(LGBM_BoosterGetEval(m->h, 1, &len, &auc), DR_ERR_INVALID);
        if (len != 1 || !isfinite(auc)) {
            st = dr_error(DR_ERR_NUMERIC, "round %d: %d validation metrics, AUC %g", it + 1, len, auc);
            goto done;
        }
        history[(*n_history)++] = auc;
        if (auc > best_auc) {
            best_auc = auc;
            best = it;
        }
        if (p->early_stopping_rounds > 0 && it - best >= p->early_stopping_rounds)
            break;
    }
    if (trained == 0) {
        st = dr_error(DR_ERR_INVALID, "the first round found no split (too few rows per leaf?)");
        goto done;
    }
    info->rounds_trained = trained;
    info->best_iteration = best;
    info->best_val_auc = have_val ? best_auc : NAN;
    if (best + 1 < trained) {
        BoosterHandle cut = NULL;
        if ((st = keep_rounds(m->h, best + 1, &cut)) != DR_OK)
            goto done;
        LGBM_BoosterFree(m->h);
        m->h = cut;
    }
done:
    if (dval)
        LGBM_DatasetFree(dval);
    if (dtrain)
        LGBM_DatasetFree(dtrain);
    if (st != DR_OK) {
        dr_lgbm_free(m);
        return st;
    }
    *out = m;
    return DR_OK;
}

/* One prediction of `kind` into out (n * per_row values). */
static dr_status predict_kind(const dr_lgbm *m, const float *x, long n, int n_features, int kind, long per_row,
                              float *out)
{
    if (n > INT32_MAX)
        return dr_error(DR_ERR_INVALID, "lightgbm: predict: %ld rows, at most %d", n, INT32_MAX);
    dr_status st = DR_OK;
    double *res = malloc((size_t)(n * per_row) * sizeof *res);
    if (!res)
        return dr_error(DR_ERR_NOMEM, "lightgbm: predictions of %ld rows", n);
    char params[64];
    snprintf(params, sizeof params, "num_threads=%d", m->nthread);
    int64_t len = 0;
    LGBM(LGBM_BoosterPredictForMat(m->h, x, C_API_DTYPE_FLOAT32, (int32_t)n, n_features, 1, kind, 0, -1, params,
                                   &len, res),
         DR_ERR_INVALID);
    if (len != n * per_row) {
        st = dr_error(DR_ERR_SHAPE, "lightgbm: %lld values for %ld rows x %ld", (long long)len, n, per_row);
        goto done;
    }
    for (long i = 0; i < n * per_row; i++)
        out[i] = (float)res[i];
done:
    free(res);
    return st;
}

dr_status dr_lgbm_predict(const dr_lgbm *m, const float *x, long n, int n_features, float *prob)
{
    return predict_kind(m, x, n, n_features, C_API_PREDICT_NORMAL, 1, prob);
}

dr_status dr_lgbm_margin(const dr_lgbm *m, const float *x, long n, int n_features, float *margin)
{
    return predict_kind(m, x, n, n_features, C_API_PREDICT_RAW_SCORE, 1, margin);
}

dr_status dr_lgbm_shap(const dr_lgbm *m, const float *x, long n, int n_features, float *phi, float *margin)
{
    DR_TRY(predict_kind(m, x, n, n_features, C_API_PREDICT_CONTRIB, n_features + 1, phi));
    return dr_lgbm_margin(m, x, n, n_features, margin);
}

dr_status dr_lgbm_importance(const dr_lgbm *m, int gain, double *score, int n_features)
{
    dr_status st = DR_OK;
    LGBM(LGBM_BoosterFeatureImportance(m->h, -1, gain ? C_API_FEATURE_IMPORTANCE_GAIN : C_API_FEATURE_IMPORTANCE_SPLIT,
                                       score),
         DR_ERR_INVALID);
done:
    return st;
}

dr_status dr_lgbm_save(const dr_lgbm *m, const char *path)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp)
        return dr_error(DR_ERR_NOMEM, "lightgbm: path");
    snprintf(tmp, len + 32, "%s.tmp%ld", path, (long)getpid());
    dr_status st = DR_OK;
    LGBM(LGBM_BoosterSaveModel(m->h, 0, -1, C_API_FEATURE_IMPORTANCE_SPLIT, tmp), DR_ERR_IO);
    if (rename(tmp, path) != 0)
        st = dr_error(DR_ERR_IO, "lightgbm: cannot rename '%s' to '%s'", tmp, path);
done:
    if (st != DR_OK)
        remove(tmp);
    free(tmp);
    return st;
}

dr_status dr_lgbm_load(dr_lgbm **out, const char *path, dr_tree_info *info)
{
    dr_status st = DR_OK;
    dr_lgbm *m = calloc(1, sizeof *m);
    if (!m)
        return dr_error(DR_ERR_NOMEM, "lightgbm: model");
    int iters = 0, nf = 0;
    LGBM(LGBM_BoosterCreateFromModelfile(path, &iters, &m->h), DR_ERR_FORMAT);
    LGBM(LGBM_BoosterGetNumFeature(m->h, &nf), DR_ERR_FORMAT);
    if (iters < 1 || nf < 1) {
        st = dr_error(DR_ERR_FORMAT, "a LightGBM model of %d rounds over %d features", iters, nf);
        goto done;
    }
    info->kind = DR_TREE_LIGHTGBM;
    info->n_features = nf;
    info->rounds_trained = iters;
    info->best_iteration = iters - 1;
    info->best_val_auc = NAN;
done:
    if (st != DR_OK) {
        dr_lgbm_free(m);
        return dr_error_context(st, "tree_load: '%s': ", path);
    }
    *out = m;
    return DR_OK;
}

void dr_lgbm_free(dr_lgbm *m)
{
    if (!m)
        return;
    if (m->h)
        LGBM_BoosterFree(m->h);
    free(m);
}

#endif
