/* The CUDA backend (kernels/cuda/context.cu) and its kernels, one per entry of the op table (core/op_table.h),
 * and its step ops (core/ops/step.h); each op's contract is in its header
 * under core/ops/. Only built when DR_HAVE_CUDA. */
#ifndef DR_KERNELS_CUDA_OPS_H
#define DR_KERNELS_CUDA_OPS_H

#include "core/op_table.h"

#ifdef __cplusplus
extern "C" {
#endif

dr_relu_forward_fn dr_cuda_relu_forward;
dr_relu_backward_fn dr_cuda_relu_backward;
dr_sigmoid_forward_fn dr_cuda_sigmoid_forward;
dr_dropout_forward_fn dr_cuda_dropout_forward;
dr_dropout_backward_fn dr_cuda_dropout_backward;
dr_adam_update_fn dr_cuda_adam_update;
dr_attention_forward_fn dr_cuda_attention_forward;
dr_attention_backward_fn dr_cuda_attention_backward;
dr_batchnorm_forward_train_fn dr_cuda_batchnorm_forward_train;
dr_batchnorm_forward_eval_fn dr_cuda_batchnorm_forward_eval;
dr_batchnorm_backward_fn dr_cuda_batchnorm_backward;
dr_batchnorm_backward_eval_fn dr_cuda_batchnorm_backward_eval;
dr_conv1d_scratch_fn dr_cuda_conv1d_scratch;
dr_conv1d_forward_fn dr_cuda_conv1d_forward;
dr_conv1d_backward_fn dr_cuda_conv1d_backward;
dr_linear_forward_fn dr_cuda_linear_forward;
dr_linear_backward_fn dr_cuda_linear_backward;
dr_loss_forward_fn dr_cuda_loss_forward;
dr_loss_backward_fn dr_cuda_loss_backward;
dr_lstm_forward_fn dr_cuda_lstm_forward;
dr_lstm_backward_fn dr_cuda_lstm_backward;
dr_maxpool1d_forward_fn dr_cuda_maxpool1d_forward;
dr_maxpool1d_backward_fn dr_cuda_maxpool1d_backward;
dr_alloc_fn dr_cuda_alloc;
dr_free_fn dr_cuda_free;
dr_zero_fn dr_cuda_zero;
dr_to_device_fn dr_cuda_to_device;
dr_to_host_fn dr_cuda_to_host;
dr_copy_fn dr_cuda_copy;
dr_to_device_async_fn dr_cuda_to_device_async;
dr_step_metrics_add_fn dr_cuda_step_metrics_add;
dr_step_capture_begin_fn dr_cuda_step_capture_begin;
dr_step_capture_end_fn dr_cuda_step_capture_end;
dr_step_replay_fn dr_cuda_step_replay;
dr_step_graph_free_fn dr_cuda_step_graph_free;
extern const dr_step_ops dr_cuda_step_ops;
dr_copy2d_fn dr_cuda_copy2d;
dr_add_fn dr_cuda_add;
dr_axpy_fn dr_cuda_axpy;
dr_transpose_fn dr_cuda_transpose;

extern const dr_op_table dr_cuda_ops;
extern const dr_backend_iface dr_cuda_backend;

#ifdef __cplusplus
}
#endif

#endif
