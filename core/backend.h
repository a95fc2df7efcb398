/* A backend is one device (the CPU, or one CUDA GPU) with its op table.
 *
 * Models never call kernels directly: graph nodes look ops up in be->ops, so the
 * same graph runs on either backend. Kernels return void; a CUDA backend records
 * the first failed call in its context and dr_backend_sync() reports it. Core
 * names no backend: each one is a table of functions (dr_backend_iface). */
#ifndef DR_BACKEND_H
#define DR_BACKEND_H

#include <stddef.h>

#include "core/status.h"

typedef struct dr_op_table dr_op_table;
typedef struct dr_backend dr_backend;

/* What a backend is: its name, its op table, and its device-level functions.
 * Each backend defines one (kernels/cpu/backend.c, kernels/cuda/backend.cu);
 * kernels/backends.h lists those of this build and creates them by name. The
 * functions below call through it; an entry left NULL means "nothing to do"
 * (init, release, sync), the op table's own text (kernels), only "custom" and
 * "fp32" (impl, math), plain malloc (host memory) or every op in its table
 * (supports_op). */
typedef struct dr_backend_iface {
    const char *name; /* the device's name: "cpu", "cuda" (then "cuda:N" picks a device) */
    const dr_op_table *ops;
    int async_copies; /* to_device may return before the copy is done (the source must live on) */
    dr_status (*init)(dr_backend *be, int device_index);
    void (*release)(dr_backend *be); /* safe on a half-initialised backend */
    dr_status (*sync)(dr_backend *be);
    const char *(*describe)(const dr_backend *be);
    const char *(*kernels)(const dr_backend *be);
    int (*threads)(const dr_backend *be);
    dr_status (*set_impl)(dr_backend *be, const char *op, const char *impl);
    const char *(*get_impl)(const dr_backend *be, const char *op);
    dr_status (*set_math)(dr_backend *be, const char *math);
    const char *(*get_math)(const dr_backend *be);
    void *(*host_alloc)(dr_backend *be, size_t bytes);
    void (*host_free)(dr_backend *be, void *p);
    /* 0 with *why set when the op (a graph node's name: "lstm", "conv1d", ...)
     * cannot run here. */
    int (*supports_op)(const dr_backend *be, const char *op, const char **why);
} dr_backend_iface;

struct dr_backend {
    const dr_backend_iface *iface;
    const dr_op_table *ops; /* iface->ops */
    int device_index;
    void *ctx; /* the backend's own state (CUDA: streams, cuBLAS handle, errors); NULL on the CPU */
};

/* Creates a backend of type iface on device device_index (kernels/backends.h
 * has the creation by device name). Fails with the backend's reason. */
dr_status dr_backend_open(dr_backend **out, const dr_backend_iface *iface, int device_index);
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
/* Whether to_device may return before the copy is done, so the host memory it
 * reads must stay untouched until the next sync. */
int dr_backend_async_copies(const dr_backend *be);
/* Host threads the backend's kernels use (1 where it does not say). */
int dr_backend_threads(const dr_backend *be);
/* 1 when op (a graph node's name) runs on this backend; else 0 with *why
 * saying why (an op no graph node has, or one this backend lacks). */
int dr_backend_supports_op(const dr_backend *be, const char *op, const char **why);

/* Host memory that the device copies from without staging it first (pinned on
 * CUDA, plain malloc on the CPU), for dr_graph_set_input_async. NULL on failure,
 * with the message set. */
void *dr_backend_host_alloc(dr_backend *be, size_t bytes);
void dr_backend_host_free(dr_backend *be, void *p);

#endif
