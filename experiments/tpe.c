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

/* ---- truncated Gaussian mixture (one Parzen estimator of a numeric parameter) ---- */

typedef struct tpe_mix {
    int n;
    double a, b;                /* truncation range (internal coordinates) */
    double *mu, *sigma, *w, *z; /* z: mass of each component inside [a, b] */
} tpe_mix;

typedef struct tpe_pair {
    double x, w;
} tpe_pair;

static int pair_cmp(const void *p, const void *q)
{
    double x = ((const tpe_pair *)p)->x, y = ((const tpe_pair *)q)->x;
    return (x > y) - (x < y);
}

/* vals [n] with weights [n] (sorted here), plus the prior N((a+b)/2, b-a) of weight
 * prior_weight. Bandwidth of each point: the larger distance to its sorted
 * neighbours (the prior counts as a neighbour), clipped to
 * [(b-a) / min(100, n_components), b-a] (Optuna's "magic clip"); the prior keeps
 * width b-a. mix arrays must hold n + 1 entries; pairs is scratch of n + 1. */
static void mix_fit(tpe_mix *m, tpe_pair *pairs, const double *vals, const double *wts, int n,
                    double a, double b, const dr_tpe_options *o)
{
    int prior_at = 0;
    for (int i = 0; i < n; i++) {
        pairs[i].x = vals[i];
        pairs[i].w = wts[i];
    }
    qsort(pairs, (size_t)n, sizeof *pairs, pair_cmp);
    double pmu = 0.5 * (a + b), range = b - a;
    while (prior_at < n && pairs[prior_at].x <= pmu)
        prior_at++;
    memmove(pairs + prior_at + 1, pairs + prior_at, (size_t)(n - prior_at) * sizeof *pairs);
    pairs[prior_at].x = pmu;
    pairs[prior_at].w = o->prior_weight;
    int k = n + 1;
    double minsigma = range / fmin(100.0, (double)k), wsum = 0.0;
    for (int i = 0; i < k; i++) {
        double s = 0.0;
        int have = 0;
        if (i > 0 || o->consider_endpoints) {
            s = pairs[i].x - (i > 0 ? pairs[i - 1].x : a);
            have = 1;
        }
        if (i < k - 1 || o->consider_endpoints) {
            double r = (i < k - 1 ? pairs[i + 1].x : b) - pairs[i].x;
            s = have ? fmax(s, r) : r;
            have = 1;
        }
        if (!have)
            s = range;
        s = fmin(fmax(s, minsigma), range);
        if (i == prior_at)
            s = range;
        m->mu[i] = pairs[i].x;
        m->sigma[i] = s;
        m->w[i] = pairs[i].w;
        m->z[i] = norm_cdf((b - m->mu[i]) / s) - norm_cdf((a - m->mu[i]) / s);
        wsum += pairs[i].w;
    }
    for (int i = 0; i < k; i++)
        m->w[i] /= wsum;
    m->n = k;
    m->a = a;
    m->b = b;
}

static double mix_sample(const tpe_mix *m, tpe_rng *r)
{
    double u = rng_u01(r), acc = 0.0;
    int i = 0;
    for (; i < m->n - 1; i++) {
        acc += m->w[i];
        if (u < acc)
            break;
    }
    double s = m->sigma[i], mu = m->mu[i];
    double pa = norm_cdf((m->a - mu) / s), pb = norm_cdf((m->b - mu) / s);
    double x = mu + s * norm_icdf(pa + rng_u01(r) * (pb - pa));
    return x < m->a ? m->a : x > m->b ? m->b : x;
}

