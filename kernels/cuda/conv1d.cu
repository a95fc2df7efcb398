/* 1-D convolution on the GPU (contract in core/ops/conv1d.h), as im2col + one
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
 * measured.
 *
 * That is the "custom" implementation (the default). cuda.conv1d = "cudnn"
 * (dr_cuda_backend_set_impl) runs the same op through cuDNN instead, for
 * comparison: see "cuDNN" below. The op-table entries at the end dispatch on
 * the backend's choice. */
#include "kernels/cuda/common.cuh"

#include <stdlib.h>

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

static void custom_forward(dr_cuda_context *ctx, float *out, float *scratch, const float *x,
                           const float *w, const float *b, int B, int Cin, int Cout, int L, int K)
{
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

static void custom_backward(dr_cuda_context *ctx, float *dx, float *dw, float *db, float *scratch,
                            const float *dout, const float *x, const float *w, int B, int Cin,
                            int Cout, int L, int K)
{
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

/* --- cuDNN (cuda.conv1d = "cudnn") --------------------------------------------
 * The op as cuDNN's 2-D cross-correlation (the contract's sum does not flip w)
 * over NCHW tensors of height 1:
 *   x [B, Cin, 1, Lx], w [Cout, Cin, 1, K], y [B, Cout, 1, L], padding (0, (K-1)/2)
 * cuDNN pads both sides alike, "same" padding does not for even K (left
 * (K-1)/2, right K/2). So for even K the input gets one zero column on the
 * right (Lx = L + 1, a copy in the op's scratch) and the symmetric pad (K-1)/2
 * then yields exactly L outputs, each the contract's sum; the data gradient
 * comes back with L + 1 columns and the zero column's is dropped. Odd K: Lx = L,
 * no copy. The copy needs B Cin (L + 1) floats, within dr_cuda_conv1d_scratch's
 * B L (Cin K + Cout) whenever K >= 2.
 *
 * Everything that allocates or asks cuDNN to choose is done once per shape, at
 * the shape's first call (a "plan"), which must run outside a step capture: the
 * first step of each batch size is eager (core/ops/step.h), so it is. Each plan
 * owns its workspace and lives until the backend is released, so a captured
 * step never sees it moved.
 *
 * Numerics: fp32 with CUDNN_FMA_MATH (CUDNN_DEFAULT_MATH would allow TF32 on
 * Ampere and later). Algorithms are taken from cuDNN's heuristics
 * (cudnnGetConvolution*Algorithm_v7, which runs nothing, unlike Find) but only
 * GEMM-type ones, whose results are sums of the exact products in some order,
 * as the custom kernels' are: the parity test's bound holds for them. FFT and
 * Winograd transform the data and carry other rounding errors. Deterministic
 * algorithms first, so that a step gives the same bits every time, as the
 * custom kernels do.
 *
 * The legacy convolution API used here is marked deprecated in cuDNN 9 (in
 * favour of the graph API) but is still shipped and supported there. */
#ifdef DR_HAVE_CUDNN

/* Algorithms needing more workspace than this are passed over (they would take
 * a real share of the card for a few-channel convolution). */
static const size_t DR_CUDNN_CONV_WS_MAX = (size_t)256 << 20;

struct dr_cudnn_conv_plan {
    int B, Cin, Cout, L, K;
    int Lx; /* the input width cuDNN sees: L, or L + 1 for even K */
    cudnnTensorDescriptor_t x, y, bias;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    void *ws; /* one workspace for the three (they run one after the other) */
    size_t ws_bytes;
    struct dr_cudnn_conv_plan *next;
};

static void plan_free(struct dr_cudnn_conv_plan *p)
{
    /* releases only: nothing is left to report a failure to */
    if (p->x)
        cudnnDestroyTensorDescriptor(p->x);
    if (p->y)
        cudnnDestroyTensorDescriptor(p->y);
    if (p->bias)
        cudnnDestroyTensorDescriptor(p->bias);
    if (p->w)
        cudnnDestroyFilterDescriptor(p->w);
    if (p->conv)
        cudnnDestroyConvolutionDescriptor(p->conv);
    cudaFree(p->ws);
    free(p);
}

void dr_cudnn_conv_plans_free(dr_cuda_context *ctx)
{
    while (ctx->conv_plans) {
        struct dr_cudnn_conv_plan *p = ctx->conv_plans;
        ctx->conv_plans = p->next;
        plan_free(p);
    }
}

/* Index of the algorithm to use among cuDNN's heuristic ranking perf[0 .. n),
 * or -1: the first GEMM-type one (bit algo of allowed) that works without
 * tensor cores and whose workspace (ws_of(algo, &bytes), asked under this
 * descriptor's FMA math: the ranking's figure may be another math type's) is
 * known and within the cap; deterministic ones first. */
template <typename Perf, typename WsOf>
static int choose_algo(const Perf *perf, int n, unsigned allowed, WsOf ws_of, size_t *ws)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const Perf *q = &perf[i];
            if (q->status != CUDNN_STATUS_SUCCESS || !((allowed >> (unsigned)q->algo) & 1u) ||
                q->mathType == CUDNN_TENSOR_OP_MATH ||
                q->mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
                continue;
            if (pass == 0 && q->determinism != CUDNN_DETERMINISTIC)
                continue;
            /* a ranked algorithm can still be refused for this descriptor */
            if (ws_of(q->algo, ws) == CUDNN_STATUS_SUCCESS && *ws <= DR_CUDNN_CONV_WS_MAX)
                return i;
        }
    return -1;
}

#define BIT(a) (1u << (unsigned)(a))
static const unsigned FWD_GEMM_TYPE =
    BIT(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) | BIT(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) |
    BIT(CUDNN_CONVOLUTION_FWD_ALGO_GEMM) | BIT(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT);
static const unsigned BWD_DATA_GEMM_TYPE =
    BIT(CUDNN_CONVOLUTION_BWD_DATA_ALGO_0) | BIT(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
static const unsigned BWD_FILTER_GEMM_TYPE = BIT(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0) |
                                             BIT(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1) |
                                             BIT(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3);
#undef BIT

/* Descriptors, algorithms and workspace of one shape; 0 on failure (recorded). */
static int plan_init(dr_cuda_context *ctx, struct dr_cudnn_conv_plan *p)
{
    const cudnnHandle_t h = ctx->cudnn;
    const int B = p->B, Cin = p->Cin, Cout = p->Cout, L = p->L, K = p->K;
    if (!DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&p->x)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&p->y)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&p->bias)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateFilterDescriptor(&p->w)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateConvolutionDescriptor(&p->conv)))
        return 0;
    if (!DR_CUDNN_CHECK(ctx, cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                        B, Cin, 1, p->Lx)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                        B, Cout, 1, L)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NCHW,
                                                        CUDNN_DATA_FLOAT, 1, Cout, 1, 1)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                                        Cout, Cin, 1, K)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetConvolution2dDescriptor(p->conv, 0, (K - 1) / 2, 1, 1, 1, 1,
                                                             CUDNN_CROSS_CORRELATION,
                                                             CUDNN_DATA_FLOAT)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH)))
        return 0;
    /* the padding arithmetic above, checked by cuDNN's own */
    int on, oc, oh, ow;
    if (!DR_CUDNN_CHECK(ctx, cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &oc,
                                                                   &oh, &ow)))
        return 0;
    if (on != B || oc != Cout || oh != 1 || ow != L) {
        DR_CUDA_FAIL(ctx, DR_ERR_SHAPE, "conv1d (cudnn): cuDNN gives output [%d, %d, %d, %d] for "
                     "B=%d Cin=%d Cout=%d L=%d K=%d, expected [%d, %d, 1, %d]", on, oc, oh, ow, B,
                     Cin, Cout, L, K, B, Cout, L);
        return 0;
    }

    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int nf = 0, nd = 0, nw = 0;
    if (!DR_CUDNN_CHECK(ctx, cudnnGetConvolutionForwardAlgorithm_v7(
                                 h, p->x, p->w, p->conv, p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                 &nf, fp)) ||
        !DR_CUDNN_CHECK(ctx, cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                 h, p->w, p->y, p->conv, p->x,
                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd, dp)) ||
        !DR_CUDNN_CHECK(ctx, cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                 h, p->x, p->y, p->conv, p->w,
                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &nw, wp)))
        return 0;
    size_t sf = 0, sd = 0, sw = 0;
    int i_f = choose_algo(
        fp, nf, FWD_GEMM_TYPE,
        [&](cudnnConvolutionFwdAlgo_t a, size_t *b) {
            return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y, a, b);
        },
        &sf);
    int i_d = choose_algo(
        dp, nd, BWD_DATA_GEMM_TYPE,
        [&](cudnnConvolutionBwdDataAlgo_t a, size_t *b) {
            return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x, a, b);
        },
        &sd);
    int i_w = choose_algo(
        wp, nw, BWD_FILTER_GEMM_TYPE,
        [&](cudnnConvolutionBwdFilterAlgo_t a, size_t *b) {
            return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w, a,
                                                                  b);
        },
        &sw);
    if (i_f < 0 || i_d < 0 || i_w < 0) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "conv1d (cudnn): no GEMM-type fp32 %s algorithm for "
                     "B=%d Cin=%d Cout=%d L=%d K=%d among cuDNN's %d candidates",
                     i_f < 0 ? "forward" : i_d < 0 ? "backward-data" : "backward-filter", B, Cin,
                     Cout, L, K, i_f < 0 ? nf : i_d < 0 ? nd : nw);
        return 0;
    }
    p->fwd = fp[i_f].algo;
    p->bwd_data = dp[i_d].algo;
    p->bwd_filter = wp[i_w].algo;
    p->ws_bytes = sf > sd ? sf : sd;
    if (sw > p->ws_bytes)
        p->ws_bytes = sw;
    if (p->ws_bytes > 0 && !DR_CUDA_CHECK(ctx, cudaMalloc(&p->ws, p->ws_bytes)))
        return 0;
    /* cuDNN's queries may leave a runtime error behind that is not ours: the next
     * launch check reads the last error and would take it for its kernel's */
    cudaGetLastError();
    return 1;
}

