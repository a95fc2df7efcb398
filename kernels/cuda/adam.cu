/* Adam on the GPU (contract in kernels/adam.h), per element dr_adam_element from
 * kernels/math.h, the code the CPU runs.
 *
 * The kernel reads its hyperparameters from a device struct (ctx->adam_hp_dev),
 * not from launch arguments, because a captured CUDA graph freezes launch
 * arguments while lr and the step change every step:
 *   - eager call: a one-thread kernel writes the struct from its arguments (in
 *     stream order, so no host buffer is overwritten while a copy is pending);
 *   - inside a capture: a copy from the pinned host struct ctx->adam_hp_pinned
 *     is recorded instead; it reads the pinned struct when the graph is replayed,
 *     and dr_cuda_backend_set_adam_params() sets it before each replay.
 * One Adam call per captured graph: a second one would share the struct. */
#include "kernels/cuda/common.cuh"

static __global__ void adam_set_hp_kernel(dr_cuda_adam_hp *d, dr_cuda_adam_hp v) { *d = v; }

static __global__ void adam_kernel(float *p, const float *g, float *m, float *v, long n,
                                   const dr_cuda_adam_hp *hpp)
{
    const dr_cuda_adam_hp hp = *hpp;
    /* bias corrections 1 - beta^t, once per thread (cheap next to the memory
     * traffic) so that the step can change between replays; in double and then
     * rounded, the formula of dr_adam_bias_correction (kernels/math.h, host only) */
    float bc1 = (float)(1.0 - pow((double)hp.beta1, (double)hp.step));
    float bc2 = (float)(1.0 - pow((double)hp.beta2, (double)hp.step));
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n;
         i += (long)gridDim.x * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        dr_adam_element(&pi, &mi, &vi, g[i], hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay,
                        bc1, bc2);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" void dr_cuda_adam_update(dr_backend *be, float *p, const float *g, float *m, float *v,
                                    long n, const dr_adam_params *hp)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    if (!hp || hp->step < 1) {
        DR_CUDA_FAIL(ctx, DR_ERR_INVALID, "adam: %s", hp ? "step must be >= 1" : "hp is NULL");
        return;
    }
    dr_cuda_adam_hp h;
    h.lr = hp->lr;
    h.beta1 = hp->beta1;
    h.beta2 = hp->beta2;
    h.eps = hp->eps;
    h.weight_decay = hp->weight_decay;
    h.step = hp->step;

    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    unsigned long long id = 0;
    if (!DR_CUDA_CHECK(ctx, cudaStreamGetCaptureInfo(ctx->stream, &st, &id)))
        return;
    if (st == cudaStreamCaptureStatusActive) {
        if (ctx->adam_capture_id == id) {
            DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED, "adam: a second Adam update in one captured "
                         "graph (they would share one set of hyperparameters)");
            return;
        }
        ctx->adam_capture_id = id;
        /* the values at capture time, for a replay before any set_adam_params */
        *ctx->adam_hp_pinned = h;
        if (!DR_CUDA_CHECK(ctx, cudaMemcpyAsync(ctx->adam_hp_dev, ctx->adam_hp_pinned, sizeof h,
                                                cudaMemcpyHostToDevice, ctx->stream)))
            return;
    } else {
        adam_set_hp_kernel<<<1, 1, 0, ctx->stream>>>(ctx->adam_hp_dev, h);
        if (!DR_CUDA_LAUNCH_CHECK(ctx, "adam_set_hp_kernel"))
            return;
    }
    adam_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(p, g, m, v, n,
                                                                        ctx->adam_hp_dev);
    DR_CUDA_LAUNCH_CHECK(ctx, "adam_kernel");
}
