/* Adam (Kingma & Ba) with bias correction and optional L2 weight decay added to
 * the gradient (PyTorch's torch.optim.Adam), over n contiguous parameters: the
 * graph keeps all parameters, gradients and moments in single blocks, so one call
 * updates the whole model. Per-element math: dr_adam_element in kernels/math.h.
 * step is the 1-based step number t. In a captured step the hyperparameters
 * and t are the step state's (core/ops/step.h), read at each replay. */
#ifndef DR_CORE_OPS_ADAM_H
#define DR_CORE_OPS_ADAM_H

#include "core/backend.h"

typedef struct dr_adam_params {
    float lr, beta1, beta2, eps, weight_decay;
    long step;
} dr_adam_params;

typedef void dr_adam_update_fn(dr_backend *be, float *p, const float *g, float *m, float *v, long n,
                               const dr_adam_params *hp);

#endif
