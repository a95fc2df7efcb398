/* 1-D convolution on the CPU (contract in core/ops/conv1d.h): three products on
 * our own register tile (kernels/cpu/microkernel.h), none through an im2col in
 * memory.
 *
 * Forward and dx are implicit GEMMs:
 *   dst[n, o, t] (=, +=) sum_{c,k} A(o, c*K + k) * src[n, c, t + k - pad]
 *   forward: src = x,    A = w as stored ([Cout, Cin*K]),     pad = (K-1)/2
 *   dx:      src = dout, A(c, o*K + j) = w[o, c, K-1-j],     pad = K-1-(K-1)/2
 * (dx is the convolution of dout with the flipped, transposed kernel). The
 * columns of the product are the batch's B*L output positions, taken NR = 16 at
 * a time: each block packs its slice of the virtual im2col (up to KC rows of 16
 * at a time, read straight from src's rows, zeros at the padding) into a panel
 * that every panel of MR rows of A passes over; the block's tiles are staged
 * and then written into dst's [B, C, L] layout. The previous kernel's im2col,
 * its [Cout, B*L] staging block and two regrouping passes took a third of its
 * time (it is bench/conv1d_lab.c now, timed beside this one by bench/ops_bench).
 *
 * dw is the third product, reducing over positions (below, conv_dw).
 *
 * Threads: one OpenMP region per call (kernels/cpu/threads.h). Positions, and so
 * samples of dst, are split between threads for the implicit GEMMs, columns of
 * dw for dw, and output channels for db, so every result is the same for any
 * thread count. */
#include "core/ops/conv1d.h"

#include <stddef.h>

#include "kernels/cpu/microkernel.h"
#include "kernels/cpu/threads.h"
#include "kernels/cpu/ops.h"

enum {
    KC = 256, /* rows of a packed panel: 256 x 16 floats = 16 KB, half of L1 */
    OG = 86,  /* panels of output rows staged per block: 86 x 6 x 16 floats = 32 KB */
};

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
 * padding and the lanes of other runs. Writes go in pieces of 8, 4 and 1
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
 * panel[r][j] = src[n_j, c, t_j + k - pad] (0 outside [0, L)), ck = kb + r = c*K + k.
 * Tap by tap: where each run's columns read from, and which of them fall into
 * the padding, depends on the tap k and not on the channel c. */
static void pack_b(float *restrict panel, const conv_gemm *g, const run *runs, int nruns,
                   int ncols, int kb, int kc)
{
    const int L = g->L, K = g->K;
#if !(defined(__AVX2__) && defined(__FMA__)) /* on AVX2 lanes no run covers load as zero */
    for (int r = 0; r < kc; r++)
        for (int j = ncols; j < DR_NR; j++)
            panel[r * DR_NR + j] = 0.0f;
#else
    (void)ncols;
#endif
    for (int k = 0; k < K; k++) {
        int shift = k - g->pad, top = kb + kc - 1 - k;
        int c0 = kb > k ? (kb - k + K - 1) / K : 0, c1 = top < 0 ? 0 : top / K + 1;
        if (c0 >= c1)
            continue;
        float *row = panel + (size_t)(c0 * K + k - kb) * DR_NR;
        /* run s's column j reads sample[s][c*L + off[s] + j], for j in [lo, hi) */
        const float *sample[DR_NR];
        int off[DR_NR], lo[DR_NR], hi[DR_NR];
        for (int s = 0; s < nruns; s++) {
            const run *u = &runs[s];
            sample[s] = g->src + (size_t)u->n * g->Csrc * L;
            off[s] = u->t - u->j + shift;
            lo[s] = imax(u->j, -off[s]);
            hi[s] = imin(u->j + u->len, L - off[s]);
        }
#if defined(__AVX2__) && defined(__FMA__)
        __m256i m0[DR_NR], m1[DR_NR];
        for (int s = 0; s < nruns; s++)
            m0[s] = lanes(0, lo[s], hi[s]), m1[s] = lanes(8, lo[s], hi[s]);
        for (int c = c0; c < c1; c++, row += (size_t)K * DR_NR) {
            __m256 v0 = _mm256_setzero_ps(), v1 = v0;
            for (int s = 0; s < nruns; s++) {
                /* lane 0's address, which may lie before the row (its lane is then
                 * masked off: masked lanes are not accessed) */
                const float *xr = sample[s] + ((ptrdiff_t)c * L + off[s]);
                v0 = _mm256_or_ps(v0, _mm256_maskload_ps(xr, m0[s]));
                v1 = _mm256_or_ps(v1, _mm256_maskload_ps(xr + 8, m1[s]));
            }
            _mm256_store_ps(row, v0);
            _mm256_store_ps(row + 8, v1);
        }
#else
        for (int c = c0; c < c1; c++, row += (size_t)K * DR_NR)
            for (int s = 0; s < nruns; s++) {
                const float *xr = sample[s] + (size_t)c * L;
                int j = runs[s].j, end = runs[s].j + runs[s].len;
                for (; j < lo[s] && j < end; j++)
                    row[j] = 0.0f;
                for (; j < hi[s]; j++)
                    row[j] = xr[off[s] + j];
                for (; j < end; j++)
                    row[j] = 0.0f;
            }
#endif
    }
}

