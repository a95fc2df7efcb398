/* Hybrid feature selection (the paper's three steps) on a dense row-major float
 * matrix X [n, d] with feature names and a binary label y [n] (0/1):
 *   1. VIF: drop the most collinear feature while its variance inflation factor
 *      exceeds a threshold (select_vif.c);
 *   2. mutual information of each feature with the label, for ranking and an
 *      optional filter (select_mi.c);
 *   3. RFECV: recursive feature elimination with a random forest (XGBoost in
 *      random-forest mode), subset chosen by k-fold cross-validated AUC
 *      (select_rfecv.c).
 * X must be finite (preprocess first: impute, encode, scale); a NaN or inf is
 * DR_ERR_NUMERIC naming the row and column. Every step writes one line per
 * dropped feature, with the reason, to `log` (NULL = silent). */
#ifndef DR_DATA_SELECT_H
#define DR_DATA_SELECT_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

/* ---- 1. VIF ----
 * VIF_j = 1 / (1 - R^2_j), R^2_j from regressing column j on the other kept
 * columns, computed for all j at once as diag(C^-1) with C the correlation matrix
 * of the kept columns (in double). When C is singular (an exact linear
 * combination), a ridge eps*I is added (eps from 1e-12 up by x10 until the
 * Cholesky factorisation succeeds) and the VIF is then ~1/eps: huge, so the column
 * goes. Constant columns (zero variance) are dropped first with VIF = inf.
 * keep [d] out: 1 kept, 0 dropped. vif [d] out (may be NULL): final VIF of each
 * kept feature, VIF at the time of dropping for the others. threshold <= 0 means
 * 10. Rows may be subsampled for speed by max_rows (0 = all; rows evenly spaced). */
dr_status dr_select_vif(const float *X, long n, int d, const char *const *names,
                        double threshold, long max_rows, int *keep, double *vif, FILE *log);

/* ---- 2. Mutual information I(X_j; Y) in nats ----
 * Estimator: a feature with at most `bins` distinct values (one-hot columns,
 * counts, flags) is used as is; a continuous one is cut into `bins` equal-
 * frequency bins (ties stay in one bin, so a bin can hold more than n/bins rows).
 * The plug-in entropies are corrected with Miller-Madow, H += (m - 1) / (2 n) for
 * m occupied cells; as I = H(X) + H(Y) - H(X,Y) this gives
 *   I = I_plugin + ((m_x - 1) + (m_y - 1) - (m_xy - 1)) / (2 n),
 * which removes the first-order bias of the plug-in estimate ((m_x - 1)(m_y - 1)
 * / (2 n) for independent variables, where m_xy = m_x m_y). The corrected
 * value can be slightly negative for an uninformative feature: it is kept, not
 * clipped, so noise is visible as noise.
 * bins <= 0 means 16. mi [d] out. */
dr_status dr_select_mi(const float *X, long n, int d, const float *y, int bins, double *mi);

/* order [d] out: feature indices by decreasing mi (ties by index). */
void dr_select_rank(const double *score, int d, int *order);

/* ---- 3. RFECV with a random forest ---- */
typedef struct dr_rfecv_options {
    int n_trees;             /* num_parallel_tree; 64 */
    int max_depth;           /* 8 */
    double subsample;        /* rows per tree, without replacement; 0.632 */
    double colsample_bynode; /* share of features tried per split; 0 = sqrt(d)/d */
    double min_child_weight; /* 1 */
    int folds;               /* k of the stratified k-fold; 3 */
    int step;                /* features dropped per round; 0 = 10 % of the rest (>= 1) */
    int min_features;        /* stop eliminating here; 1 */
    int n_threads;           /* XGBoost threads; 2. On an oversubscribed machine its OpenMP
                                threads spin-wait: use 1 or OMP_WAIT_POLICY=passive */
    long max_rows;           /* use at most this many rows (stratified, evenly spaced); 0 = all */
    uint64_t seed;           /* folds and forest; 0 */
    const char *importance;  /* "total_gain" (default), "gain", "weight", "cover", "total_cover" */
} dr_rfecv_options;

void dr_rfecv_options_default(dr_rfecv_options *o);

typedef struct dr_rfecv_result {
    int d;
    int *selected;      /* [d] 1 = in the chosen subset */
    int n_selected;
    int *rank;          /* [d] 1 = selected; larger = eliminated earlier (sklearn's
                           ranking_); 0 = not a candidate (active[j] == 0) */
    double *importance; /* [d] importance in the final forest (selected), or in the forest of
                           the round that eliminated it; normalised to sum 1 per forest */
    int n_sizes;        /* subset sizes evaluated, largest first */
    int *sizes;         /* [n_sizes] */
    double *auc_mean;   /* [n_sizes] mean CV AUC */
    double *auc_std;    /* [n_sizes] its standard deviation over folds */
    int best_size;
} dr_rfecv_result;

/* Runs RFECV on the features with active[j] set (active NULL = all). Each fold
 * runs its own elimination path on its training part and scores every subset size
 * on its held-out part; the size with the best mean AUC wins (ties: the smaller);
 * a final elimination on all rows down to that size gives the subset, the
 * ranking and the importances. */
dr_status dr_select_rfecv(const float *X, long n, int d, const char *const *names, const float *y,
                          const int *active, const dr_rfecv_options *opt, dr_rfecv_result *out,
                          FILE *log);
void dr_rfecv_result_free(dr_rfecv_result *r);

/* ---- all three, and the paper's Table 2 ---- */
typedef struct dr_select_options {
    double vif_threshold;   /* 10; a huge value (1e300) keeps every non-constant feature */
    long vif_max_rows;      /* 0 = all */
    int mi_bins;            /* 16 */
    double mi_min;          /* drop features with MI <= mi_min before RFECV; -inf = keep all */
    dr_rfecv_options rfecv;
} dr_select_options;

void dr_select_options_default(dr_select_options *o);

typedef struct dr_select_result {
    int d;
    int *keep_vif;      /* [d] survived VIF */
    double *vif;        /* [d] */
    double *mi;         /* [d] */
    int *keep_mi;       /* [d] survived VIF and the MI filter */
    dr_rfecv_result rfecv;
    int *selected;      /* [d] final subset (= rfecv.selected) */
    int n_selected;
} dr_select_result;

dr_status dr_select_hybrid(const float *X, long n, int d, const char *const *names, const float *y,
                           const dr_select_options *opt, dr_select_result *out, FILE *log);
void dr_select_result_free(dr_select_result *r);

/* Table 2: one row per selected feature, by decreasing importance in the final
 * forest: feature, MI, importance, rank (1 = most important). */
void dr_select_table_print(FILE *f, const dr_select_result *r, const char *const *names);

#endif
