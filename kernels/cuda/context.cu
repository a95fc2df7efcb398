/* The CUDA backend's context: device selection, stream, cuBLAS handle, the
 * first-error record, and the device-side step state of captured steps (whose
 * use is in step.cu). */
#include "kernels/cuda/common.cuh"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* cuBLAS asks for 32 MiB of workspace on Hopper; with it set, GEMMs inside a
 * graph capture take no allocation of their own. */
enum { DR_CUBLAS_WORKSPACE = 32 << 20 };

static void record(dr_cuda_context *ctx, dr_status code, const char *msg)
{
    if (ctx->err != DR_OK)
        return; /* the first error is the one that explains the rest */
    ctx->err = code;
    snprintf(ctx->err_msg, sizeof ctx->err_msg, "%s", msg);
    /* Printed at once too (the first error only, so a failing loop does not
     * flood): the sync that reports it may come much later. Not while capturing
     * a step: capture_end reports it at once, and core warns in one line. */
    if (!ctx->capturing)
        fprintf(stderr, "defrisk cuda:%d: %s\n", ctx->device, msg);
}

int dr_cuda_check_(dr_cuda_context *ctx, cudaError_t code, const char *call, const char *file,
                   int line, const char *func)
{
    if (code == cudaSuccess)
        return 1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%d (%s): %s failed: %s (%s)", file, line, func, call,
             cudaGetErrorString(code), cudaGetErrorName(code));
    record(ctx, DR_ERR_DEVICE, msg);
    return 0;
}

int dr_cublas_check_(dr_cuda_context *ctx, cublasStatus_t code, const char *call, const char *file,
                     int line, const char *func)
{
    if (code == CUBLAS_STATUS_SUCCESS)
        return 1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%d (%s): %s failed: %s (%s)", file, line, func, call,
             cublasGetStatusString(code), cublasGetStatusName(code));
    record(ctx, DR_ERR_DEVICE, msg);
    return 0;
}

#ifdef DR_HAVE_CUDNN
int dr_cudnn_check_(dr_cuda_context *ctx, cudnnStatus_t code, const char *call, const char *file,
                    int line, const char *func)
{
    if (code == CUDNN_STATUS_SUCCESS)
        return 1;
    /* cuDNN 9 keeps a line on why a call failed (which descriptor, which
     * limit): more than the status says */
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%d (%s): %s failed: %s%s%s", file, line, func, call,
             cudnnGetErrorString(code), *detail ? ": " : "", detail);
    record(ctx, DR_ERR_DEVICE, msg);
    return 0;
}
#endif

void dr_cuda_fail_(dr_cuda_context *ctx, dr_status code, const char *file, int line,
                   const char *func, const char *fmt, ...)
{
    char what[384], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%d (%s): %s", file, line, func, what);
    record(ctx, code, msg);
}

/* For init, which returns its status at once instead of recording it. */
#define INIT_CUDA(call)                                                                   \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                          \
            dr_status s_ = dr_error(DR_ERR_DEVICE, "cuda:%d: %s failed: %s (%s:%d)",      \
                                    device_index, #call, cudaGetErrorString(e_), __FILE__, \
                                    __LINE__);                                            \
            dr_cuda_backend_release(be);                                                  \
            return s_;                                                                    \
        }                                                                                 \
    } while (0)

