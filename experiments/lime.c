/* LIME for tabular data; the algorithm is described in lime.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/compare.h"
#include "core/linalg.h"
#include "core/philox.h"
#include "experiments/lime.h"

enum { DR_LIME_STREAM = 0x4c494d45 /* "LIME" */ };

/* np.percentile's default (linear interpolation between order statistics). */
static float percentile(const float *sorted, long n, double q)
{
    double at = q / 100.0 * (double)(n - 1);
    long lo = (long)floor(at);
    long hi = lo + 1 < n ? lo + 1 : lo;
    return (float)(sorted[lo] + (at - (double)lo) * (sorted[hi] - sorted[lo]));
}

/* lime's np.searchsorted(quartiles, x): how many quartiles lie below x. */
static int bin_of(const float *edges, float x)
{
    return (x > edges[0]) + (x > edges[1]) + (x > edges[2]);
}

void dr_lime_stats_free(dr_lime_stats *s)
{
    free(s->n_bins);
    free(s->edges);
    free(s->freq);
    free(s->mean);
    free(s->std);
    free(s->lo);
    free(s->hi);
    free(s->bin_mean);
    free(s->bin_std);
    memset(s, 0, sizeof *s);
}

dr_status dr_lime_fit(const float *x, long n, int d, dr_lime_stats *s)
{
    memset(s, 0, sizeof *s);
    if (n < 2 || d < 1)
        return dr_error(DR_ERR_INVALID, "lime: %ld training rows, %d inputs (need 2 and 1)", n, d);
    s->d = d;
    s->n_bins = malloc((size_t)d * sizeof *s->n_bins);
    s->edges = malloc((size_t)d * 3 * sizeof *s->edges);
    double **per_bin[5] = {&s->freq, &s->mean, &s->std, &s->lo, &s->hi};
    for (int k = 0; k < 5; k++)
        *per_bin[k] = calloc((size_t)d * 4, sizeof(double));
    s->bin_mean = malloc((size_t)d * sizeof *s->bin_mean);
    s->bin_std = malloc((size_t)d * sizeof *s->bin_std);
    float *col = malloc((size_t)n * sizeof *col);
    if (!s->n_bins || !s->edges || !s->freq || !s->mean || !s->std || !s->lo || !s->hi || !s->bin_mean || !s->bin_std || !col) {
        free(col);
        dr_lime_stats_free(s);
        return dr_error(DR_ERR_NOMEM, "lime: out of host memory");
    }
    for (int j = 0; j < d; j++) {
        for (long i = 0; i < n; i++)
            col[i] = x[i * d + j];
        qsort(col, (size_t)n, sizeof *col, dr_cmp_float);
        float *e = s->edges + j * 3;
        for (int q = 0; q < 3; q++)
            e[q] = percentile(col, n, 25.0 * (q + 1));
        s->n_bins[j] = 4;
        double cnt[4] = {0}, sum[4] = {0}, sq[4] = {0}, bsum = 0, bsq = 0;
        for (long i = 0; i < n; i++) {
            int b = bin_of(e, col[i]);
            cnt[b] += 1, sum[b] += col[i], sq[b] += (double)col[i] * col[i];
            bsum += b, bsq += (double)b * b;
        }
        for (int b = 0; b < 4; b++) {
            double m = cnt[b] > 0 ? sum[b] / cnt[b] : 0;
            s->freq[j * 4 + b] = cnt[b] / (double)n;
            s->mean[j * 4 + b] = m;
            s->std[j * 4 + b] = (cnt[b] > 0 ? sqrt(fmax(sq[b] / cnt[b] - m * m, 0)) : 0) + 1e-11; /* lime's */
            s->lo[j * 4 + b] = b == 0 ? col[0] : e[b - 1];
            s->hi[j * 4 + b] = b == 3 ? col[n - 1] : e[b];
        }
        double bm = bsum / (double)n, bv = bsq / (double)n - bm * bm;
        s->bin_mean[j] = bm;
        s->bin_std[j] = bv > 0 ? sqrt(bv) : 1.0; /* StandardScaler's mean_ and scale_ */
    }
    free(col);
    return DR_OK;
}

