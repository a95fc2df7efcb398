/* LIME for one loan (Ribeiro et al. 2016), the tabular algorithm of the lime
 * package's LimeTabularExplainer with its defaults:
 *   - quartile discretisation of each input on the training rows;
 *   - perturbations from training statistics: each input's bin drawn with the
 *     bins' training frequencies, its value from a normal with the bin's
 *     training mean and standard deviation, truncated to the bin; the first
 *     sample is the loan itself;
 *   - each sample's binary view (1 where an input falls in the loan's bin),
 *     its distance to the loan over those columns scaled by the training
 *     standard deviation of the bin indices, and the kernel
 *     sqrt(exp(-d^2 / w^2)) with w = 0.75 sqrt(inputs);
 *   - the K inputs of largest |coefficient| in a weighted ridge (alpha 0.01)
 *     over all of them, then a weighted ridge (alpha 1) over those K: the
 *     explanation, its intercept and weighted R^2.
 * Random draws come from Philox (seed), so the same seed gives the same
 * explanation; the lime package's NumPy stream is not reproduced. */
#ifndef DR_EXPERIMENTS_LIME_H
#define DR_EXPERIMENTS_LIME_H

#include <stdint.h>

#include "core/status.h"

/* The model: probabilities of default for n rows of x [n, d]. */
typedef dr_status (*dr_lime_predict_fn)(void *ctx, const float *x, long n, int d, float *prob);

/* Quartile bins of each input on the training rows. */
typedef struct dr_lime_stats {
    int d;
    int *n_bins;  /* [d] 1 .. 4 */
    float *edges; /* [d, 3] the distinct quartiles, ascending */
    double *freq, *mean, *std, *lo, *hi; /* [d, 4] per bin */
    double *bin_mean, *bin_std;          /* [d] mean and std of the bin indices (std 1 when 0) */
} dr_lime_stats;

dr_status dr_lime_fit(const float *x, long n, int d, dr_lime_stats *out);
void dr_lime_stats_free(dr_lime_stats *s);

typedef struct dr_lime_result {
    int k;
    int feature[64];   /* the K inputs, by decreasing |weight| */
    double weight[64]; /* their coefficients (on the binary "in the loan's bin" view) */
    double intercept, score, local_prediction;
} dr_lime_result;

/* k <= 64 inputs, n_samples >= 2. */
dr_status dr_lime_explain(const dr_lime_stats *s, const float *loan, dr_lime_predict_fn predict, void *ctx, int k,
                          long n_samples, uint64_t seed, dr_lime_result *out);

#endif
