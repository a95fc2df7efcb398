/* Per-element math shared by the CPU and CUDA kernels (host + device inline), so
 * the CPU tests cover what the GPU computes. */
#ifndef DR_KERNELS_MATH_H
#define DR_KERNELS_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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
    /* q = 1 - p_t taken as sigmoid(-s z), not 1 - sigmoid(s z): the subtraction
     * loses relative accuracy as p_t nears 1 (about 1e-3 at s z = 10) and gives
     * exactly 0 beyond s z ~ 17, which zeroed the focal term there while
     * dr_composite_loss_grad (which uses sigmoid(-s z)) did not. */
    float q = dr_sigmoidf(-s * z);
    float focal = powf(q, gamma) * nll;
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

/* Adam's bias correction 1 - beta^t for step t >= 1, in double and rounded once,
 * so the CPU and CUDA launchers hand the kernels the same float. */
static inline float dr_adam_bias_correction(float beta, long step)
{
    return (float)(1.0 - pow((double)beta, (double)step));
}

/* Hinge loss of a linear SVM, max(0, 1 - s z) with s = +1 for y = 1 and -1 for
 * y = 0, and its subgradient: -s where s z < 1, else 0 (0 at the kink itself). */
DR_HD float dr_hinge_loss(float z, float y)
{
    float s = y > 0.5f ? 1.0f : -1.0f;
    return fmaxf(0.0f, 1.0f - s * z);
}

DR_HD float dr_hinge_loss_grad(float z, float y)
{
    float s = y > 0.5f ? 1.0f : -1.0f;
    return s * z < 1.0f ? -s : 0.0f;
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

/* Branch-free exp, sigmoid and tanh for the LSTM and attention gates. libm's expf
 * and tanhf are calls that stop the compiler from vectorising a loop (without
 * -ffast-math, which we never use); these are plain arithmetic and selects, so a
 * loop over them becomes AVX code (the LSTM's gate pass at the paper's size went
 * from about 48 ms with libm to under 4 ms on the 2-core EPYC).
 * NaN in gives NaN out. Accuracy (checked against double in tests/test_lstm.c):
 * a few ulp relative for exp and sigmoid, a few ulp absolute for tanh. */

/* exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln2 / 2, exp(r) by Cephes'
 * expf polynomial (about 1 ulp). x is clamped to [-87, 88] so 2^n stays a normal
 * float: exp(-87) = 1.6e-38 stands in for smaller results, exp(88) = 1.65e38 for
 * larger ones. */
DR_HD float dr_fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* Round x / ln2 to the nearest integer n by adding 1.5 * 2^23: the sum's ulp
     * is 1, so its low mantissa bits hold 0x400000 + n. Reading n from the bits
     * (not by a float -> int cast) keeps a NaN input free of undefined behaviour. */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f; /* ln 2 split in two: n * hi is exact */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    uint32_t bits = (tbits - 0x4B400000u + 127u) << 23; /* 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

DR_HD float dr_fast_sigmoidf(float x) { return 1.0f / (1.0f + dr_fast_expf(-x)); }

/* tanh: Cephes' odd polynomial for |x| < 0.625 (where 1 - 2 / (e^2x + 1) would
 * lose relative accuracy to cancellation), that formula elsewhere. Both are
 * computed and one selected, which keeps the loop branch-free. */
DR_HD float dr_fast_tanhf(float x)
{
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    float large = 1.0f - 2.0f / (dr_fast_expf(2.0f * x) + 1.0f);
    return fabsf(x) < 0.625f ? small : large;
}

#endif
