/* 1-D convolution on the CPU (contract in kernels/conv1d.h): im2col of the whole
 * batch, then one GEMM, so OpenBLAS sees one large product instead of B small
 * ones (per sample the product is only L = 20 columns wide).
 *
 *   P = B * L output positions, CK = Cin * K, pl = (K - 1) / 2
 *   col [P, CK]      col[n*L + t, c*K + k] = x[n, c, t + k - pl]  (0 outside [0, L))
 *   yt  [P, Cout]    yt = col . w^T                  (w is [Cout, CK])
 *   out [B, Cout, L] out[n, o, t] = yt[n*L + t, o] + b[o]
 * Backward, with dyt [P, Cout] = dout regrouped like yt:
 *   db   += sums of dout over n and t
 *   dw   += dyt^T . col                  [Cout, P] x [P, CK]
 *   dcol  = dyt . w                      [P, Cout] x [Cout, CK]   (into col's space)
 *   dx   += col2im(dcol)                 (the transpose of im2col: scatter-add)
 * scratch = col followed by yt (or dyt): B*L*(Cin*K + Cout) floats.
 *
 * Why positions are the rows: every regrouping pass (im2col, yt -> out, dout ->
 * dyt, col2im) then touches one sample's block at a time (L rows, <= 30 KB at the
 * paper's sizes), which stays in L1/L2. With channels as rows ([CK, P]) the same
 * passes stride through the whole batch: im2col + output regrouping measured
 * 12.8 ms against 3.5 ms this way (one core, 128->256, next to a ~15 ms GEMM).
 *
 * Threads: one OpenMP region per call, BLAS single-threaded inside it. Each
 * thread owns a range of samples (rows of col and yt) for im2col, the forward
 * GEMM, the transposes, dcol and col2im, and a range of output channels for dw
 * and db. OpenBLAS is the pthread build: letting its pool run the GEMMs between
 * OpenMP loops puts two sets of spinning threads on two cores; measured slower,
 * see bench/RESULTS.md (the pool variant is the lab entry in bench/ops_bench.c).
 * blas_single_begin/end (below) switch OpenBLAS to 1 thread for the call and
 * restore the caller's setting, so kernels that use the pool are unaffected. */
#include "kernels/conv1d.h"

#include <cblas.h>
#include <omp.h>

/* Output positions t in [t0, t1) read x at t + shift inside [0, L). */
static void valid_range(int L, int shift, int *t0, int *t1)
{
    int a = shift < 0 ? -shift : 0;
    int e = shift > 0 ? L - shift : L;
    if (e < a)
        e = a;
    *t0 = a;
    *t1 = e;
}

/* One sample: x [Cin, L] -> col [L, CK]. Column (c, k) is x's row c shifted. */
static void im2col_sample(float *restrict col, const float *restrict x, int Cin, int L, int K)
{
    const int CK = Cin * K, pl = (K - 1) / 2;
    for (int c = 0; c < Cin; c++)
        for (int k = 0; k < K; k++) {
            int t0, t1, shift = k - pl;
            valid_range(L, shift, &t0, &t1);
            float *dst = col + c * K + k;
            const float *xr = x + (size_t)c * L;
            for (int t = 0; t < t0; t++)
                dst[(size_t)t * CK] = 0.0f;
            for (int t = t0; t < t1; t++)
                dst[(size_t)t * CK] = xr[t + shift];
            for (int t = t1; t < L; t++)
                dst[(size_t)t * CK] = 0.0f;
        }
}

/* This thread's share [lo, hi) of n items. */
static void my_range(int n, int *lo, int *hi)
{
    int parts = omp_get_num_threads(), i = omp_get_thread_num();
    *lo = (int)((long)n * i / parts);
    *hi = (int)((long)n * (i + 1) / parts);
}

static int blas_single_begin(void)
{
    int keep = openblas_get_num_threads();
    if (keep != 1)
        openblas_set_num_threads(1);
    return keep;
}

static void blas_single_end(int keep)
{
    if (keep != 1)
        openblas_set_num_threads(keep);
}

