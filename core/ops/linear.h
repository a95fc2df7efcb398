/* Fully connected layer.
 *   x [B, C], w [OC, C], b [OC] (may be NULL)  ->  out [B, OC] = x w^T + b
 * Backward adds (+=) into dx [B, C] (may be NULL), dw [OC, C] and db [OC]
 * (may be NULL); it never overwrites them. */
#ifndef DR_CORE_OPS_LINEAR_H
#define DR_CORE_OPS_LINEAR_H

#include "core/backend.h"

typedef void dr_linear_forward_fn(dr_backend *be, float *out, const float *x, const float *w,
                                  const float *b, int B, int C, int OC);
typedef void dr_linear_backward_fn(dr_backend *be, float *dx, float *dw, float *db,
                                   const float *dout, const float *x, const float *w, int B,
                                   int C, int OC);

#endif
