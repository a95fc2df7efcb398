/* Kernel SHAP (Lundberg and Lee 2017) for any model, as the shap package's
 * KernelExplainer computes it: a loan's Shapley values as the weighted linear
 * regression of the model's output over coalitions of its inputs ("players"),
 * constrained so that base + sum phi = f(x).
 *   - A coalition S is worth E_b [f(x_S, b_~S)], the players outside S taken
 *     from point b of a weighted background (dr_kshap_kmeans).
 *   - Players whose value equals every background point's cannot move the
 *     output and get 0; the regression runs over the M others.
 *   - Coalition sizes are enumerated in full, the smallest and (paired) the
 *     largest first, while the sample budget covers a size; the rest are drawn
 *     in complementary pairs, sizes by the Shapley kernel's weights, a repeat
 *     adding to its first draw's weight.
 *   - No L1 selection: every varying player gets a value (shap's
 *     l1_reg=False; its default "auto" selects inputs by AIC when under 20 %
 *     of the coalitions are evaluated).
 * With every coalition enumerated (2^M - 2 <= samples) the values are the
 * exact Shapley values of the game; for a model additive in its inputs they
 * are exact for any sample count. Draws come from Philox (seed), so the same
 * seed gives the same values; NumPy's stream is not reproduced. */
#ifndef DR_EXPERIMENTS_KERNEL_SHAP_H
#define DR_EXPERIMENTS_KERNEL_SHAP_H

#include <stdint.h>

#include "core/status.h"

/* shap.kmeans's summary of the training rows: k-means (k-means++ start, Lloyd
 * iterations until no row changes cluster, at most 300), each centroid's value
 * snapped to the nearest value of that input among the rows, the weights the
 * clusters' shares. NaN coordinates are left out of distances and means. A
 * sequence cannot be averaged: `nearest` names the row closest to each point,
 * whose history stands for the cluster's. */
typedef struct dr_kshap_background {
    long k;
    int d;
    float *x;      /* [k, d] */
    double *w;     /* [k], sum 1 */
    long *nearest; /* [k] row indices */
} dr_kshap_background;

/* k <= n. */
dr_status dr_kshap_kmeans(const float *x, long n, int d, long k, uint64_t seed, dr_kshap_background *out);
void dr_kshap_background_free(dr_kshap_background *b);

/* The model on n composite inputs: player p of composite i is the loan's where
 * take[i * players + p], else background point point[i]'s; out[i * n_out + o]
 * its output o (a model may report several scales in one pass). */
typedef dr_status (*dr_kshap_model_fn)(void *ctx, const uint8_t *take, const long *point, long n, double *out);

typedef struct dr_kshap_game {
    int players, n_out;
    const uint8_t *varying;        /* [players] 0: equal to every background point */
    const dr_kshap_background *bg; /* only k and w are read */
    dr_kshap_model_fn f;
    void *ctx;
} dr_kshap_game;

/* One loan: phi [n_out, players + 1], each output's values then its base value
 * E_b f(b); fx [n_out] = f(x). samples >= 1 coalitions (capped at 2^M - 2). A
 * design too small for the regression is an error naming M. */
dr_status dr_kernel_shap(const dr_kshap_game *g, long samples, uint64_t seed, double *phi, double *fx);

/* The coalitions of M players (for tests): z [n, M] in {0, 1}, w [n] the
 * regression weights, summing to 1; *n <= samples. Caller frees z and w. */
dr_status dr_kshap_design(int M, long samples, uint64_t seed, uint8_t **z, double **w, long *n);

#endif
