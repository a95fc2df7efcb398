/* The measures a credit-risk team reads beside AUC, computed in double from
 * predicted default probabilities (float32) and 0/1 labels (1 = default):
 *
 *   - population stability index between a reference sample (the development
 *     data) and an actual one: bins at the reference's deciles, PSI =
 *     sum_b (a_b - e_b) ln(a_b / e_b) over the bins' shares, an empty bin's share
 *     taken as DR_PSI_FLOOR so that the sum stays finite. Usual reading: < 0.1
 *     stable, 0.1 - 0.25 a moderate shift, > 0.25 a major one;
 *   - reliability by deciles of the predicted probability: per bin the count,
 *     the mean prediction and the observed default rate; ECE = sum_b (n_b / n)
 *     |mean_b - rate_b| and the Hosmer-Lemeshow statistic over the same bins;
 *   - isotonic calibration (pool-adjacent-violators, applied by linear
 *     interpolation between the fitted points and clipped outside them: what
 *     scikit-learn's IsotonicRegression(out_of_bounds="clip") does);
 *   - the expected maximum profit measure EMP of Verbraken et al. (2014);
 *   - scorecard points.
 * A NaN or infinite probability is DR_ERR_NUMERIC naming its index. */
#ifndef DR_EXPERIMENTS_CREDIT_METRICS_H
#define DR_EXPERIMENTS_CREDIT_METRICS_H

#include "core/status.h"

#define DR_PSI_FLOOR 1e-4
enum { DR_PSI_BINS = 10, DR_RELIABILITY_BINS = 10 };

/* Bins: the distinct cut points among the reference's 10 %, 20 %, ..., 90 %
 * quantiles (a value goes to the first bin whose upper cut is >= it), so a
 * feature with few values (a 0/1 column) gets as many bins as it has cuts. */
dr_status dr_psi(const float *reference, long n_ref, const float *actual, long n_act, double *psi);

typedef struct dr_reliability {
    int n_bins;
    long count[DR_RELIABILITY_BINS];
    double mean_predicted[DR_RELIABILITY_BINS], observed_rate[DR_RELIABILITY_BINS];
    double ece, hosmer_lemeshow;
} dr_reliability;

/* Equal-count bins of the rows sorted by probability (ties by index); fewer
 * bins when n < 10. */
dr_status dr_reliability_table(const float *prob, const float *label, long n, dr_reliability *out);

/* The isotonic map fitted on (score, label) rows: k points (x ascending,
 * y non-decreasing), owned by the struct. */
typedef struct dr_isotonic {
    long k;
    double *x, *y;
} dr_isotonic;

dr_status dr_isotonic_fit(const float *score, const float *label, long n, dr_isotonic *out);
void dr_isotonic_apply(const dr_isotonic *m, const float *score, long n, float *prob);
void dr_isotonic_free(dr_isotonic *m);

/* EMP for credit scoring (Verbraken, Bravo, Weber and Baesens 2014): rejecting a
 * defaulter saves lambda (the loss given default as a share of the loan),
 * rejecting a good loan costs roi (its return); lambda is 0 with probability p0,
 * 1 with probability p1 and uniform in between, and for each lambda the lender
 * takes the most profitable cut-off. emp is the expected profit per loan
 * applied for (as a share of the amount), reject the expected share of loans
 * rejected at those cut-offs. The paper's values: p0 0.55, p1 0.1, roi 0.2644.
 * Exact: integrated in closed form over the upper convex hull of the ROC. */
dr_status dr_emp(const float *prob, const float *label, long n, double p0, double p1, double roi, double *emp,
                 double *reject);

/* Points = offset + factor ln(odds), odds = (1 - p) / p of being good,
 * factor = pdo / ln 2 and offset = base_score - factor ln(base_odds): base_odds
 * good:bad odds score base_score, and every pdo points double them. p is clipped
 * to [1e-9, 1 - 1e-9], so a certain default has a finite score. */
void dr_scorecard_points(const float *prob, long n, double pdo, double base_score, double base_odds,
                         float *points);

#endif
