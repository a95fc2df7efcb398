/* The CUDA backend's life cycle (one GPU, one stream, one cuBLAS handle).
 *
 * Kernels are void: the first failed CUDA or cuBLAS call is recorded in the
 * backend's context (the call as text, file and line) and reported by
 * dr_cuda_backend_sync(), which also clears it. Only built when DR_HAVE_CUDA.
 * All calls on one backend must come from one host thread at a time. */
#ifndef DR_KERNELS_CUDA_BACKEND_H
#define DR_KERNELS_CUDA_BACKEND_H

#include "core/backend.h"
#include "kernels/adam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Selects GPU device_index, creates its stream and cuBLAS handle and stores them
 * in be->cuda. Fails with DR_ERR_DEVICE saying why (no driver, no device, index
 * out of range). be->kind and be->ops are the caller's to set. */
dr_status dr_cuda_backend_init(dr_backend *be, int device_index);
/* Frees what init created; safe on a half-initialised or NULL be->cuda. */
void dr_cuda_backend_release(dr_backend *be);
/* Waits for the stream, then returns the first error recorded since the last
 * sync (DR_ERR_DEVICE with the failed call as text) and clears it. */
dr_status dr_cuda_backend_sync(dr_backend *be);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, 132 SMs, driver 13.0, runtime 13.0)" */
const char *dr_cuda_backend_describe(const dr_backend *be);

/* --- CUDA graphs --------------------------------------------------------------
 * The ops queued between capture_begin and capture_end are recorded, not run;
 * replay runs them again. One graph per backend (a new capture replaces it).
 * Nothing may allocate, free or copy to the host while capturing. */
dr_status dr_cuda_backend_capture_begin(dr_backend *be);
dr_status dr_cuda_backend_capture_end(dr_backend *be);
/* Queues one replay of the captured graph (asynchronous; sync to wait). */
dr_status dr_cuda_backend_replay(dr_backend *be);
/* A captured Adam update reads its hyperparameters (lr, step, ...) at replay from
 * a pinned host struct that this sets; call it before each replay, and only when
 * no earlier replay is still queued (after a sync), since the copy of the struct
 * happens when the replay runs. Eager (uncaptured) Adam calls ignore it. */
dr_status dr_cuda_backend_set_adam_params(dr_backend *be, const dr_adam_params *hp);

#ifdef __cplusplus
}
#endif

#endif