/* The plan of this shape, made at its first call; NULL on failure (recorded). */
static struct dr_cudnn_conv_plan *conv_plan(dr_cuda_context *ctx, int B, int Cin, int Cout, int L,
                                            int K)
{
    for (struct dr_cudnn_conv_plan *p = ctx->conv_plans; p; p = p->next)
        if (p->B == B && p->Cin == Cin && p->Cout == Cout && p->L == L && p->K == K)
            return p;
    if (ctx->capturing) {
        /* it would allocate and query cuDNN inside the capture */
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "conv1d (cudnn): shape B=%d Cin=%d Cout=%d L=%d "
                     "K=%d first seen inside a step capture; a shape's first call must run "
                     "outside one", B, Cin, Cout, L, K);
        return NULL;
    }
    if (!ctx->cudnn) { /* set_impl creates it before choosing cuDNN */
        DR_CUDA_FAIL(ctx, DR_ERR_INVALID, "conv1d (cudnn): no cuDNN handle");
        return NULL;
    }
    if (Cin < 1 || K < 1) {
        DR_CUDA_FAIL(ctx, DR_ERR_SHAPE, "conv1d (cudnn): Cin = %d, K = %d (must be >= 1)", Cin, K);
        return NULL;
    }
    struct dr_cudnn_conv_plan *p = (struct dr_cudnn_conv_plan *)calloc(1, sizeof *p);
    if (!p) {
        DR_CUDA_FAIL(ctx, DR_ERR_NOMEM, "conv1d (cudnn): out of host memory");
        return NULL;
    }
    p->B = B, p->Cin = Cin, p->Cout = Cout, p->L = L, p->K = K;
    p->Lx = K % 2 == 0 ? L + 1 : L;
    if (!plan_init(ctx, p)) {
        plan_free(p);
        return NULL;
    }
    p->next = ctx->conv_plans;
    ctx->conv_plans = p;
    return p;
}

