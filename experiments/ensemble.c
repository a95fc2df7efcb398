#include "experiments/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "data/auc.h"

void dr_ensemble_options_default(dr_ensemble_options *o)
{
    memset(o, 0, sizeof *o);
    o->n_trials = 200;
    o->enqueue_baselines = 1;
    o->seed = 0;
    dr_tpe_options_default(&o->tpe);
    o->tpe.maximize = 1;
}

static void blend_f64(double *out, const double *w, int k, const float *const *prob, long n)
{
    for (long j = 0; j < n; j++) {
        double s = 0.0;
        for (int i = 0; i < k; i++)
            s += w[i] * (double)prob[i][j];
        out[j] = s;
    }
}

dr_status dr_ensemble_blend(float *out, const double *w, int k, const float *const *prob, long n)
{
    if (!out || !w || !prob || k < 1 || n < 0)
        return dr_error(DR_ERR_INVALID, "ensemble_blend: null argument, k = %d or n = %ld", k, n);
    for (int i = 0; i < k; i++)
        if (!prob[i])
            return dr_error(DR_ERR_INVALID, "ensemble_blend: member %d has no probabilities", i);
    for (long j = 0; j < n; j++) {
        double s = 0.0;
        for (int i = 0; i < k; i++)
            s += w[i] * (double)prob[i][j];
        out[j] = (float)s;
    }
    return DR_OK;
}

/* Scores of one weight vector: validation AUC, and test AUC when asked. */
typedef struct ens_ctx {
    int k;
    const float *const *vp, *const *tp;
    const float *vl, *tl;
    long nv, nt;
    double *buf; /* max(nv, nt) */
} ens_ctx;

static dr_status score(const ens_ctx *c, const double *w, double *val, double *test)
{
    blend_f64(c->buf, w, c->k, c->vp, c->nv);
    DR_TRY(dr_auc_f64(c->buf, c->vl, c->nv, val));
    if (test) {
        *test = NAN;
        if (c->tp) {
            blend_f64(c->buf, w, c->k, c->tp, c->nt);
            DR_TRY(dr_auc_f64(c->buf, c->tl, c->nt, test));
        }
    }
    return DR_OK;
}

static dr_status check_probs(const char *what, const float *const *p, int k, long n)
{
    for (int i = 0; i < k; i++) {
        if (!p[i])
            return dr_error(DR_ERR_INVALID, "ensemble: %s member %d is NULL", what, i);
        for (long j = 0; j < n; j++)
            if (!isfinite(p[i][j]))
                return dr_error(DR_ERR_NUMERIC, "ensemble: %s member %d, row %ld: %g", what, i, j,
                                p[i][j]);
    }
    return DR_OK;
}

/* Evaluates raw weights, tells the sampler, returns the validation AUC. */
static dr_status eval_tell(dr_tpe *t, const ens_ctx *c, const dr_tpe_trial *tr, double *auc)
{
    double w[DR_ENSEMBLE_MAX_MEMBERS];
    DR_TRY(dr_tpe_to_simplex(w, tr->v, c->k));
    DR_TRY(score(c, w, auc, NULL));
    return dr_tpe_tell(t, tr, DR_TPE_COMPLETE, *auc);
}

static dr_status search(dr_ensemble_result *r, const ens_ctx *c, const dr_ensemble_options *o)
{
    int k = c->k;
    dr_tpe_space space = {0};
    for (int i = 0; i < k; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        DR_TRY(dr_tpe_space_add_float(&space, name, 0.0, 1.0, 0));
    }
    dr_tpe_options to = o->tpe;
    to.maximize = 1;
    dr_tpe *t = NULL;
    DR_TRY(dr_tpe_create(&t, &space, o->seed, &to));
    dr_status st = DR_OK;
    double auc;
    r->n_evaluated = 0;
    if (o->enqueue_baselines) {
        for (int b = -1; b < k && st == DR_OK; b++) {
            dr_tpe_trial tr = {.number = -1};
            for (int i = 0; i < k; i++)
                tr.v[i] = b < 0 || i == b ? 1.0 : 0.0;
            st = eval_tell(t, c, &tr, &auc);
            r->n_evaluated++;
        }
    }
    for (int n = 0; n < o->n_trials && st == DR_OK; n++) {
        dr_tpe_trial tr;
        st = dr_tpe_suggest(t, &tr);
        if (st == DR_OK)
            st = eval_tell(t, c, &tr, &auc);
        r->n_evaluated++;
    }
    dr_tpe_trial best;
    if (st == DR_OK)
        st = dr_tpe_best(t, &best, &auc);
    if (st == DR_OK)
        st = dr_tpe_to_simplex(r->weights, best.v, k);
    dr_tpe_free(t);
    return st;
}

/* Stratified bootstrap of the validation set, resample b: idx [nv] receives row
 * indices, positives drawn among the positive rows and negatives among the rest. */
static void resample(long *idx, const long *pos, long np, const long *neg, long nn, uint64_t seed, uint32_t b)
{
    for (long j = 0; j < np + nn; j++) {
        float u = dr_philox_uniform(seed, b + 1u, 0, (uint64_t)j);
        const long *from = j < np ? pos : neg;
        long m = j < np ? np : nn, i = (long)(u * (float)m);
        idx[j] = from[i < m ? i : m - 1];
    }
}

