/* LSTM forward and backward on the CPU (contract in core/ops/lstm.h).
 *
 * Nearly all the work is matrix products, so they go to OpenBLAS in the largest
 * pieces the recurrence allows (per thread: see below):
 *   forward:  gates[B*T, 4H] = x[B*T, I] w_ih^T           one GEMM for all steps
 *             gates_t       += h_{t-1} w_hh^T              one GEMM per step
 *   backward: dh_{t-1}       = dgates_t w_hh               one GEMM per step
 *             dw_ih += dgates^T x, dx += dgates w_ih,
 *             dw_hh += dgates_{1..}^T h_{..-1}             one GEMM each, after BPTT
 * The per-step slices of [B, T, *] tensors are strided matrices (leading dimension
 * T * width), which cblas takes as they are: no copies.
 *
 * Threads: one OpenMP region per call with OpenBLAS single-threaded inside
 * (kernels/cpu/threads.h). The recurrence is independent across samples, so each
 * thread runs its own range of samples (rows of every product above but the
 * weight gradients) through every step with no barrier; the weight gradients,
 * which reduce over all samples, are split by rows of dw after a barrier (and two
 * more around zeroing dgates' t = 0 rows for dw_hh). Before, OpenBLAS's pool
 * split each small per-step product and the gate math ran on one thread: handing
 * work to the pool and back took a fifth of the time. */
/* GCC keeps a loop with a comparison or a division in a select scalar under its
 * default -ftrapping-math (it must not raise FP exception flags the source would
 * not). No code here reads those flags, so we let it vectorise the gate math
 * (dr_fast_* in kernels/math.h). Unlike -ffast-math this keeps IEEE results,
 * NaNs included. Set before the includes so the inline helpers get it too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "core/ops/lstm.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/threads.h"
#include "kernels/math.h"
#include "kernels/cpu/ops.h"

/* One sample's cell update at one step. g [4H] holds the pre-activations without
 * bias on entry and the activated gates on return; cp is c_{t-1} (NULL at t = 0).
 * Separate restrict-qualified rows and branch-free inner loops let GCC vectorise
 * (it gives up on the run-time alias checks this many pointers would need). */
static void cell_forward(float *restrict g, float *restrict ct, float *restrict ht,
                         const float *restrict cp, const float *restrict b, int H)
{
    for (int j = 0; j < H; j++) {
        float ig = dr_fast_sigmoidf(g[j] + b[j]);
        float fg = dr_fast_sigmoidf(g[H + j] + b[H + j]);
        float gg = dr_fast_tanhf(g[2 * H + j] + b[2 * H + j]);
        float og = dr_fast_sigmoidf(g[3 * H + j] + b[3 * H + j]);
        g[j] = ig;
        g[H + j] = fg;
        g[2 * H + j] = gg;
        g[3 * H + j] = og;
        ct[j] = ig * gg;
    }
    if (cp)
        for (int j = 0; j < H; j++)
            ct[j] += g[H + j] * cp[j];
    for (int j = 0; j < H; j++)
        ht[j] = g[3 * H + j] * dr_fast_tanhf(ct[j]);
}

/* One sample's step of backpropagation through time. On entry dhr and dcr hold
 * the gradient reaching h_t and c_t from step t+1 (zero at the last step); dcr is
 * replaced by the gradient reaching c_{t-1}. dg [4H] receives the gradient of the
 * pre-activations. g holds the activated gates, ct = c_t, cp = c_{t-1} or NULL. */
static void cell_backward(float *restrict dg, float *restrict dcr, const float *restrict dhr,
                          const float *restrict dht, const float *restrict g,
                          const float *restrict ct, const float *restrict cp, int H)
{
    for (int j = 0; j < H; j++) {
        float ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
        float tc = dr_fast_tanhf(ct[j]);
        float dhj = dht[j] + dhr[j];
        float dc = dhj * og * (1.0f - tc * tc) + dcr[j];
        /* through the activations: sigmoid' = s (1 - s), tanh' = 1 - g^2; the
         * forget gate's factor c_{t-1} is applied below */
        dg[j] = dc * gg * ig * (1.0f - ig);
        dg[H + j] = dc * fg * (1.0f - fg);
        dg[2 * H + j] = dc * ig * (1.0f - gg * gg);
        dg[3 * H + j] = dhj * tc * og * (1.0f - og);
        dcr[j] = dc * fg;
    }
    if (cp)
        for (int j = 0; j < H; j++)
            dg[H + j] *= cp[j];
    else /* c_{-1} = 0 */
        for (int j = 0; j < H; j++)
            dg[H + j] = 0.0f;
}

