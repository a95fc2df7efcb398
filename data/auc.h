/* Exact area under the ROC curve (the Mann-Whitney statistic): sort by score,
 * give tied scores their mean rank, AUC = (sum of positive ranks - P(P+1)/2) / (P N).
 * Ties count one half, as in sklearn's roc_auc_score. O(n log n), double sums. */
#ifndef DR_DATA_AUC_H
#define DR_DATA_AUC_H

#include "core/status.h"

/* score [n], label [n] with values 0 or 1. Fails with DR_ERR_NUMERIC on a NaN
 * score, DR_ERR_INVALID on a label other than 0/1 or when one class is absent. */
dr_status dr_auc(const float *score, const float *label, long n, double *auc);
/* The same for double scores (true probabilities: float would create ties). */
dr_status dr_auc_f64(const double *score, const float *label, long n, double *auc);

#endif
