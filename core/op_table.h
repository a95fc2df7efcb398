/* The op table: one function pointer per kernel. Each backend fills one
 * (kernels/cpu/op_table.c, kernels/cuda/op_table.cu); graph nodes call through it
 * and never name a backend. The contract of each op (shapes, which gradients are
 * accumulated) is in its header under core/ops/. */
#ifndef DR_OP_TABLE_H
#define DR_OP_TABLE_H

#include <stddef.h>

#include "core/ops/activation.h"
#include "core/ops/adam.h"
#include "core/ops/attention.h"
#include "core/ops/batchnorm.h"
#include "core/ops/conv1d.h"
#include "core/ops/linear.h"
#include "core/ops/loss.h"
#include "core/ops/lstm.h"
#include "core/ops/maxpool1d.h"
#include "core/ops/memory.h"
#include "core/ops/step.h"
#include "core/ops/tensor_ops.h"

struct dr_op_table {
    const char *name;
    /* how each op is implemented, one line per op; where an op has a choice
     * (CUDA: conv1d), the default's line. Runs print dr_backend_kernels(),
     * which names the choice in use. */
    const char *impl;

    dr_alloc_fn *alloc;
    dr_free_fn *free;
    dr_zero_fn *zero;
    dr_to_device_fn *to_device;
    dr_to_host_fn *to_host;
    dr_copy_fn *copy;

    dr_linear_forward_fn *linear_forward;
    dr_linear_backward_fn *linear_backward;
    dr_conv1d_scratch_fn *conv1d_scratch;
    dr_conv1d_forward_fn *conv1d_forward;
    dr_conv1d_backward_fn *conv1d_backward;
    dr_maxpool1d_forward_fn *maxpool1d_forward;
    dr_maxpool1d_backward_fn *maxpool1d_backward;
    dr_batchnorm_forward_train_fn *batchnorm_forward_train;
    dr_batchnorm_forward_eval_fn *batchnorm_forward_eval;
    dr_batchnorm_backward_fn *batchnorm_backward;
    dr_batchnorm_backward_eval_fn *batchnorm_backward_eval;
    dr_relu_forward_fn *relu_forward;
    dr_relu_backward_fn *relu_backward;
    dr_sigmoid_forward_fn *sigmoid_forward;
    dr_dropout_forward_fn *dropout_forward;
    dr_dropout_backward_fn *dropout_backward;
    dr_copy2d_fn *copy2d;
    dr_add_fn *add;
    dr_axpy_fn *axpy;
    dr_transpose_fn *transpose;
    dr_lstm_forward_fn *lstm_forward;
    dr_lstm_backward_fn *lstm_backward;
    dr_attention_forward_fn *attention_forward;
    dr_attention_backward_fn *attention_backward;
    dr_loss_forward_fn *loss_forward;
    dr_loss_backward_fn *loss_backward;
    dr_adam_update_fn *adam_update;

    /* Whole training steps without host waits, captured and replayed
     * (core/ops/step.h); NULL where steps run op by op from the host (the CPU). */
    const dr_step_ops *step;
};

/* Which table entries each graph op (a node's name) runs on: a backend supports
 * the op when all of them are filled in (dr_backend_supports_op). */
enum { DR_OP_MAX_KERNELS = 4 };
typedef struct dr_op_kernels {
    const char *op;
    struct {
        const char *name;
        size_t offset; /* into dr_op_table */
    } kernel[DR_OP_MAX_KERNELS];
} dr_op_kernels;

/* NULL for a name no graph op has. */
const dr_op_kernels *dr_op_kernels_find(const char *op);

#endif
