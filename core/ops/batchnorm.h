/* Batch normalisation per channel over batch and length (PyTorch BatchNorm1d;
 * a fully connected activation [B, C] is the case L = 1).
 *   x [B, C, L], gamma [C], beta [C]  ->  out [B, C, L]
 * Training: batch mean and biased variance; saves mean [C] and rstd [C] =
 * 1/sqrt(var + eps); updates running_mean/var with momentum (PyTorch convention:
 * r = (1 - momentum) r + momentum * stat, running variance unbiased, n/(n-1)).
 * With one value per channel (B*L = 1) the unbiased variance is 0/0 (PyTorch
 * raises): running_var is then left unchanged (running_mean still updates).
 * running_mean / running_var may be NULL (not updated).
 * Eval: uses running_mean and running_var.
 * Backward (training statistics) adds (+=) into dx (may be NULL), dgamma, dbeta.
 * Eval backward (the running statistics, constants of x): adds
 * dout gamma / sqrt(running_var + eps) into dx only; it serves gradients with
 * respect to the inputs of a trained model (explanations), which need no
 * parameter gradients. */
#ifndef DR_CORE_OPS_BATCHNORM_H
#define DR_CORE_OPS_BATCHNORM_H

#include "core/backend.h"

typedef void dr_batchnorm_forward_train_fn(dr_backend *be, float *out, float *mean, float *rstd,
                                           float *running_mean, float *running_var,
                                           const float *x, const float *gamma, const float *beta,
                                           int B, int C, int L, float eps, float momentum);
typedef void dr_batchnorm_forward_eval_fn(dr_backend *be, float *out, const float *x,
                                          const float *gamma, const float *beta,
                                          const float *running_mean, const float *running_var,
                                          int B, int C, int L, float eps);
typedef void dr_batchnorm_backward_fn(dr_backend *be, float *dx, float *dgamma, float *dbeta,
                                      const float *dout, const float *x, const float *mean,
                                      const float *rstd, const float *gamma, int B, int C, int L);
typedef void dr_batchnorm_backward_eval_fn(dr_backend *be, float *dx, const float *dout, const float *gamma,
                                           const float *running_var, int B, int C, int L, float eps);

#endif
