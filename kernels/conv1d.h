/* 1-D convolution, stride 1, "same" padding (PyTorch padding='same': left pad
 * (K-1)/2, right pad K-1-(K-1)/2, so even K works too).
 *   x [B, Cin, L], w [Cout, Cin, K], b [Cout] (may be NULL)  ->  out [B, Cout, L]
 *   out[n,o,t] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, t + k - (K-1)/2]   (zero outside)
 * scratch: dr_conv1d_scratch_floats(...) floats the kernel may use freely;
 * its contents are undefined on entry and exit.
 * Backward adds (+=) into dx [B, Cin, L] (may be NULL), dw [Cout, Cin, K] and
 * db [Cout] (may be NULL). */
#ifndef DR_KERNELS_CONV1D_H
#define DR_KERNELS_CONV1D_H

#include <stddef.h>

#include "core/backend.h"

/* The CPU kernel's weights in panels of 6 rows (kernels/cpu/microkernel.h), for
 * the forward ([Cout, Cin*K]) or for dx ([Cin, Cout*K]), whichever is larger. */
static inline size_t dr_conv1d_apack_floats(int Cin, int Cout, int K)
{
    size_t fwd = ((size_t)Cout + 5) / 6 * 6 * Cin * K, dx = ((size_t)Cin + 5) / 6 * 6 * Cout * K;
    return fwd > dx ? fwd : dx;
}

static inline size_t dr_conv1d_scratch_floats(int B, int Cin, int Cout, int L, int K)
{
    /* CPU: packed weights, then dout transposed in panels of 6 rows (for dw) */
    size_t cpu = dr_conv1d_apack_floats(Cin, Cout, K) + ((size_t)Cout + 5) / 6 * 6 * B * L;
    /* CUDA: im2col [Cin*K, B*L] and a [Cout, B*L] staging block */
    size_t cuda = (size_t)B * L * ((size_t)Cin * K + Cout);
    return cpu > cuda ? cpu : cuda;
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
