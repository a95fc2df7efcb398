#include "experiments/tpe.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"

static const double TPE_PI = 3.14159265358979323846;
static const double TPE_SQRT1_2 = 0.70710678118654752440;

/* ---- search space ---- */

static dr_status space_add(dr_tpe_space *s, const char *name, dr_tpe_kind kind, double lo,
                           double hi, int n_choices)
{
    if (!s || !name || !*name)
        return dr_error(DR_ERR_INVALID, "tpe: null space or empty parameter name");
    if (strlen(name) >= DR_TPE_NAME_CAP)
        return dr_error(DR_ERR_INVALID, "tpe: parameter name '%s' longer than %d characters",
                        name, DR_TPE_NAME_CAP - 1);
    if (s->n_params >= DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "tpe: more than %d parameters", DR_TPE_MAX_PARAMS);
    if (dr_tpe_space_find(s, name) >= 0)
        return dr_error(DR_ERR_INVALID, "tpe: parameter '%s' defined twice", name);
    dr_tpe_param *p = &s->p[s->n_params];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->kind = kind;
    p->lo = lo;
    p->hi = hi;
    p->n_choices = n_choices;
    s->n_params++;
    return DR_OK;
}

dr_status dr_tpe_space_add_float(dr_tpe_space *s, const char *name, double lo, double hi, int log)
{
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return dr_error(DR_ERR_INVALID, "tpe: '%s': range [%g, %g] needs finite lo < hi",
                        name ? name : "?", lo, hi);
    if (log && !(lo > 0.0))
        return dr_error(DR_ERR_INVALID, "tpe: '%s': log range needs lo > 0 (got %g)",
                        name ? name : "?", lo);
    return space_add(s, name, log ? DR_TPE_LOG_FLOAT : DR_TPE_FLOAT, lo, hi, 0);
}

dr_status dr_tpe_space_add_int(dr_tpe_space *s, const char *name, long lo, long hi, int log)
{
    if (lo > hi)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': integer range %ld .. %ld is empty",
                        name ? name : "?", lo, hi);
    if (log && lo < 1)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': log integer range needs lo >= 1 (got %ld)",
                        name ? name : "?", lo);
    return space_add(s, name, log ? DR_TPE_LOG_INT : DR_TPE_INT, (double)lo, (double)hi, 0);
}

dr_status dr_tpe_space_add_categorical(dr_tpe_space *s, const char *name, int n_choices)
{
    if (n_choices < 1 || n_choices > DR_TPE_MAX_CHOICES)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': %d choices, expected 1 .. %d",
                        name ? name : "?", n_choices, DR_TPE_MAX_CHOICES);
    return space_add(s, name, DR_TPE_CATEGORICAL, 0.0, (double)(n_choices - 1), n_choices);
}

int dr_tpe_space_find(const dr_tpe_space *s, const char *name)
{
    for (int i = 0; s && name && i < s->n_params; i++)
        if (strcmp(s->p[i].name, name) == 0)
            return i;
    return -1;
}

/* Internal coordinates: x, ln x, or integer bins [k - 1/2, k + 1/2]. */
static int is_log(dr_tpe_kind k) { return k == DR_TPE_LOG_FLOAT || k == DR_TPE_LOG_INT; }
static int is_int(dr_tpe_kind k) { return k == DR_TPE_INT || k == DR_TPE_LOG_INT; }

static void bin_edges(const dr_tpe_param *p, double k, double *a, double *b)
{
    double lo = is_int(p->kind) ? k - 0.5 : k, hi = is_int(p->kind) ? k + 0.5 : k;
    *a = is_log(p->kind) ? log(lo) : lo;
    *b = is_log(p->kind) ? log(hi) : hi;
}

static void internal_range(const dr_tpe_param *p, double *a, double *b)
{
    double ta, tb;
    bin_edges(p, p->lo, a, &ta);
    bin_edges(p, p->hi, &tb, b);
}

static double to_internal(const dr_tpe_param *p, double v) { return is_log(p->kind) ? log(v) : v; }

static double from_internal(const dr_tpe_param *p, double z)
{
    double v = is_log(p->kind) ? exp(z) : z;
    if (is_int(p->kind))
        v = floor(v + 0.5);
    return v < p->lo ? p->lo : v > p->hi ? p->hi : v;
}

/* ---- randomness: Philox words, two per double in (0, 1) ---- */

