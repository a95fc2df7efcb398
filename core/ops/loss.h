/* Composite loss L = a * BCE + (1 - a) * focal(gamma) from logits (per-sample
 * math in kernels/math.h), weighted per class and averaged over the batch:
 *   z [B] logits, y [B] labels in {0, 1}
 *   per_sample[i] = w_{y_i} * dr_composite_loss(z_i, y_i, a, gamma)
 *                   (dr_hinge_loss(z_i, y_i) when p.hinge is set)
 *   loss[0]       = (1 / B) * sum_i per_sample[i]
 * Backward adds (+=) scale * (1 / B) * w_{y_i} * dL_i/dz_i into dz [B]. */
#ifndef DR_CORE_OPS_LOSS_H
#define DR_CORE_OPS_LOSS_H

#include "core/backend.h"

typedef struct dr_loss_params {
    float a;     /* weight of BCE; 1 - a goes to the focal term */
    float gamma; /* focal exponent */
    float w_pos; /* class weight of label 1 */
    float w_neg; /* class weight of label 0 */
    int hinge;   /* 1: the SVM's hinge loss instead (a and gamma unused) */
} dr_loss_params;

typedef void dr_loss_forward_fn(dr_backend *be, float *loss, float *per_sample, const float *z,
                                const float *y, int B, dr_loss_params p);
typedef void dr_loss_backward_fn(dr_backend *be, float *dz, const float *z, const float *y, int B,
                                 dr_loss_params p, float scale);

#endif
