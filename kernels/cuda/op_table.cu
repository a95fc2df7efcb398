/* The CUDA backend's op table (the C side sees it through core/op_table.h). */
#include "kernels/cuda/common.cuh"

extern "C" const dr_op_table dr_cuda_ops = {
    .name = "cuda",
    .impl = "  conv1d     im2col kernel + cuBLAS sgemm (fp32, no TF32)\n"
            "  linear     cuBLAS sgemm + bias kernels\n"
            "  lstm       cuBLAS sgemm for all steps' input products, per-step cuBLAS + fused gate kernel\n"
            "  attention  cuBLAS projections, one block per sample for the softmax over time\n"
            "  batchnorm  one block per channel, two-pass statistics in double\n"
            "  others     element-wise kernels: maxpool, relu, dropout (Philox), loss, Adam\n",
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
