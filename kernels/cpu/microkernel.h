/* The register tile under the CPU kernels' own matrix products:
 *   c[i*ldc + j] (=, +=) sum_{k < kc} a[k][i] * b[k][j],   i < MR, j < NR
 * with a packed as kc rows of MR floats and b as kc rows of NR floats (b 32-byte
 * aligned). MR x NR = 6 x 16 holds the tile in 12 of AVX2's 16 vector registers
 * and leaves room for the two rows of b and one broadcast of a: each step is 12
 * FMAs against 2 loads and 6 broadcasts, so the FMA units, not the loads, set
 * the pace (the shape BLIS and OpenBLAS use on Haswell and Zen).
 *
 * With acc set the tile is added to c instead of stored.
 *
 * The build is C11 without GNU extensions, where GCC does not contract a*b+c
 * into an FMA, so the AVX2 path says FMA explicitly; other targets get the plain
 * loops (CI's sanitizer build compiles without -march=native and runs them). */
#ifndef DR_CPU_MICROKERNEL_H
#define DR_CPU_MICROKERNEL_H

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

enum { DR_MR = 6, DR_NR = 16 };

#if defined(__AVX2__) && defined(__FMA__)
#define DR_MICROKERNEL_NAME "AVX2+FMA 6x16"

#define DR_ROW(i)                                                                                  \
    do {                                                                                           \
        __m256 ai = _mm256_broadcast_ss(a + (i));                                                  \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                                \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                                \
    } while (0)

static inline void dr_microkernel(int kc, const float *restrict a, const float *restrict b,
                                  float *restrict c, int ldc, int acc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++, a += DR_MR, b += DR_NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        DR_ROW(0);
        DR_ROW(1);
        DR_ROW(2);
        DR_ROW(3);
        DR_ROW(4);
        DR_ROW(5);
    }
    __m256 t[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    for (int i = 0; i < 12; i++) {
        float *ci = c + (i / 2) * ldc + (i % 2) * 8;
        _mm256_storeu_ps(ci, acc ? _mm256_add_ps(_mm256_loadu_ps(ci), t[i]) : t[i]);
    }
}
#undef DR_ROW

#else
#define DR_MICROKERNEL_NAME "portable C 6x16"

static inline void dr_microkernel(int kc, const float *restrict a, const float *restrict b,
                                  float *restrict c, int ldc, int acc)
{
    float t[DR_MR * DR_NR] = {0};
    for (int k = 0; k < kc; k++, a += DR_MR, b += DR_NR)
        for (int i = 0; i < DR_MR; i++)
            for (int j = 0; j < DR_NR; j++)
                t[i * DR_NR + j] += a[i] * b[j];
    for (int i = 0; i < DR_MR; i++)
        for (int j = 0; j < DR_NR; j++)
            c[i * ldc + j] = acc ? c[i * ldc + j] + t[i * DR_NR + j] : t[i * DR_NR + j];
}
#endif

#endif
