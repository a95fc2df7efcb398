/* 1-D convolution on the GPU (contract in kernels/conv1d.h), as im2col + one
 * cuBLAS GEMM over the whole batch. Channels as rows, like the CPU version, but
 * with row stride B*L (the CPU pads its rows for its caches; here each
 * regrouping pass is one coalesced element-per-thread kernel):
 *   col   [Cin*K, B*L]  col[(c K + k), (n L + t)] = x[n, c, t + k - pad] (0 outside)
 *   stage [Cout,  B*L]  the GEMM's output, or dout gathered into that layout
 * forward:  stage = w [Cout, Cin*K] col;  out[n, o, t] = stage[o, n L + t] + b[o]
 * backward: stage = dout regathered;  dw += stage col^T;  db += row sums of dout;
 *           col = w^T stage;  dx[n, c, t] += sum_k col[(c K + k), n L + t - k + pad]
 * One GEMM over the whole batch rather than a batched GEMM per sample, since L
 * (the feature count) is only tens: expected to fill the GPU better, not yet
 * measured. A cuDNN version is left for later. */
#include "kernels/cuda/common.cuh"

static __global__ void im2col_kernel(float *col, const float *x, int B, int Cin, int L, int K)
{
    const long BL = (long)B * L;
    const int pad = (K - 1) / 2;
    GRID_LOOP(i, (long)Cin * K * BL)
    {
        long row = i / BL, j = i % BL;
        int c = (int)(row / K), k = (int)(row % K);
        long n = j / L;
        int t = (int)(j % L) + k - pad;
        col[i] = (t >= 0 && t < L) ? x[(n * Cin + c) * L + t] : 0.0f;
    }
}

/* out[n, o, t] = stage[o, n L + t] (+ b[o]) */
static __global__ void scatter_out_kernel(float *out, const float *stage, const float *b, int B,
                                          int Cout, int L)
{
    const long BL = (long)B * L;
    GRID_LOOP(i, BL * Cout)
    {
        long n = i / ((long)Cout * L);
        int o = (int)(i / L % Cout), t = (int)(i % L);
        float v = stage[o * BL + n * L + t];
        out[i] = b ? v + b[o] : v;
    }
}

/* stage[o, n L + t] = dout[n, o, t] */
static __global__ void gather_dout_kernel(float *stage, const float *dout, int B, int Cout, int L)
{
    const long BL = (long)B * L;
    GRID_LOOP(i, BL * Cout)
    {
        long o = i / BL, j = i % BL;
        long n = j / L, t = j % L;
        stage[i] = dout[(n * Cout + o) * L + t];
    }
}

/* db[o] += sum over n, t of dout[n, o, t]: one block per output channel */
static __global__ void conv_bias_grad_kernel(float *db, const float *dout, int B, int Cout, int L)
{
    __shared__ float shared[32];
    const int o = blockIdx.x;
    const long BL = (long)B * L;
    float s = 0.0f;
    for (long j = threadIdx.x; j < BL; j += blockDim.x)
        s += dout[(j / L * Cout + o) * L + j % L];
    s = dr_block_sum(s, shared);
    if (threadIdx.x == 0)
        db[o] += s;
}

/* dx[n, c, t] += sum_k dcol[(c K + k), n L + t - k + pad] for in-range positions */
static __global__ void col2im_add_kernel(float *dx, const float *dcol, int B, int Cin, int L, int K)
{
    const long BL = (long)B * L;
    const int pad = (K - 1) / 2;
    GRID_LOOP(i, BL * Cin)
    {
        long n = i / ((long)Cin * L);
        int c = (int)(i / L % Cin), t = (int)(i % L);
        float s = 0.0f;
        for (int k = 0; k < K; k++) {
            int u = t - k + pad;
            if (u >= 0 && u < L)
                s += dcol[((long)c * K + k) * BL + n * L + u];
        }
        dx[i] += s;
    }
}

static int conv_shape_ok(dr_cuda_context *ctx, int B, int Cin, int Cout, int L, int K)
{
    /* the GEMM sizes are ints for cuBLAS */
    if ((long)B * L > INT32_MAX || (long)Cin * K > INT32_MAX) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "conv1d: B*L = %ld or Cin*K = %ld over 2^31",
                     (long)B * L, (long)Cin * K);
        return 0;
    }
    if (K <= 0) {
        DR_CUDA_FAIL(ctx, DR_ERR_SHAPE, "conv1d: kernel size %d (must be >= 1)", K);
        return 0;
    }
    (void)Cout;
    return 1;
}

