/* LSTM forward and backward on the GPU (contract in core/ops/lstm.h).
 *
 * The input products (x w_ih^T for all steps) and, after the recurrence, the
 * weight gradients are one cuBLAS GEMM or reduction each. The op has three
 * implementations (cuda.lstm):
 *   "custom" (default): one launch per direction, w_hh kept on chip by a
 *            thread-block cluster (lstm_persistent.cu), where the shape and
 *            the card allow it; otherwise the per-step launches below;
 *   "steps": per step one cuBLAS GEMM (h_{t-1} w_hh^T, or dgates_t w_hh) and
 *            one fused cell kernel, the decomposition of kernels/cpu/lstm.c,
 *            2 T launches each way;
 *   "cudnn": the whole op through cuDNN's RNN API instead (lstm_cudnn.cu).
 * The cell math is the CPU's (the dr_fast_* functions of kernels/math.h, same
 * expression order). */
#include "kernels/cuda/common.cuh"

/* Step t of the forward recurrence, one thread per (n, j): g holds the
 * pre-activations without bias on entry and the activated gates on return. */
static __global__ void lstm_cell_forward_kernel(float *h, float *c, float *gates, const float *b,
                                                int B, int T, int H, int t)
{
    const int G = 4 * H;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (long)B * H;
         i += (long)gridDim.x * blockDim.x) {
        long n = i / H;
        int j = (int)(i % H);
        long row = n * T + t;
        float *g = gates + row * G;
        float ig = dr_fast_sigmoidf(g[j] + b[j]);
        float fg = dr_fast_sigmoidf(g[H + j] + b[H + j]);
        float gg = dr_fast_tanhf(g[2 * H + j] + b[2 * H + j]);
        float og = dr_fast_sigmoidf(g[3 * H + j] + b[3 * H + j]);
        g[j] = ig;
        g[H + j] = fg;
        g[2 * H + j] = gg;
        g[3 * H + j] = og;
        float ct = ig * gg;
        if (t > 0)
            ct += fg * c[(row - 1) * H + j];
        c[row * H + j] = ct;
        h[row * H + j] = og * dr_fast_tanhf(ct);
    }
}

/* Step t of backpropagation through time, one thread per (n, j). dhn and dcn
 * [B, H] hold the gradient reaching h_t and c_t from step t+1; dcn is replaced
 * by the gradient reaching c_{t-1}. Writes the pre-activation gradients of step t. */
static __global__ void lstm_cell_backward_kernel(float *dgates, float *dcn, const float *dhn,
                                                 const float *dh, const float *gates,
                                                 const float *c, int B, int T, int H, int t)
{
    const int G = 4 * H;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (long)B * H;
         i += (long)gridDim.x * blockDim.x) {
        long n = i / H;
        int j = (int)(i % H);
        long row = n * T + t;
        const float *g = gates + row * G;
        float *dg = dgates + row * G;
        float ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
        float tc = dr_fast_tanhf(c[row * H + j]);
        float dhj = dh[row * H + j] + dhn[i];
        float dc = dhj * og * (1.0f - tc * tc) + dcn[i];
        dg[j] = dc * gg * ig * (1.0f - ig);
        /* the forget gate's factor is c_{t-1}, zero at the first step */
        dg[H + j] = t > 0 ? dc * fg * (1.0f - fg) * c[(row - 1) * H + j] : 0.0f;
        dg[2 * H + j] = dc * ig * (1.0f - gg * gg);
        dg[3 * H + j] = dhj * tc * og * (1.0f - og);
        dcn[i] = dc * fg;
    }
}

/* The one-launch recurrence's plan where "custom" is chosen and it fits; NULL
 * means per-step launches. */
static const dr_cuda_lstm_plan *persistent_plan(dr_cuda_context *ctx, int B, int H)
{
    return ctx->lstm_impl == DR_CUDA_IMPL_CUSTOM ? dr_cuda_lstm_plan_get(ctx, B, H) : NULL;
}

static int lstm_shape_ok(dr_cuda_context *ctx, int B, int T, int In, int H)
{
    if ((long)B * T * 4 * H > INT32_MAX || (long)B * T * (In > H ? In : H) > INT32_MAX) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "lstm: B=%d T=%d In=%d H=%d too large for int GEMM "
                     "sizes", B, T, In, H);
        return 0;
    }
    return 1;
}

extern "C" void dr_cuda_lstm_forward(dr_backend *be, float *h, float *c, float *gates,
                                     const float *x, const float *w_ih, const float *w_hh,
                                     const float *b, int B, int T, int In, int H)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    if (!lstm_shape_ok(ctx, B, T, In, H))
        return;
#ifdef DR_HAVE_CUDNN
    if (ctx->lstm_impl == DR_CUDA_IMPL_CUDNN) {
        dr_cudnn_lstm_forward(ctx, h, gates, x, w_ih, w_hh, b, B, T, In, H);
        return;
    }
