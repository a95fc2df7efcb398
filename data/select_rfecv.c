/* RFECV with a random forest through the XGBoost C API (data/select.h).
 *
 * The forest is XGBoost in random-forest mode: one boosting round of
 * num_parallel_tree trees with learning rate 1, rows subsampled without
 * replacement, features sampled per split (colsample_bynode). A forest's
 * importance of feature j is XGBoosterFeatureScore's total gain (or the chosen
 * type), normalised to sum 1; features never split on get 0. */
#include "data/select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "core/philox.h"
#include "data/auc.h"

#define XGB_TRY(call)                                                                              \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            st = dr_error(DR_ERR_INVALID, "rfecv: %s failed: %s", #call, XGBGetLastError());       \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

void dr_rfecv_options_default(dr_rfecv_options *o)
{
    o->n_trees = 64;
    o->max_depth = 8;
    o->subsample = 0.632;
    o->colsample_bynode = 0;
    o->min_child_weight = 1;
    o->folds = 3;
    o->step = 0;
    o->min_features = 1;
    o->n_threads = 2;
    o->max_rows = 20000;
    o->seed = 0;
    o->importance = "total_gain";
}

typedef struct rf_ctx {
    const float *X;
    int d;
    const float *y;
    const dr_rfecv_options *o;
    float *buf; /* [rows, d] staging for one DMatrix */
    float *lab;
} rf_ctx;

static dr_status set_param(BoosterHandle b, const char *k, const char *v)
{
    if (XGBoosterSetParam(b, k, v) != 0)
        return dr_error(DR_ERR_INVALID, "rfecv: xgboost parameter %s = %s: %s", k, v,
                        XGBGetLastError());
    return DR_OK;
}

/* Copies rows x feats into a new DMatrix with labels. */
static dr_status make_dmatrix(rf_ctx *c, const long *rows, long nr, const int *feats, int k,
                              DMatrixHandle *out)
{
    for (long r = 0; r < nr; r++) {
        const float *x = c->X + rows[r] * (long)c->d;
        for (int a = 0; a < k; a++)
            c->buf[r * k + a] = x[feats[a]];
        c->lab[r] = c->y[rows[r]];
    }
    if (XGDMatrixCreateFromMat(c->buf, (bst_ulong)nr, (bst_ulong)k, NAN, out) != 0)
        return dr_error(DR_ERR_INVALID, "rfecv: XGDMatrixCreateFromMat: %s", XGBGetLastError());
    if (XGDMatrixSetFloatInfo(*out, "label", c->lab, (bst_ulong)nr) != 0) {
        XGDMatrixFree(*out);
        return dr_error(DR_ERR_INVALID, "rfecv: setting labels: %s", XGBGetLastError());
    }
    return DR_OK;
}

/* Trains one forest on rows tr with features feats[0..k); imp[k] gets the
 * normalised importances; when nva > 0, *auc gets the AUC on rows va. */