/* Truncated normal on [lo, hi] by rejection, 64 tries, then the clipped draw. */
static double truncated_normal(double mean, double sd, double lo, double hi, uint64_t seed, uint64_t counter)
{
    if (!(hi > lo))
        return mean;
    double z = 0;
    for (uint32_t t = 0; t < 64; t++) {
        dr_philox_u4 r = dr_philox_block(seed, DR_LIME_STREAM, counter, 1 + t);
        double u1 = (dr_uniform01(r.v[0]) + 0.5 / 16777216.0), u2 = dr_uniform01(r.v[1]);
        z = mean + sd * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2); /* Box-Muller */
        if (z >= lo && z <= hi)
            return z;
    }
    return fmin(fmax(z, lo), hi);
}

/* Weighted ridge with an unpenalised intercept on the columns cols[0 .. k) of
 * z [n, d]: scikit-learn's Ridge(alpha).fit(z[:, cols], y, sample_weight=w).
 * beta [k] out; *intercept and the weighted R^2 *score out. */
static dr_status ridge(const double *z, long n, int d, const int *cols, int k, const float *y, const double *w,
                       double alpha, double *beta, double *intercept, double *score)
{
    double *A = calloc((size_t)k * k, sizeof *A), *mz = calloc((size_t)k, sizeof *mz);
    if (!A || !mz) {
        free(A), free(mz);
        return dr_error(DR_ERR_NOMEM, "lime: out of host memory");
    }
    double sw = 0, my = 0;
    for (long i = 0; i < n; i++) {
        sw += w[i];
        my += w[i] * y[i];
        for (int a = 0; a < k; a++)
            mz[a] += w[i] * z[i * d + cols[a]];
    }
    my /= sw;
    for (int a = 0; a < k; a++) {
        mz[a] /= sw;
        beta[a] = 0;
    }
    for (long i = 0; i < n; i++) {
        double yc = y[i] - my;
        for (int a = 0; a < k; a++) {
            double za = z[i * d + cols[a]] - mz[a];
            beta[a] += w[i] * za * yc;
            for (int b = 0; b <= a; b++)
                A[a * k + b] += w[i] * za * (z[i * d + cols[b]] - mz[b]);
        }
    }
    for (int a = 0; a < k; a++) {
        A[a * k + a] += alpha;
        for (int b = 0; b < a; b++)
            A[b * k + a] = A[a * k + b];
    }
    dr_status s = DR_OK;
    if (dr_cholesky(A, k))
        dr_cholesky_solve(A, beta, k);
    else
        s = dr_error(DR_ERR_NUMERIC, "lime: the ridge system is not positive definite");
    double b0 = my;
    for (int a = 0; a < k; a++)
        b0 -= beta[a] * mz[a];
    double ss_res = 0, ss_tot = 0;
    for (long i = 0; s == DR_OK && i < n; i++) {
        double f = b0;
        for (int a = 0; a < k; a++)
            f += beta[a] * z[i * d + cols[a]];
        ss_res += w[i] * (y[i] - f) * (y[i] - f);
        ss_tot += w[i] * (y[i] - my) * (y[i] - my);
    }
    *intercept = b0;
    *score = ss_tot > 0 ? 1 - ss_res / ss_tot : 0;
    free(A);
    free(mz);
    return s;
}

typedef struct ranked {
    int j;
    double v;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (fabs(x->v) != fabs(y->v))
        return fabs(x->v) < fabs(y->v) ? 1 : -1;
    return (x->j > y->j) - (x->j < y->j);
}