#endif
    const int G = 4 * H;
    if (In > 0) {
        if (!dr_cuda_gemm_rm(ctx, 0, 1, B * T, G, In, 1.0f, x, In, w_ih, In, 0.0f, gates, G))
            return;
    } else if (!DR_CUDA_CHECK(ctx, cudaMemsetAsync(gates, 0, (size_t)B * T * G * sizeof *gates,
                                                   ctx->stream))) {
        return;
    }
    const dr_cuda_lstm_plan *plan = persistent_plan(ctx, B, H);
    if (plan) {
        dr_cuda_lstm_persistent_forward(ctx, plan, h, c, gates, w_hh, b, T);
        return;
    }
    for (int t = 0; t < T; t++) {
        if (t > 0 && !dr_cuda_gemm_rm(ctx, 0, 1, B, G, H, 1.0f, h + (size_t)(t - 1) * H, T * H,
                                      w_hh, H, 1.0f, gates + (size_t)t * G, T * G))
            return;
        lstm_cell_forward_kernel<<<dr_cuda_blocks((long)B * H), DR_CUDA_THREADS, 0,
                                   ctx->stream>>>(h, c, gates, b, B, T, H, t);
        if (!DR_CUDA_LAUNCH_CHECK(ctx, "lstm_cell_forward_kernel"))
            return;
    }
}

/* The recurrence backward, step by step: dgates [B, T, 4H], then dhn and dcn
 * [B, H] as in the op's scratch. Returns 1 on success. */
static int backward_steps(dr_cuda_context *ctx, float *dgates, const float *dh,
                          const float *gates, const float *c, const float *w_hh, int B, int T,
                          int H)
{
    const int G = 4 * H;
    float *dhn = dgates + (size_t)B * T * G;
    float *dcn = dhn + (size_t)B * H;
    if (!DR_CUDA_CHECK(ctx, cudaMemsetAsync(dhn, 0, (size_t)2 * B * H * sizeof *dhn, ctx->stream)))
        return 0;
    for (int t = T - 1; t >= 0; t--) {
        lstm_cell_backward_kernel<<<dr_cuda_blocks((long)B * H), DR_CUDA_THREADS, 0,
                                    ctx->stream>>>(dgates, dcn, dhn, dh, gates, c, B, T, H, t);
        if (!DR_CUDA_LAUNCH_CHECK(ctx, "lstm_cell_backward_kernel"))
            return 0;
        /* dh_{t-1} = dgates_t w_hh; h_{-1} is the constant zero state */
        if (t > 0 && !dr_cuda_gemm_rm(ctx, 0, 0, B, H, G, 1.0f, dgates + (size_t)t * G, T * G,
                                      w_hh, H, 0.0f, dhn, H))
            return 0;
    }
    return 1;
}

/* db, dw_ih, dx and dw_hh from every step's gate gradients. */
static void weight_gradients(dr_cuda_context *ctx, float *dx, float *dw_ih, float *dw_hh,
                             float *db, float *dgates, const float *x, const float *h,
                             const float *w_ih, int B, int T, int In, int H)
{
    const int G = 4 * H, R = B * T;
    if (!dr_cuda_colsum_add(ctx, db, dgates, R, G, G))
        return;
    if (In > 0) {
        if (!dr_cuda_gemm_rm(ctx, 1, 0, G, In, R, 1.0f, dgates, G, x, In, 1.0f, dw_ih, In))
            return;
        if (dx && !dr_cuda_gemm_rm(ctx, 0, 0, R, In, G, 1.0f, dgates, G, w_ih, In, 1.0f, dx, In))
            return;
    }
    /* dw_hh += sum_{t >= 1} dgates_t^T h_{t-1} as one GEMM over the flat rows, with
     * the t = 0 rows of dgates zeroed so pairs across samples add nothing (see the
     * CPU version) */
    if (T > 1) {
        if (!DR_CUDA_CHECK(ctx, cudaMemset2DAsync(dgates, (size_t)T * G * sizeof(float), 0,
                                                  (size_t)G * sizeof(float), (size_t)B,
                                                  ctx->stream)))
            return;
        dr_cuda_gemm_rm(ctx, 1, 0, G, H, R - 1, 1.0f, dgates + G, G, h, H, 1.0f, dw_hh, H);
    }
}

extern "C" void dr_cuda_lstm_backward(dr_backend *be, float *dx, float *dw_ih, float *dw_hh,
                                      float *db, float *scratch, const float *dh, const float *x,
                                      const float *h, const float *c, const float *gates,
                                      const float *w_ih, const float *w_hh, int B, int T, int In,
                                      int H)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    if (!lstm_shape_ok(ctx, B, T, In, H))
        return;
#ifdef DR_HAVE_CUDNN
    if (ctx->lstm_impl == DR_CUDA_IMPL_CUDNN) {
        dr_cudnn_lstm_backward(be, dx, dw_ih, dw_hh, db, dh, x, h, gates, B, T, In, H);
        return;
    }
#endif
    /* scratch: dgates [B, T, 4H], then (per-step launches) dhn and dcn [B, H] */
    float *dgates = scratch;
    const dr_cuda_lstm_plan *plan = persistent_plan(ctx, B, H);
    if (plan) {
        if (!dr_cuda_lstm_persistent_backward(ctx, plan, dgates, dh, gates, c, w_hh, T))
            return;
    } else if (!backward_steps(ctx, dgates, dh, gates, c, w_hh, B, T, H)) {
        return;
    }
    weight_gradients(ctx, dx, dw_ih, dw_hh, db, dgates, x, h, w_ih, B, T, In, H);
}
