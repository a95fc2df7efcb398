/* 1-D max pooling on the CPU (contract in kernels/maxpool1d.h).
 *   x [B, C, L]  ->  out [B, C, Lout], argmax [B, C, Lout], Lout = ceil(L / K)
 * Window j covers x[j*K .. min(j*K + K, L) - 1]; the last one may be shorter.
 * Ties go to the first index. A NaN in a window wins (as in PyTorch), so a
 * NaN upstream is not hidden by the pooling.
 * Rows (n, c) are independent: OpenMP over them. Memory-bound; no BLAS. */
#include "kernels/maxpool1d.h"

#include <math.h>

/* One row (n, c), any K, without branches: the comparison becomes a select (a
 * branch on random data mispredicts about half the time; the pooling over all
 * positions that ends each branch of the hybrid network took 4 % of a training
 * step with it). */
static void pool_row(float *restrict yr, int32_t *restrict ar, const float *restrict xr, int L,
                     int K, int Lout)
{
    for (int j = 0; j < Lout; j++) {
        int s = j * K, e = s + K < L ? s + K : L;
        int best_i = s;
        float best = xr[s];
        for (int i = s + 1; i < e; i++) {
            float v = xr[i];
            int take = (v > best) | (isnan(v) & !isnan(best));
            best = take ? v : best;
            best_i = take ? i : best_i;
        }
        yr[j] = best;
        ar[j] = best_i;
    }
}

/* K = 2 (the paper's pooling) without branches: the pair's comparison becomes a
 * select and the pairs need no inner loop. Measured on one core for a [256, 256,
 * 20] input: 1.9 ms against 5.5 ms for the branching pool_row of then. Same
 * results, ties and NaNs included. */
static void pool_row_k2(float *restrict yr, int32_t *restrict ar, const float *restrict xr, int L)
{
    int h = L / 2;
    for (int j = 0; j < h; j++) {
        float a = xr[2 * j], b = xr[2 * j + 1];
        int take = (b > a) | (isnan(b) & !isnan(a));
        yr[j] = take ? b : a;
        ar[j] = 2 * j + take;
    }
    if (L & 1) { /* ceil mode: the last window holds one element */
        yr[h] = xr[L - 1];
        ar[h] = L - 1;
    }
}

void dr_cpu_maxpool1d_forward(dr_backend *be, float *out, int32_t *argmax, const float *x, int B,
                              int C, int L, int K)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && L > 0 && K > 0);
    DR_ASSERT(out && argmax && x);
    const int Lout = dr_maxpool1d_out_len(L, K);
    const long rows = (long)B * C;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        if (K == 2)
            pool_row_k2(out + r * Lout, argmax + r * Lout, x + r * L, L);
        else
            pool_row(out + r * Lout, argmax + r * Lout, x + r * L, L, K, Lout);
    }
}

void dr_cpu_maxpool1d_backward(dr_backend *be, float *dx, const float *dout, const int32_t *argmax,
                               int B, int C, int L, int K)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && L > 0 && K > 0);
    DR_ASSERT(dx && dout && argmax);
    const int Lout = dr_maxpool1d_out_len(L, K);
    const long rows = (long)B * C;
    /* windows do not overlap (stride K), but += keeps the contract even if two
     * argmax entries of a row were ever equal */
#pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        float *dxr = dx + r * L;
        const float *dyr = dout + r * Lout;
        const int32_t *ar = argmax + r * Lout;
        for (int j = 0; j < Lout; j++) {
            DR_ASSERT(ar[j] >= 0 && ar[j] < L);
            dxr[ar[j]] += dyr[j];
        }
    }
}
