/* SHAP values of a graph model by expected gradients (Erion et al. 2021), the
 * method of the shap package's GradientExplainer: for a loan x,
 *   phi_k = E_{b ~ background, a ~ U(0, 1)} [ (x_k - b_k) d f / d x_k (b + a (x - b)) ]
 * estimated from `samples` draws of (b, a) per loan, with f the model's logit
 * (log-odds, as TreeSHAP's margin). The base value is the mean of f over the
 * background: base + sum phi approaches f(x) as the samples grow, and the gap
 * (the additivity error) is reported, not forced to 0.
 *
 * The background is `n_background` training rows drawn without replacement;
 * every draw comes from Philox (seed), so the same seed gives the same values.
 * A history sequence, where the model reads one, is interpolated with the flat
 * inputs; its attributions are summed over the steps, one per channel. */
#ifndef DR_EXPERIMENTS_EXPECTED_GRADIENTS_H
#define DR_EXPERIMENTS_EXPECTED_GRADIENTS_H

#include "experiments/train.h"

typedef struct dr_eg_result {
    float *phi;     /* [n, d + 1]: the flat inputs' values, the base value last */
    float *phi_seq; /* [n, seq_channels], or NULL without a sequence */
    float *logit;   /* [n] f(x) */
} dr_eg_result;

/* The first `n` rows of `rows`. The model's graph must have been built with
 * differentiable inputs and its logit in m->logit; n_background <= background->n,
 * samples >= 1. */
dr_status dr_expected_gradients(const dr_model_io *m, const dr_rows *rows, long n, const dr_rows *background,
                                long n_background, long samples, uint64_t seed, dr_eg_result *out);
void dr_eg_result_free(dr_eg_result *r);

#endif