void dr_cpu_lstm_forward(dr_backend *be, float *h, float *c, float *gates, const float *x,
                         const float *w_ih, const float *w_hh, const float *b, int B, int T,
                         int In, int H)
{
    (void)be;
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    const int G = 4 * H;
    int keep = dr_blas_single_begin();
#pragma omp parallel
    {
        int n0, n1;
        dr_thread_range(B, &n0, &n1);
        const size_t r0 = (size_t)n0 * T; /* this thread's first (n, t) row */
        /* Input projection for all of this thread's steps at once: pre-activations
         * into gates. The bias is added in the gate math, which reads every entry. */
        if (n1 > n0 && In > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (n1 - n0) * T, G, In, 1.0f,
                        x + r0 * In, In, w_ih, In, 0.0f, gates + r0 * G, G);
        else if (n1 > n0)
            memset(gates + r0 * G, 0, (size_t)(n1 - n0) * T * G * sizeof *gates);
        for (int t = 0; n1 > n0 && t < T; t++) {
            /* gates_t += h_{t-1} w_hh^T; h_{-1} = 0 so step 0 has no recurrent term */
            if (t > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n1 - n0, G, H, 1.0f,
                            h + (r0 + t - 1) * H, T * H, w_hh, H, 1.0f, gates + (r0 + t) * G,
                            T * G);
            for (int n = n0; n < n1; n++) {
                size_t row = (size_t)n * T + t;
                cell_forward(gates + row * G, c + row * H, h + row * H,
                             t > 0 ? c + (row - 1) * H : NULL, b, H);
            }
        }
    }
    dr_blas_single_end(keep);
}

/* db[k] += sum over rows r of m[r * ld + k], k < cols. The rows are read in
 * order, in one pass when cols <= CB, with the partial sums in a small block that
 * stays in L1. */
static void add_column_sums(float *db, const float *m, long rows, int ld, int cols)
{
    enum { CB = 1024 };
    for (int k0 = 0; k0 < cols; k0 += CB) {
        int nk = cols - k0 < CB ? cols - k0 : CB;
        float acc[CB];
        for (int k = 0; k < nk; k++)
            acc[k] = 0.0f;
        for (long r = 0; r < rows; r++) {
            const float *mr = m + r * ld + k0;
            for (int k = 0; k < nk; k++)
                acc[k] += mr[k];
        }
        for (int k = 0; k < nk; k++)
            db[k0 + k] += acc[k];
    }
}

void dr_cpu_lstm_backward(dr_backend *be, float *dx, float *dw_ih, float *dw_hh, float *db,
                          float *scratch, const float *dh, const float *x, const float *h,
                          const float *c, const float *gates, const float *w_ih,
                          const float *w_hh, int B, int T, int In, int H)
{
    (void)be;
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    const int G = 4 * H, R = B * T; /* R: all (n, t) rows */
    /* scratch: dgates [B, T, 4H] (pre-activation gradients), dhn [B, H] (gradient
     * reaching h_t through step t+1), dcn [B, H] (same for c_t) */
    float *dgates = scratch;
    float *dhn = dgates + (size_t)B * T * G;
    float *dcn = dhn + (size_t)B * H;
    int keep = dr_blas_single_begin();
#pragma omp parallel
    {
        int n0, n1, g0, g1;
        dr_thread_range(B, &n0, &n1);
        dr_thread_range(G, &g0, &g1);
        const int nb = n1 - n0, ng = g1 - g0;
        const size_t r0 = (size_t)n0 * T;

        /* backpropagation through time, this thread's samples; nothing flows back
         * from beyond the last step */
        memset(dhn + (size_t)n0 * H, 0, (size_t)nb * H * sizeof *dhn);
        memset(dcn + (size_t)n0 * H, 0, (size_t)nb * H * sizeof *dcn);
        for (int t = T - 1; nb > 0 && t >= 0; t--) {
            for (int n = n0; n < n1; n++) {
                size_t row = (size_t)n * T + t;
                cell_backward(dgates + row * G, dcn + (size_t)n * H, dhn + (size_t)n * H,
                              dh + row * H, gates + row * G, c + row * H,
                              t > 0 ? c + (row - 1) * H : NULL, H);
            }
            /* dh_{t-1} = dgates_t w_hh; step 0's h_{-1} is the constant zero state */
            if (t > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, H, G, 1.0f,
                            dgates + (r0 + t) * G, T * G, w_hh, H, 0.0f, dhn + (size_t)n0 * H, H);
        }
#pragma omp barrier
        /* reductions over every row: this thread's gates (rows of dw_ih, dw_hh, db) */
        if (ng > 0) {
            add_column_sums(db + g0, dgates + g0, R, G, ng);
            if (In > 0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ng, In, R, 1.0f, dgates + g0,
                            G, x, In, 1.0f, dw_ih + (size_t)g0 * In, In);
        }
        if (dx && In > 0 && nb > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb * T, In, G, 1.0f,
                        dgates + r0 * G, G, w_ih, In, 1.0f, dx + r0 * In, In);
        /* dw_hh += sum_{t >= 1} dgates_t^T h_{t-1}, as one GEMM: in the flat [B*T]
         * row order, dgates row r + 1 pairs with h row r. The pairs that cross from
         * one sample to the next (dgates at t = 0 with h at t = T-1 of the sample
         * before) must not count, so the t = 0 rows of dgates (read above, not
         * after) are zeroed; |h| <= 1, so those pairs then add exactly 0. */
        if (T > 1) {
#pragma omp barrier
            for (int n = n0; n < n1; n++)
                memset(dgates + (size_t)n * T * G, 0, (size_t)G * sizeof *dgates);
#pragma omp barrier
            if (ng > 0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ng, H, R - 1, 1.0f,
                            dgates + G + g0, G, h, H, 1.0f, dw_hh + (size_t)g0 * H, H);
        }
    }
    dr_blas_single_end(keep);
}
