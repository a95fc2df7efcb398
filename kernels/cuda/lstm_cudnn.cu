/* The LSTM through cuDNN's RNN API (cuda.lstm = "cudnn"), for comparison with
 * the project's kernels. Contract: core/ops/lstm.h, with one difference: c and
 * gates are not written, because cuDNN keeps what its backward needs in an
 * opaque reserve space. That space belongs to the shape's plan, so the
 * backward must follow the forward whose gates buffer it names, with no other
 * forward of the same shape in between (as in a training step of the hybrid
 * network, which has one LSTM); a backward for another forward fails saying so.
 *
 * Per shape, at its first call and outside a step capture (as the cuDNN
 * conv1d): descriptors, weight space and its gradient, workspace, reserve
 * space, the device array of sequence lengths (all T). Each forward copies
 * w_ih, w_hh and b into cuDNN's weight space at the addresses
 * cudnnGetRNNWeightParams gives (gate order i, f, g, o in both; one copy per
 * parameter where cuDNN lays the gates out one after the other, else one per
 * gate); each backward
 * adds cuDNN's weight gradients back into dw_ih, dw_hh, db and its data
 * gradient into dx (the contract accumulates; cuDNN overwrites).
 *
 * Numerics: fp32, CUDNN_FMA_MATH (no TF32), the standard algorithm, one input
 * bias (CUDNN_RNN_SINGLE_INP_BIAS: the contract has one b), zero initial state.
 * Layout: x, h and dh are [B, T, *], cuDNN's batch-major unpacked layout. */
#include "kernels/cuda/common.cuh"

#include <stdlib.h>

#ifdef DR_HAVE_CUDNN

struct dr_cudnn_lstm_plan {
    int B, T, In, H;
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t xd, yd;
    cudnnTensorDescriptor_t hd; /* initial / final states: not used, but described */
    cudnnDropoutDescriptor_t drop; /* dropout 0 (one layer: nothing to drop between) */
    int32_t *seq_lengths;       /* device, [B], all T */
    char *w, *dw;               /* weight space and its gradient */
    size_t w_bytes;
    void *work, *reserve;
    size_t work_bytes, reserve_bytes;
    float *dx;                     /* cuDNN's data gradient, added into the op's dx */
    size_t mat[8], bias[4];        /* byte offsets in w (and dw): w_ih gates, w_hh gates; b */
    int packed; /* each group of 4 lies gate after gate as in w_ih, w_hh, b: one copy each */
    const float *gates_of_reserve; /* the forward whose state reserve holds */
    struct dr_cudnn_lstm_plan *next;
};

static void plan_free(struct dr_cudnn_lstm_plan *p)
{
    if (p->rnn)
        cudnnDestroyRNNDescriptor(p->rnn);
    if (p->xd)
        cudnnDestroyRNNDataDescriptor(p->xd);
    if (p->yd)
        cudnnDestroyRNNDataDescriptor(p->yd);
    if (p->hd)
        cudnnDestroyTensorDescriptor(p->hd);
    if (p->drop)
        cudnnDestroyDropoutDescriptor(p->drop);
    cudaFree(p->seq_lengths);
    cudaFree(p->w);
    cudaFree(p->dw);
    cudaFree(p->work);
    cudaFree(p->reserve);
    cudaFree(p->dx);
    free(p);
}

void dr_cudnn_lstm_plans_free(dr_cuda_context *ctx)
{
    while (ctx->lstm_cudnn_plans) {
        struct dr_cudnn_lstm_plan *p = ctx->lstm_cudnn_plans;
        ctx->lstm_cudnn_plans = p->next;
        plan_free(p);
    }
}

/* Parameter group grp (0 w_ih, 1 w_hh, 2 b), gate g: its floats per gate and
 * its byte offset in the weight space. Packed plans copy a group's 4 gates as
 * one run from gate 0's offset. */
static size_t gate_floats(const struct dr_cudnn_lstm_plan *p, int grp)
{
    return (size_t)p->H * (grp == 0 ? p->In : grp == 1 ? p->H : 1);
}

static size_t gate_offset(const struct dr_cudnn_lstm_plan *p, int grp, int g)
{
    return grp == 2 ? p->bias[g] : p->mat[4 * grp + g];
}

/* The byte offsets of the 8 gate matrices and the 4 input biases in the weight
 * space, and whether each parameter's gates lie one after the other. Returns 1
 * on success. */
