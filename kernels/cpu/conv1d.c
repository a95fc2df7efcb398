/* 1-D convolution on the CPU (contract in kernels/conv1d.h).
 *
 * Forward and dx are one implicit GEMM each, on our own register tile
 * (kernels/cpu/microkernel.h), with no im2col in memory:
 *   dst[n, o, t] (=, +=) sum_{c,k} A(o, c*K + k) * src[n, c, t + k - pad]
 *   forward: src = x,    A = w as stored ([Cout, Cin*K]),     pad = (K-1)/2
 *   dx:      src = dout, A(c, o*K + j) = w[o, c, K-1-j],     pad = K-1-(K-1)/2
 * (dx is the convolution of dout with the flipped, transposed kernel). The
 * columns of the product are the batch's B*L output positions, taken NR = 16 at
 * a time: each block packs its slice of the virtual im2col (CK rows of 16, read
 * straight from src's rows, zeros at the padding) into a panel that stays in L1
 * while every panel of MR rows of A passes over it, and the tile is written
 * straight into dst's [B, C, L] layout. The im2col, the [Cout, B*L] staging
 * block and the two regrouping passes of the previous kernel took a third of
 * its time and 13 MB of scratch; the panel is 16 KB on the stack.
 *
 * dw is a reduction over positions, where both operands are contiguous along
 * positions in a channel-major, zero-padded copy (Lp = L + K - 1 per sample):
 *   dw[o, c, k] = sum_q Dp[o, q] * xp[c, q + k]
 * so it is K OpenBLAS products (N = Cin, reduction B*Lp) over shifted views of
 * xp, with no im2col either; db is Dp's row sums.
 *
 * Threads: one OpenMP region per call. Positions (and so samples of dst) are
 * split between threads for the implicit GEMMs and the copies, output channels
 * for dw and db, so every result is the same for any thread count. OpenBLAS is
 * called single-threaded inside the region (blas_single_begin/end restore the
 * caller's setting): its pool spinning next to OpenMP's threads was slower. */
#include "kernels/conv1d.h"

#include <omp.h>

#include "kernels/cpu/microkernel.h"

enum {
    KC = 256, /* rows of a packed panel: 256 x 16 floats = 16 KB, half of L1 */
    OG = 86,  /* panels of output rows staged per block: 86 x 6 x 16 floats = 32 KB */
};

/* This thread's share [lo, hi) of n items. */
static void my_range(int n, int *lo, int *hi)
{
    int parts = omp_get_num_threads(), i = omp_get_thread_num();
    *lo = (int)((long)n * i / parts);
    *hi = (int)((long)n * (i + 1) / parts);
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ---- the implicit GEMM ---- */

typedef struct conv_gemm {
    float *dst;         /* [B, Cdst, L] */
    const float *src;   /* [B, Csrc, L] */
    const float *apack; /* A in panels of MR rows: panel p, column ck at apack[(p*CK + ck)*MR] */
    const float *bias;  /* [Cdst] or NULL */
    int accumulate;     /* dst += product (else dst = product + bias) */
    int B, Csrc, Cdst, L, K, pad;
} conv_gemm;

/* A run of a block's columns that lie in one sample: columns [j, j + len) are
 * positions t .. t + len - 1 of sample n. */
typedef struct run {
    int n, t, j, len;
} run;

static int block_runs(run *r, long p0, int ncols, int L)
{
    int nr = 0;
    for (int j = 0; j < ncols; nr++) {
        long p = p0 + j;
        r[nr].n = (int)(p / L);
        r[nr].t = (int)(p % L);
        r[nr].j = j;
        r[nr].len = imin(L - r[nr].t, ncols - j);
        j += r[nr].len;
    }
    return nr;
}

/* On AVX2 a run's columns are read with two masked 8-lane loads: runs are 1 to
 * 16 floats long at any offset, and element loops over them took a fifth of
 * the kernel's time. Masked-off lanes are not read and come back as zero: the
 * padding and the lanes of other runs. Writes go in pieces of 8, 4, 2 and 1
 * floats instead: AMD's masked stores are microcoded and took two thirds of the
 * time of a layer with few input channels. */
#if defined(__AVX2__) && defined(__FMA__)
/* Lanes j + base (j < 8) inside [lo, hi). */
static inline __m256i lanes(int base, int lo, int hi)
{
    __m256i j = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(base));
    return _mm256_and_si256(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), j));
}