extern "C" dr_status dr_cuda_backend_init(dr_backend *be, int device_index)
{
    if (!be)
        return dr_error(DR_ERR_INVALID, "dr_cuda_backend_init: be is NULL");
    be->ctx = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* not sticky: leave no trace for later calls */
        return dr_error(DR_ERR_DEVICE, "no usable CUDA device: cudaGetDeviceCount failed: %s (%s)",
                        cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (count == 0)
        return dr_error(DR_ERR_DEVICE, "no usable CUDA device: the driver reports no GPU");
    if (device_index < 0 || device_index >= count)
        return dr_error(DR_ERR_DEVICE, "cuda:%d: no such device (this machine has %d GPU%s: "
                        "cuda:0 .. cuda:%d)", device_index, count, count == 1 ? "" : "s",
                        count - 1);

    dr_cuda_context *ctx = (dr_cuda_context *)calloc(1, sizeof *ctx);
    if (!ctx)
        return dr_error(DR_ERR_NOMEM, "dr_cuda_backend_init: out of host memory");
    be->ctx = ctx;
    ctx->device = device_index;
    ctx->err = DR_OK;
    INIT_CUDA(cudaSetDevice(device_index));
    INIT_CUDA(cudaGetDeviceProperties(&ctx->prop, device_index));
    INIT_CUDA(cudaDriverGetVersion(&ctx->driver_version));
    INIT_CUDA(cudaRuntimeGetVersion(&ctx->runtime_version));
    /* Non-blocking: the legacy default stream cannot be captured into a graph. */
    INIT_CUDA(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    INIT_CUDA(cudaMalloc(&ctx->cublas_workspace, DR_CUBLAS_WORKSPACE));
    /* zero until the first replay sets it (mirror_valid is 0 until then) */
    INIT_CUDA(cudaMalloc((void **)&ctx->step_dev, sizeof *ctx->step_dev));
    INIT_CUDA(cudaMemsetAsync(ctx->step_dev, 0, sizeof *ctx->step_dev, ctx->stream));

    cublasStatus_t bs = cublasCreate(&ctx->cublas);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetStream(ctx->cublas, ctx->stream);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetWorkspace(ctx->cublas, ctx->cublas_workspace, DR_CUBLAS_WORKSPACE);
    /* The default math mode: each GEMM names its compute type (dr_cuda_gemm_rm),
     * and this mode lets no plain fp32 one take TF32 behind its back. */
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetMathMode(ctx->cublas, CUBLAS_DEFAULT_MATH);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        dr_status s = dr_error(DR_ERR_DEVICE, "cuda:%d: cuBLAS set-up failed: %s", device_index,
                               cublasGetStatusString(bs));
        dr_cuda_backend_release(be);
        return s;
    }

    /* The implementation choice for tests and benchmarks that create the
     * backend themselves (runs set it from the experiment file afterwards). */
    static const char *const env_ops[][2] = {{"DR_CUDA_CONV1D", "conv1d"},
                                             {"DR_CUDA_LSTM", "lstm"}};
    const char *math = getenv("DR_CUDA_MATH");
    if (math && *math) {
        dr_status s = dr_cuda_backend_set_math(be, math);
        if (s != DR_OK) {
            s = dr_error_context(s, "environment variable DR_CUDA_MATH=\"%s\": ", math);
            dr_cuda_backend_release(be);
            return s;
        }
    }
    for (size_t i = 0; i < sizeof env_ops / sizeof env_ops[0]; i++) {
        const char *v = getenv(env_ops[i][0]);
        if (!v || !*v)
            continue;
        dr_status s = dr_cuda_backend_set_impl(be, env_ops[i][1], v);
        if (s != DR_OK) {
            s = dr_error_context(s, "environment variable %s=\"%s\": ", env_ops[i][0], v);
            dr_cuda_backend_release(be);
            return s;
        }
    }

    const cudaDeviceProp *p = &ctx->prop;
    snprintf(ctx->describe, sizeof ctx->describe,
             "%.160s (cuda:%d, sm_%d%d, %.1f GiB, %d SMs, driver %d.%d, runtime %d.%d)", p->name,
             device_index, p->major, p->minor, (double)p->totalGlobalMem / (1 << 30),
             p->multiProcessorCount, ctx->driver_version / 1000, ctx->driver_version % 1000 / 10,
             ctx->runtime_version / 1000, ctx->runtime_version % 1000 / 10);
    return DR_OK;
}

extern "C" void dr_cuda_backend_release(dr_backend *be)
{
    if (!be || !be->ctx)
        return;
    dr_cuda_context *ctx = (dr_cuda_context *)be->ctx;
    /* Errors here have no one left to report to; the calls are still made. */
    cudaSetDevice(ctx->device);
    if (ctx->stream)
        cudaStreamSynchronize(ctx->stream);
    if (ctx->cublas)
        cublasDestroy(ctx->cublas);
#ifdef DR_HAVE_CUDNN
    dr_cudnn_conv_plans_free(ctx);
    dr_cudnn_lstm_plans_free(ctx);
    if (ctx->cudnn)
        cudnnDestroy(ctx->cudnn);
#endif
    cudaFree(ctx->cublas_workspace);
    cudaFree(ctx->step_dev);
    if (ctx->stream)
        cudaStreamDestroy(ctx->stream);
    cudaGetLastError();
    free(ctx);
    be->ctx = NULL;
}

dr_status dr_cuda_take_error(dr_cuda_context *ctx)
{
    if (ctx->err == DR_OK)
        return DR_OK;
    dr_status s = ctx->err;
    ctx->err = DR_OK;
    dr_error(s, "cuda:%d: %s", ctx->device, ctx->err_msg);
    ctx->err_msg[0] = '\0';
    /* A failed call also left its code as the runtime's last error: clear it,
     * or the next launch check would report this error again as its own. */
    cudaGetLastError();
    return s;
}

extern "C" dr_status dr_cuda_backend_sync(dr_backend *be)
{
    if (!be || !be->ctx)
        return dr_error(DR_ERR_INVALID, "dr_cuda_backend_sync: not a CUDA backend");
    dr_cuda_context *ctx = (dr_cuda_context *)be->ctx;
    /* Errors of kernels that ran asynchronously surface here. */
    DR_CUDA_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
    return dr_cuda_take_error(ctx);
}

extern "C" const char *dr_cuda_backend_describe(const dr_backend *be)
{
    if (!be || !be->ctx)
        return "cuda (not initialised)";
    return ((dr_cuda_context *)be->ctx)->describe;
}

extern "C" dr_status dr_cuda_backend_step_state(dr_backend *be, uint64_t *counter, long *adam_step)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    dr_cuda_step_state st;
    /* to a pageable buffer: returns once the copy is done */
    DR_CUDA_CHECK(ctx, cudaMemcpyAsync(&st, ctx->step_dev, sizeof st, cudaMemcpyDeviceToHost,
                                       ctx->stream));
    DR_TRY(dr_cuda_backend_sync(be));
    *counter = st.counter;
    *adam_step = (long)st.adam.step;
    return DR_OK;
}

