/* 1-D convolution, stride 1, "same" padding (PyTorch padding='same': left pad
 * (K-1)/2, right pad K-1-(K-1)/2, so even K works too).
 *   x [B, Cin, L], w [Cout, Cin, K], b [Cout] (may be NULL)  ->  out [B, Cout, L]
 *   out[n,o,t] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, t + k - (K-1)/2]   (zero outside)
 * scratch: the backend's conv1d_scratch(...) floats (its op table) that the
 * kernel may use freely; its contents are undefined on entry and exit.
 * Backward adds (+=) into dx [B, Cin, L] (may be NULL), dw [Cout, Cin, K] and
 * db [Cout] (may be NULL). */
#ifndef DR_CORE_OPS_CONV1D_H
#define DR_CORE_OPS_CONV1D_H

#include <stddef.h>

#include "core/backend.h"

/* Floats of scratch the backend's kernels need (op table: conv1d_scratch). */
typedef size_t dr_conv1d_scratch_fn(int B, int Cin, int Cout, int L, int K);
typedef void dr_conv1d_forward_fn(dr_backend *be, float *out, float *scratch, const float *x,
                                  const float *w, const float *b, int B, int Cin, int Cout, int L,
                                  int K);
typedef void dr_conv1d_backward_fn(dr_backend *be, float *dx, float *dw, float *db,
                                   float *scratch, const float *dout, const float *x,
                                   const float *w, int B, int Cin, int Cout, int L, int K);

#endif
