/* Composite BCE + focal loss on the CPU (contract in core/ops/loss.h).
 *   z [B] logits, y [B] labels in {0, 1}  ->  per_sample [B], loss [1]
 *   per_sample[i] = w_{y_i} L(z_i, y_i),   loss = (1/B) sum_i per_sample[i]
 * The per-sample math is dr_composite_loss(_grad) in kernels/math.h, shared with
 * the CUDA kernel. B is a batch (256), far too small for threads to pay: plain
 * loops. The batch sum is taken in double so the mean does not depend on the
 * order of summation to float precision (a CUDA reduction in float differs by
 * about B u relative at most). */
#include "core/ops/loss.h"

#include "kernels/math.h"
#include "kernels/cpu/ops.h"

/* Labels are compared with 0.5 exactly as dr_composite_loss does, so the class
 * weight and the sign s always agree. */
static inline float dr_loss_weight(float y, const dr_loss_params *p)
{
    return y > 0.5f ? p->w_pos : p->w_neg;
}

void dr_cpu_loss_forward(dr_backend *be, float *loss, float *per_sample, const float *z,
                         const float *y, int B, dr_loss_params p)
{
    (void)be;
    DR_ASSERT(B > 0 && loss && per_sample && z && y);
    double sum = 0.0;
    for (int i = 0; i < B; i++) {
        float li = dr_loss_weight(y[i], &p) *
                   (p.hinge ? dr_hinge_loss(z[i], y[i]) : dr_composite_loss(z[i], y[i], p.a, p.gamma));
        per_sample[i] = li;
        sum += li;
    }
    loss[0] = (float)(sum / B);
}

void dr_cpu_loss_backward(dr_backend *be, float *dz, const float *z, const float *y, int B,
                          dr_loss_params p, float scale)
{
    (void)be;
    DR_ASSERT(B > 0 && dz && z && y);
    const float s = scale / (float)B;
    for (int i = 0; i < B; i++)
        dz[i] += s * dr_loss_weight(y[i], &p) *
                 (p.hinge ? dr_hinge_loss_grad(z[i], y[i]) : dr_composite_loss_grad(z[i], y[i], p.a, p.gamma));
}
