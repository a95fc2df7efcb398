/* Adam on the CPU (contract in core/ops/adam.h): one pass over the model's n
 * parameters, per-element math dr_adam_element from kernels/math.h (shared with
 * the CUDA kernel). The bias corrections 1 - beta^t are computed once per call,
 * in double, by dr_adam_bias_correction, so both backends use the same floats.
 * Memory-bound (4 streams read, 3 written): OpenMP for large models. */
#include "core/ops/adam.h"

#include "kernels/math.h"
#include "kernels/cpu/ops.h"

#define DR_ADAM_PAR_MIN 16384L

void dr_cpu_adam_update(dr_backend *be, float *p, const float *g, float *m, float *v, long n,
                        const dr_adam_params *hp)
{
    (void)be;
    DR_ASSERT(hp && hp->step >= 1 && n >= 0);
    if (n == 0)
        return;
    DR_ASSERT(p && g && m && v);
    const float lr = hp->lr, b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps, wd = hp->weight_decay;
    const float bc1 = dr_adam_bias_correction(b1, hp->step);
    const float bc2 = dr_adam_bias_correction(b2, hp->step);
#pragma omp parallel for schedule(static) if (n >= DR_ADAM_PAR_MIN)
    for (long i = 0; i < n; i++)
        dr_adam_element(&p[i], &m[i], &v[i], g[i], lr, b1, b2, eps, wd, bc1, bc2);
}
