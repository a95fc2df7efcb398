/* Additive attention on the GPU (contract in core/ops/attention.h). The
 * projections are cuBLAS GEMMs over all B*T rows, as on the CPU; the tanh,
 * scores, softmax over time and weighted sums run in one block per sample (T is
 * the sequence length, tens), with the scores and weights in shared memory. The
 * softmax is done by one thread in the CPU's order (max, exp, sum, scale). */
#include "kernels/cuda/common.cuh"

enum { ATT_THREADS = 128 };

/* Block n: u[n,t,:] = tanh(u + b) in place; s_t = v . u_t; alpha = softmax(s);
 * ctx[n,:] = sum_t alpha_t h[n,t,:]. Shared: sc [T], then 32 floats for sums. */
static __global__ void att_forward_kernel(float *ctx, float *alpha, float *u, const float *h,
                                          const float *b, const float *v, int T, int H, int A)
{
    extern __shared__ float sm[];
    float *sc = sm, *red = sm + T;
    const long n = blockIdx.x;
    for (int t = 0; t < T; t++) {
        float *ur = u + (n * T + t) * A;
        float s = 0.0f;
        for (int a = threadIdx.x; a < A; a += blockDim.x) {
            float x = dr_fast_tanhf(ur[a] + b[a]);
            ur[a] = x;
            s += v[a] * x;
        }
        s = dr_block_sum(s, red);
        if (threadIdx.x == 0)
            sc[t] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float smax = -INFINITY;
        for (int t = 0; t < T; t++)
            smax = fmaxf(smax, sc[t]);
        float sum = 0.0f;
        for (int t = 0; t < T; t++) {
            sc[t] = expf(sc[t] - smax);
            sum += sc[t];
        }
        float inv = 1.0f / sum;
        for (int t = 0; t < T; t++) {
            sc[t] *= inv;
            alpha[n * T + t] = sc[t];
        }
    }
    __syncthreads();
    for (int k = threadIdx.x; k < H; k += blockDim.x) {
        float s = 0.0f;
        for (int t = 0; t < T; t++)
            s += sc[t] * h[(n * T + t) * H + k];
        ctx[n * H + k] = s;
    }
}

/* Block n: dalpha_t = dctx . h_t; ds_t = alpha_t (dalpha_t - sum alpha dalpha);
 * dpre[n,t,:] = ds_t v (1 - u^2); dh[n,t,:] += alpha_t dctx (direct path). */
static __global__ void att_backward_kernel(float *dh, float *dpre, float *ds, const float *dctx,
                                           const float *h, const float *v, const float *u,
                                           const float *alpha, int T, int H, int A)
{
    extern __shared__ float sm[];
    float *dsn = sm, *red = sm + T;
    const long n = blockIdx.x;
    const float *dc = dctx + n * H;
    const float *al = alpha + n * T;
    for (int t = 0; t < T; t++) {
        const float *hr = h + (n * T + t) * H;
        float s = 0.0f;
        for (int k = threadIdx.x; k < H; k += blockDim.x)
            s += dc[k] * hr[k];
        s = dr_block_sum(s, red);
        if (threadIdx.x == 0)
            dsn[t] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float dot = 0.0f;
        for (int t = 0; t < T; t++)
            dot += al[t] * dsn[t];
        for (int t = 0; t < T; t++) {
            dsn[t] = al[t] * (dsn[t] - dot);
            ds[n * T + t] = dsn[t];
        }
    }
    __syncthreads();
    for (int t = 0; t < T; t++) {
        const float *ur = u + (n * T + t) * A;
        float *dp = dpre + (n * T + t) * A;
        for (int a = threadIdx.x; a < A; a += blockDim.x)
            dp[a] = dsn[t] * v[a] * (1.0f - ur[a] * ur[a]);
        if (dh) {
            float *dhr = dh + (n * T + t) * H;
            for (int k = threadIdx.x; k < H; k += blockDim.x)
                dhr[k] += al[t] * dc[k];
        }
    }
}

static int att_shape_ok(dr_cuda_context *ctx, int B, int T, int H, int A)
{
    if (T > 4096) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "attention: T = %d steps (the kernel keeps them in "
                     "shared memory; at most 4096)", T);
        return 0;
    }
    if ((long)B * T * (A > H ? A : H) > INT32_MAX) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "attention: B*T*max(A, H) over 2^31");
        return 0;
    }
    return 1;
}

extern "C" void dr_cuda_attention_forward(dr_backend *be, float *ctx_out, float *alpha, float *u,
                                          const float *h, const float *w, const float *b,
                                          const float *v, int B, int T, int H, int A)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || T <= 0 || H <= 0 || A <= 0)
        return;
    if (!att_shape_ok(ctx, B, T, H, A))
        return;
    /* u = h w^T: [B*T, H] x [H, A] */
    if (!dr_cuda_gemm_rm(ctx, 0, 1, B * T, A, H, 1.0f, h, H, w, H, 0.0f, u, A))
        return;
    size_t shmem = ((size_t)T + 32) * sizeof(float);
    att_forward_kernel<<<(unsigned)B, ATT_THREADS, shmem, ctx->stream>>>(ctx_out, alpha, u, h, b,
                                                                          v, T, H, A);
    DR_CUDA_LAUNCH_CHECK(ctx, "att_forward_kernel");
}

extern "C" void dr_cuda_attention_backward(dr_backend *be, float *dh, float *dw, float *db,
                                           float *dv, float *scratch, const float *dctx,
                                           const float *h, const float *w, const float *v,
                                           const float *u, const float *alpha, int B, int T,
                                           int H, int A)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || T <= 0 || H <= 0 || A <= 0)
        return;
    if (!att_shape_ok(ctx, B, T, H, A))
        return;
    /* scratch: dpre [B, T, A], ds [B, T] (as on the CPU) */
    float *dpre = scratch;
    float *ds = dpre + (size_t)B * T * A;
    const int R = B * T;
    size_t shmem = ((size_t)T + 32) * sizeof(float);
    att_backward_kernel<<<(unsigned)B, ATT_THREADS, shmem, ctx->stream>>>(dh, dpre, ds, dctx, h, v,
                                                                           u, alpha, T, H, A);
    if (!DR_CUDA_LAUNCH_CHECK(ctx, "att_backward_kernel"))
        return;
    /* dv [A] += u^T [A, R] ds [R] (a GEMM with N = 1) */
    if (!dr_cuda_gemm_rm(ctx, 1, 0, A, 1, R, 1.0f, u, A, ds, 1, 1.0f, dv, 1))
        return;
    if (!dr_cuda_colsum_add(ctx, db, dpre, R, A, A))
        return;
    /* dw [A, H] += dpre^T [A, R] h [R, H];  dh [R, H] += dpre [R, A] w [A, H] */
    if (!dr_cuda_gemm_rm(ctx, 1, 0, A, H, R, 1.0f, dpre, A, h, H, 1.0f, dw, H))
        return;
    if (dh)
        dr_cuda_gemm_rm(ctx, 0, 0, R, H, A, 1.0f, dpre, A, w, H, 1.0f, dh, H);
}
