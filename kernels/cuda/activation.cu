/* Element-wise activations and dropout on the GPU (contract in
 * core/ops/activation.h). The dropout mask comes from the same Philox stream as
 * on the CPU (core/philox.h): u_i = dr_philox_uniform(seed, stream, counter, i),
 * an exact 24-bit fraction, so both backends keep the same elements and store
 * bit-identical masks. */
#include "kernels/cuda/common.cuh"

static __global__ void relu_forward_kernel(float *out, const float *x, long n)
{
    GRID_LOOP(i, n) out[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN passes through, as on the CPU */
}

static __global__ void relu_backward_kernel(float *dx, const float *dout, const float *out, long n)
{
    GRID_LOOP(i, n) dx[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

static __global__ void sigmoid_forward_kernel(float *out, const float *x, long n)
{
    GRID_LOOP(i, n) out[i] = dr_sigmoidf(x[i]);
}

/* One thread per Philox block: four uniforms for elements 4j .. 4j+3. The
 * counter is the argument, or in a captured step the step state's (read at
 * replay: the argument would be frozen at the captured step's value). */
static __global__ void dropout_forward_kernel(float *out, float *mask, const float *x, long n,
                                              float p, uint64_t seed, uint32_t stream,
                                              uint64_t counter_arg,
                                              const unsigned long long *counter_dev)
{
    const uint64_t counter = counter_dev ? *counter_dev : counter_arg;
    /* p = 1 drops everything: scale 0, not 1 / 0 (as on the CPU) */
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    long nblk = (n + 3) / 4;
    GRID_LOOP(j, nblk)
    {
        dr_philox_u4 r = dr_philox_block(seed, stream, counter, (uint32_t)j);
        for (int k = 0; k < 4; k++) {
            long i = 4 * j + k;
            if (i < n) {
                float m = dr_uniform01(r.v[k]) >= p ? scale : 0.0f;
                mask[i] = m;
                out[i] = x[i] * m;
            }
        }
    }
}

static __global__ void dropout_backward_kernel(float *dx, const float *dout, const float *mask,
                                               long n)
{
    GRID_LOOP(i, n) dx[i] = dx[i] + __fmul_rn(dout[i], mask[i]);
}

extern "C" void dr_cuda_relu_forward(dr_backend *be, float *out, const float *x, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    relu_forward_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(out, x, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "relu_forward_kernel");
}

extern "C" void dr_cuda_relu_backward(dr_backend *be, float *dx, const float *dout,
                                      const float *out, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    relu_backward_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(dx, dout, out, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "relu_backward_kernel");
}

extern "C" void dr_cuda_sigmoid_forward(dr_backend *be, float *out, const float *x, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    sigmoid_forward_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(out, x, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "sigmoid_forward_kernel");
}

extern "C" void dr_cuda_dropout_forward(dr_backend *be, float *out, float *mask, const float *x,
                                        long n, float p, uint64_t seed, uint32_t stream,
                                        uint64_t counter)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    if (!(p >= 0.0f && p <= 1.0f)) {
        DR_CUDA_FAIL(ctx, DR_ERR_INVALID, "dropout: p = %g (must be in [0, 1])", (double)p);
        return;
    }
    if ((n + 3) / 4 > (long)UINT32_MAX) {
        /* the Philox block index is 32 bits (core/philox.h) */
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "dropout: %ld elements exceed the Philox block "
                     "counter (2^34)", n);
        return;
    }
    const unsigned long long *counter_dev = ctx->capturing ? &ctx->step_dev->counter : NULL;
    dropout_forward_kernel<<<dr_cuda_blocks((n + 3) / 4), DR_CUDA_THREADS, 0, ctx->stream>>>(
        out, mask, x, n, p, seed, stream, counter, counter_dev);
    DR_CUDA_LAUNCH_CHECK(ctx, "dropout_forward_kernel");
}

extern "C" void dr_cuda_dropout_backward(dr_backend *be, float *dx, const float *dout,
                                         const float *mask, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    dropout_backward_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(dx, dout,
                                                                                    mask, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "dropout_backward_kernel");
}