/* --- per-op implementation choice ------------------------------------------- */

extern "C" int dr_cuda_have_cudnn(void)
{
#ifdef DR_HAVE_CUDNN
    return 1;
#else
    return 0;
#endif
}

static dr_cuda_impl *impl_slot(dr_cuda_context *ctx, const char *op)
{
    if (op && strcmp(op, "conv1d") == 0)
        return &ctx->conv1d_impl;
    if (op && strcmp(op, "lstm") == 0)
        return &ctx->lstm_impl;
    return NULL;
}

/* The implementations' names, in dr_cuda_impl's order. */
static const char *const impl_names[] = {"custom", "cudnn", "steps"};

#ifdef DR_HAVE_CUDNN
/* The handle, made once, on the backend's stream: every cuDNN call then queues
 * there (and is captured with the rest of a step). */
static dr_status cudnn_handle(dr_cuda_context *ctx)
{
    if (ctx->cudnn)
        return DR_OK;
    cudnnStatus_t st = cudnnCreate(&ctx->cudnn);
    if (st == CUDNN_STATUS_SUCCESS) {
        st = cudnnSetStream(ctx->cudnn, ctx->stream);
        if (st != CUDNN_STATUS_SUCCESS) {
            cudnnDestroy(ctx->cudnn);
            ctx->cudnn = NULL;
        }
    } else {
        ctx->cudnn = NULL;
    }
    if (st != CUDNN_STATUS_SUCCESS) {
        char detail[256] = "";
        cudnnGetLastErrorString(detail, sizeof detail);
        return dr_error(DR_ERR_DEVICE, "cuda:%d: cuDNN set-up (cudnnCreate, cudnnSetStream) failed: "
                        "%s%s%s", ctx->device, cudnnGetErrorString(st), *detail ? ": " : "", detail);
    }
    return DR_OK;
}
#endif

