/* The CPU backend (kernels/cpu/backend.c) and its kernels, one per entry of the op table (core/op_table.h);
 * each op's contract is in its header under core/ops/. Tests and benchmarks
 * call them directly. */
#ifndef DR_KERNELS_CPU_OPS_H
#define DR_KERNELS_CPU_OPS_H

#include "core/op_table.h"

dr_relu_forward_fn dr_cpu_relu_forward;
dr_relu_backward_fn dr_cpu_relu_backward;
dr_sigmoid_forward_fn dr_cpu_sigmoid_forward;
dr_dropout_forward_fn dr_cpu_dropout_forward;
dr_dropout_backward_fn dr_cpu_dropout_backward;
dr_adam_update_fn dr_cpu_adam_update;
dr_attention_forward_fn dr_cpu_attention_forward;
dr_attention_backward_fn dr_cpu_attention_backward;
dr_batchnorm_forward_train_fn dr_cpu_batchnorm_forward_train;
dr_batchnorm_forward_eval_fn dr_cpu_batchnorm_forward_eval;
dr_batchnorm_backward_fn dr_cpu_batchnorm_backward;
dr_batchnorm_backward_eval_fn dr_cpu_batchnorm_backward_eval;
dr_conv1d_scratch_fn dr_cpu_conv1d_scratch;
dr_conv1d_forward_fn dr_cpu_conv1d_forward;
dr_conv1d_backward_fn dr_cpu_conv1d_backward;
dr_linear_forward_fn dr_cpu_linear_forward;
dr_linear_backward_fn dr_cpu_linear_backward;
dr_loss_forward_fn dr_cpu_loss_forward;
dr_loss_backward_fn dr_cpu_loss_backward;
dr_lstm_forward_fn dr_cpu_lstm_forward;
dr_lstm_backward_fn dr_cpu_lstm_backward;
dr_maxpool1d_forward_fn dr_cpu_maxpool1d_forward;
dr_maxpool1d_backward_fn dr_cpu_maxpool1d_backward;
dr_alloc_fn dr_cpu_alloc;
dr_free_fn dr_cpu_free;
dr_zero_fn dr_cpu_zero;
dr_to_device_fn dr_cpu_to_device;
dr_to_host_fn dr_cpu_to_host;
dr_copy_fn dr_cpu_copy;
dr_copy2d_fn dr_cpu_copy2d;
dr_add_fn dr_cpu_add;
dr_axpy_fn dr_cpu_axpy;
dr_transpose_fn dr_cpu_transpose;

extern const dr_op_table dr_cpu_ops;
extern const dr_backend_iface dr_cpu_backend;

#endif