typedef struct tpe_rng {
    uint64_t seed, counter;
    uint32_t stream, block;
    int used;
    dr_philox_u4 buf;
} tpe_rng;

static void rng_init(tpe_rng *r, uint64_t seed, uint32_t stream, uint64_t counter)
{
    r->seed = seed;
    r->stream = stream;
    r->counter = counter;
    r->block = 0;
    r->used = 4;
}

static uint32_t rng_word(tpe_rng *r)
{
    if (r->used == 4) {
        r->buf = dr_philox_block(r->seed, r->stream, r->counter, r->block++);
        r->used = 0;
    }
    return r->buf.v[r->used++];
}

/* 53 random bits, shifted by half a step: strictly inside (0, 1), as the inverse
 * normal CDF needs. */
static double rng_u01(tpe_rng *r)
{
    uint64_t a = rng_word(r) >> 5, b = rng_word(r) >> 6;
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

/* One component per observation plus the prior, over the parameters dims[0 .. nd).
 * Per parameter and component: a Gaussian truncated to the internal range
 * (numeric; integers score the mass of their bin) or a row of choice
 * probabilities (categorical). One parameter is the independent TPE; all the
 * always-active ones at once, the multivariate TPE (Falkner, Klein, Hutter 2018). */
typedef struct tpe_kde {
    int nd;
    const int *dims;
    long k;      /* components; the prior is the last */
    double *w, *logw; /* [k], sums to 1; its logarithms */
    double *mu;  /* [nd][k]: internal mean, or the observed choice (prior: -1) */
    double *sigma, *logz; /* [nd][k]: bandwidth; log of the normaliser: the Gaussian's mass inside
                           * the range (integers), times sigma sqrt(2 pi) (continuous) */
    double prior_per_kernel; /* categorical rows: prior_weight / k added to every choice */
    double cat_hit[DR_TPE_MAX_PARAMS], cat_miss[DR_TPE_MAX_PARAMS]; /* log of a row's entries */
} tpe_kde;

typedef struct tpe_pair {
    double x; /* internal value */
    long i;   /* position in the mixture's observation list */
} tpe_pair;

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
static void kde_logp(const tpe_kde *m, const dr_tpe_space *sp, const double *x, int n_x, double *out,
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
            } else if (is_int(p->kind)) {
                /* a bin's mass costs two erfc per component: once per distinct value */
                int same = -1;
                for (int f = 0; f < e && same < 0; f++)
                    if (x[f * DR_TPE_MAX_PARAMS + j] == v)
                        same = f;
                double *c = col + k * (same < 0 ? e : same);
                if (same < 0) {
                    double lo, hi;
                    bin_edges(p, v, &lo, &hi);
                    for (long i = 0; i < k; i++)
                        c[i] = log(fmax(norm_cdf((hi - mu[i]) / sigma[i]) - norm_cdf((lo - mu[i]) / sigma[i]),
                                        DBL_MIN)) - lz[i];
                }
                for (long i = 0; i < k; i++)
                    t[i] += c[i];
            } else {
                double z0 = to_internal(p, v);
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
static void kde_sample(const tpe_kde *m, const dr_tpe_space *sp, tpe_rng *r, double *x)
{
    double u = rng_u01(r), acc = 0.0;
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
            double v = rng_u01(r) * norm, c_acc = 0.0;
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
        internal_range(p, &a, &b);
        double pa = norm_cdf((a - mu) / s), pb = norm_cdf((b - mu) / s);
        double z = mu + s * norm_icdf(pa + rng_u01(r) * (pb - pa));
        x[m->dims[d]] = from_internal(p, z < a ? a : z > b ? b : z);
    }
}

/* ---- the sampler ---- */

typedef struct tpe_obs {
    double v[DR_TPE_MAX_PARAMS];
    double loss; /* objective, negated when maximising: lower is better */
    dr_tpe_state state;
    long order, number;
} tpe_obs;

struct dr_tpe {
    dr_tpe_space space;
    dr_tpe_options o;
    uint64_t seed;
    long n_suggested;
    long n_obs, cap;
    tpe_obs *obs;
    /* per numeric parameter, the told observations where it was active, by value
     * (then told order): kept sorted as trials are told, so a suggestion needs no sort */
    long n_told, by_value_cap, *by_value[DR_TPE_MAX_PARAMS], n_by_value[DR_TPE_MAX_PARAMS];
};

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
            pairs[r++] = (tpe_pair){to_internal(p, t->obs[o].v[j]), pos[o]};
    }
    long first_liar = n;
    while (first_liar > 0 && obs[first_liar - 1] >= t->n_told)
        first_liar--;
    for (long i = first_liar; i < n; i++) { /* after equal values, as by_value's ties */
        tpe_pair liar = {to_internal(p, t->obs[obs[i]].v[j]), i};
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

void dr_tpe_options_default(dr_tpe_options *o)
{
    o->n_startup = 10;
    o->n_ei_candidates = 24;
    o->gamma = 0.1;
    o->gamma_cap = 25;
    o->prior_weight = 1.0;
    o->maximize = 0;
    o->consider_endpoints = 0;
    o->multivariate = 1;
}

dr_status dr_tpe_create(dr_tpe **out, const dr_tpe_space *space, uint64_t seed,
                        const dr_tpe_options *o)
{
    if (!out || !space)
        return dr_error(DR_ERR_INVALID, "tpe_create: null argument");
    *out = NULL;
    if (space->n_params < 1 || space->n_params > DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "tpe_create: %d parameters, expected 1 .. %d",
                        space->n_params, DR_TPE_MAX_PARAMS);
    dr_tpe_options opt;
    dr_tpe_options_default(&opt);
    if (o)
        opt = *o;
    if (opt.n_startup < 0 || opt.n_ei_candidates < 1 || !(opt.gamma > 0.0 && opt.gamma <= 1.0) ||
        opt.gamma_cap < 1 || !(opt.prior_weight > 0.0) || !isfinite(opt.prior_weight))
        return dr_error(DR_ERR_INVALID,
                        "tpe_create: bad options (n_startup %d >= 0, n_ei_candidates %d >= 1, "
                        "gamma %g in (0, 1], gamma_cap %d >= 1, prior_weight %g > 0)",
                        opt.n_startup, opt.n_ei_candidates, opt.gamma, opt.gamma_cap,
                        opt.prior_weight);
    dr_tpe *t = calloc(1, sizeof *t);
    if (!t)
        return dr_error(DR_ERR_NOMEM, "tpe_create: sampler");
    t->space = *space;
    t->o = opt;
    t->seed = seed;
    *out = t;
    return DR_OK;
}

void dr_tpe_free(dr_tpe *t)
{
    if (!t)
        return;
    free(t->obs);
    for (int j = 0; j < DR_TPE_MAX_PARAMS; j++)
        free(t->by_value[j]);
    free(t);
}

static double sample_uniform(const dr_tpe_param *p, tpe_rng *r)
{
    if (p->kind == DR_TPE_CATEGORICAL) {
        int c = (int)(rng_u01(r) * p->n_choices);
        return c < p->n_choices ? c : p->n_choices - 1;
    }
    double a, b;
    internal_range(p, &a, &b);
    return from_internal(p, a + rng_u01(r) * (b - a));
}

/* Optuna's default weights: the newest 25 trials of a group weigh 1, older ones ramp
 * linearly from 1/m up (so a long study slowly forgets its start). rank is the
 * trial's position in told order within the group of m. */
static double age_weight(long rank, long m)
{
    if (m < 25)
        return 1.0;
    long ramp = m - 25;
    if (rank >= ramp)
        return 1.0;
    if (ramp == 1)
        return 1.0 / (double)m;
    return 1.0 / (double)m + (1.0 - 1.0 / (double)m) * (double)rank / (double)(ramp - 1);
}

/* Sort keys copied out of the history, so the comparators need no global context. */
typedef struct tpe_key {
    int rank_class; /* 0 completed, 1 pruned, 2 running (a constant liar) */
    double loss;
    long order, idx;
} tpe_key;

/* Completed trials first by loss, then pruned ones, then running ones (Optuna's
 * constant liar: a running trial counts as worse than any finished one); ties by
 * told order. */
static int rank_cmp(const void *p, const void *q)
{
    const tpe_key *x = p, *y = q;
    if (x->rank_class != y->rank_class)
        return x->rank_class < y->rank_class ? -1 : 1;
    if (x->rank_class == 0 && x->loss != y->loss)
        return x->loss < y->loss ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Moves the nb best keys by rank_cmp to the front, in rank order (the others in
 * any order): one comparison per key with the current nb-th best, mostly. */
static void rank_best(tpe_key *keys, long m, long nb)
{
    for (long i = 0, have = 0; i < m && nb > 0; i++) {
        if (have == nb && rank_cmp(&keys[i], &keys[nb - 1]) >= 0)
            continue;
        tpe_key k = keys[i];
        long at = have < nb ? have++ : nb - 1;
        if (at != i)
            keys[i] = keys[at];
        while (at > 0 && rank_cmp(&k, &keys[at - 1]) < 0) {
            keys[at] = keys[at - 1];
            at--;
        }
        keys[at] = k;
    }
}

/* The good set (the first nb of the ranked keys) and the bad set (the other m - nb),
 * each as observation indices in told order into idx and idx + nb, weighted by age
 * within its set; set is scratch of n_obs. */
static void split_sets(const tpe_key *keys, long m, long nb, long n_obs, unsigned char *set, long *idx,
                       double *w_by_obs)
{
    for (long i = 0; i < n_obs; i++)
        set[i] = 0;
    for (long r = 0; r < m; r++)
        set[keys[r].idx] = r < nb ? 1 : 2;
    long good = 0, bad = nb;
    for (long i = 0; i < n_obs; i++)
        if (set[i])
            idx[set[i] == 1 ? good++ : bad++] = i;
    for (long r = 0; r < nb; r++)
        w_by_obs[idx[r]] = age_weight(r, nb);
    for (long r = 0; r < m - nb; r++)
        w_by_obs[idx[nb + r]] = age_weight(r, m - nb);
}

/* Fits the estimator to observations obs[0 .. n) (indices into t->obs, in told
 * order) with weights w_by_obs[obs[i]]. The arrays of m must hold nd * (n + 1)
 * entries (w: n + 1); pos holds -1 for every observation and is left so. */
static void kde_fit(tpe_kde *m, const dr_tpe *t, const long *obs, long n, const double *w_by_obs,
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
            mu[i] = cat ? v : to_internal(p, v);
        }
        if (cat) {
            double norm = 1.0 + m->prior_per_kernel * p->n_choices;
            m->cat_hit[d] = log((1.0 + m->prior_per_kernel) / norm);
            m->cat_miss[d] = log(m->prior_per_kernel / norm);
            mu[n] = -1.0;
            continue;
        }
        double lo, hi;
        internal_range(p, &lo, &hi);
        kde_bandwidths(t, m->dims[d], obs, n, pos, lo, hi, sigma, pairs);
        mu[n] = 0.5 * (lo + hi);
        sigma[n] = hi - lo;
        double scale = is_int(p->kind) ? 0.0 : sqrt(2.0 * TPE_PI);
        for (long i = 0; i <= n; i++) {
            double mass = fmax(norm_cdf((hi - mu[i]) / sigma[i]) - norm_cdf((lo - mu[i]) / sigma[i]), DBL_MIN);
            logz[i] = log(scale > 0.0 ? mass * sigma[i] * scale : mass);
        }
    }
    for (long i = 0; i < n; i++)
        pos[obs[i]] = -1;
}

