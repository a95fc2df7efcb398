/* Weighted-average ensemble of K members' probabilities, the weights chosen on the
 * simplex to maximise validation AUC by Bayesian optimisation (the TPE sampler of
 * experiments/tpe.h), as in the paper (Xia et al. 2024).
 *
 * Parametrisation: K independent raw weights r_i ~ uniform(0, 1), one TPE parameter
 * each, normalised w_i = r_i / sum r (dr_tpe_to_simplex). It covers the whole
 * simplex and keeps every TPE parameter independent, which is what the
 * per-parameter Parzen estimators model; the price is that the map is many-to-one
 * (r and 2r give the same w), which only wastes some trials.
 *
 * Before the TPE trials the search evaluates equal weights and each member alone
 * (told to the sampler as completed trials, so they also seed its model) unless
 * enqueue_baselines is 0. The result is the best weight vector evaluated; with the
 * baselines enqueued its validation AUC is therefore never below equal weights' or
 * the best member's (ties keep the earliest: equal weights first).
 *
 * Bagging (n_bootstrap = R > 0): the search runs R times, each on a stratified
 * bootstrap resample of the validation set (positives and negatives drawn with
 * replacement within their class), and the weights are the mean of the R winners.
 * With few validation defaults one search fits the weights to that sample's noise
 * (on the Lending Club sample, 77 defaults, more trials gave lower test AUC);
 * averaging winners over resamples keeps what they share. val_auc is then the
 * averaged weights' AUC on the whole validation set.
 *
 * AUC: dr_auc_f64 (data/auc.h, exact rank statistic) on the blend in double, so
 * weighting does not create ties that float rounding would. */
#ifndef DR_EXPERIMENTS_ENSEMBLE_H
#define DR_EXPERIMENTS_ENSEMBLE_H

#include <stdint.h>

#include "core/status.h"
#include "experiments/tpe.h"

enum { DR_ENSEMBLE_MAX_MEMBERS = 16 };

typedef struct dr_ensemble_options {
    int n_trials;          /* TPE trials after the baselines (200) */
    int enqueue_baselines; /* 1: evaluate equal weights and single members first (1) */
    int n_bootstrap;       /* 0: one search; R > 0: bagged over R resamples (0) */
    uint64_t seed;
    dr_tpe_options tpe;    /* sampler options; maximize is forced on */
} dr_ensemble_options;

void dr_ensemble_options_default(dr_ensemble_options *o);

typedef struct dr_ensemble_result {
    int k;
    double weights[DR_ENSEMBLE_MAX_MEMBERS]; /* chosen, sum 1 */
    double val_auc, test_auc;                /* of the chosen weights */
    double equal_val_auc, equal_test_auc;    /* weights 1/K */
    int best_member;                         /* single member with the best val AUC */
    double member_val_auc[DR_ENSEMBLE_MAX_MEMBERS], member_test_auc[DR_ENSEMBLE_MAX_MEMBERS];
    int n_evaluated; /* weight vectors scored on validation (or its resamples) */
} dr_ensemble_result;

/* val_prob[i] [n_val] is member i's validation probabilities, val_label [n_val] in
 * {0, 1}; the same for test (test_prob / test_label may be NULL and n_test 0: test
 * AUCs are then NaN). The test set is only scored, never searched on. o may be NULL
 * for the defaults. */
dr_status dr_ensemble_fit(dr_ensemble_result *r, int k, const float *const *val_prob,
                          const float *val_label, long n_val, const float *const *test_prob,
                          const float *test_label, long n_test, const dr_ensemble_options *o);

/* out [n] = sum_i w[i] * prob[i][j], accumulated in double. */
dr_status dr_ensemble_blend(float *out, const double *w, int k, const float *const *prob, long n);

#endif
