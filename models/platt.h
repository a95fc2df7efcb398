/* Platt scaling (Platt 1999): probabilities sigmoid(A s + B) for a classifier's
 * raw scores s (the linear SVM's margins), A and B fitted by Newton's method on
 * held-out rows with Platt's smoothed targets (N+ + 1)/(N+ + 2) and 1/(N- + 2),
 * which keep the fit finite when the classes separate. */
#ifndef DR_MODELS_PLATT_H
#define DR_MODELS_PLATT_H

#include "core/status.h"

dr_status dr_platt_fit(const float *score, const float *label, long n, double *A, double *B);
void dr_platt_apply(float *prob, const float *score, long n, double A, double B);

#endif