/* im2col [Cin*K, B*L] and a [Cout, B*L] staging block */
extern "C" size_t dr_cuda_conv1d_scratch(int B, int Cin, int Cout, int L, int K)
{
    return (size_t)B * L * ((size_t)Cin * K + Cout);
}

extern "C" void dr_cuda_conv1d_forward(dr_backend *be, float *out, float *scratch, const float *x,
                                       const float *w, const float *b, int B, int Cin, int Cout,
                                       int L, int K)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || Cout <= 0 || L <= 0)
        return;
    if (!conv_shape_ok(ctx, B, Cin, Cout, L, K))
        return;
    const int BL = B * L, CK = Cin * K;
    float *col = scratch;
    float *stage = col + (size_t)CK * BL;
    if (CK > 0) {
        im2col_kernel<<<dr_cuda_blocks((long)CK * BL), DR_CUDA_THREADS, 0, ctx->stream>>>(
            col, x, B, Cin, L, K);
        if (!DR_CUDA_LAUNCH_CHECK(ctx, "im2col_kernel"))
            return;
        if (!dr_cuda_gemm_rm(ctx, 0, 0, Cout, BL, CK, 1.0f, w, CK, col, BL, 0.0f, stage, BL))
            return;
    } else if (!DR_CUDA_CHECK(ctx, cudaMemsetAsync(stage, 0, (size_t)Cout * BL * sizeof *stage,
                                                   ctx->stream))) {
        return;
    }
    scatter_out_kernel<<<dr_cuda_blocks((long)Cout * BL), DR_CUDA_THREADS, 0, ctx->stream>>>(
        out, stage, b, B, Cout, L);
    DR_CUDA_LAUNCH_CHECK(ctx, "scatter_out_kernel");
}

extern "C" void dr_cuda_conv1d_backward(dr_backend *be, float *dx, float *dw, float *db,
                                        float *scratch, const float *dout, const float *x,
                                        const float *w, int B, int Cin, int Cout, int L, int K)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || Cout <= 0 || L <= 0)
        return;
    if (!conv_shape_ok(ctx, B, Cin, Cout, L, K))
        return;
    const int BL = B * L, CK = Cin * K;
    float *col = scratch;
    float *stage = col + (size_t)CK * BL;
    if (db) {
        conv_bias_grad_kernel<<<(unsigned)Cout, 256, 0, ctx->stream>>>(db, dout, B, Cout, L);
        if (!DR_CUDA_LAUNCH_CHECK(ctx, "conv_bias_grad_kernel"))
            return;
    }
    if (CK <= 0)
        return;
    gather_dout_kernel<<<dr_cuda_blocks((long)Cout * BL), DR_CUDA_THREADS, 0, ctx->stream>>>(
        stage, dout, B, Cout, L);
    if (!DR_CUDA_LAUNCH_CHECK(ctx, "gather_dout_kernel"))
        return;
    im2col_kernel<<<dr_cuda_blocks((long)CK * BL), DR_CUDA_THREADS, 0, ctx->stream>>>(col, x, B,
                                                                                      Cin, L, K);
    if (!DR_CUDA_LAUNCH_CHECK(ctx, "im2col_kernel"))
        return;
    /* dw [Cout, CK] += stage [Cout, BL] col^T [BL, CK] */
    if (!dr_cuda_gemm_rm(ctx, 0, 1, Cout, CK, BL, 1.0f, stage, BL, col, BL, 1.0f, dw, CK))
        return;
    if (!dx)
        return;
    /* col [CK, BL] = w^T [CK, Cout] stage [Cout, BL]; col is free again after the dw GEMM
     * (same stream, so in order) */
    if (!dr_cuda_gemm_rm(ctx, 1, 0, CK, BL, Cout, 1.0f, w, CK, stage, BL, 0.0f, col, BL))
        return;
    col2im_add_kernel<<<dr_cuda_blocks((long)Cin * BL), DR_CUDA_THREADS, 0, ctx->stream>>>(
        dx, col, B, Cin, L, K);
    DR_CUDA_LAUNCH_CHECK(ctx, "col2im_add_kernel");
}
