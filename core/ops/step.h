/* Whole training steps on a device (core/step.c drives them).
 *
 * A step is forward, backward and Adam over the current batch. On a device the
 * host queues it and does not wait: the batch's inputs are queued copies from
 * pinned memory, the batch loss is summed into device memory (dr_step_metrics)
 * and read once per epoch or per progress-bar redraw. A backend with step graphs
 * (CUDA) can also capture the queued ops of one step once and replay them.
 *
 * What changes from step to step must not be frozen into a captured step as a
 * launch argument: the dropout nodes' Philox counter (the graph's step) and
 * Adam's hyperparameters with its step t. While capturing, the dropout and Adam
 * ops (and metrics_add) read them from the backend's device-side step state
 * instead of their arguments; replay() makes that state hold the step's values,
 * and the captured graph ends by advancing it (counter + 1, t + 1), so
 * consecutive replays upload nothing.
 *
 * The CPU has no step ops (dr_op_table.step is NULL): core runs its steps op by
 * op and keeps the metrics on the host. */
#ifndef DR_CORE_OPS_STEP_H
#define DR_CORE_OPS_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/ops/adam.h"

/* Sums over the training steps since the last reset (device memory). */
typedef struct dr_step_metrics {
    double loss_sum;  /* sum of (batch mean loss x batch rows), in step order */
    int64_t bad_step; /* Adam step t of the first non-finite loss; 0: none */
    float bad_loss;   /* that loss */
} dr_step_metrics;

/* The per-step values a captured step reads from the step state. */
typedef struct dr_step_scalars {
    uint64_t counter;    /* the graph's step: the dropout nodes' Philox counter */
    dr_adam_params adam; /* lr, betas, eps, weight decay and the step t */
} dr_step_scalars;

typedef struct dr_step_graph dr_step_graph; /* one captured step, owned by the backend */

/* Queues a copy from host memory of dr_backend_host_alloc, which must stay
 * unchanged until the next sync. */
typedef void dr_to_device_async_fn(dr_backend *be, void *dst, const void *host_src, size_t bytes);
/* m->loss_sum += loss[0] * rows; the first non-finite loss sets m->bad_step =
 * step (the step state's t when capturing) and m->bad_loss. */
typedef void dr_step_metrics_add_fn(dr_backend *be, dr_step_metrics *m, const float *loss, int rows,
                                    long step);
/* Starts recording the ops queued on the backend instead of running them.
 * Fails, recording nothing, when an earlier device error is pending (which then
 * stays for the next sync to report). */
typedef dr_status dr_step_capture_begin_fn(dr_backend *be);
/* Ends the recording (always, so the backend works again), appends the advance
 * of the step state and instantiates the step into *out. On failure *out is NULL
 * and the error of the capture is returned and cleared from the backend. */
typedef dr_status dr_step_capture_end_fn(dr_backend *be, dr_step_graph **out);
/* Queues one run of a captured step with the step's scalars. Fails, queuing
 * nothing of the step, when the launch fails or an earlier error is pending. */
typedef dr_status dr_step_replay_fn(dr_backend *be, dr_step_graph *sg, const dr_step_scalars *sc);
typedef void dr_step_graph_free_fn(dr_backend *be, dr_step_graph *sg);

typedef struct dr_step_ops {
    dr_to_device_async_fn *to_device_async;
    dr_step_metrics_add_fn *metrics_add;
    dr_step_capture_begin_fn *capture_begin;
    dr_step_capture_end_fn *capture_end;
    dr_step_replay_fn *replay;
    dr_step_graph_free_fn *graph_free;
} dr_step_ops;

#endif
