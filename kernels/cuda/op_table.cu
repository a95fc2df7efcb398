/* The CUDA backend's op table (the C side sees it through core/op_table.h). */
#include "kernels/cuda/common.cuh"

#include <stdio.h>

/* The implementation lines, one per op, and the GEMMs' math. conv1d and lstm
 * have a choice (cuda.conv1d, cuda.lstm, dr_cuda_backend_set_impl): the op
 * table's own text names the defaults, dr_cuda_backend_kernels() the backend's
 * current choice. */
#define IMPL_CONV1D_CUSTOM "  conv1d     custom (cuda.conv1d): im2col kernel + cuBLAS GEMM\n"
#define IMPL_LINEAR "  linear     cuBLAS GEMM + bias kernels\n"
#define IMPL_MATH_FP32 "  math       fp32 (cuda.math): cuBLAS GEMMs in plain fp32, no TF32\n"
#define IMPL_LSTM_CUSTOM                                                                           \
    "  lstm       custom (cuda.lstm): cuBLAS GEMM for all steps' input products; the recurrence in one "  \
    "launch per direction, w_hh on chip in a thread-block cluster (per-step launches where it does not fit)\n"
#define IMPL_LSTM_STEPS                                                                            \
    "  lstm       steps (cuda.lstm): cuBLAS GEMM for all steps' input products; per step a cuBLAS GEMM "  \
    "+ a fused gate kernel\n"
#define IMPL_REST                                                                                  \
    "  attention  cuBLAS projections, one block per sample for the softmax over time\n"             \
    "  batchnorm  one block per channel, two-pass statistics in double\n"                           \
    "  others     element-wise kernels: maxpool, relu, dropout (Philox), loss, Adam\n"

extern "C" const char *dr_cuda_backend_kernels(const dr_backend *be)
{
    if (!be || !be->ctx)
        return dr_cuda_ops.impl;
    dr_cuda_context *ctx = (dr_cuda_context *)be->ctx;
    char conv[256] = IMPL_CONV1D_CUSTOM;
#ifdef DR_HAVE_CUDNN
    if (ctx->conv1d_impl == DR_CUDA_IMPL_CUDNN) {
        size_t v = cudnnGetVersion(); /* the library loaded, not the header built against */
        snprintf(conv, sizeof conv,
                 "  conv1d     cudnn (cuda.conv1d): cuDNN %zu.%zu.%zu convolution as 2-D with height 1, fp32 "
                 "FMA math (no TF32), GEMM-type algorithms chosen per shape; bias by cuDNN\n",
                 v / 10000, v % 10000 / 100, v % 100);
    }
#endif
    const char *lstm = ctx->lstm_impl == DR_CUDA_IMPL_STEPS ? IMPL_LSTM_STEPS
                       : ctx->lstm_impl == DR_CUDA_IMPL_CUDNN
                           ? "  lstm       cudnn (cuda.lstm): cuDNN's RNN API, standard algorithm, fp32 FMA math "
                             "(no TF32)\n"
                           : IMPL_LSTM_CUSTOM;
    char math[160] = IMPL_MATH_FP32;
    if (ctx->math)
        snprintf(math, sizeof math,
                 "  math       %s (cuda.math): cuBLAS GEMMs on %s tensor cores, fp32 sums; own kernels "
                 "and cuDNN fp32\n",
                 dr_backend_math_names[ctx->math], ctx->math == 1 ? "TF32" : "bf16");
    snprintf(ctx->kernels, sizeof ctx->kernels, "%s%s%s%s%s", math, conv, IMPL_LINEAR, lstm, IMPL_REST);
    return ctx->kernels;
}

extern "C" const dr_op_table dr_cuda_ops = {
    .name = "cuda",
    .impl = IMPL_MATH_FP32 IMPL_CONV1D_CUSTOM IMPL_LINEAR IMPL_LSTM_CUSTOM IMPL_REST,
    .alloc = dr_cuda_alloc,
    .free = dr_cuda_free,
    .zero = dr_cuda_zero,
    .to_device = dr_cuda_to_device,
    .to_host = dr_cuda_to_host,
    .copy = dr_cuda_copy,
    .linear_forward = dr_cuda_linear_forward,
    .linear_backward = dr_cuda_linear_backward,
    .conv1d_scratch = dr_cuda_conv1d_scratch,
    .conv1d_forward = dr_cuda_conv1d_forward,
    .conv1d_backward = dr_cuda_conv1d_backward,
    .maxpool1d_forward = dr_cuda_maxpool1d_forward,
    .maxpool1d_backward = dr_cuda_maxpool1d_backward,
    .batchnorm_forward_train = dr_cuda_batchnorm_forward_train,
    .batchnorm_forward_eval = dr_cuda_batchnorm_forward_eval,
    .batchnorm_backward = dr_cuda_batchnorm_backward,
    .batchnorm_backward_eval = dr_cuda_batchnorm_backward_eval,
    .relu_forward = dr_cuda_relu_forward,
    .relu_backward = dr_cuda_relu_backward,
    .sigmoid_forward = dr_cuda_sigmoid_forward,
    .dropout_forward = dr_cuda_dropout_forward,
    .dropout_backward = dr_cuda_dropout_backward,
    .copy2d = dr_cuda_copy2d,
    .add = dr_cuda_add,
    .axpy = dr_cuda_axpy,
    .transpose = dr_cuda_transpose,
    .lstm_forward = dr_cuda_lstm_forward,
    .lstm_backward = dr_cuda_lstm_backward,
    .attention_forward = dr_cuda_attention_forward,
    .attention_backward = dr_cuda_attention_backward,
    .loss_forward = dr_cuda_loss_forward,
    .loss_backward = dr_cuda_loss_backward,
    .adam_update = dr_cuda_adam_update,
    .step = &dr_cuda_step_ops,
};