static dr_status bagged_search(dr_ensemble_result *r, const ens_ctx *c, const dr_ensemble_options *o)
{
    const int k = c->k, R = o->n_bootstrap;
    const long nv = c->nv;
    long *rows = malloc((size_t)nv * sizeof *rows), *idx = malloc((size_t)nv * sizeof *idx);
    float *block = malloc((size_t)nv * (size_t)(k + 1) * sizeof *block);
    dr_status st = rows && idx && block ? DR_OK : dr_error(DR_ERR_NOMEM, "ensemble: %ld resampled rows", nv);
    long np = 0, nn = 0;
    /* positives first, then negatives; both are there (the members' validation
     * AUCs, computed before the search, fail on one class) */
    for (long j = 0; st == DR_OK && j < nv; j++)
        if (c->vl[j] > 0.5f)
            rows[np++] = j;
    for (long j = 0; st == DR_OK && j < nv; j++)
        if (!(c->vl[j] > 0.5f))
            rows[np + nn++] = j;
    double sum[DR_ENSEMBLE_MAX_MEMBERS] = {0};
    int evaluated = 0;
    for (int b = 0; b < R && st == DR_OK; b++) {
        resample(idx, rows, np, rows + np, nn, o->seed, (uint32_t)b);
        const float *vp[DR_ENSEMBLE_MAX_MEMBERS];
        float *vl = block + (size_t)k * nv;
        for (int i = 0; i < k; i++) {
            float *dst = block + (size_t)i * nv;
            for (long j = 0; j < nv; j++)
                dst[j] = c->vp[i][idx[j]];
            vp[i] = dst;
        }
        for (long j = 0; j < nv; j++)
            vl[j] = c->vl[idx[j]];
        ens_ctx cb = {k, vp, NULL, vl, NULL, nv, 0, c->buf};
        dr_ensemble_options ob = *o;
        ob.seed = o->seed + (uint64_t)b;
        st = search(r, &cb, &ob);
        evaluated += r->n_evaluated;
        for (int i = 0; st == DR_OK && i < k; i++)
            sum[i] += r->weights[i];
    }
    for (int i = 0; i < k; i++)
        r->weights[i] = sum[i] / R;
    r->n_evaluated = evaluated;
    free(rows);
    free(idx);
    free(block);
    return st;
}

dr_status dr_ensemble_fit(dr_ensemble_result *r, int k, const float *const *val_prob,
                          const float *val_label, long n_val, const float *const *test_prob,
                          const float *test_label, long n_test, const dr_ensemble_options *o)
{
    if (!r || !val_prob || !val_label || n_val <= 0)
        return dr_error(DR_ERR_INVALID, "ensemble_fit: null argument or %ld validation rows",
                        n_val);
    if (k < 1 || k > DR_ENSEMBLE_MAX_MEMBERS)
        return dr_error(DR_ERR_INVALID, "ensemble_fit: %d members, expected 1 .. %d", k,
                        DR_ENSEMBLE_MAX_MEMBERS);
    if ((test_prob || test_label || n_test) && (!test_prob || !test_label || n_test <= 0))
        return dr_error(DR_ERR_INVALID, "ensemble_fit: test set needs probabilities, labels and "
                        "n_test > 0 (or none of them)");
    dr_ensemble_options opt;
    dr_ensemble_options_default(&opt);
    if (o)
        opt = *o;
    if (opt.n_bootstrap < 0)
        return dr_error(DR_ERR_INVALID, "ensemble_fit: n_bootstrap %d < 0", opt.n_bootstrap);
    if (opt.n_trials < 0 || (opt.n_trials == 0 && !opt.enqueue_baselines))
        return dr_error(DR_ERR_INVALID, "ensemble_fit: n_trials %d with enqueue_baselines %d "
                        "evaluates nothing", opt.n_trials, opt.enqueue_baselines);
    DR_TRY(check_probs("validation", val_prob, k, n_val));
    if (test_prob)
        DR_TRY(check_probs("test", test_prob, k, n_test));

    memset(r, 0, sizeof *r);
    r->k = k;
    long nbuf = n_val > n_test ? n_val : n_test;
    ens_ctx c = {k, val_prob, test_prob, val_label, test_label, n_val, n_test, NULL};
    c.buf = malloc((size_t)nbuf * sizeof *c.buf);
    if (!c.buf)
        return dr_error(DR_ERR_NOMEM, "ensemble_fit: %ld blended scores", nbuf);
    dr_status st = DR_OK;
    double w[DR_ENSEMBLE_MAX_MEMBERS];
    /* Single members and equal weights: reported beside the search's choice. */
    r->best_member = 0;
    for (int i = 0; i < k && st == DR_OK; i++) {
        for (int j = 0; j < k; j++)
            w[j] = i == j;
        st = score(&c, w, &r->member_val_auc[i], &r->member_test_auc[i]);
        if (st == DR_OK && r->member_val_auc[i] > r->member_val_auc[r->best_member])
            r->best_member = i;
    }
    for (int j = 0; j < k; j++)
        w[j] = 1.0 / k;
    if (st == DR_OK)
        st = score(&c, w, &r->equal_val_auc, &r->equal_test_auc);
    if (st == DR_OK)
        st = opt.n_bootstrap > 0 ? bagged_search(r, &c, &opt) : search(r, &c, &opt);
    if (st == DR_OK)
        st = score(&c, r->weights, &r->val_auc, &r->test_auc);
    free(c.buf);
    return st == DR_OK ? st : dr_error_context(st, "ensemble_fit: ");
}
