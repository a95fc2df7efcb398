/* Additive (Bahdanau) attention over time steps.
 *   h [B, T, H], w [A, H], b [A], v [A]
 *   u[n,t,:] = tanh(w h[n,t,:] + b)          [B, T, A]   (saved)
 *   s[n,t]   = v . u[n,t,:]
 *   alpha    = softmax over t of s           [B, T]      (saved; the explanation)
 *   ctx[n,:] = sum_t alpha[n,t] h[n,t,:]     [B, H]
 * Backward adds (+=) into dh (may be NULL), dw, db and dv.
 * scratch holds dr_attention_scratch_floats(...) floats. */
#ifndef DR_CORE_OPS_ATTENTION_H
#define DR_CORE_OPS_ATTENTION_H

#include <stddef.h>

#include "core/backend.h"

static inline size_t dr_attention_scratch_floats(int B, int T, int H, int A)
{
    (void)H;
    /* gradient of the pre-activation [B, T, A] and of the scores [B, T] */
    return (size_t)B * T * A + (size_t)B * T;
}

typedef void dr_attention_forward_fn(dr_backend *be, float *ctx, float *alpha, float *u,
                                     const float *h, const float *w, const float *b,
                                     const float *v, int B, int T, int H, int A);
typedef void dr_attention_backward_fn(dr_backend *be, float *dh, float *dw, float *db, float *dv,
                                      float *scratch, const float *dctx, const float *h,
                                      const float *w, const float *v, const float *u,
                                      const float *alpha, int B, int T, int H, int A);

#endif
