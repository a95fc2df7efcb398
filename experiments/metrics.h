/* Evaluation metrics of a binary classifier, computed in double from scores
 * (predicted probabilities of default, float32 as every model in defrisk
 * produces them) and labels (float32, exactly 0 or 1, as the loss takes them).
 *
 * Conventions (those of scikit-learn, so numbers compare with the Python peers):
 *   - at a threshold t, a sample is predicted positive when score >= t;
 *   - precision with no predicted positive, recall with no positive, and F1 when
 *     both are 0, are 0 (sklearn's zero_division = 0);
 *   - AUC-ROC is exact with ties: the Mann-Whitney statistic with tied scores
 *     counting 1/2, the same as the trapezoid under the ROC curve whose points
 *     are taken at every distinct score;
 *   - PR-AUC is average precision, sum_k (R_k - R_{k-1}) P_k over the distinct
 *     scores in decreasing order (sklearn's step definition, no interpolation);
 *   - KS is max_t |TPR(t) - FPR(t)|, the two-sample Kolmogorov-Smirnov distance
 *     between the scores of positives and negatives; Gini = 2 AUC - 1;
 *   - Brier = mean (p - y)^2; log loss = -mean(y ln p + (1 - y) ln(1 - p)) with
 *     p clipped to [eps, 1 - eps], eps = DR_METRICS_LOG_EPS; computed as
 *     -ln max(p, eps) for y = 1 and -ln max(1 - p, eps) for y = 0, so that
 *     1 - eps is never rounded in double.
 * Ranking metrics need both classes present and fail with DR_ERR_INVALID
 * otherwise; a NaN or infinite score is DR_ERR_NUMERIC naming its index. */
#ifndef DR_EXPERIMENTS_METRICS_H
#define DR_EXPERIMENTS_METRICS_H

#include <stddef.h>

#include "core/status.h"

/* sklearn < 1.5 used 1e-15 too; its later "auto" uses the dtype's epsilon. */
#define DR_METRICS_LOG_EPS 1e-15

typedef struct dr_confusion {
    long tp, fp, tn, fn;
} dr_confusion;

typedef struct dr_metrics {
    long n, n_pos;
    double threshold; /* the threshold the counts below are taken at */
    dr_confusion cm;
    double accuracy, precision, recall, f1;
    double auc, gini, ks, pr_auc;
    double ks_threshold; /* score at which KS is reached */
    double brier, log_loss;
} dr_metrics;

/* Counts and the four threshold metrics at threshold. */
dr_status dr_metrics_confusion(const float *score, const float *label, long n, double threshold,
                               dr_confusion *out);
void dr_metrics_from_confusion(const dr_confusion *cm, double *accuracy, double *precision,
                               double *recall, double *f1);

/* The threshold (one of the scores) maximising F1; among equal F1, the highest
 * threshold. Fit it on validation and pass it to dr_metrics_compute on test. */
dr_status dr_metrics_best_f1_threshold(const float *score, const float *label, long n,
                                       double *threshold, double *f1);

dr_status dr_metrics_average_precision(const float *score, const float *label, long n,
                                       double *ap);
dr_status dr_metrics_ks(const float *score, const float *label, long n, double *ks,
                        double *threshold);

/* ROC points for plotting, one per distinct score in decreasing order, after a
 * first point (0, 0) at threshold +inf (sklearn's roc_curve without
 * drop_intermediate). fpr, tpr, thr need room for n + 1 points; *n_points gets
 * how many were written. */
dr_status dr_metrics_roc(const float *score, const float *label, long n, double *fpr, double *tpr,
                         double *thr, long *n_points);

/* Probabilities in [0, 1] required (DR_ERR_INVALID otherwise). */
dr_status dr_metrics_brier(const float *score, const float *label, long n, double *brier);
dr_status dr_metrics_log_loss(const float *score, const float *label, long n, double *log_loss);

/* Every metric above and AUC, with the threshold metrics at threshold; one sort.
 * (AUC alone: dr_auc, data/auc.h.) */
dr_status dr_metrics_compute(const float *score, const float *label, long n, double threshold,
                             dr_metrics *out);

/* One line for logs: "auc 0.9687 ks 0.7712 f1 0.8822 ... @0.4123". */
void dr_metrics_format(const dr_metrics *m, char *buf, size_t cap);

#endif
