/* 1-D convolution, stride 1, "same" padding (PyTorch padding='same': left pad
 * (K-1)/2, right pad K-1-(K-1)/2, so even K works too).
 *   x [B, Cin, L], w [Cout, Cin, K], b [Cout] (may be NULL)  ->  out [B, Cout, L]
 *   out[n,o,t] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, t + k - (K-1)/2]   (zero outside)
 * scratch: dr_conv1d_scratch_floats(...) floats the kernel may use freely (im2col);
 * its contents are undefined on entry and exit.
 * Backward adds (+=) into dx [B, Cin, L] (may be NULL), dw [Cout, Cin, K] and
 * db [Cout] (may be NULL). */
#ifndef DR_KERNELS_CONV1D_H
#define DR_KERNELS_CONV1D_H

#include <stddef.h>

#include "core/backend.h"

/* Row stride (floats) of the channel-major blocks over the batch's B*L positions:
 * a whole, odd number of 64-byte lines, so rows never sit a multiple of 4 KiB apart
 * (at B*L = 5120 they would, and every row would fall into the same cache set). */
static inline size_t dr_conv1d_ld(int B, int L)
{
    size_t lines = ((size_t)B * L + 15) / 16;
    return (lines | 1) * 16;
}

static inline size_t dr_conv1d_scratch_floats(int B, int Cin, int Cout, int L, int K)
{
    /* im2col of the whole batch [Cin*K, B*L] plus one [Cout, B*L] staging block */
    return dr_conv1d_ld(B, L) * ((size_t)Cin * K + (size_t)Cout);
}

typedef void dr_conv1d_forward_fn(dr_backend *be, float *out, float *scratch, const float *x,
                                  const float *w, const float *b, int B, int Cin, int Cout, int L,
                                  int K);
typedef void dr_conv1d_backward_fn(dr_backend *be, float *dx, float *dw, float *db,
                                   float *scratch, const float *dout, const float *x,
                                   const float *w, int B, int Cin, int Cout, int L, int K);

dr_conv1d_forward_fn dr_cpu_conv1d_forward, dr_cuda_conv1d_forward;
dr_conv1d_backward_fn dr_cpu_conv1d_backward, dr_cuda_conv1d_backward;

#endif