/* Scratch of one suggestion over a history of n observations. */
typedef struct tpe_work {
    double *mem;     /* two estimators, the candidates and their log-pdf terms */
    tpe_pair *pairs;
    long *active, *pos;
    unsigned char *set;
} tpe_work;

/* Values of the parameters dims[0 .. nd) by l(x) / g(x) over n_ei_candidates draws
 * from l; below / above are observation indices; only the observations where all
 * of dims were active are fitted. */
static void suggest_group(const dr_tpe *t, const int *dims, int nd, const long *below, long nb, const long *above,
                          long na, const double *w_by_obs, tpe_work *wk, tpe_rng *r, double *out)
{
    long *act_b = wk->active, *act_a, nb_act = 0, na_act = 0;
    for (long i = 0; i < nb; i++) {
        int on = 1;
        for (int d = 0; d < nd; d++)
            on &= !isnan(t->obs[below[i]].v[dims[d]]);
        if (on)
            act_b[nb_act++] = below[i];
    }
    act_a = act_b + nb_act;
    for (long i = 0; i < na; i++) {
        int on = 1;
        for (int d = 0; d < nd; d++)
            on &= !isnan(t->obs[above[i]].v[dims[d]]);
        if (on)
            act_a[na_act++] = above[i];
    }
    long n = t->n_obs + 1, ne = t->o.n_ei_candidates;
    double *mem = wk->mem;
    tpe_kde l = {.nd = nd, .dims = dims}, g = {.nd = nd, .dims = dims};
    /* laid out for components of the whole history; each mixture uses k = its
     * observations + 1 of them, with stride k */
    double **per_component[] = {&l.w, &l.logw, &g.w, &g.logw};
    double **per_dim[] = {&l.mu, &l.sigma, &l.logz, &g.mu, &g.sigma, &g.logz};
    for (int a = 0; a < 4; a++, mem += n)
        *per_component[a] = mem;
    for (int a = 0; a < 6; a++, mem += (long)nd * n)
        *per_dim[a] = mem;
    double *terms = mem, *col = terms + ne * n, *x = col + (ne + 1) * n, *score_l = x + ne * DR_TPE_MAX_PARAMS,
           *score_g = score_l + ne;
    kde_fit(&l, t, act_b, nb_act, w_by_obs, wk->pairs, wk->pos);
    kde_fit(&g, t, act_a, na_act, w_by_obs, wk->pairs, wk->pos);
    for (int e = 0; e < ne; e++)
        kde_sample(&l, &t->space, r, x + e * DR_TPE_MAX_PARAMS);
    kde_logp(&l, &t->space, x, (int)ne, score_l, terms, col);
    kde_logp(&g, &t->space, x, (int)ne, score_g, terms, col);
    int best = 0;
    for (int e = 1; e < ne; e++)
        if (score_l[e] - score_g[e] > score_l[best] - score_g[best])
            best = e;
    for (int d = 0; d < nd; d++)
        out[dims[d]] = x[best * DR_TPE_MAX_PARAMS + dims[d]];
}

