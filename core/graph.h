/* The static autograd graph.
 *
 * A model is built once into nodes (op, inputs, output, saved state) with the
 * dr_graph_* builders, which infer and check shapes. dr_graph_plan() then lays
 * out every activation, gradient, saved buffer and scratch area for a batch size
 * in one arena, so a training step allocates nothing. Forward walks the node
 * list; backward walks it in reverse, calling each op's backward through the
 * backend's op table, so one graph runs on either backend.
 *
 * Shapes are per sample: the batch dimension is implicit and leading. Builders
 * fail with DR_ERR_SHAPE naming the op and both shapes. */
#ifndef DR_GRAPH_H
#define DR_GRAPH_H

#include <stdint.h>

#include "core/backend.h"
#include "core/ops/adam.h"
#include "core/ops/loss.h"
#include "core/ops/step.h"

typedef struct dr_graph dr_graph;

/* A value (tensor) of the graph; id < 0 is "none". */
typedef struct dr_value {
    int id;
} dr_value;

typedef enum dr_mode { DR_MODE_TRAIN = 0, DR_MODE_EVAL = 1 } dr_mode;

enum { DR_MAX_DIMS = 3 }; /* per sample; tensors are up to 4-D with the batch */

dr_status dr_graph_create(dr_graph **out, dr_backend *be, uint64_t seed);
void dr_graph_free(dr_graph *g);

/* --- building ------------------------------------------------------------ */

dr_status dr_graph_input(dr_graph *g, dr_value *out, const char *name, int ndim, const int *shape);
/* An input whose gradient backward computes: for gradients of a model's output
 * with respect to its inputs (explanations). Costs one more backward product
 * per step where it enters the model. */
dr_status dr_graph_input_differentiable(dr_graph *g, dr_value *out, const char *name, int ndim, const int *shape);
/* Last dimension C -> OC; leading per-sample dimensions are folded into rows. */
dr_status dr_graph_linear(dr_graph *g, dr_value *out, dr_value x, int out_features,
                          const char *name);
/* [Cin, L] -> [Cout, L], kernel k, same padding. */
dr_status dr_graph_conv1d(dr_graph *g, dr_value *out, dr_value x, int out_channels, int k,
                          const char *name);
/* [C, L] -> [C, ceil(L / k)] */
dr_status dr_graph_maxpool1d(dr_graph *g, dr_value *out, dr_value x, int k);
/* [C] or [C, L], per-channel statistics. */
dr_status dr_graph_batchnorm(dr_graph *g, dr_value *out, dr_value x, const char *name);
dr_status dr_graph_relu(dr_graph *g, dr_value *out, dr_value x);
/* Inverted dropout with Philox masks keyed by (graph seed, node, step). */
dr_status dr_graph_dropout(dr_graph *g, dr_value *out, dr_value x, float p);
dr_status dr_graph_add(dr_graph *g, dr_value *out, dr_value a, dr_value b);
/* Along the first per-sample dimension; the others must agree. */
dr_status dr_graph_concat(dr_graph *g, dr_value *out, const dr_value *xs, int n);
/* x[start : start + len] along the first per-sample dimension. */
dr_status dr_graph_slice(dr_graph *g, dr_value *out, dr_value x, int start, int len);
/* Same data, new per-sample shape with the same number of elements. */
dr_status dr_graph_reshape(dr_graph *g, dr_value *out, dr_value x, int ndim, const int *shape);
/* [M, N] -> [N, M] */
dr_status dr_graph_transpose(dr_graph *g, dr_value *out, dr_value x);
/* [T, I] -> [T, H], every step's hidden state. */
dr_status dr_graph_lstm(dr_graph *g, dr_value *out, dr_value x, int hidden, const char *name);
/* [T, H] -> context [H]; alpha (may be NULL) receives the weights [T]. */
dr_status dr_graph_attention(dr_graph *g, dr_value *ctx, dr_value *alpha, dr_value x,
                             int attn_dim, const char *name);
/* logits [1] and labels [1] -> the batch's mean loss, a scalar. */
dr_status dr_graph_loss(dr_graph *g, dr_value *out, dr_value logits, dr_value labels,
                        dr_loss_params p);
/* Probability from logits (no gradient). */
dr_status dr_graph_sigmoid(dr_graph *g, dr_value *out, dr_value logits);

/* --- running ------------------------------------------------------------- */

/* Lays out all memory for batches of up to max_batch samples and, on the first
 * call, allocates and initialises the parameters (PyTorch's default schemes,
 * drawn from Philox so both backends start from the same weights). A later call
 * with another size re-plans the activations only. */
dr_status dr_graph_plan(dr_graph *g, int max_batch);
/* Copies batch rows of host data into an input value. */
dr_status dr_graph_set_input(dr_graph *g, dr_value in, const float *host, int batch);
/* Runs the forward pass over the current batch (set by dr_graph_set_input). A
 * training forward advances the dropout counter. */
dr_status dr_graph_forward(dr_graph *g, dr_mode mode);
/* Zeroes parameter gradients, then backpropagates from the loss value. */
dr_status dr_graph_backward(dr_graph *g, dr_value loss);
/* One Adam step over all parameters (moments live in the graph). */
dr_status dr_graph_adam_step(dr_graph *g, const dr_adam_params *hp);
/* Copies the current batch's rows of a value (or a scalar) to the host. */
dr_status dr_graph_read(dr_graph *g, dr_value v, float *host);
/* After an eval forward: every row's gradient of a per-sample scalar output
 * (a logit [1]) with respect to the differentiable inputs, through batch norm
 * with its running statistics and dropout as the identity, read with
 * dr_graph_read_grad. Rows are independent in eval mode, so one backward seeded
 * with d out = 1 per row gives each row its own gradient. Parameter gradients
 * are overwritten. */
