/* Internals of the TPE sampler (experiments/tpe.h), shared by its parts:
 *   tpe_space.c   the search space and its internal scale (log, integer bins)
 *   tpe_parzen.c  the Parzen estimator: random draws, fitting, sampling, log-density
 *   tpe.c         the sampler: history, ranking, splitting, suggestions, tell */
#ifndef DR_EXPERIMENTS_TPE_INTERNAL_H
#define DR_EXPERIMENTS_TPE_INTERNAL_H

#include <math.h>

#include "core/random.h"
#include "experiments/tpe.h"

static const double TPE_PI = 3.14159265358979323846;
static const double TPE_SQRT1_2 = 0.70710678118654752440;

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

/* The internal scale of a numeric parameter: log for log ones; integers
 * as bins of width 1 around each value. */
static inline int tpe_is_log(dr_tpe_kind k) { return k == DR_TPE_LOG_FLOAT || k == DR_TPE_LOG_INT; }
static inline int tpe_is_int(dr_tpe_kind k) { return k == DR_TPE_INT || k == DR_TPE_LOG_INT; }

static inline void tpe_bin_edges(const dr_tpe_param *p, double k, double *a, double *b)
{
    double lo = tpe_is_int(p->kind) ? k - 0.5 : k, hi = tpe_is_int(p->kind) ? k + 0.5 : k;
    *a = tpe_is_log(p->kind) ? log(lo) : lo;
    *b = tpe_is_log(p->kind) ? log(hi) : hi;
}

static inline void tpe_internal_range(const dr_tpe_param *p, double *a, double *b)
{
    double ta, tb;
    tpe_bin_edges(p, p->lo, a, &ta);
    tpe_bin_edges(p, p->hi, &tb, b);
}

static inline double tpe_to_internal(const dr_tpe_param *p, double v) { return tpe_is_log(p->kind) ? log(v) : v; }

static inline double tpe_from_internal(const dr_tpe_param *p, double z)
{
    double v = tpe_is_log(p->kind) ? exp(z) : z;
    if (tpe_is_int(p->kind))
        v = floor(v + 0.5);
    return v < p->lo ? p->lo : v > p->hi ? p->hi : v;
}

/* tpe_parzen.c */
double tpe_rng_u01(dr_philox_stream *r);
void tpe_kde_logp(const tpe_kde *m, const dr_tpe_space *sp, const double *x, int n_x, double *out,
                     double *terms, double *col);
void tpe_kde_sample(const tpe_kde *m, const dr_tpe_space *sp, dr_philox_stream *r, double *x);
void tpe_kde_fit(tpe_kde *m, const dr_tpe *t, const long *obs, long n, const double *w_by_obs,
                    tpe_pair *pairs, long *pos);

#endif
