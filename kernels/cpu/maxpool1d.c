/* 1-D max pooling on the CPU (contract in core/ops/maxpool1d.h).
 *   x [B, C, L]  ->  out [B, C, Lout], argmax [B, C, Lout], Lout = ceil(L / K)
 * Window j covers x[j*K .. min(j*K + K, L) - 1]; the last one may be shorter.
 * Ties go to the first index. A NaN in a window wins (as in PyTorch), so a
 * NaN upstream is not hidden by the pooling.
 * Rows (n, c) are independent: OpenMP over them. Memory-bound; no BLAS. */
#include "core/ops/maxpool1d.h"
#include "kernels/cpu/ops.h"

#include <math.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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
 * 20] input: 1.9 ms against 5.5 ms for the branching pool_row of then. On AVX2,
 * eight pairs at a time (the compiler left the 10 pairs of a row of 20 scalar):
 * the pooling ran at under 5 GB/s, and at one call per branch it took 8 % of the
 * hybrid network's forward. Same results, ties and NaNs included. */
static void pool_row_k2(float *restrict yr, int32_t *restrict ar, const float *restrict xr, int L)
{
    int h = L / 2, j = 0;
#if defined(__AVX2__)
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (; j + 8 <= h; j += 8) {
        __m256 p0 = _mm256_loadu_ps(xr + 2 * j), p1 = _mm256_loadu_ps(xr + 2 * j + 8);
        /* even and odd elements, then the 64-bit lanes back in order */
        __m256 a = _mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 b = _mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
        a = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(a), 0xD8));
        b = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(b), 0xD8));
        __m256 take = _mm256_or_ps(_mm256_cmp_ps(b, a, _CMP_GT_OQ),
                                   _mm256_andnot_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q),
                                                    _mm256_cmp_ps(b, b, _CMP_UNORD_Q)));
        _mm256_storeu_ps(yr + j, _mm256_blendv_ps(a, b, take));
        __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(2 * j), lane2);
        /* take is all ones (-1) where b wins: index 2j + 1 */
        _mm256_storeu_si256((__m256i *)(ar + j), _mm256_sub_epi32(idx, _mm256_castps_si256(take)));
    }
#endif
    for (; j < h; j++) {
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
