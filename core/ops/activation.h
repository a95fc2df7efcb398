/* Element-wise activations and dropout over n contiguous floats.
 *   relu:     out = max(x, 0); backward dx += dout * (out > 0)
 *   sigmoid:  out = 1 / (1 + exp(-x))   (inference only, no backward)
 *   dropout:  mask[i] = (u_i >= p) / (1 - p) with u_i = dr_philox_uniform(seed,
 *             stream, counter, i); out = x * mask. Both backends draw the same
 *             mask. backward dx += dout * mask. 0 <= p <= 1; computed as
 *             mask = u_i >= p ? 1 / (1 - p) : 0, and p = 1 gives mask 0 (not 0/0).
 *             In a captured step the counter is the step state's (core/ops/step.h).
 * out may alias x for the forward ops. */
#ifndef DR_CORE_OPS_ACTIVATION_H
#define DR_CORE_OPS_ACTIVATION_H

#include <stdint.h>

#include "core/backend.h"

typedef void dr_relu_forward_fn(dr_backend *be, float *out, const float *x, long n);
typedef void dr_relu_backward_fn(dr_backend *be, float *dx, const float *dout, const float *out,
                                 long n);
typedef void dr_sigmoid_forward_fn(dr_backend *be, float *out, const float *x, long n);
typedef void dr_dropout_forward_fn(dr_backend *be, float *out, float *mask, const float *x,
                                   long n, float p, uint64_t seed, uint32_t stream,
                                   uint64_t counter);
typedef void dr_dropout_backward_fn(dr_backend *be, float *dx, const float *dout,
                                    const float *mask, long n);

#endif
