/* Shared by the CUDA op files: the backend context, checked-call macros and a few
 * launch helpers. Internal to kernels/cuda/ (CUDA C++); the C side sees only
 * kernels/cuda_backend.h and the op headers.
 *
 * Error model: kernels are void (the op table's contract), so each CUDA or cuBLAS
 * call is checked and the first failure is kept in the context, with the call as
 * text, file, line and function, and printed to stderr; dr_cuda_backend_sync()
 * returns it as the status and dr_last_error() message. After a
 * failure an op returns early: what it would have written is undefined. */
#ifndef DR_CUDA_COMMON_CUH
#define DR_CUDA_COMMON_CUH

/* System headers first, outside extern "C": the project headers below include
 * them again and the include guards make that a no-op. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef DR_HAVE_CUDNN
#include <cudnn.h>
#endif

/* core/status.h is C11: _Noreturn is spelled [[noreturn]] in C++ (as in
 * core/toml_bridge.cpp). */
#define _Noreturn [[noreturn]]
extern "C" {
#include "core/status.h"
#include "core/op_table.h"
#include "kernels/cuda_backend.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/lstm_plan.h"
}
#undef _Noreturn
#include "core/philox.h"
#include "kernels/math.h"

/* The Adam hyperparameters as the update kernel reads them. */
typedef struct dr_cuda_adam_hp {
    float lr, beta1, beta2, eps, weight_decay;
    long long step;
} dr_cuda_adam_hp;

/* The step state (core/ops/step.h): what a captured step reads at replay instead
 * of the launch arguments it was captured with. */
typedef struct dr_cuda_step_state {
    unsigned long long counter; /* dropout's Philox counter: the graph's step */
    dr_cuda_adam_hp adam;
} dr_cuda_step_state;

/* How an op is implemented (dr_cuda_backend_set_impl). STEPS: the LSTM's
 * recurrence launched step by step, for comparison with its custom kernel. */
typedef enum dr_cuda_impl {
    DR_CUDA_IMPL_CUSTOM = 0,
    DR_CUDA_IMPL_CUDNN = 1,
    DR_CUDA_IMPL_STEPS = 2
} dr_cuda_impl;

enum { DR_CUDA_LSTM_PLANS = 8 };

struct dr_cudnn_conv_plan; /* conv1d.cu */
struct dr_cudnn_lstm_plan; /* lstm_cudnn.cu */

struct dr_cuda_context {
    int device;
    cudaStream_t stream; /* non-blocking: every op, copy and replay goes here */
    cublasHandle_t cublas;
    void *cublas_workspace; /* given to cuBLAS so a captured GEMM never allocates */
    cudaDeviceProp prop;
    int driver_version, runtime_version;
    char describe[256];

    /* first error since the last sync */
    dr_status err;
    char err_msg[512];

    /* whole-step graphs (step.cu) */
    int capturing;                  /* ops read per-step values from step_dev */
    dr_cuda_step_state *step_dev;   /* device memory */
    dr_cuda_step_state step_mirror; /* what step_dev holds once queued work has run */
    int mirror_valid;

    /* per-op implementation choice (dr_cuda_backend_set_impl) */
    dr_cuda_impl conv1d_impl;
    dr_cuda_impl lstm_impl;
    int math; /* index into dr_backend_math_names: the cuBLAS GEMMs' compute type */
    /* the persistent LSTM's plans of the last shapes (lstm_persistent.cu) */
    dr_cuda_lstm_plan lstm_plans[DR_CUDA_LSTM_PLANS];
    int n_lstm_plans;
    char lstm_plan_text[192]; /* dr_cuda_lstm_plan_text's */
    char kernels[1024]; /* dr_cuda_backend_kernels' text */
#ifdef DR_HAVE_CUDNN
    cudnnHandle_t cudnn; /* created when an op first chooses cuDNN; on stream */
    /* conv1d.cu: descriptors, algorithms and workspace per shape, made at the
     * shape's first call and kept until release (a captured step holds their
     * pointers, so none is ever freed or regrown before then) */
    struct dr_cudnn_conv_plan *conv_plans;
    struct dr_cudnn_lstm_plan *lstm_cudnn_plans; /* lstm_cudnn.cu, kept alike */
#endif
};

/* Records a failure (first one wins); returns 1 when code is success. */
int dr_cuda_check_(dr_cuda_context *ctx, cudaError_t code, const char *call, const char *file,
                   int line, const char *func);
int dr_cublas_check_(dr_cuda_context *ctx, cublasStatus_t code, const char *call, const char *file,
                     int line, const char *func);