/* Rows [o0, o0 + rows) of the staged block (row i at stage[i*NR]) into dst, run by run. */
static void store_block(const conv_gemm *g, const float *stage, const run *runs, int nruns, int o0,
                        int rows)
{
    for (int s = 0; s < nruns; s++) {
        const run *u = &runs[s];
        for (int i = 0; i < rows; i++) {
            float *d = g->dst + ((size_t)u->n * g->Cdst + o0 + i) * g->L + u->t;
            const float *v = stage + i * DR_NR + u->j;
            float bo = g->bias && !g->accumulate ? g->bias[o0 + i] : 0.0f;
#if defined(__AVX2__) && defined(__FMA__)
            put_run(d, v, u->len, _mm256_set1_ps(bo), g->accumulate);
#else
            for (int j = 0; j < u->len; j++)
                d[j] = g->accumulate ? d[j] + v[j] : v[j] + bo;
#endif
        }
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
    dr_thread_range(nblocks, &b0, &b1);
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
    dr_thread_range(np, &p0, &p1);
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
    dr_thread_range(np, &p0, &p1);
    for (int p = p0; p < p1; p++)
        for (int o = 0; o < Cout; o++)
            for (int j = 0; j < K; j++)
                for (int i = 0; i < DR_MR; i++) {
                    int c = p * DR_MR + i;
                    ap[((size_t)p * OK + o * K + j) * DR_MR + i] =
                        c < Cin ? w[((size_t)o * Cin + c) * K + K - 1 - j] : 0.0f;
                }
}

/* Weights in panels of MR rows for the forward ([Cout, Cin*K]) or for dx ([Cin,
 * Cout*K]), whichever is larger. */
static size_t apack_floats(int Cin, int Cout, int K)
{
    size_t fwd = ((size_t)Cout + DR_MR - 1) / DR_MR * DR_MR * Cin * K;
    size_t dx = ((size_t)Cin + DR_MR - 1) / DR_MR * DR_MR * Cout * K;
    return fwd > dx ? fwd : dx;
}

/* The packed weights, then dout transposed in panels of MR rows (for dw). */
size_t dr_cpu_conv1d_scratch(int B, int Cin, int Cout, int L, int K)
{
    return apack_floats(Cin, Cout, K) + ((size_t)Cout + DR_MR - 1) / DR_MR * DR_MR * B * L;
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
 * them across, so both are packed transposed: dout whole, once, shared by the
 * threads (one barrier per call: with OpenMP's passive wait policy, which the
 * CLI sets, each barrier costs tens of microseconds), and each thread its own
 * column panels of the virtual im2col, a chunk at a time. Threads own columns
 * of dw, so every sum runs in one order whatever the thread count. */
enum { KP = 256 }; /* positions per chunk: A's rows for a chunk are 256 KB at 256 rows, in L2 */

/* This thread's panels of dout's rows, transposed: at[q][p][i] = dout[n, q*MR + i, t]
 * for every position p = n*L + t (zero rows past Cout), and db for those rows
 * (summed in double, B*L terms each: the rounding stays off the gradient).
 * Samples go outermost over groups of PG panels, so dout is read in runs of
 * PG*MR rows instead of jumping a sample ahead for every L floats. */
static void pack_dw_a(float *restrict at, float *db, const float *dout, int B, int Cout, int L)
{
    enum { PG = 8 };
    const int np = (Cout + DR_MR - 1) / DR_MR;
    const size_t P = (size_t)B * L;
    int q0, q1;
    dr_thread_range(np, &q0, &q1);
    for (int g = q0; g < q1; g += PG) {
        int gp = imin(PG, q1 - g), o0 = g * DR_MR, rows = imin(gp * DR_MR, Cout - o0);
        double sum[PG * DR_MR] = {0};
        for (int n = 0; n < B; n++) {
            for (int r = 0; r < gp * DR_MR; r++) {
                float *d = at + ((size_t)(g + r / DR_MR) * P + (size_t)n * L) * DR_MR + r % DR_MR;
                if (r >= rows) {
                    for (int t = 0; t < L; t++)
                        d[t * DR_MR] = 0.0f;
                    continue;
                }
                const float *src = dout + ((size_t)n * Cout + o0 + r) * L;
                double even = 0.0, odd = 0.0; /* two chains of dependent adds, not one */
                int t = 0;
                for (; t + 2 <= L; t += 2) {
                    d[t * DR_MR] = src[t], d[(t + 1) * DR_MR] = src[t + 1];
                    even += src[t], odd += src[t + 1];
                }
                if (t < L)
                    d[t * DR_MR] = src[t], even += src[t];
                sum[r] += even + odd;
            }
        }
        for (int r = 0; db && r < rows; r++)
            db[o0 + r] += (float)sum[r];
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
        float *dst = panel + (size_t)r * DR_NR; /* dst[u*NR + j]: position t0 + u */
        for (int j = 0; j < DR_NR; j++) {
            int ck = ck0 + j, shift = ck % K - pad, u = 0;
            int a = imax(0, -shift - t0), e = imin(len, L - shift - t0);
            if (ck >= Cin * K)
                a = e = len; /* past the last column: zeros */
            const float *xr = x + ((size_t)n * Cin + (ck < Cin * K ? ck / K : 0)) * L;
            for (; u < a && u < len; u++)
                dst[u * DR_NR + j] = 0.0f;
            for (; u < e; u++)
                dst[u * DR_NR + j] = xr[t0 + u + shift];
            for (; u < len; u++)
                dst[u * DR_NR + j] = 0.0f;
        }
        r += len;
    }
}

/* This thread's columns of dw, from the transposed dout (pack_dw_a). */
static void conv_dw(float *dw, const float *at, const float *x, int B, int Cin, int Cout, int L,
                    int K)
{
    _Alignas(64) float panel[KP * DR_NR];
    _Alignas(64) float tile[DR_MR * DR_NR];
    const long P = (long)B * L;
    const int CK = Cin * K, nrp = (Cout + DR_MR - 1) / DR_MR, ncp = (CK + DR_NR - 1) / DR_NR;
    int c0, c1;
    dr_thread_range(ncp, &c0, &c1);
    for (long p0 = 0; p0 < P; p0 += KP) {
        int kp = (int)(P - p0 < KP ? P - p0 : KP);
        for (int cp = c0; cp < c1; cp++) {
            int ck0 = cp * DR_NR, cols = imin(DR_NR, CK - ck0);
            pack_dw_b(panel, x, Cin, L, K, (K - 1) / 2, ck0, p0, kp);
            for (int q = 0; q < nrp; q++) {
                const float *a = at + ((size_t)q * P + p0) * DR_MR;
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
    float *apack = scratch, *at = scratch + apack_floats(Cin, Cout, K);
    conv_gemm g = {dx, dout, apack, NULL, 1, B, Cout, Cin, L, K, K - 1 - (K - 1) / 2};
#pragma omp parallel
    {
        pack_dw_a(at, db, dout, B, Cout, L);
        if (dx)
            pack_a_dx(apack, w, Cin, Cout, K);
#pragma omp barrier
        conv_dw(dw, at, x, B, Cin, Cout, L, K);
        if (dx)
            conv_gemm_run(&g);
    }
}