static dr_status forest(rf_ctx *c, const long *tr, long ntr, const long *va, long nva,
                        const int *feats, int k, uint32_t seed, double *imp, double *auc)
{
    const dr_rfecv_options *o = c->o;
    DMatrixHandle dtr = NULL, dva = NULL;
    BoosterHandle b = NULL;
    dr_status st = make_dmatrix(c, tr, ntr, feats, k, &dtr);
    if (st != DR_OK)
        return st;
    XGB_TRY(XGBoosterCreate(&dtr, 1, &b));
    char v[64];
    double col = o->colsample_bynode > 0 ? o->colsample_bynode : sqrt((double)k) / (double)k;
    struct {
        const char *k;
        char v[64];
    } p[] = {{"booster", "gbtree"},    {"objective", "binary:logistic"},
             {"tree_method", "hist"},  {"eta", "1"},
             {"verbosity", "0"},       {"num_parallel_tree", ""},
             {"max_depth", ""},        {"subsample", ""},
             {"colsample_bynode", ""}, {"min_child_weight", ""},
             {"nthread", ""},          {"seed", ""}};
    snprintf(p[5].v, sizeof p[5].v, "%d", o->n_trees);
    snprintf(p[6].v, sizeof p[6].v, "%d", o->max_depth);
    snprintf(p[7].v, sizeof p[7].v, "%.17g", o->subsample);
    snprintf(p[8].v, sizeof p[8].v, "%.17g", col > 1 ? 1.0 : col);
    snprintf(p[9].v, sizeof p[9].v, "%.17g", o->min_child_weight);
    snprintf(p[10].v, sizeof p[10].v, "%d", o->n_threads);
    snprintf(p[11].v, sizeof p[11].v, "%u", seed & 0x7fffffffu);
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) {
        st = set_param(b, p[i].k, p[i].v);
        if (st != DR_OK)
            goto done;
    }
    XGB_TRY(XGBoosterUpdateOneIter(b, 0, dtr));

    bst_ulong nf = 0, dim = 0;
    const char **fn = NULL;
    const bst_ulong *shape = NULL;
    const float *sc = NULL;
    snprintf(v, sizeof v, "{\"importance_type\": \"%s\"}", o->importance);
    XGB_TRY(XGBoosterFeatureScore(b, v, &nf, &fn, &dim, &shape, &sc));
    for (int a = 0; a < k; a++)
        imp[a] = 0;
    double tot = 0;
    for (bst_ulong i = 0; i < nf; i++) {
        /* features are unnamed, so XGBoost calls them f0, f1, ... */
        char *end;
        long a = fn[i][0] == 'f' ? strtol(fn[i] + 1, &end, 10) : -1;
        if (a < 0 || a >= k || *end) {
            st =
                dr_error(DR_ERR_INVALID, "rfecv: unexpected feature name '%s' from xgboost", fn[i]);
            goto done;
        }
        imp[a] = sc[i];
        tot += sc[i];
    }
    for (int a = 0; a < k; a++)
        imp[a] = tot > 0 ? imp[a] / tot : 0;

    if (nva > 0) {
        st = make_dmatrix(c, va, nva, feats, k, &dva);
        if (st != DR_OK)
            goto done;
        bst_ulong len = 0;
        const float *pred = NULL;
        XGB_TRY(XGBoosterPredict(b, dva, 0, 0, 0, &len, &pred));
        if ((long)len != nva) {
            st = dr_error(DR_ERR_INVALID, "rfecv: %lu predictions for %ld rows", (unsigned long)len,
                          nva);
            goto done;
        }
        st = dr_auc(pred, c->lab, nva, auc);
    }
done:
    if (b)
        XGBoosterFree(b);
    if (dtr)
        XGDMatrixFree(dtr);
    if (dva)
        XGDMatrixFree(dva);
    return st;
}

/* Removes the `drop` least important of feats[0..k) (ties: the later feature
 * first), writing them to gone[] in order of removal; returns the new k. */
static int eliminate(int *feats, double *imp, int k, int drop, int *gone, double *gone_imp)
{
    for (int r = 0; r < drop; r++) {
        int w = 0;
        for (int a = 1; a < k; a++)
            if (imp[a] < imp[w] || (imp[a] == imp[w] && feats[a] > feats[w]))
                w = a;
        gone[r] = feats[w];
        gone_imp[r] = imp[w];
        memmove(feats + w, feats + w + 1, (size_t)(k - w - 1) * sizeof *feats);
        memmove(imp + w, imp + w + 1, (size_t)(k - w - 1) * sizeof *imp);
        k--;
    }
    return k;
}

void dr_rfecv_result_free(dr_rfecv_result *r)
{
    if (!r)
        return;
    free(r->selected);
    free(r->rank);
    free(r->importance);
    free(r->sizes);
    free(r->auc_mean);
    free(r->auc_std);
    memset(r, 0, sizeof *r);
}