dr_status dr_tpe_suggest(dr_tpe *t, dr_tpe_trial *out)
{
    if (!t)
        return dr_error(DR_ERR_INVALID, "tpe_suggest: null argument");
    DR_TRY(dr_tpe_suggest_at(t, t->n_suggested, NULL, 0, out));
    t->n_suggested++;
    return DR_OK;
}

/* Appends the running trials to the history as liars for one suggestion. */
static dr_status add_liars(dr_tpe *t, const dr_tpe_trial *running, int n_running)
{
    if (t->n_obs + n_running > t->cap) {
        long cap = t->n_obs + n_running + 64;
        tpe_obs *o = realloc(t->obs, (size_t)cap * sizeof *o);
        if (!o)
            return dr_error(DR_ERR_NOMEM, "tpe_suggest: history of %ld trials", cap);
        t->obs = o;
        t->cap = cap;
    }
    for (int i = 0; i < n_running; i++) {
        tpe_obs *o = &t->obs[t->n_obs + i];
        memset(o, 0, sizeof *o);
        memcpy(o->v, running[i].v, sizeof o->v);
        o->state = DR_TPE_RUNNING;
        o->loss = NAN;
        o->order = t->n_obs + i;
        o->number = running[i].number;
    }
    t->n_obs += n_running;
    return DR_OK;
}

