#include "models/trees.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xgboost/c_api.h>

#include "models/tree_lightgbm.h"

/* Saved with the model as booster attributes; bump when their meaning changes. */
#define DR_TREE_FORMAT "1"

struct dr_tree_model {
    BoosterHandle h; /* XGBoost's kinds */
    dr_lgbm *lgbm;   /* LightGBM */
    dr_tree_info info;
    double *history;
    int n_history;
};

/* XGBoost's message without the stack trace it appends (library addresses tell
 * the user nothing). */
static dr_status xgb_error(dr_status code, const char *call, const char *file, int line)
{
    const char *msg = XGBGetLastError();
    const char *cut = msg ? strstr(msg, "\nStack trace:") : NULL;
    int len = msg ? (cut ? (int)(cut - msg) : (int)strlen(msg)) : 0;
    return dr_error(code, "xgboost: %s failed (%s:%d): %.*s", call, file, line, len,
                    msg ? msg : "");
}

/* Every XGBoost call goes through here: its text and XGBoost's message reach the
 * caller. */
#define XGB(call, code)                                                                    \
    do {                                                                                   \
        if ((call) != 0) {                                                                 \
            st = xgb_error((code), #call, __FILE__, __LINE__);                             \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

const char *dr_tree_kind_name(dr_tree_kind kind)
{
    switch (kind) {
    case DR_TREE_XGBOOST: return "xgboost";
    case DR_TREE_LEAFWISE: return "xgboost_leafwise";
    case DR_TREE_FOREST: return "random_forest";
    case DR_TREE_LIGHTGBM: return "lightgbm";
    }
    return "unknown";
}

void dr_tree_library(dr_tree_kind kind, char *buf, size_t cap)
{
    if (kind == DR_TREE_LIGHTGBM) {
        const char *v = dr_lgbm_version();
        snprintf(buf, cap, "LightGBM %s", v ? v : "(not in this build)");
        return;
    }
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    snprintf(buf, cap, "XGBoost %d.%d.%d", major, minor, patch);
}

void dr_tree_params_default(dr_tree_params *p, dr_tree_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->n_estimators = 500;
    p->max_depth = 6; /* XGBoost's default */
    p->max_leaves = 0;
    p->eta = 0.05f;
    p->subsample = 0.8f;
    p->colsample = 0.8f;
    p->min_child_weight = 1.0f;
    p->lambda = 1.0f;
    p->early_stopping_rounds = 50;
    p->max_bin = 256;
    p->nthread = 0;
    p->seed = 0;
    if (kind == DR_TREE_LEAFWISE || kind == DR_TREE_LIGHTGBM) {
        /* LightGBM's defaults: 31 leaves, depth unlimited; its lambda_l2 is 0. */
        p->max_depth = 0;
        p->max_leaves = 31;
        p->lambda = 0.0f;
        if (kind == DR_TREE_LIGHTGBM) { /* its min_sum_hessian_in_leaf and max_bin */
            p->min_child_weight = 1e-3f;
            p->max_bin = 255;
        }
    } else if (kind == DR_TREE_FOREST) {
        /* A forest wants deep, decorrelated trees: depth 12 (XGBoost's depthwise
         * growth needs a finite depth), ~63 % of rows like a bootstrap's distinct
         * share, sqrt(F) columns per split as in Breiman's forests. */
        p->n_estimators = 300;
        p->max_depth = 12;
        p->eta = 1.0f;
        p->subsample = 0.632f;
        p->colsample = 0.0f;
        p->early_stopping_rounds = 0;
    }
}

static dr_status check_params(const dr_tree_params *p)
{
    if (p->kind < DR_TREE_XGBOOST || p->kind > DR_TREE_LIGHTGBM)
        return dr_error(DR_ERR_INVALID, "tree_train: unknown kind %d", (int)p->kind);
    if (p->n_estimators < 1 || p->max_depth < 0 || p->max_leaves < 0 || p->max_bin < 2 ||
        p->early_stopping_rounds < 0 || p->nthread < 0)
        return dr_error(DR_ERR_INVALID,
                        "tree_train: n_estimators %d >= 1, max_depth %d >= 0, max_leaves %d >= 0, "
                        "max_bin %d >= 2, early_stopping_rounds %d >= 0, nthread %d >= 0 required",
                        p->n_estimators, p->max_depth, p->max_leaves, p->max_bin,
                        p->early_stopping_rounds, p->nthread);
    if (p->max_depth == 0 && p->kind != DR_TREE_LEAFWISE && p->kind != DR_TREE_LIGHTGBM)
        return dr_error(DR_ERR_INVALID, "tree_train: max_depth 0 (unlimited) needs a leaf-wise "
                                        "kind; depth-wise growth needs a finite depth");
    if (!(p->eta > 0.0f && p->eta <= 1.0f) || !(p->subsample > 0.0f && p->subsample <= 1.0f) ||
        !(p->colsample >= 0.0f && p->colsample <= 1.0f) || !(p->min_child_weight >= 0.0f) ||
        !(p->lambda >= 0.0f) || !isfinite(p->min_child_weight) || !isfinite(p->lambda))
        return dr_error(DR_ERR_INVALID,
                        "tree_train: eta %g and subsample %g in (0, 1], colsample %g in [0, 1], "
                        "min_child_weight %g and lambda %g finite and >= 0 required",
                        p->eta, p->subsample, p->colsample, p->min_child_weight, p->lambda);
    return DR_OK;
}

/* Labels 0/1, both classes; features finite or NaN (XGBoost rejects inf, and
 * LightGBM would take it for a value). */
static dr_status check_data(const char *what, const float *x, const float *y, long n, int nf)
{
    if (!x || !y || n <= 0)
        return dr_error(DR_ERR_INVALID, "tree_train: %s set: null data or %ld rows", what, n);
    long pos = 0;
    for (long i = 0; i < n; i++) {
        if (y[i] != 0.0f && y[i] != 1.0f)
            return dr_error(DR_ERR_INVALID, "tree_train: %s label[%ld] = %g, expected 0 or 1",
                            what, i, y[i]);
        pos += y[i] == 1.0f;
    }
    if (pos == 0 || pos == n)
        return dr_error(DR_ERR_INVALID, "tree_train: %s set has one class only (%ld of %ld "
                        "positive)", what, pos, n);
    for (long i = 0; i < n * (long)nf; i++)
        if (isinf(x[i]))
            return dr_error(DR_ERR_NUMERIC, "tree_train: %s x[%ld, %ld] is infinite (use NaN for "
                            "missing)", what, i / nf, i % nf);
    return DR_OK;
}

static dr_status make_dmatrix(DMatrixHandle *d, const float *x, const float *y, long n, int nf,
                              int nthread)
{
    dr_status st = DR_OK;
    *d = NULL;
    XGB(XGDMatrixCreateFromMat_omp(x, (bst_ulong)n, (bst_ulong)nf, NAN, d, nthread),
        DR_ERR_INVALID);
    XGB(XGDMatrixSetFloatInfo(*d, "label", y, (bst_ulong)n), DR_ERR_INVALID);
done:
    if (st != DR_OK && *d) {
        XGDMatrixFree(*d);
        *d = NULL;
    }
    return st;
}

static dr_status set_param(BoosterHandle h, const char *name, const char *fmt, double v)
{
    dr_status st = DR_OK;
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    XGB(XGBoosterSetParam(h, name, buf), DR_ERR_INVALID);
done:
    return st ? dr_error_context(st, "setting %s = %s: ", name, buf) : st;
}

static dr_status set_params(BoosterHandle h, const dr_tree_params *p, int nf)
{
    dr_status st = DR_OK;
    int forest = p->kind == DR_TREE_FOREST;
    double colsample = p->colsample > 0.0f ? p->colsample : fmin(1.0, sqrt((double)nf) / nf);
    XGB(XGBoosterSetParam(h, "objective", "binary:logistic"), DR_ERR_INVALID);
    XGB(XGBoosterSetParam(h, "eval_metric", "auc"), DR_ERR_INVALID);
    XGB(XGBoosterSetParam(h, "tree_method", "hist"), DR_ERR_INVALID);
    XGB(XGBoosterSetParam(h, "verbosity", "0"), DR_ERR_INVALID);
    XGB(XGBoosterSetParam(h, "grow_policy",
                          p->kind == DR_TREE_LEAFWISE ? "lossguide" : "depthwise"), DR_ERR_INVALID);
    DR_TRY(set_param(h, "max_depth", "%.0f", p->max_depth));
    DR_TRY(set_param(h, "max_leaves", "%.0f", p->max_leaves));
    DR_TRY(set_param(h, "max_bin", "%.0f", p->max_bin));
    DR_TRY(set_param(h, "eta", "%.9g", forest ? 1.0 : p->eta));
    DR_TRY(set_param(h, "subsample", "%.9g", p->subsample));
    DR_TRY(set_param(h, forest ? "colsample_bynode" : "colsample_bytree", "%.9g", colsample));
    DR_TRY(set_param(h, "min_child_weight", "%.9g", p->min_child_weight));
    DR_TRY(set_param(h, "lambda", "%.9g", p->lambda));
    /* XGBoost's seed is an int; fold the 64-bit seed into it. */
    DR_TRY(set_param(h, "seed", "%.0f", (double)((p->seed ^ (p->seed >> 32)) & 0x7fffffffu)));
    if (p->nthread > 0)
        DR_TRY(set_param(h, "nthread", "%.0f", p->nthread));
    if (forest)
        DR_TRY(set_param(h, "num_parallel_tree", "%.0f", p->n_estimators));
done:
    return st;
}

/* "[12]\tval-auc:0.912345" -> 0.912345 */
static dr_status parse_auc(const char *s, double *auc)
{
    const char *k = s ? strstr(s, "val-auc:") : NULL;
    char *end = NULL;
    double v = k ? strtod(k + 8, &end) : NAN;
    if (!k || end == k + 8 || !isfinite(v))
        return dr_error(DR_ERR_PARSE, "tree_train: no validation AUC in XGBoost's eval string "
                        "'%s'", s ? s : "(null)");
    *auc = v;
    return DR_OK;
}

static dr_status set_attr_num(BoosterHandle h, const char *key, const char *fmt, double v)
{
    dr_status st = DR_OK;
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    XGB(XGBoosterSetAttr(h, key, buf), DR_ERR_INVALID);
done:
    return st;
}

static dr_status store_attrs(dr_tree_model *m)
{
    dr_status st = DR_OK;
    XGB(XGBoosterSetAttr(m->h, "dr_format", DR_TREE_FORMAT), DR_ERR_INVALID);
    XGB(XGBoosterSetAttr(m->h, "dr_kind", dr_tree_kind_name(m->info.kind)), DR_ERR_INVALID);
    DR_TRY(set_attr_num(m->h, "dr_n_features", "%.0f", m->info.n_features));
    DR_TRY(set_attr_num(m->h, "dr_rounds_trained", "%.0f", m->info.rounds_trained));
    DR_TRY(set_attr_num(m->h, "dr_best_iteration", "%.0f", m->info.best_iteration));
    DR_TRY(set_attr_num(m->h, "dr_best_val_auc", "%.17g", m->info.best_val_auc));
done:
    return st;
}

dr_status dr_tree_train(dr_tree_model **out, const dr_tree_params *p, const float *x,
                        const float *y, long n, int n_features, const float *x_val,
                        const float *y_val, long n_val)
{
    if (!out || !p)
        return dr_error(DR_ERR_INVALID, "tree_train: null argument");
    *out = NULL;
    DR_TRY(check_params(p));
    if (n_features < 1)
        return dr_error(DR_ERR_INVALID, "tree_train: %d features", n_features);
    DR_TRY(check_data("training", x, y, n, n_features));
    int have_val = x_val || y_val || n_val;
    if (have_val)
        DR_TRY(check_data("validation", x_val, y_val, n_val, n_features));
    if (p->early_stopping_rounds > 0 && p->kind != DR_TREE_FOREST && !have_val)
        return dr_error(DR_ERR_INVALID, "tree_train: early_stopping_rounds %d needs a validation "
                        "set", p->early_stopping_rounds);

    dr_status st = DR_OK;
    DMatrixHandle dtrain = NULL, dval = NULL;
    dr_tree_model *m = calloc(1, sizeof *m);
    int rounds = p->kind == DR_TREE_FOREST ? 1 : p->n_estimators;
    if (m)
        m->history = malloc((size_t)rounds * sizeof *m->history);
    if (!m || !m->history) {
        st = dr_error(DR_ERR_NOMEM, "tree_train: model of %d rounds", rounds);
        goto done;
    }
    m->info.kind = p->kind;
    m->info.n_features = n_features;
    m->info.best_val_auc = NAN;
    if (p->kind == DR_TREE_LIGHTGBM) {
        st = dr_lgbm_train(&m->lgbm, p, x, y, n, n_features, x_val, y_val, n_val, &m->info, m->history,
                           &m->n_history);
        goto done;
    }
    st = make_dmatrix(&dtrain, x, y, n, n_features, p->nthread);
    if (st == DR_OK && have_val)
        st = make_dmatrix(&dval, x_val, y_val, n_val, n_features, p->nthread);
    if (st != DR_OK)
        goto done;
    DMatrixHandle cache[2] = {dtrain, dval};
    XGB(XGBoosterCreate(cache, have_val ? 2 : 1, &m->h), DR_ERR_INVALID);
    if ((st = set_params(m->h, p, n_features)) != DR_OK)
        goto done;

    int best = 0;
    double best_auc = -INFINITY;
    const char *names[1] = {"val"};
    for (int it = 0; it < rounds; it++) {
        XGB(XGBoosterUpdateOneIter(m->h, it, dtrain), DR_ERR_INVALID);
        m->info.rounds_trained = it + 1;
        if (!have_val) {
            best = it;
            continue;
        }
        const char *res = NULL;
        XGB(XGBoosterEvalOneIter(m->h, it, &dval, names, 1, &res), DR_ERR_INVALID);
        double auc = NAN;
        if ((st = parse_auc(res, &auc)) != DR_OK)
            goto done;
        m->history[m->n_history++] = auc;
        if (auc > best_auc) {
            best_auc = auc;
            best = it;
        }
        if (p->early_stopping_rounds > 0 && it - best >= p->early_stopping_rounds)
            break;
    }
    m->info.best_iteration = best;
    m->info.best_val_auc = have_val ? best_auc : NAN;
    if (best + 1 < m->info.rounds_trained) {
        BoosterHandle cut = NULL;
        XGB(XGBoosterSlice(m->h, 0, best + 1, 1, &cut), DR_ERR_INVALID);
        XGBoosterFree(m->h);
        m->h = cut;
    }
    st = store_attrs(m);
done:
    if (dtrain)
        XGDMatrixFree(dtrain);
    if (dval)
        XGDMatrixFree(dval);
    if (st != DR_OK) {
        dr_tree_free(m);
        return dr_error_context(st, "%s: ", dr_tree_kind_name(p->kind));
    }
    *out = m;
    return DR_OK;
}

static dr_status check_rows(const dr_tree_model *m, const float *x, long n, int n_features, const void *out)
{
    if (!m || !x || !out || n <= 0)
        return dr_error(DR_ERR_INVALID, "tree_predict: null argument or %ld rows", n);
    if (n_features != m->info.n_features)
        return dr_error(DR_ERR_SHAPE, "tree_predict: %d features, the model was trained on %d",
                        n_features, m->info.n_features);
    return DR_OK;
}

/* XGBoost's prediction of `type` (0 probability, 1 margin, 2 SHAP values, 4
 * SHAP interaction values) into out, per_row values a row. The in-place path
 * knows only the first two, so SHAP values go through a DMatrix. */
static dr_status xgb_predict(const dr_tree_model *m, const float *x, long n, int n_features, int type, long per_row,
                             float *out)
{
    dr_status st = DR_OK;
    char values[256], config[256];
    /* __array_interface__ of the caller's buffer: XGBoost reads it in place. */
    snprintf(values, sizeof values,
             "{\"data\": [%llu, true], \"shape\": [%ld, %d], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, n_features);
    snprintf(config, sizeof config,
             "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
             "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}",
             type);
    bst_ulong const *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    DMatrixHandle d = NULL;
    if (type >= 2) {
        XGB(XGDMatrixCreateFromMat_omp(x, (bst_ulong)n, (bst_ulong)n_features, NAN, &d, 0),
            DR_ERR_INVALID);
        XGB(XGBoosterPredictFromDMatrix(m->h, d, config, &shape, &dim, &res), DR_ERR_INVALID);
    } else {
        XGB(XGBoosterPredictFromDense(m->h, values, config, NULL, &shape, &dim, &res), DR_ERR_INVALID);
    }
    bst_ulong total = 1;
    for (bst_ulong i = 0; i < dim; i++)
        total *= shape[i];
    if (dim < 1 || total != (bst_ulong)(n * per_row)) {
        st = dr_error(DR_ERR_SHAPE, "tree_predict: XGBoost returned %llu values for %ld rows x %ld",
                      (unsigned long long)total, n, per_row);
        goto done;
    }
    memcpy(out, res, (size_t)(n * per_row) * sizeof *out);
done:
    if (d)
        XGDMatrixFree(d);
    return st;
}

dr_status dr_tree_predict(const dr_tree_model *m, const float *x, long n, int n_features,
                          float *prob)
{
    DR_TRY(check_rows(m, x, n, n_features, prob));
    if (m->lgbm)
        return dr_lgbm_predict(m->lgbm, x, n, n_features, prob);
    return xgb_predict(m, x, n, n_features, 0, 1, prob);
}

dr_status dr_tree_margin(const dr_tree_model *m, const float *x, long n, int n_features, float *margin)
{
    DR_TRY(check_rows(m, x, n, n_features, margin));
    if (m->lgbm)
        return dr_lgbm_margin(m->lgbm, x, n, n_features, margin);
    return xgb_predict(m, x, n, n_features, 1, 1, margin);
}

dr_status dr_tree_shap(const dr_tree_model *m, const float *x, long n, int n_features, float *phi, float *margin)
{
    DR_TRY(check_rows(m, x, n, n_features, phi));
    if (!margin)
        return dr_error(DR_ERR_INVALID, "tree_shap: null margin");
    if (m->lgbm)
        return dr_lgbm_shap(m->lgbm, x, n, n_features, phi, margin);
    DR_TRY(xgb_predict(m, x, n, n_features, 2, n_features + 1, phi));
    return dr_tree_margin(m, x, n, n_features, margin);
}

dr_status dr_tree_shap_interactions(const dr_tree_model *m, const float *x, long n, int n_features, float *phi)
{
    DR_TRY(check_rows(m, x, n, n_features, phi));
    if (m->lgbm)
        return dr_error(DR_ERR_UNSUPPORTED, "tree_shap_interactions: LightGBM computes no SHAP interaction values");
    long per_row = (long)(n_features + 1) * (n_features + 1);
    return xgb_predict(m, x, n, n_features, 4, per_row, phi);
}

dr_status dr_tree_get_info(const dr_tree_model *m, dr_tree_info *info)
{
    if (!m || !info)
        return dr_error(DR_ERR_INVALID, "tree_get_info: null argument");
    *info = m->info;
    return DR_OK;
}

dr_status dr_tree_val_history(const dr_tree_model *m, const double **auc, int *n)
{
    if (!m || !auc || !n)
        return dr_error(DR_ERR_INVALID, "tree_val_history: null argument");
    *auc = m->history;
    *n = m->n_history;
    return DR_OK;
}

/* XGBoost's importance types from LightGBM's split counts and total gains. */
static dr_status lgbm_importance(const dr_lgbm *m, const char *type, float *score, int nf)
{
    if (strstr(type, "cover"))
        return dr_error(DR_ERR_UNSUPPORTED, "tree_importance: LightGBM reports no '%s'; use gain, total_gain or "
                        "weight", type);
    double *split = malloc(2 * (size_t)nf * sizeof *split), *gain = split + nf;
    if (!split)
        return dr_error(DR_ERR_NOMEM, "tree_importance: %d features", nf);
    dr_status st = dr_lgbm_importance(m, 0, split, nf);
    if (st == DR_OK)
        st = dr_lgbm_importance(m, 1, gain, nf);
    for (int j = 0; st == DR_OK && j < nf; j++)
        score[j] = (float)(strcmp(type, "weight") == 0 ? split[j]
                           : strcmp(type, "total_gain") == 0 ? gain[j]
                           : split[j] > 0.0 ? gain[j] / split[j] : 0.0);
    free(split);
    return st;
}

dr_status dr_tree_importance(const dr_tree_model *m, const char *type, float *score,
                             int n_features)
{
    if (!m || !type || !score)
        return dr_error(DR_ERR_INVALID, "tree_importance: null argument");
    static const char *types[] = {"gain", "total_gain", "weight", "cover", "total_cover"};
    int ok = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        ok |= strcmp(type, types[i]) == 0;
    if (!ok)
        return dr_error(DR_ERR_INVALID, "tree_importance: type '%s', expected gain, total_gain, "
                        "weight, cover or total_cover", type);
    if (n_features != m->info.n_features)
        return dr_error(DR_ERR_SHAPE, "tree_importance: %d features, the model has %d",
                        n_features, m->info.n_features);
    if (m->lgbm)
        return lgbm_importance(m->lgbm, type, score, n_features);
    dr_status st = DR_OK;
    char config[128];
    snprintf(config, sizeof config, "{\"importance_type\": \"%s\"}", type);
    bst_ulong nf = 0, dim = 0;
    const char **names = NULL;
    bst_ulong const *shape = NULL;
    const float *s = NULL;
    XGB(XGBoosterFeatureScore(m->h, config, &nf, &names, &dim, &shape, &s), DR_ERR_INVALID);
    for (int j = 0; j < n_features; j++)
        score[j] = 0.0f;
    /* Unused features are left out; the others are named "f<index>". */
    for (bst_ulong i = 0; i < nf; i++) {
        char *end = NULL;
        long j = names[i][0] == 'f' ? strtol(names[i] + 1, &end, 10) : -1;
        if (j < 0 || j >= n_features || !end || *end)
            return dr_error(DR_ERR_FORMAT, "tree_importance: unexpected feature name '%s'",
                            names[i]);
        score[j] = s[i];
    }
done:
    return st;
}

const char *dr_tree_file_ext(dr_tree_kind kind) { return kind == DR_TREE_LIGHTGBM ? ".txt" : ".json"; }

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

dr_status dr_tree_save(const dr_tree_model *m, const char *path)
{
    if (!m || !path)
        return dr_error(DR_ERR_INVALID, "tree_save: null argument");
    if (m->lgbm)
        return ends_with(path, ".txt") ? dr_lgbm_save(m->lgbm, path)
                                       : dr_error(DR_ERR_INVALID, "tree_save: '%s' must end in .txt (LightGBM's "
                                                                  "text format)", path);
    const char *ext = ends_with(path, ".json") ? ".json" : ends_with(path, ".ubj") ? ".ubj" : NULL;
    if (!ext)
        return dr_error(DR_ERR_INVALID, "tree_save: '%s' must end in .json or .ubj", path);
    /* The temporary name keeps the extension, which selects XGBoost's format. */
    size_t len = strlen(path), base = len - strlen(ext);
    char *tmp = malloc(len + 32);
    if (!tmp)
        return dr_error(DR_ERR_NOMEM, "tree_save: path");
    snprintf(tmp, len + 32, "%.*s.tmp%ld%s", (int)base, path, (long)getpid(), ext);
    dr_status st = DR_OK;
    XGB(XGBoosterSaveModel(m->h, tmp), DR_ERR_IO);
    if (rename(tmp, path) != 0) {
        remove(tmp);
        st = dr_error(DR_ERR_IO, "tree_save: cannot rename '%s' to '%s'", tmp, path);
    }
done:
    free(tmp);
    return st;
}

static dr_status get_attr(BoosterHandle h, const char *key, const char *path, const char **out)
{
    dr_status st = DR_OK;
    int ok = 0;
    XGB(XGBoosterGetAttr(h, key, out, &ok), DR_ERR_FORMAT);
    if (!ok)
        return dr_error(DR_ERR_FORMAT, "tree_load: '%s' has no attribute %s; not saved by "
                        "dr_tree_save?", path, key);
done:
    return st;
}

dr_status dr_tree_load(dr_tree_model **out, const char *path)
{
    if (!out || !path)
        return dr_error(DR_ERR_INVALID, "tree_load: null argument");
    *out = NULL;
    if (access(path, R_OK) != 0)
        return dr_error(DR_ERR_IO, "tree_load: cannot read '%s'", path);
    dr_status st = DR_OK;
    dr_tree_model *m = calloc(1, sizeof *m);
    if (!m)
        return dr_error(DR_ERR_NOMEM, "tree_load: model");
    if (ends_with(path, ".txt")) {
        st = dr_lgbm_load(&m->lgbm, path, &m->info);
        goto done;
    }
    const char *v = NULL;
    XGB(XGBoosterCreate(NULL, 0, &m->h), DR_ERR_INVALID);
    XGB(XGBoosterLoadModel(m->h, path), DR_ERR_FORMAT);
    if ((st = get_attr(m->h, "dr_format", path, &v)) != DR_OK)
        goto done;
    if (strcmp(v, DR_TREE_FORMAT) != 0) {
        st = dr_error(DR_ERR_FORMAT, "tree_load: '%s' has format %s, this build reads %s; "
                      "retrain or use the matching version", path, v, DR_TREE_FORMAT);
        goto done;
    }
    if ((st = get_attr(m->h, "dr_kind", path, &v)) != DR_OK)
        goto done;
    int kind = -1;
    for (int k = DR_TREE_XGBOOST; k <= DR_TREE_FOREST; k++) /* XGBoost's kinds */
        if (strcmp(v, dr_tree_kind_name((dr_tree_kind)k)) == 0)
            kind = k;
    if (kind < 0) {
        st = dr_error(DR_ERR_FORMAT, "tree_load: '%s': unknown kind '%s'", path, v);
        goto done;
    }
    m->info.kind = (dr_tree_kind)kind;
    static const char *keys[] = {"dr_n_features", "dr_rounds_trained", "dr_best_iteration",
                                 "dr_best_val_auc"};
    double vals[4];
    for (int i = 0; i < 4; i++) {
        if ((st = get_attr(m->h, keys[i], path, &v)) != DR_OK)
            goto done;
        char *end = NULL;
        vals[i] = strtod(v, &end);
        if (end == v || *end) {
            st = dr_error(DR_ERR_FORMAT, "tree_load: '%s': attribute %s = '%s' is not a number",
                          path, keys[i], v);
            goto done;
        }
    }
    m->info.n_features = (int)vals[0];
    m->info.rounds_trained = (int)vals[1];
    m->info.best_iteration = (int)vals[2];
    m->info.best_val_auc = vals[3];
    bst_ulong nf = 0;
    XGB(XGBoosterGetNumFeature(m->h, &nf), DR_ERR_FORMAT);
    if (m->info.n_features < 1 || nf != (bst_ulong)m->info.n_features) {
        st = dr_error(DR_ERR_FORMAT, "tree_load: '%s': %d features recorded, the booster has %llu",
                      path, m->info.n_features, (unsigned long long)nf);
        goto done;
    }
done:
    if (st != DR_OK) {
        dr_tree_free(m);
        return st;
    }
    *out = m;
    return DR_OK;
}

void dr_tree_free(dr_tree_model *m)
{
    if (!m)
        return;
    if (m->h)
        XGBoosterFree(m->h);
    dr_lgbm_free(m->lgbm);
    free(m->history);
    free(m);
}