dr_status dr_graph_backward_output(dr_graph *g, dr_value out);
/* Copies the current batch's rows of a value's gradient to the host. */
dr_status dr_graph_read_grad(dr_graph *g, dr_value v, float *host);

/* --- whole training steps (core/step.c) ---------------------------------- */

/* As dr_graph_set_input, but on a device the copy is only queued: host must come
 * from dr_backend_host_alloc and stay unchanged until the next
 * dr_graph_step_metrics. On the CPU it is dr_graph_set_input. */
dr_status dr_graph_set_input_async(dr_graph *g, dr_value in, const float *host, int batch);
/* One training step over the current batch: forward in train mode, backward
 * from loss, one Adam step with hp (hp->step is the step's t). The batch loss
 * times the batch rows is added to the step metrics. On a device nothing waits
 * for the step: a device error, like a non-finite loss, shows in the next
 * dr_graph_step_metrics. The CPU reads the loss at once: a non-finite one is
 * recorded in the metrics and fails the step with DR_ERR_NUMERIC before backward.
 *
 * With step graphs on (dr_graph_use_step_graphs) on a backend that has them
 * (CUDA), the first step of each batch size (at most two sizes) runs op by op,
 * the second is captured as one graph, and it and every later one are replays
 * that read the dropout counter, lr and t from device memory. A failed capture
 * or replay prints one line to stderr; the step and all later ones then run op
 * by op, with the same result. */
dr_status dr_graph_train_step(dr_graph *g, dr_value loss, const dr_adam_params *hp);
/* Zeroes the step metrics (queued on a device). */
dr_status dr_graph_step_metrics_reset(dr_graph *g);
/* Waits for the queued steps and reads the metrics summed since the reset; also
 * reports the first device error since the last wait. */
dr_status dr_graph_step_metrics(dr_graph *g, dr_step_metrics *out);
/* Step graphs on or off (off when the graph is created; off is kept on a
 * backend without them). */
void dr_graph_use_step_graphs(dr_graph *g, int on);

typedef struct dr_step_stats {
    long eager;        /* steps run op by op */
    long replayed;     /* steps replayed from a captured graph */
    int captured;      /* captures made (one per batch size) */
    char failure[400]; /* why step graphs were turned off, or "" */
} dr_step_stats;
const dr_step_stats *dr_graph_step_stats(const dr_graph *g);

/* --- profiling (core/profile.c) ------------------------------------------ */

/* From now on times every node's forward and backward (clearing the gradients
 * it is the last reader of included) and the Adam update, in wall seconds,
 * waiting for the device after each, so a profiled step on a GPU is slower than
 * a plain one (and runs op by op: step graphs are not profiled). Off, or on
 * again, drops the counters. After dr_graph_plan. */
dr_status dr_graph_profile(dr_graph *g, int on);

typedef struct dr_op_time {
    const char *op; /* a node kind ("conv1d", ...), or "adam" */
    int nodes;
    double forward_s, backward_s; /* Adam's time is in backward_s */
} dr_op_time;
/* The times since profiling began, summed per op in the order the ops first
 * appear, Adam last; returns how many were written (at most cap, 0 when off). */
int dr_graph_profile_ops(const dr_graph *g, dr_op_time *out, int cap);

/* --- inspection and state ------------------------------------------------ */

dr_backend *dr_graph_backend(const dr_graph *g);

int dr_graph_batch(const dr_graph *g);     /* rows of the current batch */
int dr_graph_max_batch(const dr_graph *g); /* the size the graph was planned for */
long dr_graph_numel(const dr_graph *g, dr_value v); /* per sample, or total if unbatched */
const char *dr_graph_value_name(const dr_graph *g, dr_value v);
long dr_graph_param_count(const dr_graph *g);
uint64_t dr_graph_step(const dr_graph *g);
void dr_graph_set_step(dr_graph *g, uint64_t step);

/* The graph's persistent state as named tensors, for checkpoints and tests.
 * Kinds: a parameter, its gradient, its Adam moments, or a buffer (batch-norm
 * running statistics). Pointers are device memory of the graph's backend. */
typedef enum dr_state_kind {
    DR_STATE_PARAM = 0,
    DR_STATE_GRAD,
    DR_STATE_ADAM_M,
    DR_STATE_ADAM_V,
    DR_STATE_BUFFER
} dr_state_kind;

typedef struct dr_state_tensor {
    const char *name;
    int ndim;
    int shape[DR_MAX_DIMS];
    long numel;
    float *data;
} dr_state_tensor;

/* Number of tensors of a kind, and the i-th (valid after dr_graph_plan). */
int dr_graph_state_count(const dr_graph *g, dr_state_kind kind);
dr_status dr_graph_state_get(const dr_graph *g, dr_state_kind kind, int i, dr_state_tensor *out);
/* Host <-> device copies of a state tensor. */
dr_status dr_graph_state_read(dr_graph *g, const dr_state_tensor *t, float *host);
dr_status dr_graph_state_write(dr_graph *g, const dr_state_tensor *t, const float *host);
/* The value's gradient pointer (device), or NULL: for gradient checks. */
float *dr_graph_grad_ptr(dr_graph *g, dr_value v);
float *dr_graph_data_ptr(dr_graph *g, dr_value v);

#endif
