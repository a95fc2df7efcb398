/* Batch normalisation on the GPU (contract in core/ops/batchnorm.h): statistics
 * in double with two passes (mean, then squared deviations; accurate when |mean|
 * >> std; the CPU gets the same accuracy from one pass over values shifted by
 * the channel's first value), the output formula in double, and a channel with
 * one value (n = B*L = 1) leaves its running variance unchanged.
 * One block per channel reduces over the channel's n values and then writes its
 * outputs, so the statistics never leave the block. The double sums go over a
 * fixed tree: deterministic, and within a few double ulp of the CPU's order,
 * which rounds to the same float almost always. */
#include "kernels/cuda/common.cuh"

enum { BN_THREADS = 256 };

/* Element e (0 <= e < B * L) of channel c in [B, C, L] */
static __device__ __forceinline__ long bn_index(long e, int c, int C, int L)
{
    long n = e / L, l = e % L;
    return (n * C + c) * L + l;
}

static __global__ void bn_forward_train_kernel(float *out, float *mean, float *rstd,
                                               float *running_mean, float *running_var,
                                               const float *x, const float *gamma,
                                               const float *beta, int B, int C, int L, float eps,
                                               float momentum)
{
    __shared__ double shared[32];
    const int c = blockIdx.x;
    const long n = (long)B * L;
    double s = 0.0;
    for (long e = threadIdx.x; e < n; e += blockDim.x)
        s += x[bn_index(e, c, C, L)];
    const double mu = dr_block_sum_d(s, shared) / (double)n;
    double q = 0.0;
    for (long e = threadIdx.x; e < n; e += blockDim.x) {
        double d = x[bn_index(e, c, C, L)] - mu;
        q += d * d;
    }
    const double ss = dr_block_sum_d(q, shared);
    const double var = ss / (double)n; /* biased: what normalises the batch */
    const double rs = 1.0 / sqrt(var + (double)eps);
    if (threadIdx.x == 0) {
        mean[c] = (float)mu;
        rstd[c] = (float)rs;
        if (running_mean)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
        /* unbiased, n / (n - 1) (PyTorch); n = 1 leaves it unchanged (as on the CPU) */
        if (running_var && n > 1)
            running_var[c] = (1.0f - momentum) * running_var[c] +
                             momentum * (float)(ss / (double)(n - 1));
    }
    const double g = gamma[c], bt = beta[c];
    for (long e = threadIdx.x; e < n; e += blockDim.x) {
        long i = bn_index(e, c, C, L);
        out[i] = (float)((x[i] - mu) * rs * g + bt);
    }
}

static __global__ void bn_forward_eval_kernel(float *out, const float *x, const float *gamma,
                                              const float *beta, const float *running_mean,
                                              const float *running_var, long total, int C, int L,
                                              float eps)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total;
         i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i / L % C);
        float scale = gamma[c] / sqrtf(running_var[c] + eps);
        out[i] = (x[i] - running_mean[c]) * scale + beta[c];
    }
}

static __global__ void bn_backward_eval_kernel(float *dx, const float *dout, const float *gamma,
                                               const float *running_var, long total, int C, int L,
                                               float eps)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total;
         i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i / L % C);
        dx[i] += dout[i] * (gamma[c] / sqrtf(running_var[c] + eps));
    }
}

/* With xhat = (x - mean) rstd, over the channel's n values:
 *   dbeta = sum dout,  dgamma = sum dout xhat,
 *   dx    = gamma rstd (dout - dbeta / n - xhat dgamma / n) */
static __global__ void bn_backward_kernel(float *dx, float *dgamma, float *dbeta,
                                          const float *dout, const float *x, const float *mean,
                                          const float *rstd, const float *gamma, int B, int C,
                                          int L)
{
    __shared__ double shared[32];
    const int c = blockIdx.x;
    const long n = (long)B * L;
    const double mu = mean[c], rs = rstd[c];
    double sb = 0.0, sg = 0.0;
    for (long e = threadIdx.x; e < n; e += blockDim.x) {
        long i = bn_index(e, c, C, L);
        sb += dout[i];
        sg += dout[i] * ((x[i] - mu) * rs);
    }
    const double sdy = dr_block_sum_d(sb, shared);
    const double sdyx = dr_block_sum_d(sg, shared);
    if (threadIdx.x == 0) {
        dbeta[c] += (float)sdy;
        dgamma[c] += (float)sdyx;
    }
    if (!dx)
        return;
    const double k = gamma[c] * rs, mdy = sdy / (double)n, mdyx = sdyx / (double)n;
    for (long e = threadIdx.x; e < n; e += blockDim.x) {
        long i = bn_index(e, c, C, L);
        dx[i] += (float)(k * (dout[i] - mdy - (x[i] - mu) * rs * mdyx));
    }
}

extern "C" void dr_cuda_batchnorm_forward_train(dr_backend *be, float *out, float *mean,
                                                float *rstd, float *running_mean,
                                                float *running_var, const float *x,
                                                const float *gamma, const float *beta, int B,
                                                int C, int L, float eps, float momentum)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    bn_forward_train_kernel<<<(unsigned)C, BN_THREADS, 0, ctx->stream>>>(
        out, mean, rstd, running_mean, running_var, x, gamma, beta, B, C, L, eps, momentum);
    DR_CUDA_LAUNCH_CHECK(ctx, "bn_forward_train_kernel");
}

extern "C" void dr_cuda_batchnorm_forward_eval(dr_backend *be, float *out, const float *x,
                                               const float *gamma, const float *beta,
                                               const float *running_mean,
                                               const float *running_var, int B, int C, int L,
                                               float eps)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    long total = (long)B * C * L;
    bn_forward_eval_kernel<<<dr_cuda_blocks(total), DR_CUDA_THREADS, 0, ctx->stream>>>(
        out, x, gamma, beta, running_mean, running_var, total, C, L, eps);
    DR_CUDA_LAUNCH_CHECK(ctx, "bn_forward_eval_kernel");
}

extern "C" void dr_cuda_batchnorm_backward(dr_backend *be, float *dx, float *dgamma, float *dbeta,
                                           const float *dout, const float *x, const float *mean,
                                           const float *rstd, const float *gamma, int B, int C,
                                           int L)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    bn_backward_kernel<<<(unsigned)C, BN_THREADS, 0, ctx->stream>>>(dx, dgamma, dbeta, dout, x,
                                                                     mean, rstd, gamma, B, C, L);
    DR_CUDA_LAUNCH_CHECK(ctx, "bn_backward_kernel");
}

extern "C" void dr_cuda_batchnorm_backward_eval(dr_backend *be, float *dx, const float *dout,
                                                const float *gamma, const float *running_var, int B,
                                                int C, int L, float eps)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || C <= 0 || L <= 0)
        return;
    long total = (long)B * C * L;
    bn_backward_eval_kernel<<<dr_cuda_blocks(total), DR_CUDA_THREADS, 0, ctx->stream>>>(
        dx, dout, gamma, running_var, total, C, L, eps);
    DR_CUDA_LAUNCH_CHECK(ctx, "bn_backward_eval_kernel");
}