static dr_status suggest_with_history(dr_tpe *t, long number, long n_running, dr_tpe_trial *out);

dr_status dr_tpe_suggest_at(dr_tpe *t, long number, const dr_tpe_trial *running, int n_running,
                            dr_tpe_trial *out)
{
    if (!t || !out || number < 0 || n_running < 0 || (n_running > 0 && !running))
        return dr_error(DR_ERR_INVALID, "tpe_suggest_at: null argument or negative count");
    DR_TRY(add_liars(t, running, n_running));
    dr_status s = suggest_with_history(t, number, n_running, out);
    t->n_obs -= n_running;
    return s;
}

static dr_status suggest_with_history(dr_tpe *t, long number, long n_running, dr_tpe_trial *out)
{
    long n_complete = 0, n_used = 0;
    for (long i = 0; i < t->n_obs - n_running; i++) {
        n_complete += t->obs[i].state == DR_TPE_COMPLETE;
        n_used += t->obs[i].state != DR_TPE_FAILED;
    }
    /* Optuna: the start-up count and the size of the good set are of finished
     * trials; the liars join the bad set */
    long nb = (long)ceil(t->o.gamma * (double)n_used);
    nb = nb > t->o.gamma_cap ? t->o.gamma_cap : nb;
    nb = nb > n_complete ? n_complete : nb;
    memset(out, 0, sizeof *out);
    out->number = number;
    if (n_used < t->o.n_startup || nb < 1) {
        for (int j = 0; j < t->space.n_params; j++) {
            tpe_rng r;
            rng_init(&r, t->seed, 0x54504500u + (uint32_t)j, (uint64_t)number);
            out->v[j] = sample_uniform(&t->space.p[j], &r);
        }
        return DR_OK;
    }
    long n = t->n_obs + 1;
    int nd_max = t->space.n_params;
    long *idx = malloc((size_t)n * sizeof *idx);
    tpe_key *keys = malloc((size_t)n * sizeof *keys);
    double *w_by_obs = malloc((size_t)n * sizeof *w_by_obs);
    size_t ne = (size_t)t->o.n_ei_candidates;
    tpe_work wk = {malloc(((size_t)n * (4 + 6 * (size_t)nd_max + 2 * ne + 1) + ne * (DR_TPE_MAX_PARAMS + 2)) *
                          sizeof(double)),
                   malloc((size_t)n * sizeof(tpe_pair)), malloc((size_t)n * sizeof(long)),
                   malloc((size_t)n * sizeof(long)), malloc((size_t)n)};
    dr_status s = DR_OK;
    if (!idx || !keys || !w_by_obs || !wk.mem || !wk.pairs || !wk.active || !wk.pos || !wk.set) {
        s = dr_error(DR_ERR_NOMEM, "tpe_suggest: scratch for %ld trials", t->n_obs);
        goto done;
    }
    for (long i = 0; i < n; i++)
        wk.pos[i] = -1;
    long m = 0;
    for (long i = 0; i < t->n_obs; i++)
        if (t->obs[i].state != DR_TPE_FAILED) {
            keys[m].rank_class = t->obs[i].state == DR_TPE_COMPLETE ? 0 : t->obs[i].state == DR_TPE_PRUNED ? 1 : 2;
            keys[m].loss = t->obs[i].loss;
            keys[m].order = t->obs[i].order;
            keys[m].idx = i;
            m++;
        }
    rank_best(keys, m, nb);
    split_sets(keys, m, nb, t->n_obs, wk.set, idx, w_by_obs);
    /* multivariate: the parameters active in every finished trial (Optuna's
     * intersection search space) are drawn jointly; the rest one by one */
    int joint[DR_TPE_MAX_PARAMS], n_joint = 0;
    for (int j = 0; j < t->space.n_params && t->o.multivariate; j++) {
        int always = 1;
        for (long i = 0; i < t->n_obs - n_running && always; i++)
            always = t->obs[i].state == DR_TPE_FAILED || !isnan(t->obs[i].v[j]);
        if (always)
            joint[n_joint++] = j;
    }
    if (n_joint > 0) {
        tpe_rng r;
        rng_init(&r, t->seed, 0x54504D00u, (uint64_t)number);
        suggest_group(t, joint, n_joint, idx, nb, idx + nb, m - nb, w_by_obs, &wk, &r, out->v);
    }
    for (int j = 0, next = 0; j < t->space.n_params; j++) {
        if (next < n_joint && joint[next] == j) {
            next++;
            continue;
        }
        tpe_rng r;
        rng_init(&r, t->seed, 0x54504500u + (uint32_t)j, (uint64_t)number);
        suggest_group(t, &j, 1, idx, nb, idx + nb, m - nb, w_by_obs, &wk, &r, out->v);
    }
done:
    free(idx);
    free(keys);
    free(w_by_obs);
    free(wk.mem);
    free(wk.pairs);
    free(wk.active);
    free(wk.pos);
    free(wk.set);
    return s;
}

