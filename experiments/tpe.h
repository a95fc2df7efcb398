/* Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio, Kegl, "Algorithms for
 * Hyper-Parameter Optimization", NIPS 2011), independent per parameter, with the
 * defaults Optuna's TPESampler uses.
 *
 * Ask/tell: dr_tpe_suggest() proposes values, the caller runs the trial and hands
 * the values back with dr_tpe_tell(). Told values need not come from suggest (a
 * resumed study replays its history; an ensemble search enqueues equal weights).
 *
 * Per suggestion, after n_startup told trials (Optuna 5's TPESampler, which this
 * follows in its defaults):
 *   1. rank the completed trials by objective (pruned trials rank below all of them,
 *      failed trials are left out), the best n_below = min(ceil(gamma * n), gamma_cap)
 *      of the n finished ones form the "good" set, the rest and the running trials
 *      (constant liars) the "bad" set;
 *   2. fit l(x) to the good trials and g(x) to the bad ones, each a mixture of one
 *      product kernel per trial plus a prior component (weight prior_weight; older
 *      trials weigh less past 25): per numeric parameter a Gaussian truncated to the
 *      range with a bandwidth from the distances to its sorted neighbours (clipped
 *      below at range / min(100, n + 2)), the prior centred with width = range; per
 *      categorical one a row that puts 1 + prior_weight / kernels on the observed
 *      choice and prior_weight / kernels on each other, the prior uniform;
 *   3. draw n_ei_candidates from l and keep the one with the largest l(x) / g(x).
 * multivariate (the default, as Optuna's for one objective): the parameters active
 * in every finished trial form one mixture, drawn jointly; the others (conditional
 * ones) are drawn one by one. Off: every parameter alone (the independent TPE).
 * Before n_startup, values are uniform (log-uniform for log parameters).
 *
 * Internally float parameters live in x, log parameters in ln x, integers as the
 * bins [k - 1/2, k + 1/2] (scored by bin mass, not density).
 *
 * Randomness: Philox (core/philox.h) keyed by the seed, one stream per parameter,
 * counter = suggestion number; so the same seed and the same tell history give
 * bit-identical suggestions. Not thread-safe: one coordinator owns a sampler. */
#ifndef DR_EXPERIMENTS_TPE_H
#define DR_EXPERIMENTS_TPE_H

#include <stdint.h>

#include "core/status.h"

enum { DR_TPE_MAX_PARAMS = 32, DR_TPE_MAX_CHOICES = 32, DR_TPE_NAME_CAP = 48 };

typedef enum dr_tpe_kind {
    DR_TPE_FLOAT,       /* uniform on [lo, hi] */
    DR_TPE_LOG_FLOAT,   /* log-uniform on [lo, hi], 0 < lo */
    DR_TPE_INT,         /* integers lo .. hi inclusive */
    DR_TPE_LOG_INT,     /* integers lo .. hi, spread on a log scale, 0 < lo */
    DR_TPE_CATEGORICAL  /* index 0 .. n_choices - 1; the caller maps it to a meaning */
} dr_tpe_kind;

typedef struct dr_tpe_param {
    char name[DR_TPE_NAME_CAP];
    dr_tpe_kind kind;
    double lo, hi;  /* numeric kinds */
    int n_choices;  /* categorical */
} dr_tpe_param;

typedef struct dr_tpe_space {
    int n_params;
    dr_tpe_param p[DR_TPE_MAX_PARAMS];
} dr_tpe_space;

/* Builders: check the range and the name (unique, fits DR_TPE_NAME_CAP). Start from a
 * zeroed space: dr_tpe_space s = {0}; */
dr_status dr_tpe_space_add_float(dr_tpe_space *s, const char *name, double lo, double hi, int log);
dr_status dr_tpe_space_add_int(dr_tpe_space *s, const char *name, long lo, long hi, int log);
dr_status dr_tpe_space_add_categorical(dr_tpe_space *s, const char *name, int n_choices);
/* Index of the parameter called name, or -1. */
int dr_tpe_space_find(const dr_tpe_space *s, const char *name);

typedef enum dr_tpe_state {
    DR_TPE_COMPLETE, /* objective is finite and counts */
    DR_TPE_PRUNED,   /* stopped early: ranks below every completed trial */
    DR_TPE_FAILED,   /* crashed or diverged: excluded from the model */
    DR_TPE_RUNNING   /* only as a constant liar in dr_tpe_suggest_at, never told */
} dr_tpe_state;

typedef struct dr_tpe_options {
    int n_startup;       /* told trials sampled at random first (10) */
    int n_ei_candidates; /* draws from l(x) per parameter (24) */
    double gamma;        /* fraction of completed trials in the good set (0.1) */
    int gamma_cap;       /* at most this many good trials (25) */
    double prior_weight; /* weight of the prior component / pseudo-count (1.0) */
    int maximize;        /* 0: minimise the objective, 1: maximise it */
    int consider_endpoints; /* bandwidths at the range ends use the range bounds (0) */
    int multivariate;       /* the always-active parameters as one joint mixture (1) */
} dr_tpe_options;

void dr_tpe_options_default(dr_tpe_options *o);

/* One trial's values, indexed like space->p. Integers and categorical indices are
 * stored as exact integral doubles; NaN marks a parameter that was inactive in the
 * trial (a conditional one whose condition did not hold): each parameter's model
 * is fitted on the trials where it was active. */
typedef struct dr_tpe_trial {
    long number; /* suggestion number (0, 1, ...); -1 for values not from suggest */
    double v[DR_TPE_MAX_PARAMS];
} dr_tpe_trial;

typedef struct dr_tpe dr_tpe;

/* o may be NULL for the defaults. The space is copied. */
dr_status dr_tpe_create(dr_tpe **out, const dr_tpe_space *space, uint64_t seed,
                        const dr_tpe_options *o);
void dr_tpe_free(dr_tpe *t);

dr_status dr_tpe_suggest(dr_tpe *t, dr_tpe_trial *out);
/* Suggestion number `number` (its random streams' counter) from the told trials
 * plus the running ones as constant liars (Optuna's constant_liar: ranked below
 * every finished trial, so the sampler looks away from what is being tried).
 * Leaves the history and the suggestion count as they were: the same told
 * trials, liars and number give the same values, whatever happened in between. */
dr_status dr_tpe_suggest_at(dr_tpe *t, long number, const dr_tpe_trial *running, int n_running,
                            dr_tpe_trial *out);
/* objective is ignored for PRUNED and FAILED (pass NAN); a COMPLETE trial needs a
 * finite one. Values are checked against the space. */
dr_status dr_tpe_tell(dr_tpe *t, const dr_tpe_trial *trial, dr_tpe_state state, double objective);

/* Best completed trial so far (by the study's direction); DR_ERR_INVALID when none. */
dr_status dr_tpe_best(const dr_tpe *t, dr_tpe_trial *trial, double *objective);
/* Counts of told trials: completed, pruned, failed (any pointer may be NULL). */
void dr_tpe_counts(const dr_tpe *t, long *n_complete, long *n_pruned, long *n_failed);

/* Simplex helper: w[i] = raw[i] / sum(raw) over k >= 1 non-negative raw values;
 * equal weights when the sum is 0. */
dr_status dr_tpe_to_simplex(double *w, const double *raw, int k);

#endif