extern "C" dr_status dr_cuda_backend_set_impl(dr_backend *be, const char *op, const char *impl)
{
    if (!be || !be->ctx)
        return dr_error(DR_ERR_INVALID, "dr_cuda_backend_set_impl: not a CUDA backend");
    dr_cuda_context *ctx = (dr_cuda_context *)be->ctx;
    dr_cuda_impl *slot = impl_slot(ctx, op);
    if (!slot)
        return dr_error(DR_ERR_INVALID, "implementation choice: unknown op \"%s\" (expected "
                        "\"conv1d\" or \"lstm\")", op ? op : "(null)");
    /* one of the names this op takes (core/backend.c keeps the lists), as dr_cuda_impl */
    const char *const *names = dr_backend_impl_names(op);
    int allowed = 0, want = -1;
    for (const char *const *n = names; impl && *n; n++)
        allowed |= strcmp(impl, *n) == 0;
    for (int i = 0; allowed && i < (int)(sizeof impl_names / sizeof *impl_names); i++)
        if (strcmp(impl, impl_names[i]) == 0)
            want = i;
    if (want < 0) {
        char expected[64] = "";
        for (const char *const *n = names; *n; n++)
            snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s\"%s\"",
                     n == names ? "" : ", ", *n);
        return dr_error(DR_ERR_INVALID, "%s implementation \"%s\": expected one of %s", op,
                        impl ? impl : "(null)", expected);
    }
    if (want != DR_CUDA_IMPL_CUDNN) {
        *slot = (dr_cuda_impl)want;
        return DR_OK;
    }
#ifdef DR_HAVE_CUDNN
    if (ctx->capturing)
        return dr_error(DR_ERR_INVALID, "%s implementation: not changed during a step capture", op);
    DR_TRY(cudnn_handle(ctx));
    *slot = DR_CUDA_IMPL_CUDNN;
    return DR_OK;
#else
    return dr_error(DR_ERR_UNSUPPORTED, "%s implementation \"cudnn\": this build has no cuDNN "
                    "(CMake found no libcudnn when it was configured; see CUDNN_ROOT in "
                    "CMakeLists.txt); use \"custom\"", op);
#endif
}

extern "C" dr_status dr_cuda_backend_set_math(dr_backend *be, const char *math)
{
    if (!be || !be->ctx)
        return dr_error(DR_ERR_INVALID, "dr_cuda_backend_set_math: not a CUDA backend");
    int i = 0;
    while (dr_backend_math_names[i] && !(math && strcmp(math, dr_backend_math_names[i]) == 0))
        i++;
    if (!dr_backend_math_names[i])
        return dr_error(DR_ERR_INVALID, "math \"%s\": expected \"fp32\", \"tf32\" or \"bf16\"",
                        math ? math : "(null)");
    if (((dr_cuda_context *)be->ctx)->capturing)
        return dr_error(DR_ERR_INVALID, "math: not changed during a step capture");
    ((dr_cuda_context *)be->ctx)->math = i;
    return DR_OK;
}

extern "C" const char *dr_cuda_backend_get_math(const dr_backend *be)
{
    return dr_backend_math_names[be && ((dr_cuda_context *)be->ctx) ? ((dr_cuda_context *)be->ctx)->math : 0];
}

extern "C" const char *dr_cuda_backend_get_impl(const dr_backend *be, const char *op)
{
    if (!be || !be->ctx)
        return NULL;
    dr_cuda_impl *slot = impl_slot(((dr_cuda_context *)be->ctx), op);
    return slot ? impl_names[*slot] : NULL;
}

extern "C" const dr_backend_iface dr_cuda_backend = {
    .name = "cuda",
    .ops = &dr_cuda_ops,
    .async_copies = 1,
    .init = dr_cuda_backend_init,
    .release = dr_cuda_backend_release,
    .sync = dr_cuda_backend_sync,
    .describe = dr_cuda_backend_describe,
    .kernels = dr_cuda_backend_kernels,
    .threads = NULL,
    .set_impl = dr_cuda_backend_set_impl,
    .get_impl = dr_cuda_backend_get_impl,
    .set_math = dr_cuda_backend_set_math,
    .get_math = dr_cuda_backend_get_math,
    .host_alloc = dr_cuda_host_alloc,
    .host_free = dr_cuda_host_free,
    .supports_op = NULL,
};
