/* Device memory for the CUDA backend (contract in core/ops/memory.h).
 *
 * Copies to and from the host are synchronous when run eagerly, like the CPU
 * versions: the caller may reuse or read its host buffer on return. Inside a
 * graph capture they are recorded as copy nodes instead (no synchronisation is
 * allowed there); the host buffer must then be pinned (cudaMallocHost) and stay
 * valid for every replay. Also pinned host memory and the queued copy from it
 * that feeds training steps (core/ops/step.h). */
#include "kernels/cuda/common.cuh"

static int capturing(dr_cuda_context *ctx)
{
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (!DR_CUDA_CHECK(ctx, cudaStreamIsCapturing(ctx->stream, &st)))
        return 0;
    /* an invalidated capture still holds the stream in capture mode */
    return st != cudaStreamCaptureStatusNone;
}

extern "C" void *dr_cuda_alloc(dr_backend *be, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes > 0 ? bytes : 1);
    if (e != cudaSuccess) {
        /* Out of memory is the caller's to handle (it gets NULL and a message); it
         * is not recorded as a device failure, and it is not sticky. */
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        dr_error(DR_ERR_NOMEM, "cuda:%d: cudaMalloc(%zu bytes) failed: %s (%.1f of %.1f GiB free)",
                 ctx->device, bytes, cudaGetErrorString(e), (double)free_b / (1 << 30),
                 (double)total_b / (1 << 30));
        return NULL;
    }
    return p;
}

extern "C" void dr_cuda_free(dr_backend *be, void *p)
{
    if (!p)
        return;
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    DR_CUDA_CHECK(ctx, cudaFree(p));
}

extern "C" void dr_cuda_zero(dr_backend *be, void *p, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (bytes == 0)
        return;
    DR_CUDA_CHECK(ctx, cudaMemsetAsync(p, 0, bytes, ctx->stream));
}

extern "C" void dr_cuda_to_device(dr_backend *be, void *dst, const void *host_src, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (bytes == 0)
        return;
    if (!DR_CUDA_CHECK(ctx, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice,
                                            ctx->stream)))
        return;
    if (!capturing(ctx))
        DR_CUDA_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
}

extern "C" void dr_cuda_to_host(dr_backend *be, void *host_dst, const void *src, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (bytes == 0)
        return;
    if (!DR_CUDA_CHECK(ctx, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost,
                                            ctx->stream)))
        return;
    if (!capturing(ctx))
        DR_CUDA_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
}

extern "C" void dr_cuda_copy(dr_backend *be, void *dst, const void *src, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (bytes == 0 || dst == src)
        return;
    DR_CUDA_CHECK(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
}

extern "C" void dr_cuda_to_device_async(dr_backend *be, void *dst, const void *host_src,
                                        size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (bytes == 0)
        return;
    /* from pinned memory: queued, the host does not wait */
    DR_CUDA_CHECK(ctx, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx->stream));
}

extern "C" void *dr_cuda_host_alloc(dr_backend *be, size_t bytes)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes > 0 ? bytes : 1);
    if (e != cudaSuccess) {
        /* as dr_cuda_alloc: the caller's to handle, not a device failure */
        cudaGetLastError();
        dr_error(DR_ERR_NOMEM, "cuda:%d: cudaMallocHost(%zu bytes) failed: %s", ctx->device, bytes,
                 cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

extern "C" void dr_cuda_host_free(dr_backend *be, void *p)
{
    if (!p)
        return;
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    /* a queued copy may still read it (training stopped by an error mid-epoch) */
    DR_CUDA_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
    DR_CUDA_CHECK(ctx, cudaFreeHost(p));
}