/* xp[r, t] = x[r, t] for t < L and 0 at t = L, rows of L + 1 (even K) */
static __global__ void pad_right_kernel(float *xp, const float *x, long rows, int L)
{
    GRID_LOOP(i, rows * (L + 1))
    {
        long r = i / (L + 1);
        int t = (int)(i % (L + 1));
        xp[i] = t < L ? x[r * L + t] : 0.0f;
    }
}

/* dx[r, t] += dxp[r, t] for t < L: the zero column's gradient is dropped */
static __global__ void crop_add_kernel(float *dx, const float *dxp, long rows, int L)
{
    GRID_LOOP(i, rows * L)
    {
        long r = i / L;
        int t = (int)(i % L);
        dx[i] += dxp[r * (L + 1) + t];
    }
}

/* The input cuDNN reads: x itself, or (even K) x with its zero column in scratch. */
static const float *cudnn_input(dr_cuda_context *ctx, const struct dr_cudnn_conv_plan *p,
                                float *scratch, const float *x)
{
    if (p->Lx == p->L)
        return x;
    const long rows = (long)p->B * p->Cin;
    pad_right_kernel<<<dr_cuda_blocks(rows * p->Lx), DR_CUDA_THREADS, 0, ctx->stream>>>(
        scratch, x, rows, p->L);
    return DR_CUDA_LAUNCH_CHECK(ctx, "pad_right_kernel") ? scratch : NULL;
}

