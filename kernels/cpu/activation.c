/* Element-wise activations and dropout on the CPU (contract in
 * core/ops/activation.h). All ops are over n contiguous floats; OpenMP splits the
 * range only when it is long enough to pay for waking the threads.
 * NaN handling follows PyTorch: relu and sigmoid pass a NaN through, and
 * dropout multiplies, so a NaN upstream stays visible. */
#include "core/ops/activation.h"

#include "core/philox.h"
#include "kernels/math.h"
#include "kernels/cpu/ops.h"

/* Below this many elements one thread is faster than a parallel region (a few
 * microseconds to start against ~1 ns per element). */
#define DR_ACT_PAR_MIN 32768L

void dr_cpu_relu_forward(dr_backend *be, float *out, const float *x, long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (out && x)));
#pragma omp parallel for simd schedule(static) if (n >= DR_ACT_PAR_MIN)
    for (long i = 0; i < n; i++)
        out[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN is not < 0: it passes through */
}

/* The mask is taken from out, not x: out > 0 exactly where x > 0, and the
 * forward output is what the graph keeps (it may have overwritten x). */
void dr_cpu_relu_backward(dr_backend *be, float *dx, const float *dout, const float *out, long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (dx && dout && out)));
#pragma omp parallel for simd schedule(static) if (n >= DR_ACT_PAR_MIN)
    for (long i = 0; i < n; i++)
        dx[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void dr_cpu_sigmoid_forward(dr_backend *be, float *out, const float *x, long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (out && x)));
#pragma omp parallel for schedule(static) if (n >= DR_ACT_PAR_MIN / 8)
    for (long i = 0; i < n; i++)
        out[i] = dr_sigmoidf(x[i]);
}

/* One Philox block gives the uniforms of elements 4i .. 4i+3, so the loop runs
 * over blocks: the same numbers as dr_philox_uniform(seed, stream, counter, j)
 * element by element, at a quarter of the cost. p = 1 drops everything: the
 * scale 1 / (1 - p) would be inf and 0 * inf a NaN, so it is set to 0 instead
 * (a CUDA kernel must do the same to draw identical masks). */
void dr_cpu_dropout_forward(dr_backend *be, float *out, float *mask, const float *x, long n,
                            float p, uint64_t seed, uint32_t stream, uint64_t counter)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (out && mask && x)));
    DR_ASSERT(p >= 0.0f && p <= 1.0f);
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const long nblocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n >= DR_ACT_PAR_MIN / 8)
    for (long b = 0; b < nblocks; b++) {
        dr_philox_u4 r = dr_philox_block(seed, stream, counter, (uint32_t)b);
        long j0 = 4 * b;
        int m = n - j0 < 4 ? (int)(n - j0) : 4;
        for (int k = 0; k < m; k++) {
            float keep = dr_uniform01(r.v[k]) >= p ? scale : 0.0f;
            mask[j0 + k] = keep;
            out[j0 + k] = x[j0 + k] * keep;
        }
    }
}

void dr_cpu_dropout_backward(dr_backend *be, float *dx, const float *dout, const float *mask,
                             long n)
{
    (void)be;
    DR_ASSERT(n >= 0 && (n == 0 || (dx && dout && mask)));
#pragma omp parallel for simd schedule(static) if (n >= DR_ACT_PAR_MIN)
    for (long i = 0; i < n; i++)
        dx[i] += dout[i] * mask[i];
}