static int weight_offsets(dr_cuda_context *ctx, struct dr_cudnn_lstm_plan *p)
{
    cudnnTensorDescriptor_t md = NULL, bd = NULL;
    int ok = DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&md)) &&
             DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&bd));
    for (int id = 0; ok && id < 8; id++) {
        void *m = NULL, *b = NULL;
        ok = DR_CUDNN_CHECK(ctx, cudnnGetRNNWeightParams(ctx->cudnn, p->rnn, 0, p->w_bytes, p->w,
                                                         id, md, &m, bd, &b));
        if (!ok)
            break;
        if (!m || (id < 4 && !b)) {
            DR_CUDA_FAIL(ctx, DR_ERR_DEVICE, "lstm (cudnn): cuDNN gives no %s for gate %d",
                         m ? "input bias" : "weight matrix", id);
            ok = 0;
            break;
        }
        p->mat[id] = (size_t)((char *)m - p->w);
        if (id < 4)
            p->bias[id] = (size_t)((char *)b - p->w);
    }
    if (md)
        cudnnDestroyTensorDescriptor(md);
    if (bd)
        cudnnDestroyTensorDescriptor(bd);
    p->packed = 1;
    for (int grp = 0; grp < 3; grp++)
        for (int g = 1; g < 4; g++)
            p->packed &= gate_offset(p, grp, g) ==
                         gate_offset(p, grp, 0) + g * gate_floats(p, grp) * sizeof(float);
    return ok;
}

static int plan_init(dr_cuda_context *ctx, struct dr_cudnn_lstm_plan *p)
{
    const int B = p->B, T = p->T, In = p->In, H = p->H;
    if (!DR_CUDNN_CHECK(ctx, cudnnCreateRNNDescriptor(&p->rnn)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateRNNDataDescriptor(&p->xd)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateRNNDataDescriptor(&p->yd)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateTensorDescriptor(&p->hd)) ||
        !DR_CUDNN_CHECK(ctx, cudnnCreateDropoutDescriptor(&p->drop)))
        return 0;
    /* a descriptor of dropout 0 (as PyTorch passes): no state, nothing drawn */
    if (!DR_CUDNN_CHECK(ctx, cudnnSetDropoutDescriptor(p->drop, ctx->cudnn, 0.0f, NULL, 0, 0)) ||
        !DR_CUDNN_CHECK(ctx, cudnnSetRNNDescriptor_v8(
                                 p->rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM,
                                 CUDNN_RNN_SINGLE_INP_BIAS, CUDNN_UNIDIRECTIONAL,
                                 CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                 CUDNN_FMA_MATH, In, H, H, 1, p->drop, CUDNN_RNN_PADDED_IO_ENABLED)))
        return 0;
    int *lengths = (int *)malloc((size_t)B * sizeof *lengths);
    if (!lengths) {
        DR_CUDA_FAIL(ctx, DR_ERR_NOMEM, "lstm (cudnn): out of host memory");
        return 0;
    }
    for (int i = 0; i < B; i++)
        lengths[i] = T;
    float fill = 0.0f;
    int dims[3] = {1, B, H}, strides[3] = {B * H, H, 1};
    int ok = DR_CUDNN_CHECK(ctx, cudnnSetRNNDataDescriptor(p->xd, CUDNN_DATA_FLOAT,
                                                           CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                                           T, B, In, lengths, &fill)) &&
             DR_CUDNN_CHECK(ctx, cudnnSetRNNDataDescriptor(p->yd, CUDNN_DATA_FLOAT,
                                                           CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                                           T, B, H, lengths, &fill)) &&
             DR_CUDNN_CHECK(ctx, cudnnSetTensorNdDescriptor(p->hd, CUDNN_DATA_FLOAT, 3, dims,
                                                            strides)) &&
             DR_CUDA_CHECK(ctx, cudaMalloc((void **)&p->seq_lengths, (size_t)B * sizeof(int32_t))) &&
             /* on the op's stream (non-blocking: it would not wait for a legacy-stream
              * copy); from pageable memory the call returns once lengths is staged */
             DR_CUDA_CHECK(ctx, cudaMemcpyAsync(p->seq_lengths, lengths, (size_t)B * sizeof(int32_t),
                                                cudaMemcpyHostToDevice, ctx->stream));
    free(lengths);
    if (!ok ||
        !DR_CUDNN_CHECK(ctx, cudnnGetRNNWeightSpaceSize(ctx->cudnn, p->rnn, &p->w_bytes)) ||
        !DR_CUDNN_CHECK(ctx, cudnnGetRNNTempSpaceSizes(ctx->cudnn, p->rnn, CUDNN_FWD_MODE_TRAINING,
                                                       p->xd, &p->work_bytes, &p->reserve_bytes)))
        return 0;
    /* zeroed once: parts the copies never touch (padding) stay zero */
    if (!DR_CUDA_CHECK(ctx, cudaMalloc((void **)&p->w, p->w_bytes)) ||
        !DR_CUDA_CHECK(ctx, cudaMemsetAsync(p->w, 0, p->w_bytes, ctx->stream)) ||
        !DR_CUDA_CHECK(ctx, cudaMalloc((void **)&p->dw, p->w_bytes)) ||
        (p->work_bytes && !DR_CUDA_CHECK(ctx, cudaMalloc(&p->work, p->work_bytes))) ||
        (p->reserve_bytes && !DR_CUDA_CHECK(ctx, cudaMalloc(&p->reserve, p->reserve_bytes))) ||
        !DR_CUDA_CHECK(ctx, cudaMalloc((void **)&p->dx, (size_t)B * T * In * sizeof(float))))
        return 0;
    if (!weight_offsets(ctx, p))
        return 0;
    cudaGetLastError(); /* as after the conv plans: cuDNN's queries may leave one behind */
    return 1;
}

