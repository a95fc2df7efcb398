/* The Parzen estimator of TPE: draws from a Philox stream, the mixture's fit
 * to observations, samples from it and its log-density at candidates. */
#include "experiments/tpe_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 53 random bits, shifted by half a step: strictly inside (0, 1), as the inverse
 * normal CDF needs. */
double tpe_rng_u01(dr_philox_stream *r)
{
    uint64_t a = dr_philox_stream_word(r) >> 5, b = dr_philox_stream_word(r) >> 6;
    return ((double)((a << 26) | b) + 0.5) * (1.0 / 9007199254740992.0);
}

/* ---- normal distribution helpers ---- */

static double norm_cdf(double z) { return 0.5 * erfc(-z * TPE_SQRT1_2); }

/* Inverse normal CDF: Acklam's rational approximation (relative error 1.15e-9)
 * polished by one Halley step against erfc, which brings it to double accuracy. */
static double norm_icdf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (p <= 0.0)
        return -INFINITY;
    if (p >= 1.0)
        return INFINITY;
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p <= 1.0 - 0.02425) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    } else {
        double q = sqrt(-2.0 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    double e = norm_cdf(x) - p;
    double u = e * sqrt(2.0 * TPE_PI) * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

/* ---- Parzen estimator: a mixture of product kernels (Optuna's _ParzenEstimator) ---- */

/* exp(x) for x in [-50, 0], the range of the log-sum-exp below, as plain
 * arithmetic so that the loop over a mixture's components vectorises (libm's exp
 * is a call that stops it, and the sum over the bad trials' components is most of
 * a suggestion's time at 1,000 trials). x = n ln 2 + r, |r| <= ln 2 / 2, exp(r)
 * by its Taylor series to r^13 / 13! (the remainder, |r|^14 / 14! < 5e-18, is below
 * an ulp), 2^n from the exponent bits. */
static double tpe_exp_neg(double x)
{
    double t = x * 1.4426950408889634 + 6755399441055744.0; /* 1.5 * 2^52: rounds x / ln 2 */
    double n = t - 6755399441055744.0;
    double r = x - n * 0.6931471803691238; /* ln 2 in two parts: n * hi is exact */
    r = r - n * 1.9082149292705877e-10;
    double p = 1.0 / 6227020800.0;
    static const double inv_fact[] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                                      1.0 / 6.0, 0.5, 1.0, 1.0};
    for (int i = 0; i < 13; i++)
        p = p * r + inv_fact[i];
    /* t's low mantissa bits hold n (its ulp is 1); 2^n, n in [-73, 0], from the exponent */
    uint64_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    uint64_t bits = (uint64_t)((int64_t)(int32_t)(uint32_t)tbits + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Below this, a component's share of the mixture's density is under e^-50 of the
 * largest: adding it cannot change the sum of up to 10^6 terms by half an ulp. */
static const double TPE_NEGLIGIBLE = -50.0;

/* log density (log mass for integers and choices) under the mixture of the points
 * x + e * DR_TPE_MAX_PARAMS (values indexed like the space), e < n_x, into out[e].
 * terms holds n_x * k doubles, col (n_x + 1) * k. */
void tpe_kde_logp(const tpe_kde *m, const dr_tpe_space *sp, const double *x, int n_x, double *out,
                     double *terms, double *col)
{
    long k = m->k;
    for (int e = 0; e < n_x; e++)
        memcpy(terms + e * k, m->logw, (size_t)k * sizeof *terms);
    for (int d = 0; d < m->nd; d++) {
        int j = m->dims[d];
        const dr_tpe_param *p = &sp->p[j];
        const double *mu = m->mu + d * k, *sigma = m->sigma + d * k, *lz = m->logz + d * k;
        for (int e = 0; e < n_x; e++) {
            double v = x[e * DR_TPE_MAX_PARAMS + j], *t = terms + e * k;
            if (p->kind == DR_TPE_CATEGORICAL) {
                double hit = m->cat_hit[d], miss = m->cat_miss[d];
                for (long i = 0; i < k - 1; i++)
                    t[i] += v == mu[i] ? hit : miss;
                t[k - 1] -= log((double)p->n_choices); /* the prior's row is uniform */
            } else if (tpe_is_int(p->kind)) {
                /* a bin's mass costs two erfc per component: once per distinct value */
                int same = -1;
                for (int f = 0; f < e && same < 0; f++)
                    if (x[f * DR_TPE_MAX_PARAMS + j] == v)
                        same = f;
                double *c = col + k * (same < 0 ? e : same);
                if (same < 0) {
                    double lo, hi;
                    tpe_bin_edges(p, v, &lo, &hi);
                    for (long i = 0; i < k; i++)
                        c[i] = log(fmax(norm_cdf((hi - mu[i]) / sigma[i]) - norm_cdf((lo - mu[i]) / sigma[i]),
                                        DBL_MIN)) - lz[i];
                }
                for (long i = 0; i < k; i++)
                    t[i] += c[i];
            } else {
                double z0 = tpe_to_internal(p, v);
                for (long i = 0; i < k; i++) {
                    double z = (z0 - mu[i]) / sigma[i];
                    t[i] += -0.5 * z * z - lz[i];
                }
            }
        }
    }
    for (int e = 0; e < n_x; e++) {
        const double *t = terms + e * k;
        double top = -INFINITY, sum = 0.0;
        for (long i = 0; i < k; i++)
            top = t[i] > top ? t[i] : top; /* no NaN here: fmax's NaN rule costs a call */
        for (long i = 0; i < k; i++) {
            double d = t[i] - top;
            sum += d > TPE_NEGLIGIBLE ? tpe_exp_neg(d) : 0.0;
        }
        out[e] = top + log(sum);
    }
}

/* One draw: a component by weight, then each parameter from its kernel. */
void tpe_kde_sample(const tpe_kde *m, const dr_tpe_space *sp, dr_philox_stream *r, double *x)
{
    double u = tpe_rng_u01(r), acc = 0.0;
    long i = 0;
    for (; i < m->k - 1; i++) {
        acc += m->w[i];
        if (u < acc)
            break;
    }
    for (int d = 0; d < m->nd; d++) {
        const dr_tpe_param *p = &sp->p[m->dims[d]];
        double mu = m->mu[d * m->k + i];
        if (p->kind == DR_TPE_CATEGORICAL) {
            double ppk = mu < 0 ? 1.0 : m->prior_per_kernel, norm = (mu < 0 ? 0.0 : 1.0) + ppk * p->n_choices;
            double v = tpe_rng_u01(r) * norm, c_acc = 0.0;
            int c = 0;
            for (; c < p->n_choices - 1; c++) {
                c_acc += (c == mu ? 1.0 : 0.0) + ppk;
                if (v < c_acc)
                    break;
            }
            x[m->dims[d]] = c;
            continue;
        }
        double a, b, s = m->sigma[d * m->k + i];
        tpe_internal_range(p, &a, &b);
        double pa = norm_cdf((a - mu) / s), pb = norm_cdf((b - mu) / s);
        double z = mu + s * norm_icdf(pa + tpe_rng_u01(r) * (pb - pa));
        x[m->dims[d]] = tpe_from_internal(p, z < a ? a : z > b ? b : z);
    }
}

/* Bandwidths of the n observations obs[0 .. n) of numeric parameter j on [a, b]
 * (pos[obs[i]] = i, -1 elsewhere): the larger distance to the sorted neighbours,
 * the range ends counting as neighbours except for the outermost observations
 * (consider_endpoints off, n >= 2), clipped to [(b-a) / min(100, n + 2), b - a]
 * (Optuna's magic clip over n + 1 kernels). The told ones come sorted from
 * by_value; the liars (after n_told) are inserted. pairs is scratch of n. */
static void kde_bandwidths(const struct dr_tpe *t, int j, const long *obs, long n, const long *pos, double a,
                           double b, double *sigma, tpe_pair *pairs)
{
    const dr_tpe_param *p = &t->space.p[j];
    long r = 0;
    for (long q = 0; q < t->n_by_value[j]; q++) {
        long o = t->by_value[j][q];
        if (pos[o] >= 0)
            pairs[r++] = (tpe_pair){tpe_to_internal(p, t->obs[o].v[j]), pos[o]};
    }
    long first_liar = n;
    while (first_liar > 0 && obs[first_liar - 1] >= t->n_told)
        first_liar--;
    for (long i = first_liar; i < n; i++) { /* after equal values, as by_value's ties */
        tpe_pair liar = {tpe_to_internal(p, t->obs[obs[i]].v[j]), i};
        long at = r++;
        for (; at > 0 && pairs[at - 1].x > liar.x; at--)
            pairs[at] = pairs[at - 1];
        pairs[at] = liar;
    }
    double range = b - a, minsigma = range / fmin(100.0, (double)n + 2.0);
    for (r = 0; r < n; r++) {
        double left = pairs[r].x - (r > 0 ? pairs[r - 1].x : a);
        double right = (r < n - 1 ? pairs[r + 1].x : b) - pairs[r].x;
        double sg = left > right ? left : right;
        if (!t->o.consider_endpoints && n >= 2 && r == 0)
            sg = right;
        else if (!t->o.consider_endpoints && n >= 2 && r == n - 1)
            sg = left;
        sigma[pairs[r].i] = sg < minsigma ? minsigma : sg > range ? range : sg;
    }
}

/* Fits the estimator to observations obs[0 .. n) (indices into t->obs, in told
 * order) with weights w_by_obs[obs[i]]. The arrays of m must hold nd * (n + 1)
 * entries (w: n + 1); pos holds -1 for every observation and is left so. */
void tpe_kde_fit(tpe_kde *m, const dr_tpe *t, const long *obs, long n, const double *w_by_obs,
                    tpe_pair *pairs, long *pos)
{
    for (long i = 0; i < n; i++)
        pos[obs[i]] = i;
    m->k = n + 1;
    double wsum = t->o.prior_weight;
    for (long i = 0; i < n; i++)
        wsum += m->w[i] = w_by_obs[obs[i]];
    m->w[n] = t->o.prior_weight;
    double log_wsum = log(wsum);
    for (long i = 0; i <= n; i++) { /* most weights are 1: no logarithm for them */
        m->logw[i] = (m->w[i] == 1.0 ? 0.0 : log(m->w[i])) - log_wsum;
        m->w[i] /= wsum;
    }
    m->prior_per_kernel = t->o.prior_weight / (double)m->k;
    for (int d = 0; d < m->nd; d++) {
        const dr_tpe_param *p = &t->space.p[m->dims[d]];
        double *mu = m->mu + d * m->k, *sigma = m->sigma + d * m->k, *logz = m->logz + d * m->k;
        int cat = p->kind == DR_TPE_CATEGORICAL;
        for (long i = 0; i < n; i++) {
            double v = t->obs[obs[i]].v[m->dims[d]];
            mu[i] = cat ? v : tpe_to_internal(p, v);
        }
        if (cat) {
            double norm = 1.0 + m->prior_per_kernel * p->n_choices;
            m->cat_hit[d] = log((1.0 + m->prior_per_kernel) / norm);
            m->cat_miss[d] = log(m->prior_per_kernel / norm);
            mu[n] = -1.0;
            continue;
        }
        double lo, hi;
        tpe_internal_range(p, &lo, &hi);
        kde_bandwidths(t, m->dims[d], obs, n, pos, lo, hi, sigma, pairs);
        mu[n] = 0.5 * (lo + hi);
        sigma[n] = hi - lo;
        double scale = tpe_is_int(p->kind) ? 0.0 : sqrt(2.0 * TPE_PI);
        for (long i = 0; i <= n; i++) {
            double mass = fmax(norm_cdf((hi - mu[i]) / sigma[i]) - norm_cdf((lo - mu[i]) / sigma[i]), DBL_MIN);
            logz[i] = log(scale > 0.0 ? mass * sigma[i] * scale : mass);
        }
    }
    for (long i = 0; i < n; i++)
        pos[obs[i]] = -1;
}
