/* A synthetic P2P loan book shaped like the paper's data (Xia et al., 2024):
 * loans issued Jan 2018 - Dec 2022, 45 numeric + 33 categorical features, a
 * 12-month repayment history per borrower, a binary target `default` ("no"/"yes")
 * with an 18.7 % default rate, and the true default probability of every loan.
 *
 * Columns, in order (81 in all):
 *   loan_id (ID, "L0000001"...), issue_date (DATE, days since 1970-01-01, sorted
 *   ascending), 21 static numeric features, the history (late_days_1..12 then
 *   utilisation_1..12; month 1 is twelve months before issue, month 12 the month
 *   just before it), 33 categorical features, default (TARGET).
 *   The 24 history columns COUNT TOWARD the 45 numeric features (21 + 24 = 45), so
 *   the feature count is the paper's 78.
 *
 * Generative model (details in synth.c):
 *   - three latent borrower factors (quality, capacity, discipline), correlated,
 *     drive most features, so the features are correlated among themselves;
 *   - heavy tails: lognormal incomes and loan sizes, Pareto-tailed credit limits,
 *     balances and savings, zero-inflated lateness;
 *   - the default logit is a function of the (complete) feature values and the
 *     issue date only, never of the latent factors directly, so a model that sees
 *     the complete features (missing = 0) could reach the Bayes-optimal AUC; with
 *     missingness on, the hidden values make it a ceiling no model reaches
 *     exactly. It has thresholds,
 *     hinges, interactions, U-shapes (age, utilisation), seasonality (December
 *     loans), the history's pattern (recent lateness trend, consecutive late
 *     months, rising utilisation) and drift: the interest-rate, debt-to-income
 *     and income coefficients change from 2018 to 2022, all loans are riskier in
 *     2020-04..12, and business loans much riskier during 2020-03..2021-06;
 *   - labels are y = [score + b + logistic noise > 0]; the intercept b is set to
 *     the (1 - rate) quantile of the drawn latent scores (score + noise), so the
 *     realised default rate equals default_rate to within 1/n for every seed, and
 *     p_true = sigmoid(score + b) is each loan's true probability (the labels are
 *     coupled only through the one scalar b, a negligible dependence at n >> 1);
 *   - missingness is applied after the labels: MCAR (a few % on most columns),
 *     MAR (income missing more often for the self-employed, debt-to-income for
 *     unverified applications, employment length for students and the
 *     unemployed), and structural (months_since_last_delinquency is empty when
 *     there was no delinquency).
 *
 * Deterministic by seed: loan i draws its numbers from Philox (seed, stream, i),
 * so the result does not depend on the thread count. */
#ifndef DR_DATA_SYNTH_H
#define DR_DATA_SYNTH_H

#include <stdint.h>

#include "core/status.h"
#include "data/table.h"

#define DR_SYNTH_N_PAPER 150000L
#define DR_SYNTH_HISTORY 12

typedef struct dr_synth_options {
    double default_rate; /* realised share of "yes" labels; 0.187 */
    int missing;         /* 1: inject MCAR / MAR / structural missingness; 1 */
    int drift;           /* 1: coefficients and shocks change over 2018-2022; 1 */
    double signal_scale; /* multiplies the default score (sets the Bayes AUC); 1 */
    int n_threads;       /* OpenMP threads; 0 = runtime default */
} dr_synth_options;

typedef struct dr_synth_stats {
    double intercept;        /* b above */
    double mean_p;           /* mean of p_true (close to default_rate) */
    double default_rate;     /* realised share of "yes" */
    double missing_fraction; /* share of empty feature cells */
} dr_synth_stats;

void dr_synth_options_default(dr_synth_options *opt);

/* Generates n_loans loans into *out (free with dr_table_free). When p_true is not
 * NULL, *p_true receives a malloc'd array of n_loans true default probabilities
 * (free with free()). opt NULL = defaults; stats may be NULL. */
dr_status dr_synth_generate(uint64_t seed, long n_loans, const dr_synth_options *opt,
                            dr_table *out, double **p_true, dr_synth_stats *stats);

/* Bayes-optimal AUC of a set of rows: the AUC of p_true against the table's
 * `default` labels over rows[0..n_rows) (rows NULL: all rows). */
dr_status dr_synth_bayes_auc(const dr_table *t, const double *p_true, const long *rows,
                             long n_rows, double *auc);

#endif