/* log density at x (continuous) or log mass of the bin [lo, hi] (integers). */
static double mix_logp(const tpe_mix *m, double x, double lo, double hi, int binned)
{
    double p = 0.0;
    for (int i = 0; i < m->n; i++) {
        double s = m->sigma[i], mu = m->mu[i];
        double q;
        if (binned) {
            q = norm_cdf((hi - mu) / s) - norm_cdf((lo - mu) / s);
        } else {
            double t = (x - mu) / s;
            q = exp(-0.5 * t * t) / (s * sqrt(2.0 * TPE_PI));
        }
        p += m->w[i] * q / m->z[i];
    }
    return log(fmax(p, DBL_MIN));
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
};

void dr_tpe_options_default(dr_tpe_options *o)
{
    o->n_startup = 10;
    o->n_ei_candidates = 24;
    o->gamma = 0.1;
    o->gamma_cap = 25;
    o->prior_weight = 1.0;
    o->maximize = 0;
    o->consider_endpoints = 0;
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

static int order_cmp(const void *p, const void *q)
{
    long x = ((const tpe_key *)p)->order, y = ((const tpe_key *)q)->order;
    return (x > y) - (x < y);
}

/* Weights by age within a group: sorted by told order, rank = position. The group's
 * keys are reordered; idx receives the group's observation indices. */
static void group_weights(tpe_key *keys, long m, long *idx, double *w_by_obs)
{
    qsort(keys, (size_t)m, sizeof *keys, order_cmp);
    for (long r = 0; r < m; r++) {
        idx[r] = keys[r].idx;
        w_by_obs[keys[r].idx] = age_weight(r, m);
    }
}

/* Picks one parameter's value by l(x) / g(x); below / above are observation
 * indices. scratch holds 4 * (n_obs + 1) doubles + 2 pair arrays. */
static double suggest_param(const dr_tpe *t, int j, const long *below, long nb, const long *above,
                            long na, const double *w_by_obs, double *scratch, tpe_pair *pairs,
                            tpe_rng *r)
{
    const dr_tpe_param *p = &t->space.p[j];
    const dr_tpe_options *o = &t->o;
    /* a conditional parameter is fitted on the trials where it was active only */
    long *active = (long *)(pairs + t->n_obs + 1), nb_act = 0, na_act = 0;
    for (long i = 0; i < nb; i++)
        if (!isnan(t->obs[below[i]].v[j]))
            active[nb_act++] = below[i];
    for (long i = 0; i < na; i++)
        if (!isnan(t->obs[above[i]].v[j]))
            active[nb_act + na_act++] = above[i];
    below = active;
    above = active + nb_act;
    nb = nb_act;
    na = na_act;
    if (p->kind == DR_TPE_CATEGORICAL) {
        double lw[DR_TPE_MAX_CHOICES], gw[DR_TPE_MAX_CHOICES], ls = 0.0, gs = 0.0;
        for (int c = 0; c < p->n_choices; c++)
            lw[c] = gw[c] = o->prior_weight / p->n_choices;
        for (long i = 0; i < nb; i++)
            lw[(int)t->obs[below[i]].v[j]] += w_by_obs[below[i]];
        for (long i = 0; i < na; i++)
            gw[(int)t->obs[above[i]].v[j]] += w_by_obs[above[i]];
        for (int c = 0; c < p->n_choices; c++) {
            ls += lw[c];
            gs += gw[c];
        }
        int best = 0;
        double best_score = -INFINITY;
        for (int e = 0; e < o->n_ei_candidates; e++) {
            double u = rng_u01(r) * ls, acc = 0.0;
            int c = 0;
            for (; c < p->n_choices - 1; c++) {
                acc += lw[c];
                if (u < acc)
                    break;
            }
            double score = log(lw[c] / ls) - log(gw[c] / gs);
            if (score > best_score) {
                best_score = score;
                best = c;
            }
        }
        return best;
    }
    long n = t->n_obs + 1;
    double *vals = scratch, *wts = scratch + n;
    double a, b;
    internal_range(p, &a, &b);
    tpe_mix l, g;
    double *mem = scratch + 2 * n; /* 8 arrays of n for the two mixtures */
    l.mu = mem;
    l.sigma = mem + n;
    l.w = mem + 2 * n;
    l.z = mem + 3 * n;
    g.mu = mem + 4 * n;
    g.sigma = mem + 5 * n;
    g.w = mem + 6 * n;
    g.z = mem + 7 * n;
    for (long i = 0; i < nb; i++) {
        vals[i] = to_internal(p, t->obs[below[i]].v[j]);
        wts[i] = w_by_obs[below[i]];
    }
    mix_fit(&l, pairs, vals, wts, (int)nb, a, b, o);
    for (long i = 0; i < na; i++) {
        vals[i] = to_internal(p, t->obs[above[i]].v[j]);
        wts[i] = w_by_obs[above[i]];
    }
    mix_fit(&g, pairs, vals, wts, (int)na, a, b, o);
    double best = 0.0, best_score = -INFINITY;
    int binned = is_int(p->kind);
    for (int e = 0; e < o->n_ei_candidates; e++) {
        double x = from_internal(p, mix_sample(&l, r)), lo = 0.0, hi = 0.0;
        double z = to_internal(p, x);
        if (binned)
            bin_edges(p, x, &lo, &hi);
        double score = mix_logp(&l, z, lo, hi, binned) - mix_logp(&g, z, lo, hi, binned);
        if (score > best_score) {
            best_score = score;
            best = x;
        }
    }
    return best;
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
    /* Optuna: the start-up count is of finished trials, the split of every trial
     * in the model, liars included */
    long nb = (long)ceil(t->o.gamma * (double)(n_used + n_running));
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
    long *idx = malloc((size_t)n * sizeof *idx);
    tpe_key *keys = malloc((size_t)n * sizeof *keys);
    double *w_by_obs = malloc((size_t)n * sizeof *w_by_obs);
    double *scratch = malloc((size_t)n * 10 * sizeof *scratch);
    /* pairs, then the active observation indices of one parameter */
    tpe_pair *pairs = malloc((size_t)(n + 1) * sizeof *pairs + (size_t)n * sizeof(long));
    if (!idx || !keys || !w_by_obs || !scratch || !pairs) {
        free(idx);
        free(keys);
        free(w_by_obs);
        free(scratch);
        free(pairs);
        return dr_error(DR_ERR_NOMEM, "tpe_suggest: scratch for %ld trials", t->n_obs);
    }
    long m = 0;
    for (long i = 0; i < t->n_obs; i++)
        if (t->obs[i].state != DR_TPE_FAILED) {
            keys[m].rank_class = t->obs[i].state == DR_TPE_COMPLETE ? 0 : t->obs[i].state == DR_TPE_PRUNED ? 1 : 2;
            keys[m].loss = t->obs[i].loss;
            keys[m].order = t->obs[i].order;
            keys[m].idx = i;
            m++;
        }
    qsort(keys, (size_t)m, sizeof *keys, rank_cmp);
    group_weights(keys, nb, idx, w_by_obs);
    group_weights(keys + nb, m - nb, idx + nb, w_by_obs);
    for (int j = 0; j < t->space.n_params; j++) {
        tpe_rng r;
        rng_init(&r, t->seed, 0x54504500u + (uint32_t)j, (uint64_t)number);
        out->v[j] = suggest_param(t, j, idx, nb, idx + nb, m - nb, w_by_obs, scratch, pairs, &r);
    }
    free(idx);
    free(keys);
    free(w_by_obs);
    free(scratch);
    free(pairs);
    return DR_OK;
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
    tpe_obs *o = &t->obs[t->n_obs];
    memset(o, 0, sizeof *o);
    memcpy(o->v, trial->v, sizeof o->v);
    o->state = state;
    o->loss = state == DR_TPE_COMPLETE ? (t->o.maximize ? -objective : objective) : NAN;
    o->order = t->n_obs;
    o->number = trial->number;
    t->n_obs++;
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