/* d[0, len) = v[0, len) + (acc ? d : add), len <= 16 */
static inline void put_run(float *d, const float *v, int len, __m256 add, int acc)
{
    int j = 0;
    for (; j + 8 <= len; j += 8)
        _mm256_storeu_ps(d + j, _mm256_add_ps(_mm256_loadu_ps(v + j),
                                              acc ? _mm256_loadu_ps(d + j) : add));
    __m128 a4 = _mm256_castps256_ps128(add);
    if (j + 4 <= len) {
        _mm_storeu_ps(d + j, _mm_add_ps(_mm_loadu_ps(v + j), acc ? _mm_loadu_ps(d + j) : a4));
        j += 4;
    }
    for (; j < len; j++)
        _mm_store_ss(d + j, _mm_add_ss(_mm_load_ss(v + j), acc ? _mm_load_ss(d + j) : a4));
}
#endif

/* The panel of rows [kb, kb + kc) of the virtual im2col for one block:
 * panel[r][j] = src[n_j, c, t_j + k - pad] (0 outside [0, L)), ck = kb + r = c*K + k. */
static void pack_b(float *restrict panel, const conv_gemm *g, const run *runs, int nruns,
                   int ncols, int kb, int kc)
{
    const int L = g->L;
    int c = kb / g->K, k = kb % g->K;
    for (int r = 0; r < kc; r++, panel += DR_NR) {
        int shift = k - g->pad;
#if defined(__AVX2__) && defined(__FMA__)
        (void)ncols; /* columns no run covers stay zero */
        __m256 v0 = _mm256_setzero_ps(), v1 = v0;
        for (int s = 0; s < nruns; s++) {
            const run *u = &runs[s];
            /* column j reads xr[j]; valid where its position t + shift is in [0, L) */
            const float *xr = g->src + ((size_t)u->n * g->Csrc + c) * L + u->t - u->j + shift;
            int lo = imax(u->j, u->j - u->t - shift), hi = imin(u->j + u->len, u->j - u->t - shift + L);
            v0 = _mm256_or_ps(v0, _mm256_maskload_ps(xr, lanes(0, lo, hi)));
            v1 = _mm256_or_ps(v1, _mm256_maskload_ps(xr + 8, lanes(8, lo, hi)));
        }
        _mm256_store_ps(panel, v0);
        _mm256_store_ps(panel + 8, v1);
#else
        for (int s = 0; s < nruns; s++) {
            const run *u = &runs[s];
            const float *xr = g->src + ((size_t)u->n * g->Csrc + c) * L + shift;
            float *d = panel + u->j - u->t; /* d[t] is the column of position t */
            int a = imax(u->t, -shift), e = imin(u->t + u->len, L - shift);
            int t = u->t;
            for (; t < a && t < u->t + u->len; t++)
                d[t] = 0.0f;
            for (; t < e; t++)
                d[t] = xr[t];
            for (; t < u->t + u->len; t++)
                d[t] = 0.0f;
        }
        for (int j = ncols; j < DR_NR; j++)
            panel[j] = 0.0f;
#endif
        if (++k == g->K)
            k = 0, c++;
    }
}

