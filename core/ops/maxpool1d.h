/* 1-D max pooling, window K, stride K, ceil mode: Lout = ceil(L / K), the last
 * window may be shorter (so L = 1 works).
 *   x [B, C, L]  ->  out [B, C, Lout], argmax [B, C, Lout] (int32 index into L)
 * Backward adds (+=) dout into dx [B, C, L] at the argmax positions. */
#ifndef DR_CORE_OPS_MAXPOOL1D_H
#define DR_CORE_OPS_MAXPOOL1D_H

#include <stdint.h>

#include "core/backend.h"

static inline int dr_maxpool1d_out_len(int L, int K) { return (L + K - 1) / K; }

typedef void dr_maxpool1d_forward_fn(dr_backend *be, float *out, int32_t *argmax,
                                     const float *x, int B, int C, int L, int K);
typedef void dr_maxpool1d_backward_fn(dr_backend *be, float *dx, const float *dout,
                                      const int32_t *argmax, int B, int C, int L, int K);

#endif