/* Records a failure of the op's own (a shape the kernel cannot handle). */
void dr_cuda_fail_(dr_cuda_context *ctx, dr_status code, const char *file, int line,
                   const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define DR_CUDA_CHECK(ctx, call) dr_cuda_check_((ctx), (call), #call, __FILE__, __LINE__, __func__)
#define DR_CUBLAS_CHECK(ctx, call) \
    dr_cublas_check_((ctx), (call), #call, __FILE__, __LINE__, __func__)
/* After a <<<...>>> launch: catches bad launch configurations at once (errors
 * inside the kernel surface at the next synchronising call). */
#define DR_CUDA_LAUNCH_CHECK(ctx, name) \
    dr_cuda_check_((ctx), cudaGetLastError(), "launch of " name, __FILE__, __LINE__, __func__)
#define DR_CUDA_FAIL(ctx, code, ...) dr_cuda_fail_((ctx), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)

#ifdef DR_HAVE_CUDNN
/* A cuDNN call, checked like the others (the message adds cuDNN's own detail). */
int dr_cudnn_check_(dr_cuda_context *ctx, cudnnStatus_t code, const char *call, const char *file,
                    int line, const char *func);
#define DR_CUDNN_CHECK(ctx, call) \
    dr_cudnn_check_((ctx), (call), #call, __FILE__, __LINE__, __func__)
/* Frees the conv1d plans (conv1d.cu), at release. */
void dr_cudnn_conv_plans_free(dr_cuda_context *ctx);
/* The LSTM through cuDNN (lstm_cudnn.cu): the contract of core/ops/lstm.h except
 * that c and gates are not written (gates only names the forward). */
void dr_cudnn_lstm_forward(dr_cuda_context *ctx, float *h, float *gates, const float *x,
                           const float *w_ih, const float *w_hh, const float *b, int B, int T,
                           int In, int H);
void dr_cudnn_lstm_backward(dr_backend *be, float *dx, float *dw_ih, float *dw_hh, float *db,
                            const float *dh, const float *x, const float *h, const float *gates,
                            int B, int T, int In, int H);
void dr_cudnn_lstm_plans_free(dr_cuda_context *ctx);
#endif

/* The persistent LSTM (lstm_persistent.cu): the plan for (B, H), or NULL when
 * the shape or the card does not allow it (said once per shape on stderr);
 * the launches return 1 on success. */
const dr_cuda_lstm_plan *dr_cuda_lstm_plan_get(dr_cuda_context *ctx, int B, int H);
int dr_cuda_lstm_persistent_forward(dr_cuda_context *ctx, const dr_cuda_lstm_plan *p, float *h,
                                    float *c, float *gates, const float *w_hh, const float *b,
                                    int T);
int dr_cuda_lstm_persistent_backward(dr_cuda_context *ctx, const dr_cuda_lstm_plan *p,
                                     float *dgates, const float *dh, const float *gates,
                                     const float *c, const float *w_hh, int T);

/* Returns the recorded error as a status with its message, and clears it. */
dr_status dr_cuda_take_error(dr_cuda_context *ctx);

/* The context of a backend that must be a CUDA one (a broken invariant otherwise). */
static inline dr_cuda_context *dr_cuda_ctx(dr_backend *be)
{
    DR_ASSERT(be && be->iface == &dr_cuda_backend && be->ctx);
    return (dr_cuda_context *)be->ctx;
}

/* Blocks for a grid-stride loop over n elements: enough to fill the card, never
 * more than gridDim.x allows. */
enum { DR_CUDA_THREADS = 256 };
static inline unsigned dr_cuda_blocks(long n)
{
    long b = (n + DR_CUDA_THREADS - 1) / DR_CUDA_THREADS;
    if (b < 1)
        b = 1;
    if (b > 65536)
        b = 65536;
    return (unsigned)b;
}

/* A grid-stride loop over [0, n): each thread takes every (grid size)-th index. */
#define GRID_LOOP(i, n)                                                              \
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (long)(n);        \
         i += (long)gridDim.x * blockDim.x)

/* Sum over the threads of a block (blockDim.x a multiple of 32, at most 1024);
 * every thread gets the result. shared must hold 32 floats. */
static __device__ __forceinline__ float dr_block_sum(float x, float *shared)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads(); /* shared may still be read from a previous call */
    if (lane == 0)
        shared[warp] = x;
    __syncthreads();
    x = lane < nwarps ? shared[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

/* The same in double, for statistics the CPU also sums in double. shared must
 * hold 32 doubles. */
static __device__ __forceinline__ double dr_block_sum_d(double x, double *shared)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0)
        shared[warp] = x;
    __syncthreads();
    x = lane < nwarps ? shared[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

/* Row-major GEMM with cblas_sgemm(CblasRowMajor, ...)'s meaning, so the CUDA ops
 * read like their CPU versions: C [M, N] = alpha op(A) op(B) + beta C. A
 * row-major matrix is the column-major transpose, so this is cuBLAS's
 * C^T = op(B)^T op(A)^T with the operands swapped. Returns 1 on success. */
int dr_cuda_gemm_rm(dr_cuda_context *ctx, int trans_a, int trans_b, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                    float *C, int ldc);

/* out[c] += sum_r m[r * ld + c] for c < cols (bias gradients). Returns 1 on success. */
int dr_cuda_colsum_add(dr_cuda_context *ctx, float *out, const float *m, long rows, int cols,
                       long ld);

#endif