/* Rows [o0, o0 + rows) of the staged block (row i at stage[i*NR]) into dst, run by run. */
static void store_block(const conv_gemm *g, const float *stage, const run *runs, int nruns, int o0,
                        int rows)
{
    for (int s = 0; s < nruns; s++) {
        const run *u = &runs[s];
        float *d = g->dst + ((size_t)u->n * g->Cdst + o0) * g->L + u->t - u->j;
#if defined(__AVX2__) && defined(__FMA__)
        for (int i = 0; i < rows; i++, d += g->L)
            put_run(d + u->j, stage + i * DR_NR + u->j, u->len,
                    _mm256_set1_ps(g->bias && !g->accumulate ? g->bias[o0 + i] : 0.0f),
                    g->accumulate);
#else
        for (int i = 0; i < rows; i++, d += g->L) {
            const float *v = stage + i * DR_NR;
            float bo = g->bias ? g->bias[o0 + i] : 0.0f;
            for (int j = u->j; j < u->j + u->len; j++)
                d[j] = g->accumulate ? d[j] + v[j] : v[j] + bo;
        }
#endif
    }
}

/* This thread's blocks of output positions. A block's tiles are staged and
 * written to dst only when the block is done: dst's rows of a block are 16
 * floats in each of Cdst rows a sample apart, so writing tile by tile would
 * touch as many cache lines as L1 holds and push the packed panel out of it. */
static void conv_gemm_run(const conv_gemm *g)
{
    _Alignas(64) float panel[KC * DR_NR];
    _Alignas(64) float stage[OG * DR_MR * DR_NR];
    run runs[DR_NR];
    const long P = (long)g->B * g->L;
    const int CK = g->Csrc * g->K, npanels = (g->Cdst + DR_MR - 1) / DR_MR;
    const int nblocks = (int)((P + DR_NR - 1) / DR_NR);
    int b0, b1;
    my_range(nblocks, &b0, &b1);
    for (int blk = b0; blk < b1; blk++) {
        long p0 = (long)blk * DR_NR;
        int ncols = (int)(P - p0 < DR_NR ? P - p0 : DR_NR);
        int nruns = block_runs(runs, p0, ncols, g->L);
        for (int pg = 0; pg < npanels; pg += OG) { /* at most OG panels staged at once */
            int np = imin(OG, npanels - pg);
            for (int kb = 0; kb < CK; kb += KC) {
                int kc = imin(KC, CK - kb);
                pack_b(panel, g, runs, nruns, ncols, kb, kc);
                for (int p = 0; p < np; p++)
                    dr_microkernel(kc, g->apack + ((size_t)(pg + p) * CK + kb) * DR_MR, panel,
                                   stage + p * DR_MR * DR_NR, DR_NR, kb > 0);
            }
            store_block(g, stage, runs, nruns, pg * DR_MR, imin(np * DR_MR, g->Cdst - pg * DR_MR));
        }
    }
}

/* This thread's panels of A for the forward: A(o, ck) = w[o, ck]. */
static void pack_a_forward(float *restrict ap, const float *w, int Cin, int Cout, int K)
{
    const int CK = Cin * K, np = (Cout + DR_MR - 1) / DR_MR;
    int p0, p1;
    my_range(np, &p0, &p1);
    for (int p = p0; p < p1; p++)
        for (int ck = 0; ck < CK; ck++)
            for (int i = 0; i < DR_MR; i++) {
                int o = p * DR_MR + i;
                ap[((size_t)p * CK + ck) * DR_MR + i] = o < Cout ? w[(size_t)o * CK + ck] : 0.0f;
            }
}

/* This thread's panels of A for dx: A(c, o*K + j) = w[o, c, K-1-j]. */
static void pack_a_dx(float *restrict ap, const float *w, int Cin, int Cout, int K)
{
    const int OK = Cout * K, np = (Cin + DR_MR - 1) / DR_MR;
    int p0, p1;
    my_range(np, &p0, &p1);
    for (int p = p0; p < p1; p++)
        for (int o = 0; o < Cout; o++)
            for (int j = 0; j < K; j++)
                for (int i = 0; i < DR_MR; i++) {
                    int c = p * DR_MR + i;
                    ap[((size_t)p * OK + o * K + j) * DR_MR + i] =
                        c < Cin ? w[((size_t)o * Cin + c) * K + K - 1 - j] : 0.0f;
                }
}