static void cudnn_forward(dr_cuda_context *ctx, float *out, float *scratch, const float *x,
                          const float *w, const float *b, int B, int Cin, int Cout, int L, int K)
{
    const struct dr_cudnn_conv_plan *p = conv_plan(ctx, B, Cin, Cout, L, K);
    const float *xin = p ? cudnn_input(ctx, p, scratch, x) : NULL;
    if (!xin)
        return;
    const float one = 1.0f, zero = 0.0f;
    if (!DR_CUDNN_CHECK(ctx, cudnnConvolutionForward(ctx->cudnn, &one, p->x, xin, p->w, w, p->conv,
                                                     p->fwd, p->ws, p->ws_bytes, &zero, p->y, out)))
        return;
    if (b)
        DR_CUDNN_CHECK(ctx, cudnnAddTensor(ctx->cudnn, &one, p->bias, b, &one, p->y, out));
}

/* beta = 1 throughout: the contract adds into dx, dw and db */
static void cudnn_backward(dr_cuda_context *ctx, float *dx, float *dw, float *db, float *scratch,
                           const float *dout, const float *x, const float *w, int B, int Cin,
                           int Cout, int L, int K)
{
    const struct dr_cudnn_conv_plan *p = conv_plan(ctx, B, Cin, Cout, L, K);
    if (!p)
        return;
    const float one = 1.0f, zero = 0.0f;
    if (db && !DR_CUDNN_CHECK(ctx, cudnnConvolutionBackwardBias(ctx->cudnn, &one, p->y, dout, &one,
                                                                p->bias, db)))
        return;
    const float *xin = cudnn_input(ctx, p, scratch, x);
    if (!xin || !DR_CUDNN_CHECK(ctx, cudnnConvolutionBackwardFilter(
                                         ctx->cudnn, &one, p->x, xin, p->y, dout, p->conv,
                                         p->bwd_filter, p->ws, p->ws_bytes, &one, p->w, dw)))
        return;
    if (!dx)
        return;
    if (p->Lx == L) {
        DR_CUDNN_CHECK(ctx, cudnnConvolutionBackwardData(ctx->cudnn, &one, p->w, w, p->y, dout,
                                                         p->conv, p->bwd_data, p->ws, p->ws_bytes,
                                                         &one, p->x, dx));
        return;
    }
    /* even K: the gradient of the padded input into scratch (the padded copy
     * there is no longer needed: the filter gradient before, on the same
     * stream, has read it), then all but its last column added into dx */
    if (!DR_CUDNN_CHECK(ctx, cudnnConvolutionBackwardData(ctx->cudnn, &one, p->w, w, p->y, dout,
                                                          p->conv, p->bwd_data, p->ws, p->ws_bytes,
                                                          &zero, p->x, scratch)))
        return;
    const long rows = (long)B * Cin;
    crop_add_kernel<<<dr_cuda_blocks(rows * L), DR_CUDA_THREADS, 0, ctx->stream>>>(dx, scratch,
                                                                                   rows, L);
    DR_CUDA_LAUNCH_CHECK(ctx, "crop_add_kernel");
}

#endif /* DR_HAVE_CUDNN */

/* --- the op-table entries: the backend's choice -------------------------------- */

extern "C" void dr_cuda_conv1d_forward(dr_backend *be, float *out, float *scratch, const float *x,
                                       const float *w, const float *b, int B, int Cin, int Cout,
                                       int L, int K)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || Cout <= 0 || L <= 0)
        return;
    if (!conv_shape_ok(ctx, B, Cin, Cout, L, K))
        return;
#ifdef DR_HAVE_CUDNN
    if (ctx->conv1d_impl == DR_CUDA_IMPL_CUDNN) {
        cudnn_forward(ctx, out, scratch, x, w, b, B, Cin, Cout, L, K);
        return;
    }
#endif
    custom_forward(ctx, out, scratch, x, w, b, B, Cin, Cout, L, K);
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
#ifdef DR_HAVE_CUDNN
    if (ctx->conv1d_impl == DR_CUDA_IMPL_CUDNN) {
        cudnn_backward(ctx, dx, dw, db, scratch, dout, x, w, B, Cin, Cout, L, K);
        return;
    }
#endif
    custom_backward(ctx, dx, dw, db, scratch, dout, x, w, B, Cin, Cout, L, K);
}
