/* [explain]: SHAP values of the test loans and LIME explanations of single
 * loans for the models named in explain.models, written to explain.h5 by the
 * report. explain.method = "auto" gives each model its exact or native method:
 * TreeSHAP from their libraries for the tree models (models/trees.h),
 * expected gradients (experiments/expected_gradients.h) for the network and
 * the other neural models, Kernel SHAP (experiments/kernel_shap.h) for the
 * ensemble; "kernel" gives every model Kernel SHAP on its log-odds.
 *
 * The ensemble: its blend is a weighted sum of the members' probabilities,
 * and Shapley values are linear in the game, so its values are the weighted
 * sum of the members' Kernel SHAP values on the probability scale, each
 * computed while the member is at hand, over the same background. They are
 * additive exactly: base + sum phi = the blend's probability. */
#ifndef DR_EXPERIMENTS_EXPLAIN_H
#define DR_EXPERIMENTS_EXPLAIN_H

#include "core/config.h"
#include "experiments/ensemble.h"
#include "experiments/kernel_shap.h"
#include "experiments/lime.h"

enum { DR_EXPLAIN_MAX_MODELS = 8 };

typedef struct dr_explain {
    int n_models;
    const char *model[DR_EXPLAIN_MAX_MODELS]; /* owned by the config */
    long rows;                                /* TreeSHAP and expected gradients: test loans explained */
    int top;                                  /* features listed in the log */
    int reasons;                              /* reasons.csv: principal reasons per loan (0: no file) */
    long samples, background;                 /* expected gradients: draws per loan, training rows */
    int kernel;                               /* explain.method = "kernel" */
    long kernel_rows, kernel_samples;         /* Kernel SHAP: loans, coalitions per loan */
    long kernel_background;                   /* k-means points */
    dr_kshap_background bg;                   /* of the training rows, made by the first model that needs it */
    const char *method[DR_EXPLAIN_MAX_MODELS]; /* "TreeSHAP", "expected gradients", "Kernel SHAP" */
    const char *scale[DR_EXPLAIN_MAX_MODELS];  /* "log-odds", or "probability" (the ensemble) */
    long n[DR_EXPLAIN_MAX_MODELS];             /* loans explained: the first n of the test split */
    float *phi[DR_EXPLAIN_MAX_MODELS];        /* [n, n_features + 1], the expected value last */
    float *phi_seq[DR_EXPLAIN_MAX_MODELS];    /* [n, seq_cols] summed over the steps, or NULL */
    int seq_cols[DR_EXPLAIN_MAX_MODELS];      /* the history's channels, or 1: the history as one input (Kernel SHAP) */
    float *margin[DR_EXPLAIN_MAX_MODELS];     /* [n] what base + sum phi adds up to (the SVM: its margin) */
    long interaction_rows;                    /* XGBoost's models: loans with SHAP interaction values */
    float *interaction[DR_EXPLAIN_MAX_MODELS]; /* [interaction_rows, d + 1, d + 1] (trees.h), or NULL */
    /* the ensemble's members (when "ensemble" is explained): Kernel SHAP on the
     * probability scale, [kernel_rows, n_features + 2] (the inputs, the history,
     * the base value), and the probabilities [kernel_rows] */
    int n_members;
    const char *member[DR_ENSEMBLE_MAX_MEMBERS];
    double *member_phi[DR_ENSEMBLE_MAX_MEMBERS], *member_prob[DR_ENSEMBLE_MAX_MEMBERS];
    float *member_lime[DR_ENSEMBLE_MAX_MEMBERS]; /* LIME's predictions [lime_rows, lime_seeds, lime_samples] */
    int member_history[DR_ENSEMBLE_MAX_MEMBERS]; /* the member reads the history */
    /* LIME (experiments/lime.h) for the first lime_rows test loans */
    long lime_rows, lime_samples;
    int lime_features, lime_seeds;
    dr_lime_stats lime_stats; /* of the training rows, fitted by the first model that needs them */
    uint64_t seed;
    dr_lime_result *lime[DR_EXPLAIN_MAX_MODELS]; /* [lime_rows] with the first seed */
    double *stability[DR_EXPLAIN_MAX_MODELS];    /* [lime_rows] share of seeds with the same top 5 */
} dr_explain;

/* Reads [explain]; every model must be among trained[0 .. n_trained) or be
 * "ensemble" with members[0 .. n_members) (n_members >= 2), the backgrounds no
 * larger than the n_train training rows, Kernel SHAP's coalitions at least
 * players + 1 (the d inputs and, with a history, one more). */
dr_status dr_explain_settings(dr_config *cfg, const char *const *trained, int n_trained, const char *const *members,
                              int n_members, long n_train, long n_test, int d, int has_history, uint64_t seed,
                              dr_explain *ex);
/* The slot of `model`, or -1 when it is not explained. */
int dr_explain_slot(const dr_explain *ex, const char *model);
/* The index of `model` among the ensemble's members when the ensemble is
 * explained, else -1. */
int dr_explain_member(const dr_explain *ex, const char *model);
void dr_explain_free(dr_explain *ex);

#endif