void dr_cpu_conv1d_forward(dr_backend *be, float *out, float *scratch, const float *x,
                           const float *w, const float *b, int B, int Cin, int Cout, int L, int K)
{
    (void)be;
    DR_ASSERT(B >= 0 && Cin > 0 && Cout > 0 && L > 0 && K > 0);
    if (B == 0)
        return;
    DR_ASSERT(out && scratch && x && w);
    conv_gemm g = {out, x, scratch, b, 0, B, Cin, Cout, L, K, (K - 1) / 2};
#pragma omp parallel
    {
        pack_a_forward(scratch, w, Cin, Cout, K);
#pragma omp barrier
        conv_gemm_run(&g);
    }
}

/* ---- backward ---- */

/* dw is a product too, reducing over the batch's positions p = n*L + t:
 *   dw[o, c*K + k] += sum_p dout[n, o, t] * x[n, c, t + k - pad]
 * rows o in panels of MR, columns (c, k) in panels of NR, positions in chunks
 * of KP. Both operands are contiguous along positions, where the tile wants
 * them across, so both are packed transposed: dout's rows once per chunk for
 * all threads (the A block, shared), and each thread its own column panels of
 * the virtual im2col. Threads own columns of dw, so sums run in one order. */
enum { KP = 256 }; /* positions per chunk: the A block of 256 rows is 256 KB, in L2 */

/* This thread's panels of dout's rows [o-panel][p][MR] for positions [p0, p0 + kp). */
static void pack_dw_a(float *restrict ap, const float *dout, int Cout, int L, long p0, int kp)
{
    const int np = (Cout + DR_MR - 1) / DR_MR;
    int q0, q1;
    my_range(np, &q0, &q1);
    for (int q = q0; q < q1; q++) {
        float *a = ap + (size_t)q * KP * DR_MR;
        for (int i = 0; i < DR_MR; i++) {
            int o = q * DR_MR + i;
            long p = p0;
            for (int r = 0; r < kp;) {
                int n = (int)(p / L), t = (int)(p % L), len = imin(L - t, kp - r);
                const float *src = dout + ((size_t)n * Cout + o) * L + t;
                for (int j = 0; j < len; j++)
                    a[(r + j) * DR_MR + i] = o < Cout ? src[j] : 0.0f;
                r += len, p += len;
            }
        }
    }
}

/* Columns [ck0, ck0 + NR) of the virtual im2col, transposed: panel[r][j] =
 * x[n, c, t + k - pad] for position p0 + r = n*L + t and column ck0 + j = c*K + k. */
static void pack_dw_b(float *restrict panel, const float *x, int Cin, int L, int K, int pad,
                      int ck0, long p0, int kp)
{
    for (int r = 0; r < kp;) {
        long p = p0 + r;
        int n = (int)(p / L), t0 = (int)(p % L), len = imin(L - t0, kp - r);
        float *dst = panel + (size_t)(r - t0) * DR_NR; /* dst[t*NR + j]: position t */
        for (int j = 0; j < DR_NR; j++) {
            int ck = ck0 + j, shift = ck % K - pad;
            int a = imax(t0, -shift), e = imin(t0 + len, L - shift), t = t0;
            if (ck >= Cin * K)
                a = e = t0 + len; /* past the last column: zeros */
            const float *src = x + ((size_t)n * Cin + ck / K) * L + shift;
            for (; t < a && t < t0 + len; t++)
                dst[t * DR_NR + j] = 0.0f;
            for (; t < e; t++)
                dst[t * DR_NR + j] = src[t];
            for (; t < t0 + len; t++)
                dst[t * DR_NR + j] = 0.0f;
        }
        r += len;
    }
}

