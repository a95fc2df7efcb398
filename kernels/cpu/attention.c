/* Additive attention forward and backward on the CPU (contract in
 * core/ops/attention.h). The projections w h and its transposes are GEMMs over all
 * B*T rows at once (OpenBLAS, its own threads); the softmax over time and the
 * weighted sums are short vectorised per-sample loops on the calling thread (no
 * OpenMP team, which would spin on the cores OpenBLAS needs; see lstm.c). */
/* GCC keeps a loop with a comparison or a division in a select scalar under its
 * default -ftrapping-math (it must not raise FP exception flags the source would
 * not). No code here reads those flags, so we let it vectorise the gate math
 * (dr_fast_* in kernels/math.h). Unlike -ffast-math this keeps IEEE results,
 * NaNs included. Set before the includes so the inline helpers get it too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "core/ops/attention.h"

#include <cblas.h>
#include <math.h>

#include "kernels/math.h"
#include "kernels/cpu/ops.h"

void dr_cpu_attention_forward(dr_backend *be, float *ctx, float *alpha, float *u, const float *h,
                              const float *w, const float *b, const float *v, int B, int T, int H,
                              int A)
{
    (void)be;
    if (B <= 0 || T <= 0 || H <= 0 || A <= 0)
        return;
    /* u = w h + b over all (n, t) rows: [B*T, H] x [H, A]; tanh below */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B * T, A, H, 1.0f, h, H, w, H, 0.0f, u,
                A);
    for (int n = 0; n < B; n++) {
        float *al = alpha + (size_t)n * T;
        float smax = -INFINITY;
        for (int t = 0; t < T; t++) {
            float *ur = u + ((size_t)n * T + t) * A;
            float s = 0.0f;
            for (int a = 0; a < A; a++) {
                ur[a] = dr_fast_tanhf(ur[a] + b[a]);
                s += v[a] * ur[a];
            }
            al[t] = s;
            smax = fmaxf(smax, s);
        }
        /* softmax over t; subtracting the max keeps expf finite */
        float sum = 0.0f;
        for (int t = 0; t < T; t++) {
            al[t] = expf(al[t] - smax);
            sum += al[t];
        }
        float inv = 1.0f / sum;
        for (int t = 0; t < T; t++)
            al[t] *= inv;
        float *cr = ctx + (size_t)n * H;
        for (int k = 0; k < H; k++)
            cr[k] = 0.0f;
        for (int t = 0; t < T; t++) {
            const float *hr = h + ((size_t)n * T + t) * H;
            for (int k = 0; k < H; k++)
                cr[k] += al[t] * hr[k];
        }
    }
}

void dr_cpu_attention_backward(dr_backend *be, float *dh, float *dw, float *db, float *dv,
                               float *scratch, const float *dctx, const float *h, const float *w,
                               const float *v, const float *u, const float *alpha, int B, int T,
                               int H, int A)
{
    (void)be;
    if (B <= 0 || T <= 0 || H <= 0 || A <= 0)
        return;
    /* scratch: dpre [B, T, A] (gradient of w h + b) and ds [B, T] (of the scores) */
    float *dpre = scratch;
    float *ds = dpre + (size_t)B * T * A;
    const int R = B * T;

    for (int n = 0; n < B; n++) {
        const float *al = alpha + (size_t)n * T;
        const float *dc = dctx + (size_t)n * H;
        float *dsn = ds + (size_t)n * T;
        /* dalpha_t = dctx . h_t; softmax backward: ds_t = alpha_t (dalpha_t - sum alpha dalpha) */
        float dot = 0.0f;
        for (int t = 0; t < T; t++) {
            const float *hr = h + ((size_t)n * T + t) * H;
            float da = 0.0f;
            for (int k = 0; k < H; k++)
                da += dc[k] * hr[k];
            dsn[t] = da;
            dot += al[t] * da;
        }
        for (int t = 0; t < T; t++) {
            dsn[t] = al[t] * (dsn[t] - dot);
            const float *ur = u + ((size_t)n * T + t) * A;
            float *dp = dpre + ((size_t)n * T + t) * A;
            for (int a = 0; a < A; a++)
                dp[a] = dsn[t] * v[a] * (1.0f - ur[a] * ur[a]);
            /* the direct path: ctx = sum alpha_t h_t */
            if (dh) {
                float *dhr = dh + ((size_t)n * T + t) * H;
                for (int k = 0; k < H; k++)
                    dhr[k] += al[t] * dc[k];
            }
        }
    }

    /* dv += u^T ds and db += column sums of dpre, rows read in order with the
     * partial sums of a block of columns in L1 */
    enum { CB = 256 };
    int nblk = (A + CB - 1) / CB;
    for (int blk = 0; blk < nblk; blk++) {
        int a0 = blk * CB, a1 = a0 + CB < A ? a0 + CB : A;
        float sv[CB] = {0}, sb[CB] = {0};
        for (int r = 0; r < R; r++) {
            const float *ur = u + (size_t)r * A, *dp = dpre + (size_t)r * A;
            for (int a = a0; a < a1; a++) {
                sv[a - a0] += ds[r] * ur[a];
                sb[a - a0] += dp[a];
            }
        }
        for (int a = a0; a < a1; a++) {
            dv[a] += sv[a - a0];
            db[a] += sb[a - a0];
        }
    }
    /* dw += dpre^T h: [A, B*T] x [B*T, H];  dh += dpre w: [B*T, A] x [A, H] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, A, H, R, 1.0f, dpre, A, h, H, 1.0f, dw,
                H);
    if (dh)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, H, A, 1.0f, dpre, A, w, H, 1.0f,
                    dh, H);
}
