/* Adam on the GPU (contract in core/ops/adam.h), per element dr_adam_element from
 * kernels/math.h, the code the CPU runs.
 *
 * The hyperparameters come as a launch argument when the update runs eagerly.
 * Inside a captured step (core/ops/step.h) launch arguments are frozen while lr
 * and the step t change, so the kernel reads them from the step state instead,
 * which each replay sets and advances. */
#include "kernels/cuda/common.cuh"

static __global__ void adam_kernel(float *p, const float *g, float *m, float *v, long n,
                                   dr_cuda_adam_hp hp_arg, const dr_cuda_adam_hp *hp_dev)
{
    const dr_cuda_adam_hp hp = hp_dev ? *hp_dev : hp_arg;
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
    const dr_cuda_adam_hp *hp_dev = ctx->capturing ? &ctx->step_dev->adam : NULL;
    adam_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(p, g, m, v, n, h, hp_dev);
    DR_CUDA_LAUNCH_CHECK(ctx, "adam_kernel");
}
