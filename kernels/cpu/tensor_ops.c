/* Data movement and sums on the CPU (contract in core/ops/tensor_ops.h).
 *   copy2d:    dst[r * ld_dst + c] (= or +=) src[r * ld_src + c]
 *   add:       out = a + b;  axpy: y += alpha x
 *   transpose: out [B, N, M] (= or +=) x [B, M, N] per batch row
 * All memory-bound: OpenMP only above a size where the threads pay for their
 * start-up, plain loops the compiler vectorises. */
#include "core/ops/tensor_ops.h"
#include "kernels/cpu/ops.h"

#include <string.h>

#define DR_TOPS_PAR_MIN 32768L

void dr_cpu_copy2d(dr_backend *be, float *dst, long ld_dst, const float *src, long ld_src,
                   long rows, long cols, int accumulate)
{
    (void)be;
    DR_ASSERT(rows >= 0 && cols >= 0 && ld_dst >= cols && ld_src >= cols);
    if (rows == 0 || cols == 0)
        return;
    DR_ASSERT(dst && src);
#pragma omp parallel for schedule(static) if (rows * cols >= DR_TOPS_PAR_MIN)
    for (long r = 0; r < rows; r++) {
        float *d = dst + r * ld_dst;
        const float *s = src + r * ld_src;
        if (accumulate) {
            for (long c = 0; c < cols; c++)
                d[c] += s[c];
        } else if (d != s) {
            memcpy(d, s, (size_t)cols * sizeof *d);
        }
    }
}

/* out may alias a or b (each element is read before it is written). */
void dr_cpu_add(dr_backend *be, float *out, const float *a, const float *b, long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (out && a && b)));
#pragma omp parallel for simd schedule(static) if (n >= DR_TOPS_PAR_MIN)
    for (long i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void dr_cpu_axpy(dr_backend *be, float *y, float alpha, const float *x, long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (y && x)));
#pragma omp parallel for simd schedule(static) if (n >= DR_TOPS_PAR_MIN)
    for (long i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

/* out[b, j, i] (= or +=) x[b, i, j], i < M, j < N. Tiles of 32 x 32 keep both
 * the reads and the writes within a few cache lines per row; out must not
 * alias x. */
void dr_cpu_transpose(dr_backend *be, float *out, const float *x, int B, int M, int N,
                      int accumulate)
{
    (void)be;
    enum { T = 32 };
    DR_ASSERT(B >= 0 && M >= 0 && N >= 0);
    if ((long)B * M * N == 0)
        return;
    DR_ASSERT(out && x && out != x);
    const long per = (long)M * N;
    const long ti = (M + T - 1) / T, tj = (N + T - 1) / T;
    const long tiles = (long)B * ti * tj;
#pragma omp parallel for schedule(static) if ((long)B * per >= DR_TOPS_PAR_MIN)
    for (long t = 0; t < tiles; t++) {
        long b = t / (ti * tj), rest = t % (ti * tj);
        int i0 = (int)(rest / tj) * T, j0 = (int)(rest % tj) * T;
        int i1 = i0 + T < M ? i0 + T : M, j1 = j0 + T < N ? j0 + T : N;
        const float *xb = x + b * per;
        float *ob = out + b * per;
        for (int j = j0; j < j1; j++) {
            float *orow = ob + (long)j * M;
            if (accumulate)
                for (int i = i0; i < i1; i++)
                    orow[i] += xb[(long)i * N + j];
            else
                for (int i = i0; i < i1; i++)
                    orow[i] = xb[(long)i * N + j];
        }
    }
}