/* Called by every thread of the region (it has barriers). */
static void conv_dw(float *dw, float *ap, const float *dout, const float *x, int B, int Cin,
                    int Cout, int L, int K)
{
    _Alignas(64) float panel[KP * DR_NR];
    _Alignas(64) float tile[DR_MR * DR_NR];
    const long P = (long)B * L;
    const int CK = Cin * K, nrp = (Cout + DR_MR - 1) / DR_MR, ncp = (CK + DR_NR - 1) / DR_NR;
    int c0, c1;
    my_range(ncp, &c0, &c1);
    for (long p0 = 0; p0 < P; p0 += KP) {
        int kp = (int)(P - p0 < KP ? P - p0 : KP);
        pack_dw_a(ap, dout, Cout, L, p0, kp);
#pragma omp barrier
        for (int cp = c0; cp < c1; cp++) {
            int ck0 = cp * DR_NR, cols = imin(DR_NR, CK - ck0);
            pack_dw_b(panel, x, Cin, L, K, (K - 1) / 2, ck0, p0, kp);
            for (int q = 0; q < nrp; q++) {
                const float *a = ap + (size_t)q * KP * DR_MR;
                int rows = imin(DR_MR, Cout - q * DR_MR);
                float *d = dw + (size_t)q * DR_MR * CK + ck0;
                if (rows == DR_MR && cols == DR_NR) {
                    dr_microkernel(kp, a, panel, d, CK, 1);
                    continue;
                }
                dr_microkernel(kp, a, panel, tile, DR_NR, 0);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        d[(size_t)i * CK + j] += tile[i * DR_NR + j];
            }
        }
#pragma omp barrier /* the A block is repacked next */
    }
}

/* db[o] += sum of dout's row o over the batch, for o in [o0, o1): B*L terms each,
 * summed in double to keep the rounding off the gradient. Samples outermost, so
 * dout is read in order (row by row it was a cache miss every 80 bytes). */
static void bias_grad(float *db, const float *dout, int o0, int o1, int B, int Cout, int L)
{
    enum { OC = 64 };
    double acc[OC];
    for (int oc = o0; oc < o1; oc += OC) {
        int m = imin(OC, o1 - oc);
        for (int i = 0; i < m; i++)
            acc[i] = 0.0;
        for (int n = 0; n < B; n++) {
            const float *row = dout + ((size_t)n * Cout + oc) * L;
            for (int i = 0; i < m; i++, row += L) {
                double r = 0.0;
                for (int t = 0; t < L; t++)
                    r += row[t];
                acc[i] += r;
            }
        }
        for (int i = 0; i < m; i++)
            db[oc + i] += (float)acc[i];
    }
}

void dr_cpu_conv1d_backward(dr_backend *be, float *dx, float *dw, float *db, float *scratch,
                            const float *dout, const float *x, const float *w, int B, int Cin,
                            int Cout, int L, int K)
{
    (void)be;
    DR_ASSERT(B >= 0 && Cin > 0 && Cout > 0 && L > 0 && K > 0);
    if (B == 0)
        return;
    DR_ASSERT(dw && scratch && dout && x && w);
    float *apack = scratch, *dw_a = scratch + dr_conv1d_apack_floats(Cin, Cout, K);
    conv_gemm g = {dx, dout, apack, NULL, 1, B, Cout, Cin, L, K, K - 1 - (K - 1) / 2};
#pragma omp parallel
    {
        int o0, o1;
        my_range(Cout, &o0, &o1);
        if (db)
            bias_grad(db, dout, o0, o1, B, Cout, L);
        conv_dw(dw, dw_a, dout, x, B, Cin, Cout, L, K);
        if (dx) {
            pack_a_dx(apack, w, Cin, Cout, K);
#pragma omp barrier
            conv_gemm_run(&g);
        }
    }
}
