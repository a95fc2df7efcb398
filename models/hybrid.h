/* The paper's hybrid network (Xia et al. 2024) on the autograd graph.
 *
 *   flat features [F], ordered by feature group
 *     per group g: slice [F_g] -> [1, F_g]
 *        3 x { conv(k) -> batch norm -> ReLU, + residual (1x1 conv projection
 *              when the channel count changes) }, filters f1/f2/f3
 *        -> max-pool(pool) -> P_g [f3, L_g]
 *        summary S_g = max over positions of P_g [f3]
 *   LSTM(units) over the history sequence [T, C] when the data has one, else
 *   over the branches' positions (P_g transposed and joined in time: [sum L_g, f3])
 *     -> additive attention -> context [units]
 *   [S_1 .. S_G, context] -> { linear -> batch norm -> ReLU -> dropout } per FC
 *     layer -> linear -> 1 logit
 * Every size comes from the experiment file. */
#ifndef DR_MODELS_HYBRID_H
#define DR_MODELS_HYBRID_H

#include "core/graph.h"

enum { DR_HYBRID_MAX_GROUPS = 8, DR_HYBRID_MAX_FC = 4 };

typedef struct dr_hybrid_config {
    int n_groups;
    int group_size[DR_HYBRID_MAX_GROUPS]; /* features per group, in input order */
    int filters[3];
    int kernel[3];
    int pool;
    int lstm_units;
    int attention_dim;
    int seq_len, seq_channels; /* 0, 0 when the data has no history sequence */
    int n_fc;
    int fc[DR_HYBRID_MAX_FC];
    float dropout;
    dr_loss_params loss;
    int input_gradients; /* differentiable inputs, for expected gradients */
} dr_hybrid_config;

typedef struct dr_hybrid {
    dr_graph *g;
    dr_value x;     /* [F] */
    dr_value seq;   /* [T, C], id < 0 without a sequence */
    dr_value y;     /* [1] */
    dr_value logit; /* [1] */
    dr_value prob;  /* [1] */
    dr_value loss;  /* scalar */
    dr_value alpha; /* attention weights [T] */
    int n_features;
} dr_hybrid;

struct dr_config;
/* Reads [model] (filters, kernel_sizes, pool, lstm_units, attention_dim, fc,
 * dropout) and the loss keys of [train] (loss_alpha, focal_gamma, pos_weight). Groups and
 * the sequence shape come from the data, not from here. */
dr_status dr_hybrid_config_read(struct dr_config *cfg, dr_hybrid_config *out);

/* Builds the network into a new graph on be and plans it for max_batch. */
dr_status dr_hybrid_build(dr_hybrid *m, dr_backend *be, const dr_hybrid_config *cfg, uint64_t seed,
                          int max_batch);
void dr_hybrid_free(dr_hybrid *m);

#endif