dr_status dr_tpe_tell(dr_tpe *t, const dr_tpe_trial *trial, dr_tpe_state state, double objective)
{
    if (!t || !trial)
        return dr_error(DR_ERR_INVALID, "tpe_tell: null argument");
    if (state != DR_TPE_COMPLETE && state != DR_TPE_PRUNED && state != DR_TPE_FAILED)
        return dr_error(DR_ERR_INVALID, "tpe_tell: unknown trial state %d", (int)state);
    if (state == DR_TPE_COMPLETE && !isfinite(objective))
        return dr_error(DR_ERR_NUMERIC,
                        "tpe_tell: trial %ld completed with objective %g; tell it as "
                        "DR_TPE_FAILED instead",
                        trial->number, objective);
    for (int j = 0; j < t->space.n_params; j++) {
        const dr_tpe_param *p = &t->space.p[j];
        double v = trial->v[j];
        if (isnan(v)) /* inactive: a conditional parameter whose condition was false */
            continue;
        if (!(v >= p->lo && v <= p->hi) || ((is_int(p->kind) || p->kind == DR_TPE_CATEGORICAL) &&
                                            v != floor(v)))
            return dr_error(DR_ERR_INVALID, "tpe_tell: trial %ld: '%s' = %g outside its space",
                            trial->number, p->name, v);
    }
    if (t->n_obs == t->cap) {
        long cap = t->cap ? 2 * t->cap : 64;
        tpe_obs *o = realloc(t->obs, (size_t)cap * sizeof *o);
        if (!o)
            return dr_error(DR_ERR_NOMEM, "tpe_tell: history of %ld trials", cap);
        t->obs = o;
        t->cap = cap;
    }
    for (int j = 0; j < t->space.n_params && t->n_obs == t->by_value_cap; j++) {
        long *b = realloc(t->by_value[j], (size_t)(2 * t->by_value_cap + 64) * sizeof *b);
        if (!b)
            return dr_error(DR_ERR_NOMEM, "tpe_tell: history of %ld trials", t->n_obs);
        t->by_value[j] = b;
    }
    if (t->n_obs == t->by_value_cap)
        t->by_value_cap = 2 * t->by_value_cap + 64;
    tpe_obs *o = &t->obs[t->n_obs];
    memset(o, 0, sizeof *o);
    memcpy(o->v, trial->v, sizeof o->v);
    o->state = state;
    o->loss = state == DR_TPE_COMPLETE ? (t->o.maximize ? -objective : objective) : NAN;
    o->order = t->n_obs;
    o->number = trial->number;
    for (int j = 0; j < t->space.n_params; j++) {
        if (t->space.p[j].kind == DR_TPE_CATEGORICAL || isnan(o->v[j]))
            continue;
        long *b = t->by_value[j], lo = 0, hi = t->n_by_value[j];
        while (lo < hi) { /* after every equal value: ties stay in told order */
            long mid = lo + (hi - lo) / 2;
            if (t->obs[b[mid]].v[j] <= o->v[j])
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(b + lo + 1, b + lo, (size_t)(t->n_by_value[j] - lo) * sizeof *b);
        b[lo] = t->n_obs;
        t->n_by_value[j]++;
    }
    t->n_told = ++t->n_obs;
    return DR_OK;
}

dr_status dr_tpe_best(const dr_tpe *t, dr_tpe_trial *trial, double *objective)
{
    if (!t)
        return dr_error(DR_ERR_INVALID, "tpe_best: null sampler");
    long best = -1;
    for (long i = 0; i < t->n_obs; i++)
        if (t->obs[i].state == DR_TPE_COMPLETE && (best < 0 || t->obs[i].loss < t->obs[best].loss))
            best = i;
    if (best < 0)
        return dr_error(DR_ERR_INVALID, "tpe_best: no completed trial among %ld told", t->n_obs);
    if (trial) {
        memset(trial, 0, sizeof *trial);
        trial->number = t->obs[best].number;
        memcpy(trial->v, t->obs[best].v, sizeof trial->v);
    }
    if (objective)
        *objective = t->o.maximize ? -t->obs[best].loss : t->obs[best].loss;
    return DR_OK;
}

void dr_tpe_counts(const dr_tpe *t, long *n_complete, long *n_pruned, long *n_failed)
{
    long c[4] = {0, 0, 0, 0};
    for (long i = 0; t && i < t->n_obs; i++)
        c[t->obs[i].state]++;
    if (n_complete)
        *n_complete = c[DR_TPE_COMPLETE];
    if (n_pruned)
        *n_pruned = c[DR_TPE_PRUNED];
    if (n_failed)
        *n_failed = c[DR_TPE_FAILED];
}

dr_status dr_tpe_to_simplex(double *w, const double *raw, int k)
{
    if (!w || !raw || k < 1)
        return dr_error(DR_ERR_INVALID, "tpe_to_simplex: null argument or k = %d", k);
    double s = 0.0;
    for (int i = 0; i < k; i++) {
        if (!(raw[i] >= 0.0) || !isfinite(raw[i]))
            return dr_error(DR_ERR_INVALID, "tpe_to_simplex: raw[%d] = %g, expected >= 0", i,
                            raw[i]);
        s += raw[i];
    }
    for (int i = 0; i < k; i++)
        w[i] = s > 0.0 ? raw[i] / s : 1.0 / k;
    return DR_OK;
}
