/* 1-D max pooling on the GPU (contract in core/ops/maxpool1d.h). One thread per
 * output. Windows do not overlap (stride = window), so in the backward pass each
 * input position has at most one writer and no atomics are needed. Ties keep the
 * first maximum; a NaN in a window is taken as its maximum (the first NaN). */
#include "kernels/cuda/common.cuh"

static __global__ void maxpool_forward_kernel(float *out, int32_t *argmax, const float *x,
                                              long rows, int L, int K, int Lout)
{
    GRID_LOOP(i, rows * Lout)
    {
        long r = i / Lout;
        int o = (int)(i % Lout);
        const float *xr = x + r * L;
        int t0 = o * K, t1 = min(t0 + K, L);
        int best = t0;
        float bv = xr[t0];
        for (int t = t0 + 1; t < t1 && bv == bv; t++) {
            float v = xr[t];
            if (v > bv || v != v) {
                bv = v;
                best = t;
            }
        }
        out[i] = bv;
        argmax[i] = best;
    }
}

static __global__ void maxpool_backward_kernel(float *dx, const float *dout, const int32_t *argmax,
                                               long rows, int L, int Lout)
{
    GRID_LOOP(i, rows * Lout)
    {
        long r = i / Lout;
        dx[r * L + argmax[i]] += dout[i];
    }
}

extern "C" void dr_cuda_maxpool1d_forward(dr_backend *be, float *out, int32_t *argmax,
                                          const float *x, int B, int C, int L, int K)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    if (K <= 0) {
        DR_CUDA_FAIL(ctx, DR_ERR_SHAPE, "maxpool1d: window %d (must be >= 1)", K);
        return;
    }
    int Lout = dr_maxpool1d_out_len(L, K);
    long rows = (long)B * C;
    maxpool_forward_kernel<<<dr_cuda_blocks(rows * Lout), DR_CUDA_THREADS, 0, ctx->stream>>>(
        out, argmax, x, rows, L, K, Lout);
    DR_CUDA_LAUNCH_CHECK(ctx, "maxpool_forward_kernel");
}

extern "C" void dr_cuda_maxpool1d_backward(dr_backend *be, float *dx, const float *dout,
                                           const int32_t *argmax, int B, int C, int L, int K)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    if (K <= 0) {
        DR_CUDA_FAIL(ctx, DR_ERR_SHAPE, "maxpool1d: window %d (must be >= 1)", K);
        return;
    }
    int Lout = dr_maxpool1d_out_len(L, K);
    long rows = (long)B * C;
    maxpool_backward_kernel<<<dr_cuda_blocks(rows * Lout), DR_CUDA_THREADS, 0, ctx->stream>>>(
        dx, dout, argmax, rows, L, Lout);
    DR_CUDA_LAUNCH_CHECK(ctx, "maxpool_backward_kernel");
}
