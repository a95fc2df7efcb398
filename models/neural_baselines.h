/* The neural baselines on the same core as the hybrid network:
 *   logistic regression: linear -> 1 logit, trained with plain BCE
 *   MLP: { linear -> batch norm -> ReLU -> dropout } per hidden layer -> 1 logit
 *   linear SVM: linear -> 1 score, trained with the hinge loss (loss.hinge = 1) and
 *   L2 weight decay; io->prob then holds the raw score (the margin), which the
 *   caller turns into a probability by Platt scaling (models/platt.h)
 * All read flat features only (no sequence). */
#ifndef DR_MODELS_NEURAL_BASELINES_H
#define DR_MODELS_NEURAL_BASELINES_H

#include "core/ops/loss.h"
#include "models/model_io.h"

typedef struct dr_mlp_config {
    int n_hidden;   /* 0: logistic regression */
    int hidden[4];
    float dropout;
    dr_loss_params loss;
    int input_gradients; /* a differentiable input, for expected gradients */
} dr_mlp_config;

/* Builds into a new graph on be, planned for max_batch; io receives the values
 * training needs. Free with dr_graph_free(io->g). */
dr_status dr_mlp_build(dr_model_io *io, dr_backend *be, const dr_mlp_config *cfg, int n_features, uint64_t seed,
                       int max_batch);

#endif
