/* A backend is one device (the CPU, or one CUDA GPU) with its op table.
 *
 * Models never call kernels directly: graph nodes look ops up in be->ops, so the
 * same graph runs on either backend. Kernels return void; a CUDA backend records
 * the first failed call in its context and dr_backend_sync() reports it. */
#ifndef DR_BACKEND_H
#define DR_BACKEND_H

#include <stddef.h>

#include "core/status.h"

typedef enum dr_device_kind { DR_DEVICE_CPU = 0, DR_DEVICE_CUDA = 1 } dr_device_kind;

typedef struct dr_op_table dr_op_table;
typedef struct dr_cuda_context dr_cuda_context; /* streams, cuBLAS handle, error state */

typedef struct dr_backend {
    dr_device_kind kind;
    int device_index;
    const dr_op_table *ops;
    dr_cuda_context *cuda; /* NULL on the CPU */
} dr_backend;

/* "cpu", "cuda" or "cuda:N". A CUDA backend on a build without CUDA, or on a
 * machine without a usable GPU, fails with DR_ERR_DEVICE and says why. */
dr_status dr_backend_create(dr_backend **out, const char *device);
void dr_backend_free(dr_backend *be);
/* Waits for queued work and reports the first device error since the last call. */
dr_status dr_backend_sync(dr_backend *be);
/* One line naming the device ("cpu (2 threads, OpenBLAS ...)" or the card). */
const char *dr_backend_describe(const dr_backend *be);
/* How each op is implemented on this backend, one line per op (on CUDA with
 * each op's current implementation choice). */
const char *dr_backend_kernels(const dr_backend *be);
/* Chooses how op is implemented: "custom" (this project's kernels, the
 * default) or, on a CUDA backend, "cudnn" (builds with cuDNN) and, for "lstm",
 * "steps" (per-step launches). Ops with a choice: "conv1d", "lstm".
 * The CPU has only "custom"; anything else fails saying why
 * (kernels/cuda_backend.h has the CUDA details). */
dr_status dr_backend_set_impl(dr_backend *be, const char *op, const char *impl);
/* The ops with a choice, NULL-terminated ("conv1d", "lstm"), and the names an
 * op's choice can take on CUDA, NULL-terminated, "custom" first; NULL for an op
 * without a choice. */
extern const char *const dr_backend_impl_ops[];
const char *const *dr_backend_impl_names(const char *op);
/* The op's current choice; NULL for an op without one. */
const char *dr_backend_get_impl(const dr_backend *be, const char *op);
/* The arithmetic of GEMMs: "fp32" (the default, the only one on the CPU) or,
 * on CUDA, "tf32" or "bf16" (kernels/cuda_backend.h). dr_backend_math_names
 * lists them, NULL-terminated, "fp32" first. */
extern const char *const dr_backend_math_names[];
dr_status dr_backend_set_math(dr_backend *be, const char *math);
const char *dr_backend_get_math(const dr_backend *be);
/* Whether training steps can be captured and replayed as one graph (CUDA). */
int dr_backend_has_step_graphs(const dr_backend *be);

/* Host memory that the device copies from without staging it first (pinned on
 * CUDA, plain malloc on the CPU), for dr_graph_set_input_async. NULL on failure,
 * with the message set. */
void *dr_backend_host_alloc(dr_backend *be, size_t bytes);
void dr_backend_host_free(dr_backend *be, void *p);

#endif
