/* The CPU backend's op table. */
#include "kernels/cpu/ops.h"
#include "kernels/cpu/microkernel.h"

const dr_op_table dr_cpu_ops = {
    .name = "cpu",
    .impl = "  conv1d     implicit GEMMs (no im2col) on the " DR_MICROKERNEL_NAME " register tile, one OpenMP region\n"
            "  linear     OpenBLAS sgemm\n"
            "  lstm       OpenBLAS sgemm for all steps' input products, per-step recurrent sgemm + fused gates\n"
            "  attention  OpenBLAS sgemm projections, per-sample softmax over time\n"
            "  batchnorm  one shifted pass in double for the statistics, OpenMP over channel ranges\n"
            "  others     plain loops (OpenMP when long): maxpool, relu, dropout (Philox), loss, Adam\n",
    .alloc = dr_cpu_alloc,
    .free = dr_cpu_free,
    .zero = dr_cpu_zero,
    .to_device = dr_cpu_to_device,
    .to_host = dr_cpu_to_host,
    .copy = dr_cpu_copy,
    .linear_forward = dr_cpu_linear_forward,
    .linear_backward = dr_cpu_linear_backward,
    .conv1d_scratch = dr_cpu_conv1d_scratch,
    .conv1d_forward = dr_cpu_conv1d_forward,
    .conv1d_backward = dr_cpu_conv1d_backward,
    .maxpool1d_forward = dr_cpu_maxpool1d_forward,
    .maxpool1d_backward = dr_cpu_maxpool1d_backward,
    .batchnorm_forward_train = dr_cpu_batchnorm_forward_train,
    .batchnorm_forward_eval = dr_cpu_batchnorm_forward_eval,
    .batchnorm_backward = dr_cpu_batchnorm_backward,
    .batchnorm_backward_eval = dr_cpu_batchnorm_backward_eval,
    .relu_forward = dr_cpu_relu_forward,
    .relu_backward = dr_cpu_relu_backward,
    .sigmoid_forward = dr_cpu_sigmoid_forward,
    .dropout_forward = dr_cpu_dropout_forward,
    .dropout_backward = dr_cpu_dropout_backward,
    .copy2d = dr_cpu_copy2d,
    .add = dr_cpu_add,
    .axpy = dr_cpu_axpy,
    .transpose = dr_cpu_transpose,
    .lstm_forward = dr_cpu_lstm_forward,
    .lstm_backward = dr_cpu_lstm_backward,
    .attention_forward = dr_cpu_attention_forward,
    .attention_backward = dr_cpu_attention_backward,
    .loss_forward = dr_cpu_loss_forward,
    .loss_backward = dr_cpu_loss_backward,
    .adam_update = dr_cpu_adam_update,
};
