/* The lab variant of conv1d for bench/ops_bench.c: the CPU kernel as it was
 * before the implicit GEMMs (commit f434847), kept beside the benchmark so that
 * every run times both on the same machine at the same moment: on this shared
 * host the time of a memory-heavy kernel moves by up to 30 % between runs, so
 * only a paired comparison says which one is faster.
 *
 * im2col of the batch into a channel-major block [Cin*K, B*L] (row stride an
 * odd number of cache lines), then OpenBLAS sgemm, one OpenMP region, each thread
 * a range of samples in chunks of 32 (forward, dcol) and of output channels (dw). */
#include <assert.h>
#include <cblas.h>
#include <omp.h>

static size_t lab_ld(size_t n)
{
    size_t lines = (n + 15) / 16;
    return (lines | 1) * 16;
}

static size_t lab_conv1d_scratch_floats(int B, int Cin, int Cout, int L, int K)
{
    return lab_ld((size_t)B * L) * ((size_t)Cin * K + (size_t)Cout);
}

enum { CHUNK = 32 }; /* samples per forward / dcol step */

/* Output positions t in [t0, t1) read x at t + shift inside [0, L). */
static void valid_range(int L, int shift, int *t0, int *t1)
{
    int a = shift < 0 ? -shift : 0;
    int e = shift > 0 ? L - shift : L;
    if (a > L) /* a kernel wider than twice the sequence: no position is valid */
        a = L;
    if (e < a)
        e = a;
    *t0 = a;
    *t1 = e;
}

/* Samples [0, nb) of x [nb, Cin, L] into columns [0, nb*L) of col (stride ld).
 * Sample-major, so each sample's block of x is read once while it sits in L1. */
static void im2col(float *restrict col, size_t ld, const float *restrict x, int nb, int Cin,
                   int L, int K)
{
    const int pl = (K - 1) / 2;
    for (int n = 0; n < nb; n++)
        for (int c = 0; c < Cin; c++) {
            const float *xr = x + ((size_t)n * Cin + c) * L;
            for (int k = 0; k < K; k++) {
                int t0, t1, shift = k - pl;
                valid_range(L, shift, &t0, &t1);
                float *dst = col + (size_t)(c * K + k) * ld + (size_t)n * L;
                for (int t = 0; t < t0; t++)
                    dst[t] = 0.0f;
                for (int t = t0; t < t1; t++)
                    dst[t] = xr[t + shift];
                for (int t = t1; t < L; t++)
                    dst[t] = 0.0f;
            }
        }
}

/* The transpose of im2col: dx [nb, Cin, L] += the shifted rows of dcol. */
static void col2im_add(float *restrict dx, const float *restrict dcol, size_t ld, int nb, int Cin,
                       int L, int K)
{
    const int pl = (K - 1) / 2;
    for (int n = 0; n < nb; n++)
        for (int c = 0; c < Cin; c++) {
            float *dst = dx + ((size_t)n * Cin + c) * L;
            for (int k = 0; k < K; k++) {
                int t0, t1, shift = k - pl;
                valid_range(L, shift, &t0, &t1);
                const float *src = dcol + (size_t)(c * K + k) * ld + (size_t)n * L;
                for (int t = t0; t < t1; t++)
                    dst[t + shift] += src[t];
            }
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

static void lab_conv1d_forward(float *out, float *scratch, const float *x,
                           const float *w, const float *b, int B, int Cin, int Cout, int L, int K)
{
    assert(B >= 0 && Cin > 0 && Cout > 0 && L > 0 && K > 0);
    if (B == 0)
        return;
    assert(out && scratch && x && w);
    const int CK = Cin * K;
    const size_t ld = lab_ld((size_t)B * L);
    float *col = scratch, *y = scratch + (size_t)CK * ld;
    int keep = blas_single_begin();
#pragma omp parallel
    {
        int n0, n1;
        my_range(B, &n0, &n1);
        for (int n = n0; n < n1; n += CHUNK) {
            int nb = n1 - n < CHUNK ? n1 - n : CHUNK;
            size_t p = (size_t)n * L;
            im2col(col + p, ld, x + (size_t)n * Cin * L, nb, Cin, L, K);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, nb * L, CK, 1.0f, w, CK,
                        col + p, ld, 0.0f, y + p, ld);
            for (int j = 0; j < nb; j++)
                for (int o = 0; o < Cout; o++) {
                    const float *src = y + o * ld + p + (size_t)j * L;
                    float *dst = out + ((size_t)(n + j) * Cout + o) * L;
                    float bo = b ? b[o] : 0.0f;
                    for (int t = 0; t < L; t++)
                        dst[t] = src[t] + bo;
                }
        }
    }
    blas_single_end(keep);
}

static void lab_conv1d_backward(float *dx, float *dw, float *db, float *scratch,
                            const float *dout, const float *x, const float *w, int B, int Cin,
                            int Cout, int L, int K)
{
    assert(B >= 0 && Cin > 0 && Cout > 0 && L > 0 && K > 0);
    if (B == 0)
        return;
    assert(dw && scratch && dout && x && w);
    const int P = B * L, CK = Cin * K;
    const size_t ld = lab_ld((size_t)B * L);
    float *col = scratch, *D = scratch + (size_t)CK * ld;
    int keep = blas_single_begin();
#pragma omp parallel
    {
        int n0, n1, o0, o1;
        my_range(B, &n0, &n1);
        my_range(Cout, &o0, &o1);
        /* the forward's col is gone (scratch is undefined on entry): rebuild it */
        im2col(col + (size_t)n0 * L, ld, x + (size_t)n0 * Cin * L, n1 - n0, Cin, L, K);
        for (int n = n0; n < n1; n++)
            for (int o = 0; o < Cout; o++) {
                const float *src = dout + ((size_t)n * Cout + o) * L;
                float *dst = D + o * ld + (size_t)n * L;
                for (int t = 0; t < L; t++)
                    dst[t] = src[t];
            }
#pragma omp barrier
        /* dw rows [o0, o1) need every sample's col and D */
        if (o1 > o0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, o1 - o0, CK, P, 1.0f,
                        D + o0 * ld, ld, col, ld, 1.0f, dw + (size_t)o0 * CK, CK);
        for (int o = o0; db && o < o1; o++) {
            double s = 0.0; /* B*L terms: keep the sum's rounding off the gradient */
            const float *row = D + o * ld;
            for (int p = 0; p < P; p++)
                s += row[p];
            db[o] += (float)s;
        }
        if (dx) {
#pragma omp barrier
            /* every thread is done reading col: overwrite this thread's columns with dcol */
            for (int n = n0; n < n1; n += CHUNK) {
                int nb = n1 - n < CHUNK ? n1 - n : CHUNK;
                size_t p = (size_t)n * L;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CK, nb * L, Cout, 1.0f, w,
                            CK, D + p, ld, 0.0f, col + p, ld);
                col2im_add(dx + (size_t)n * Cin * L, col + p, ld, nb, Cin, L, K);
            }
        }
    }
    blas_single_end(keep);
}
