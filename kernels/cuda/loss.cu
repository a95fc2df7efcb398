/* Composite BCE + focal loss on the GPU (contract in core/ops/loss.h). The
 * per-sample formula is dr_composite_loss / dr_composite_loss_grad from
 * kernels/math.h, the same code the CPU runs, and the batch mean is summed in
 * double as on the CPU; only the device libm (expf, log1pf, powf: within 2 ulp of
 * glibc's) and the order of the double sum differ. */
#include "kernels/cuda/common.cuh"

enum { LOSS_THREADS = 512 };

/* One block: per-sample losses, then their mean. */
static __global__ void loss_forward_kernel(float *loss, float *per_sample, const float *z,
                                           const float *y, int B, dr_loss_params p)
{
    __shared__ double shared[32];
    double s = 0.0;
    for (int i = threadIdx.x; i < B; i += blockDim.x) {
        float w = y[i] > 0.5f ? p.w_pos : p.w_neg;
        float l = w * (p.hinge ? dr_hinge_loss(z[i], y[i]) : dr_composite_loss(z[i], y[i], p.a, p.gamma));
        if (per_sample)
            per_sample[i] = l;
        s += l;
    }
    s = dr_block_sum_d(s, shared);
    if (threadIdx.x == 0)
        loss[0] = (float)(s / B);
}

static __global__ void loss_backward_kernel(float *dz, const float *z, const float *y, int B,
                                            dr_loss_params p, float scale)
{
    const float k = scale / (float)B;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < B; i += gridDim.x * blockDim.x) {
        float w = y[i] > 0.5f ? p.w_pos : p.w_neg;
        dz[i] += k * w * (p.hinge ? dr_hinge_loss_grad(z[i], y[i]) : dr_composite_loss_grad(z[i], y[i], p.a, p.gamma));
    }
}

extern "C" void dr_cuda_loss_forward(dr_backend *be, float *loss, float *per_sample, const float *z,
                                     const float *y, int B, dr_loss_params p)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0)
        return;
    loss_forward_kernel<<<1, LOSS_THREADS, 0, ctx->stream>>>(loss, per_sample, z, y, B, p);
    DR_CUDA_LAUNCH_CHECK(ctx, "loss_forward_kernel");
}

extern "C" void dr_cuda_loss_backward(dr_backend *be, float *dz, const float *z, const float *y,
                                      int B, dr_loss_params p, float scale)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0)
        return;
    loss_backward_kernel<<<dr_cuda_blocks(B), DR_CUDA_THREADS, 0, ctx->stream>>>(dz, z, y, B, p,
                                                                                  scale);
    DR_CUDA_LAUNCH_CHECK(ctx, "loss_backward_kernel");
}