dr_status dr_lime_explain(const dr_lime_stats *s, const float *loan, dr_lime_predict_fn predict, void *ctx, int k,
                          long n_samples, uint64_t seed, dr_lime_result *out)
{
    int d = s->d;
    if (k < 1 || k > 64 || k > d || n_samples < 2)
        return dr_error(DR_ERR_INVALID, "lime: %d features of %d (1 .. min(64, inputs)), %ld samples (>= 2)", k, d,
                        n_samples);
    memset(out, 0, sizeof *out);
    long n = n_samples;
    float *x = malloc((size_t)(n * d) * sizeof *x), *prob = malloc((size_t)n * sizeof *prob);
    double *z = malloc((size_t)(n * d) * sizeof *z), *w = malloc((size_t)n * sizeof *w);
    int *all = malloc((size_t)d * sizeof *all);
    double *coef = malloc((size_t)d * sizeof *coef);
    ranked *r = malloc((size_t)d * sizeof *r);
    dr_status st = x && prob && z && w && all && coef && r ? DR_OK : dr_error(DR_ERR_NOMEM, "lime: out of host memory");
    const double width = 0.75 * sqrt((double)d);
    for (long i = 0; st == DR_OK && i < n; i++) {
        double dist2 = 0;
        for (int j = 0; j < d; j++) {
            int own = bin_of(s->edges + j * 3, loan[j]), b = own;
            float v = loan[j];
            if (i > 0) { /* a bin by its training frequency, then a value inside it */
                uint64_t counter = (uint64_t)i * (uint64_t)d + (uint64_t)j;
                double u = dr_uniform01(dr_philox_block(seed, DR_LIME_STREAM, counter, 0).v[0]), c = 0;
                b = 3;
                for (int q = 0; q < 4; q++) {
                    c += s->freq[j * 4 + q];
                    if (u < c && s->freq[j * 4 + q] > 0) {
                        b = q;
                        break;
                    }
                }
                while (s->freq[j * 4 + b] == 0) /* rounding left u above the last share */
                    b--;
                v = (float)truncated_normal(s->mean[j * 4 + b], s->std[j * 4 + b], s->lo[j * 4 + b],
                                            s->hi[j * 4 + b], seed, counter);
            }
            x[i * d + j] = v;
            /* lime's scaled binary view, (binary - mean_) / scale_ */
            double zi = ((b == own ? 1.0 : 0.0) - s->bin_mean[j]) / s->bin_std[j];
            z[i * d + j] = zi;
            double diff = zi - (1.0 - s->bin_mean[j]) / s->bin_std[j];
            dist2 += diff * diff;
        }
        w[i] = sqrt(exp(-dist2 / (width * width)));
    }
    if (st == DR_OK)
        st = predict(ctx, x, n, d, prob);
    double intercept, score;
    for (int j = 0; j < d && all; j++)
        all[j] = j;
    if (st == DR_OK) /* lime's "highest_weights": a ridge on every input, the largest |coef x loan's value| */
        st = ridge(z, n, d, all, d, prob, w, 0.01, coef, &intercept, &score);
    if (st == DR_OK) {
        for (int j = 0; j < d; j++)
            r[j] = (ranked){j, coef[j] * z[j]}; /* z[0, j]: the loan's own scaled value */
        qsort(r, (size_t)d, sizeof *r, cmp_ranked);
        for (int a = 0; a < k; a++)
            out->feature[a] = r[a].j;
        double beta[64];
        st = ridge(z, n, d, out->feature, k, prob, w, 1.0, beta, &out->intercept, &out->score);
        if (st == DR_OK) {
            out->local_prediction = out->intercept;
            for (int a = 0; a < k; a++) {
                r[a] = (ranked){out->feature[a], beta[a]};
                out->local_prediction += beta[a] * z[out->feature[a]];
            }
            qsort(r, (size_t)k, sizeof *r, cmp_ranked);
            for (int a = 0; a < k; a++) {
                out->feature[a] = r[a].j;
                out->weight[a] = r[a].v;
            }
            out->k = k;
        }
    }
    free(x), free(prob), free(z), free(w), free(all), free(coef), free(r);
    return st;
}