static struct dr_cudnn_lstm_plan *lstm_plan(dr_cuda_context *ctx, int B, int T, int In, int H)
{
    for (struct dr_cudnn_lstm_plan *p = ctx->lstm_cudnn_plans; p; p = p->next)
        if (p->B == B && p->T == T && p->In == In && p->H == H)
            return p;
    if (ctx->capturing) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "lstm (cudnn): shape B=%d T=%d In=%d H=%d first seen "
                     "inside a step capture; a shape's first call must run outside one", B, T, In,
                     H);
        return NULL;
    }
    if (!ctx->cudnn) {
        DR_CUDA_FAIL(ctx, DR_ERR_INVALID, "lstm (cudnn): no cuDNN handle");
        return NULL;
    }
    if (In < 1) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "lstm (cudnn): In = %d; cuDNN needs an input", In);
        return NULL;
    }
    struct dr_cudnn_lstm_plan *p = (struct dr_cudnn_lstm_plan *)calloc(1, sizeof *p);
    if (!p) {
        DR_CUDA_FAIL(ctx, DR_ERR_NOMEM, "lstm (cudnn): out of host memory");
        return NULL;
    }
    p->B = B, p->T = T, p->In = In, p->H = H;
    if (!plan_init(ctx, p)) {
        plan_free(p);
        return NULL;
    }
    p->next = ctx->lstm_cudnn_plans;
    ctx->lstm_cudnn_plans = p;
    return p;
}

void dr_cudnn_lstm_forward(dr_cuda_context *ctx, float *h, float *gates, const float *x,
                           const float *w_ih, const float *w_hh, const float *b, int B, int T,
                           int In, int H)
{
    struct dr_cudnn_lstm_plan *p = lstm_plan(ctx, B, T, In, H);
    if (!p)
        return;
    const float *src[3] = {w_ih, w_hh, b};
    for (int grp = 0; grp < 3; grp++)
        for (int g = 0; g < (p->packed ? 1 : 4); g++) {
            size_t n = gate_floats(p, grp);
            if (!DR_CUDA_CHECK(ctx, cudaMemcpyAsync(p->w + gate_offset(p, grp, g), src[grp] + g * n,
                                                    (p->packed ? 4 : 1) * n * sizeof(float),
                                                    cudaMemcpyDeviceToDevice, ctx->stream)))
                return;
        }
    if (!DR_CUDNN_CHECK(ctx, cudnnRNNForward(ctx->cudnn, p->rnn, CUDNN_FWD_MODE_TRAINING,
                                             p->seq_lengths, p->xd, x, p->yd, h, p->hd, NULL, NULL,
                                             p->hd, NULL, NULL, p->w_bytes, p->w, p->work_bytes,
                                             p->work, p->reserve_bytes, p->reserve)))
        return;
    p->gates_of_reserve = gates;
}

void dr_cudnn_lstm_backward(dr_backend *be, float *dx, float *dw_ih, float *dw_hh, float *db,
                            const float *dh, const float *x, const float *h, const float *gates,
                            int B, int T, int In, int H)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    struct dr_cudnn_lstm_plan *p = lstm_plan(ctx, B, T, In, H);
    if (!p)
        return;
    if (p->gates_of_reserve != gates) {
        DR_CUDA_FAIL(ctx, DR_ERR_INVALID, "lstm (cudnn): backward of a forward whose state is not "
                     "held (cuDNN keeps one per shape B=%d T=%d In=%d H=%d: the last forward's)", B,
                     T, In, H);
        return;
    }
    if (!DR_CUDNN_CHECK(ctx, cudnnRNNBackwardData_v8(ctx->cudnn, p->rnn, p->seq_lengths, p->yd, h,
                                                     dh, p->xd, p->dx, p->hd, NULL, NULL, NULL,
                                                     p->hd, NULL, NULL, NULL, p->w_bytes, p->w,
                                                     p->work_bytes, p->work, p->reserve_bytes,
                                                     p->reserve)) ||
        !DR_CUDA_CHECK(ctx, cudaMemsetAsync(p->dw, 0, p->w_bytes, ctx->stream)) ||
        !DR_CUDNN_CHECK(ctx, cudnnRNNBackwardWeights_v8(ctx->cudnn, p->rnn, CUDNN_WGRAD_MODE_ADD,
                                                        p->seq_lengths, p->xd, x, p->hd, NULL,
                                                        p->yd, h, p->w_bytes, p->dw, p->work_bytes,
                                                        p->work, p->reserve_bytes, p->reserve)))
        return;
    float *dst[3] = {dw_ih, dw_hh, db};
    for (int grp = 0; grp < 3; grp++)
        for (int g = 0; g < (p->packed ? 1 : 4); g++) {
            size_t n = gate_floats(p, grp);
            dr_cuda_axpy(be, dst[grp] + g * n, 1.0f, (const float *)(p->dw + gate_offset(p, grp, g)),
                         (long)((p->packed ? 4 : 1) * n));
        }
    if (dx)
        dr_cuda_axpy(be, dx, 1.0f, p->dx, (long)B * T * In);
}

#endif /* DR_HAVE_CUDNN */
