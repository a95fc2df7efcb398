/* The CUDA backend's life cycle (one GPU, one stream, one cuBLAS handle).
 *
 * Kernels are void: the first failed CUDA or cuBLAS call is recorded in the
 * backend's context (the call as text, file and line) and reported by
 * dr_cuda_backend_sync(), which also clears it. Only built when DR_HAVE_CUDA.
 * All calls on one backend must come from one host thread at a time. The step
 * ops (capture and replay of whole training steps) are in core/ops/step.h. */
#ifndef DR_KERNELS_CUDA_BACKEND_H
#define DR_KERNELS_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Selects GPU device_index, creates its stream and cuBLAS handle and stores them
 * in be->ctx. Fails with DR_ERR_DEVICE saying why (no driver, no device, index
 * out of range). dr_backend_open (core/backend.h) sets be->iface and be->ops. */
dr_status dr_cuda_backend_init(dr_backend *be, int device_index);
/* Frees what init created; safe on a half-initialised or NULL be->ctx. */
void dr_cuda_backend_release(dr_backend *be);
/* Waits for the stream, then returns the first error recorded since the last
 * sync (DR_ERR_DEVICE with the failed call as text) and clears it. */
dr_status dr_cuda_backend_sync(dr_backend *be);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, 132 SMs, driver 13.0, runtime 13.0)" */
const char *dr_cuda_backend_describe(const dr_backend *be);

/* Pinned host memory (cudaMallocHost), which cudaMemcpyAsync copies without
 * staging or waiting; NULL with the message set on failure. */
void *dr_cuda_host_alloc(dr_backend *be, size_t bytes);
void dr_cuda_host_free(dr_backend *be, void *p);

/* How an op is implemented on this backend, chosen per op for comparison:
 *   conv1d: "custom" (this project's kernels, the default) or "cudnn" (NVIDIA's
 *           library; only in builds that found cuDNN);
 *   lstm:   "custom" (the default: the recurrence in one launch per direction,
 *           w_hh held on chip by a thread-block cluster, on cards and shapes
 *           where it fits, else per-step launches, said once per shape on
 *           stderr), "steps" (per-step launches always) or "cudnn" (cuDNN's
 *           RNN API; c and gates are then not written, see lstm_cudnn.cu).
 * The choice starts from the environment variables DR_CUDA_CONV1D and
 * DR_CUDA_LSTM when set (read by dr_cuda_backend_init, which fails on a bad
 * value), else "custom"; runs set it from the experiment file's cuda.conv1d and
 * cuda.lstm. Choosing "cudnn" creates the cuDNN handle at once, so it fails
 * here, with the reason, when the build or the machine has no cuDNN: it never
 * falls back to "custom". Set it outside a step capture; a step captured before
 * a change keeps the implementation it was captured with. */
dr_status dr_cuda_backend_set_impl(dr_backend *be, const char *op, const char *impl);
/* The op's current choice; NULL for an op without one. */
const char *dr_cuda_backend_get_impl(const dr_backend *be, const char *op);
/* How lstm = "custom" runs B samples of H units on this card: "one launch: ..."
 * (the persistent kernel's plan) or "per-step launches: <why>". For tests and
 * benchmarks; the text lives in the backend until the next call. */
const char *dr_cuda_lstm_plan_text(dr_backend *be, int B, int H);
/* The arithmetic of the cuBLAS GEMMs (linear, the custom conv1d, the LSTM's input
 * products and weight gradients, and its recurrence under lstm = "steps",
 * attention's projections): "fp32" (the default: plain fp32, the parity tests'
 * 2 gamma_K bound), "tf32" or "bf16" (tensor cores with the operands rounded to
 * a 10-bit or 7-bit mantissa, products summed in fp32; the tests' bound adds
 * 2^-9 or 2^-6 per term). Data stays fp32 in memory. The project's own kernels
 * (the "custom" LSTM's recurrence included) and cuDNN stay fp32 (FMA math).
 * Starts from DR_CUDA_MATH when set; runs set it from cuda.math. Not during a
 * step capture. */
dr_status dr_cuda_backend_set_math(dr_backend *be, const char *math);
const char *dr_cuda_backend_get_math(const dr_backend *be);
/* The op table's implementation lines with each op's current choice (the
 * text lives in the backend until the next call). */
const char *dr_cuda_backend_kernels(const dr_backend *be);
/* 1 when this build has cuDNN (DR_HAVE_CUDNN); says nothing about the machine. */
int dr_cuda_have_cudnn(void);

/* Waits for the stream, then reads the device-side step state that captured
 * steps use (core/ops/step.h): the dropout counter and Adam's step t after the
 * last queued replay. For tests. */
dr_status dr_cuda_backend_step_state(dr_backend *be, uint64_t *counter, long *adam_step);

#ifdef __cplusplus
}
#endif

#endif
