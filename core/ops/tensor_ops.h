/* Data movement and sums that concat, split, residual connections, reshapes and
 * the graph's gradient accumulation are made of.
 *   copy2d:    dst[r * ld_dst + c] (= or +=) src[r * ld_src + c], r < rows, c < cols
 *              (accumulate != 0 adds). Concat is one copy2d per input, split
 *              the reverse.
 *   add:       out[i] = a[i] + b[i]                (residual connection)
 *   axpy:      y[i] += alpha * x[i]
 *   transpose: out [B, N, M] (= or +=) x [B, M, N] transposed per batch row
 *              ([B, C, L] conv layout <-> [B, T, C] sequence layout). */
#ifndef DR_CORE_OPS_TENSOR_OPS_H
#define DR_CORE_OPS_TENSOR_OPS_H

#include "core/backend.h"

typedef void dr_copy2d_fn(dr_backend *be, float *dst, long ld_dst, const float *src, long ld_src,
                          long rows, long cols, int accumulate);
typedef void dr_add_fn(dr_backend *be, float *out, const float *a, const float *b, long n);
typedef void dr_axpy_fn(dr_backend *be, float *y, float alpha, const float *x, long n);
typedef void dr_transpose_fn(dr_backend *be, float *out, const float *x, int B, int M, int N,
                             int accumulate);

#endif
