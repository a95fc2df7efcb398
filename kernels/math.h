/* Per-element math shared by the CPU and CUDA kernels (host + device inline), so
 * the CPU tests cover what the GPU computes. */
#ifndef DR_KERNELS_MATH_H
#define DR_KERNELS_MATH_H

#include <math.h>

#include "core/hd.h"

DR_HD float dr_sigmoidf(float x)
{
    /* Branches keep exp() from overflowing for large |x|. */
    if (x >= 0.0f) {
        float e = expf(-x);
        return 1.0f / (1.0f + e);
    }
    float e = expf(x);
    return e / (1.0f + e);
}

/* softplus(x) = log(1 + exp(x)), stable for both signs. */
DR_HD float dr_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* Composite loss for one sample, from the logit z and the label y in {0, 1}:
 *   L = a * BCE + (1 - a) * focal,  BCE = -log p_t,  focal = -(1 - p_t)^gamma log p_t
 * with p_t = sigmoid(z) for y = 1 and 1 - sigmoid(z) for y = 0. log p_t is
 * -softplus(-s z) with s = +1 for y = 1 and -1 for y = 0, which stays finite for
 * any logit. */
DR_HD float dr_composite_loss(float z, float y, float a, float gamma)
{
    float s = y > 0.5f ? 1.0f : -1.0f;
    float nll = dr_softplusf(-s * z);     /* -log p_t */
    float pt = dr_sigmoidf(s * z);
    float focal = powf(1.0f - pt, gamma) * nll;
    return a * nll + (1.0f - a) * focal;
}

/* dL/dz of dr_composite_loss. With q = 1 - p_t and d p_t/dz = s p_t q:
 *   d nll / dz   = -s q
 *   d focal / dz = -s q^gamma * (gamma p_t nll + q)      (using q^(gamma-1) q = q^gamma)
 * The second form avoids q^(gamma-1), which is inf at q = 0 for gamma < 1. */
DR_HD float dr_composite_loss_grad(float z, float y, float a, float gamma)
{
    float s = y > 0.5f ? 1.0f : -1.0f;
    float nll = dr_softplusf(-s * z);
    float pt = dr_sigmoidf(s * z);
    float q = dr_sigmoidf(-s * z);
    float dnll = -s * q;
    float dfocal = -s * powf(q, gamma) * (gamma * pt * nll + q);
    return a * dnll + (1.0f - a) * dfocal;
}

/* One Adam step for one parameter (PyTorch's Adam: weight decay is added to the
 * gradient). bc1 = 1 - beta1^t and bc2 = 1 - beta2^t are computed once per step. */
DR_HD void dr_adam_element(float *p, float *m, float *v, float g, float lr, float beta1, float beta2,
                           float eps, float weight_decay, float bc1, float bc2)
{
    g += weight_decay * *p;
    *m = beta1 * *m + (1.0f - beta1) * g;
    *v = beta2 * *v + (1.0f - beta2) * g * g;
    float mhat = *m / bc1;
    float vhat = *v / bc2;
    *p -= lr * mhat / (sqrtf(vhat) + eps);
}

#endif
