/* Fully connected layer on the CPU (contract in core/ops/linear.h).
 *   x [B, C], w [OC, C], b [OC]  ->  out [B, OC] = x w^T + b
 * The products go to OpenBLAS:
 *   forward   out  = x w^T (+ b, pre-filled so the GEMM adds onto it)
 *   backward  dx  += dout w        [B, OC] x [OC, C]
 *             dw  += dout^T x      [OC, B] x [B, C]
 *             db  += column sums of dout
 * Threads: one OpenMP region per call with BLAS single-threaded inside
 * (kernels/cpu/threads.h): each thread takes a range of batch rows (out, dx) and
 * a range of output features (dw, db), so no two threads write the same entry.
 * The caller's OpenBLAS thread count is restored on return. */
#include "core/ops/linear.h"

#include "kernels/cpu/threads.h"
#include "kernels/cpu/ops.h"

void dr_cpu_linear_forward(dr_backend *be, float *out, const float *x, const float *w,
                           const float *b, int B, int C, int OC)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && OC > 0);
    if (B == 0)
        return;
    DR_ASSERT(out && x && w);
    int keep = dr_blas_single_begin();
#pragma omp parallel
    {
        int n0, n1;
        dr_thread_range(B, &n0, &n1);
        float beta = 0.0f;
        if (b) {
            for (int n = n0; n < n1; n++)
                for (int o = 0; o < OC; o++)
                    out[(size_t)n * OC + o] = b[o];
            beta = 1.0f;
        }
        /* beta = 0 makes BLAS overwrite out without reading it (NaN-poisoned in tests) */
        if (n1 > n0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n1 - n0, OC, C, 1.0f,
                        x + (size_t)n0 * C, C, w, C, beta, out + (size_t)n0 * OC, OC);
    }
    dr_blas_single_end(keep);
}

void dr_cpu_linear_backward(dr_backend *be, float *dx, float *dw, float *db, const float *dout,
                            const float *x, const float *w, int B, int C, int OC)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && OC > 0);
    if (B == 0)
        return;
    DR_ASSERT(dw && dout && x && w);
    int keep = dr_blas_single_begin();
#pragma omp parallel
    {
        int n0, n1, o0, o1;
        dr_thread_range(B, &n0, &n1);
        dr_thread_range(OC, &o0, &o1);
        if (dx && n1 > n0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n1 - n0, C, OC, 1.0f,
                        dout + (size_t)n0 * OC, OC, w, C, 1.0f, dx + (size_t)n0 * C, C);
        if (o1 > o0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, C, B, 1.0f, dout + o0,
                        OC, x, C, 1.0f, dw + (size_t)o0 * C, C);
        for (int o = o0; db && o < o1; o++) {
            float s = 0.0f;
            for (int n = 0; n < B; n++)
                s += dout[(size_t)n * OC + o];
            db[o] += s;
        }
    }
    dr_blas_single_end(keep);
}
