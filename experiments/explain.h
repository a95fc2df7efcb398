/* [explain]: SHAP values of the test loans and LIME explanations of single
 * loans for the models named in explain.models, written to explain.h5 by the
 * report: exact TreeSHAP from their libraries for the tree models
 * (models/trees.h), expected gradients (experiments/expected_gradients.h) for
 * the network and the other neural models; the ensemble is refused with the
 * reason. */
#ifndef DR_EXPERIMENTS_EXPLAIN_H
#define DR_EXPERIMENTS_EXPLAIN_H

#include "core/config.h"
#include "experiments/lime.h"

enum { DR_EXPLAIN_MAX_MODELS = 8 };

typedef struct dr_explain {
    int n_models;
    const char *model[DR_EXPLAIN_MAX_MODELS]; /* owned by the config */
    long rows;                                /* test loans explained: the first `rows` of the split */
    int top;                                  /* features listed in the log */
    long samples, background;                 /* expected gradients: draws per loan, training rows */
    const char *method[DR_EXPLAIN_MAX_MODELS]; /* "TreeSHAP", "expected gradients" */
    float *phi[DR_EXPLAIN_MAX_MODELS];        /* [rows, n_features + 1], the expected value last */
    float *phi_seq[DR_EXPLAIN_MAX_MODELS];    /* [rows, seq channels] summed over the steps, or NULL */
    float *margin[DR_EXPLAIN_MAX_MODELS];     /* [rows] log-odds (the SVM: its margin) */
    /* LIME (experiments/lime.h) for the first lime_rows test loans */
    long lime_rows, lime_samples;
    int lime_features, lime_seeds;
    uint64_t seed;
    dr_lime_result *lime[DR_EXPLAIN_MAX_MODELS]; /* [lime_rows] with the first seed */
    double *stability[DR_EXPLAIN_MAX_MODELS];    /* [lime_rows] share of seeds with the same top 5 */
} dr_explain;

/* Reads [explain]; every model must be among trained[0 .. n_trained), the
 * background no larger than the n_train training rows. */
dr_status dr_explain_settings(dr_config *cfg, const char *const *trained, int n_trained, long n_train, long n_test,
                              uint64_t seed, dr_explain *ex);
/* The slot of `model`, or -1 when it is not explained. */
int dr_explain_slot(const dr_explain *ex, const char *model);
void dr_explain_free(dr_explain *ex);

#endif