void dr_cpu_conv1d_forward(dr_backend *be, float *out, float *scratch, const float *x,
                           const float *w, const float *b, int B, int Cin, int Cout, int L, int K)
{
    (void)be;
    DR_ASSERT(B >= 0 && Cin > 0 && Cout > 0 && L > 0 && K > 0);
    if (B == 0)
        return;
    DR_ASSERT(out && scratch && x && w);
    const int CK = Cin * K;
    const size_t LCK = (size_t)L * CK, LCo = (size_t)L * Cout;
    float *col = scratch, *yt = scratch + (size_t)B * LCK;
    int keep = blas_single_begin();
#pragma omp parallel
    {
        int n0, n1;
        my_range(B, &n0, &n1);
        for (int n = n0; n < n1; n++)
            im2col_sample(col + n * LCK, x + (size_t)n * Cin * L, Cin, L, K);
        if (n1 > n0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (n1 - n0) * L, Cout, CK, 1.0f,
                        col + n0 * LCK, CK, w, CK, 0.0f, yt + n0 * LCo, Cout);
        for (int n = n0; n < n1; n++) {
            const float *src = yt + n * LCo;          /* [L, Cout] */
            float *dst = out + (size_t)n * Cout * L; /* [Cout, L] */
            for (int o = 0; o < Cout; o++) {
                float bo = b ? b[o] : 0.0f;
                for (int t = 0; t < L; t++)
                    dst[(size_t)o * L + t] = src[(size_t)t * Cout + o] + bo;
            }
        }
    }
    blas_single_end(keep);
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
    const int P = B * L, CK = Cin * K, pl = (K - 1) / 2;
    const size_t LCK = (size_t)L * CK, LCo = (size_t)L * Cout;
    float *col = scratch, *dyt = scratch + (size_t)B * LCK;
    int keep = blas_single_begin();
#pragma omp parallel
    {
        int n0, n1, o0, o1;
        my_range(B, &n0, &n1);
        my_range(Cout, &o0, &o1);
        /* the forward's col is gone (scratch is undefined on entry): rebuild it */
        for (int n = n0; n < n1; n++) {
            im2col_sample(col + n * LCK, x + (size_t)n * Cin * L, Cin, L, K);
            const float *src = dout + (size_t)n * Cout * L; /* [Cout, L] */
            float *dst = dyt + n * LCo;                     /* [L, Cout] */
            /* t outer: contiguous stores; measured 10 - 30 % faster than o outer */
            for (int t = 0; t < L; t++)
                for (int o = 0; o < Cout; o++)
                    dst[(size_t)t * Cout + o] = src[(size_t)o * L + t];
        }
#pragma omp barrier
        /* dw rows [o0, o1) need every sample's col and dyt */
        if (o1 > o0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, CK, P, 1.0f, dyt + o0,
                        Cout, col, CK, 1.0f, dw + (size_t)o0 * CK, CK);
        for (int o = o0; db && o < o1; o++) {
            double s = 0.0; /* B*L terms: keep the sum's rounding off the gradient */
            for (int n = 0; n < B; n++)
                for (int t = 0; t < L; t++)
                    s += dout[((size_t)n * Cout + o) * L + t];
            db[o] += (float)s;
        }
        if (dx) {
#pragma omp barrier
            /* every thread is done reading col: overwrite this thread's rows with dcol */
            if (n1 > n0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (n1 - n0) * L, CK, Cout,
                            1.0f, dyt + n0 * LCo, Cout, w, CK, 0.0f, col + n0 * LCK, CK);
            /* col2im: sample n's rows of dx belong to this thread only */
            for (int n = n0; n < n1; n++) {
                const float *src = col + n * LCK;      /* [L, CK] */
                float *dst = dx + (size_t)n * Cin * L; /* [Cin, L] */
                for (int c = 0; c < Cin; c++)
                    for (int k = 0; k < K; k++) {
                        int t0, t1, shift = k - pl;
                        valid_range(L, shift, &t0, &t1);
                        for (int t = t0; t < t1; t++)
                            dst[(size_t)c * L + t + shift] += src[(size_t)t * CK + c * K + k];
                    }
            }
        }
    }
    blas_single_end(keep);
}