dr_status dr_select_rfecv(const float *X, long n, int d, const char *const *names, const float *y,
                          const int *active, const dr_rfecv_options *opt, dr_rfecv_result *out,
                          FILE *log)
{
    if (!X || !y || !out || n < 2 || d < 1)
        return dr_error(DR_ERR_INVALID, "rfecv: null argument or n = %ld, d = %d", n, d);
    memset(out, 0, sizeof *out);
    dr_rfecv_options o;
    dr_rfecv_options_default(&o);
    if (opt)
        o = *opt;
    if (!o.importance)
        o.importance = "total_gain";
    if (o.n_trees < 1 || o.max_depth < 1 || o.folds < 2 || o.min_features < 1 ||
        !(o.subsample > 0 && o.subsample <= 1) ||
        !(o.colsample_bynode >= 0 && o.colsample_bynode <= 1))
        return dr_error(DR_ERR_INVALID,
                        "rfecv: bad options (n_trees %d, max_depth %d, folds %d, min_features %d, "
                        "subsample %g, colsample_bynode %g)",
                        o.n_trees, o.max_depth, o.folds, o.min_features, o.subsample,
                        o.colsample_bynode);
    int k0 = 0;
    for (int j = 0; j < d; j++)
        k0 += !active || active[j];
    if (k0 < 1)
        return dr_error(DR_ERR_INVALID, "rfecv: no active feature");
    long m = o.max_rows > 0 && o.max_rows < n ? o.max_rows : n;

    dr_status st = DR_OK;
    long *rows = malloc((size_t)m * sizeof *rows);
    int *fold = malloc((size_t)m * sizeof *fold);
    long *tr = malloc((size_t)m * sizeof *tr);
    long *va = malloc((size_t)m * sizeof *va);
    double *key = malloc((size_t)m * sizeof *key);
    int *feats = malloc((size_t)d * sizeof *feats);
    double *imp = malloc((size_t)d * sizeof *imp);
    int *gone = malloc((size_t)d * sizeof *gone);
    double *gone_imp = malloc((size_t)d * sizeof *gone_imp);
    int *elim_round = malloc((size_t)d * sizeof *elim_round);
    int *sizes = malloc((size_t)(d + 1) * sizeof *sizes);
    double *auc = NULL;
    rf_ctx c = {.X = X, .d = d, .y = y, .o = &o};
    c.buf = malloc((size_t)m * (size_t)k0 * sizeof *c.buf);
    c.lab = malloc((size_t)m * sizeof *c.lab);
    out->d = d;
    out->selected = calloc((size_t)d, sizeof *out->selected);
    out->rank = calloc((size_t)d, sizeof *out->rank);
    out->importance = calloc((size_t)d, sizeof *out->importance);
    if (!rows || !fold || !tr || !va || !key || !feats || !imp || !gone || !gone_imp ||
        !elim_round || !sizes || !c.buf || !c.lab || !out->selected || !out->rank ||
        !out->importance) {
        st = dr_error(DR_ERR_NOMEM, "rfecv: %ld rows x %d features", m, k0);
        goto done;
    }

    /* Rows: evenly spaced when subsampling (keeps time order and class mix). */
    long npos = 0;
    for (long r = 0; r < m; r++) {
        rows[r] = r * n / m;
        float yy = y[rows[r]];
        if (yy != 0.0f && yy != 1.0f) {
            st = dr_error(DR_ERR_INVALID, "rfecv: y[%ld] = %g, expected 0 or 1", rows[r],
                          (double)yy);
            goto done;
        }
        for (int j = 0; j < d; j++)
            if (!isfinite(X[rows[r] * d + j])) {
                st = dr_error(DR_ERR_NUMERIC, "rfecv: X[%ld, %d] (%s) is %g; impute first", rows[r],
                              j, names ? names[j] : "?", (double)X[rows[r] * d + j]);
                goto done;
            }
        npos += yy == 1.0f;
    }
    if (npos < o.folds || m - npos < o.folds) {
        st = dr_error(DR_ERR_INVALID, "rfecv: %ld positives and %ld negatives for %d folds", npos,
                      m - npos, o.folds);
        goto done;
    }
    /* Stratified folds: within each class, rows in random order are dealt out
     * round-robin. The random order is by Philox keys (rank by key). */
    for (int cls = 0; cls < 2; cls++) {
        long cnt = 0;
        for (long r = 0; r < m; r++)
            if ((y[rows[r]] == 1.0f) == cls) {
                va[cnt] = r;
                key[cnt] =
                    dr_philox_uniform(o.seed, 0x52464501u, 0, (uint64_t)r) + 1e-9 * (double)r;
                cnt++;
            }
        /* order the class's rows by key: shell sort of positions in tr (qsort
         * would need the keys in a global) */
        for (long a = 0; a < cnt; a++)
            tr[a] = a;
        for (long gap = cnt / 2; gap > 0; gap /= 2)
            for (long a = gap; a < cnt; a++) {
                long t = tr[a];
                long b = a;
                while (b >= gap && key[tr[b - gap]] > key[t]) {
                    tr[b] = tr[b - gap];
                    b -= gap;
                }
                tr[b] = t;
            }
        for (long a = 0; a < cnt; a++)
            fold[va[tr[a]]] = (int)(a % o.folds);
    }

    /* Subset sizes along the elimination path. */
    int ns = 0;
    for (int s = k0;;) {
        sizes[ns++] = s;
        if (s <= o.min_features)
            break;
        int step = o.step > 0 ? o.step : (s / 10 > 1 ? s / 10 : 1);
        s = s - step < o.min_features ? o.min_features : s - step;
    }
    auc = calloc((size_t)ns * (size_t)o.folds, sizeof *auc);
    if (!auc) {
        st = dr_error(DR_ERR_NOMEM, "rfecv: scores");
        goto done;
    }
    if (log)
        fprintf(log,
                "rfecv: %d features, %ld rows (%ld positive), %d folds, %d subset sizes "
                "from %d to %d; forest of %d trees, depth %d, subsample %g, importance %s\n",
                k0, m, npos, o.folds, ns, sizes[0], sizes[ns - 1], o.n_trees, o.max_depth,
                o.subsample, o.importance);

    for (int f = 0; f < o.folds; f++) {
        long ntr = 0, nva = 0;
        for (long r = 0; r < m; r++) {
            if (fold[r] == f)
                va[nva++] = rows[r];
            else
                tr[ntr++] = rows[r];
        }
        int k = 0;
        for (int j = 0; j < d; j++)
            if (!active || active[j])
                feats[k++] = j;
        for (int s = 0; s < ns; s++) {
            st = forest(&c, tr, ntr, va, nva, feats, k,
                        (uint32_t)(o.seed + 7919u * (uint64_t)f + (uint64_t)s), imp,
                        &auc[s * o.folds + f]);
            if (st != DR_OK)
                goto done;
            if (log)
                fprintf(log, "rfecv: fold %d/%d, %3d features: held-out AUC %.4f%s", f + 1, o.folds,
                        k, auc[s * o.folds + f], s + 1 < ns ? "; drop" : "\n");
            if (s + 1 < ns) {
                int drop = k - sizes[s + 1];
                eliminate(feats, imp, k, drop, gone, gone_imp);
                k -= drop;
                if (log) {
                    for (int r = 0; r < drop; r++)
                        fprintf(log, " %s (%.2g)", names ? names[gone[r]] : "?", gone_imp[r]);
                    fprintf(log, " [least importance]\n");
                }
            }
        }
    }

    out->n_sizes = ns;
    out->sizes = malloc((size_t)ns * sizeof *out->sizes);
    out->auc_mean = malloc((size_t)ns * sizeof *out->auc_mean);
    out->auc_std = malloc((size_t)ns * sizeof *out->auc_std);
    if (!out->sizes || !out->auc_mean || !out->auc_std) {
        st = dr_error(DR_ERR_NOMEM, "rfecv: result");
        goto done;
    }
    int best = 0;
    for (int s = 0; s < ns; s++) {
        double mu = 0, v = 0;
        for (int f = 0; f < o.folds; f++)
            mu += auc[s * o.folds + f] / o.folds;
        for (int f = 0; f < o.folds; f++)
            v += (auc[s * o.folds + f] - mu) * (auc[s * o.folds + f] - mu);
        out->sizes[s] = sizes[s];
        out->auc_mean[s] = mu;
        out->auc_std[s] = sqrt(v / (o.folds > 1 ? o.folds - 1 : 1));
        if (mu >= out->auc_mean[best]) /* ties: the later, smaller subset */
            best = s;
        if (log)
            fprintf(log, "rfecv: %3d features: mean CV AUC %.4f +- %.4f\n", sizes[s], mu,
                    out->auc_std[s]);
    }
    out->best_size = sizes[best];
    if (log)
        fprintf(log, "rfecv: best subset size %d (mean CV AUC %.4f)\n", sizes[best],
                out->auc_mean[best]);

    /* Final elimination on all rows down to the best size: rank and importances. */
    int k = 0;
    for (int j = 0; j < d; j++) {
        elim_round[j] = -1;
        if (!active || active[j])
            feats[k++] = j;
    }
    for (int s = 0; s < best; s++) {
        st = forest(&c, rows, m, NULL, 0, feats, k, (uint32_t)(o.seed + 104729u + (uint64_t)s), imp,
                    NULL);
        if (st != DR_OK)
            goto done;
        int drop = k - sizes[s + 1];
        eliminate(feats, imp, k, drop, gone, gone_imp);
        k -= drop;
        for (int r = 0; r < drop; r++) {
            elim_round[gone[r]] = s;
            out->importance[gone[r]] = gone_imp[r];
            if (log)
                fprintf(log, "rfecv: final: drop %s (importance %.3g, least of %d)\n",
                        names ? names[gone[r]] : "?", gone_imp[r], k + drop);
        }
    }
    st = forest(&c, rows, m, NULL, 0, feats, k, (uint32_t)(o.seed + 104729u + (uint64_t)best), imp,
                NULL);
    if (st != DR_OK)
        goto done;
    for (int a = 0; a < k; a++) {
        out->selected[feats[a]] = 1;
        out->rank[feats[a]] = 1;
        out->importance[feats[a]] = imp[a];
    }
    out->n_selected = k;
    for (int j = 0; j < d; j++)
        if (elim_round[j] >= 0)
            out->rank[j] = 1 + (best - elim_round[j]); /* the last dropped: rank 2 */
    if (log)
        fprintf(log, "rfecv: selected %d of %d features\n", k, k0);
done:
    free(rows);
    free(fold);
    free(tr);
    free(va);
    free(key);
    free(feats);
    free(imp);
    free(gone);
    free(gone_imp);
    free(elim_round);
    free(sizes);
    free(auc);
    free(c.buf);
    free(c.lab);
    if (st != DR_OK)
        dr_rfecv_result_free(out);
    return st;
}
