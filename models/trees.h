/* Tree models: binary classification of dense row-major float features, NaN =
 * missing, labels 0 / 1. XGBoost's kinds go through the XGBoost C API
 * (libxgboost 1.7), LightGBM through its own (models/tree_lightgbm.c).
 *
 * Kinds:
 *   DR_TREE_XGBOOST   gradient boosting, tree_method hist, grow_policy depthwise;
 *   DR_TREE_LIGHTGBM  LightGBM itself: leaf-wise gradient boosting with its own
 *                     defaults (31 leaves, no depth limit, lambda_l2 0,
 *                     min_sum_hessian_in_leaf 1e-3, 255 bins), deterministic;
 *   DR_TREE_LEAFWISE  XGBoost's hist trees grown leaf-wise (grow_policy lossguide,
 *                     max_leaves), named xgboost_leafwise: it imitates LightGBM's
 *                     growth strategy and is not LightGBM (no GOSS, no EFB, other
 *                     leaf-size rules);
 *   DR_TREE_FOREST    random forest in XGBoost's forest mode: one boosting round of
 *                     n_estimators parallel trees, eta 1, row subsampling without
 *                     replacement and per-node column sampling.
 *
 * Early stopping (boosting kinds): one round at a time, then the validation AUC;
 * training stops after early_stopping_rounds rounds without a strictly better AUC
 * and the model is cut to the best round, so prediction, saving and importance
 * all see the model that was selected. The forest trains its single round in full.
 *
 * Errors from either library come back as dr_status with its last-error text. */
#ifndef DR_MODELS_TREES_H
#define DR_MODELS_TREES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum dr_tree_kind { DR_TREE_XGBOOST, DR_TREE_LEAFWISE, DR_TREE_FOREST, DR_TREE_LIGHTGBM } dr_tree_kind;

typedef struct dr_tree_params {
    dr_tree_kind kind;
    int n_estimators;          /* boosting rounds, or trees in the forest */
    int max_depth;             /* 0 = no limit (leaf-wise kinds only) */
    int max_leaves;            /* leaf-wise kinds: leaves per tree; 0 = no limit */
    float eta;                 /* learning rate (the forest always uses 1) */
    float subsample;           /* row share per tree, (0, 1] */
    float colsample;           /* column share: per tree (boosting) or per node
                                  (forest); 0 = sqrt(F) / F */
    float min_child_weight;    /* minimum hessian sum in a child */
    float lambda;              /* L2 regularisation of leaf weights */
    int early_stopping_rounds; /* 0 = off; needs a validation set */
    int max_bin;               /* histogram bins per feature */
    int nthread;               /* 0 = the library's default (all cores) */
    uint64_t seed;
} dr_tree_params;

/* Defaults per kind (see trees.c for the reasons behind each). */
void dr_tree_params_default(dr_tree_params *p, dr_tree_kind kind);
const char *dr_tree_kind_name(dr_tree_kind kind);
/* The library that trains a kind, with its version: "XGBoost 1.7.4",
 * "LightGBM 4.7.0", or "LightGBM (not in this build)". */
void dr_tree_library(dr_tree_kind kind, char *buf, size_t cap);

typedef struct dr_tree_model dr_tree_model;

typedef struct dr_tree_info {
    dr_tree_kind kind;
    int n_features;
    int rounds_trained; /* rounds run before stopping (1 for the forest) */
    int best_iteration; /* 0-based round kept; the model holds rounds 0 .. best */
    double best_val_auc; /* validation AUC of the kept model; NaN without validation */
} dr_tree_info;

/* x [n, n_features] row-major, y [n] in {0, 1}. x_val / y_val / n_val: validation set
 * for the AUC and early stopping; may be NULL / 0 when early_stopping_rounds is 0.
 * Both sets need both classes. */
dr_status dr_tree_train(dr_tree_model **out, const dr_tree_params *p, const float *x,
                        const float *y, long n, int n_features, const float *x_val,
                        const float *y_val, long n_val);

/* prob [n] = P(y = 1 | x) for x [n, n_features]. Not for concurrent use on one model. */
dr_status dr_tree_predict(const dr_tree_model *m, const float *x, long n, int n_features,
                          float *prob);

/* margin [n], the raw score (log-odds) that prob is the sigmoid of. */
dr_status dr_tree_margin(const dr_tree_model *m, const float *x, long n, int n_features, float *margin);

/* Exact TreeSHAP values, the libraries' own (XGBoost's pred_contribs,
 * LightGBM's C_API_PREDICT_CONTRIB), on the margin (log-odds) scale:
 * phi [n, n_features + 1] with the expected value in the last column, and
 * margin [n] the raw score; each row of phi sums to its margin. */
dr_status dr_tree_shap(const dr_tree_model *m, const float *x, long n, int n_features, float *phi, float *margin);
/* XGBoost's kinds: exact SHAP interaction values (pred_interactions), phi
 * [n, n_features + 1, n_features + 1], symmetric, the expected value at
 * [n_features, n_features]; row j summed over the inputs is input j's SHAP
 * value. LightGBM has none: DR_ERR_UNSUPPORTED. */
dr_status dr_tree_shap_interactions(const dr_tree_model *m, const float *x, long n, int n_features, float *phi);
dr_status dr_tree_get_info(const dr_tree_model *m, dr_tree_info *info);
/* Validation AUC after each trained round (length rounds_trained; empty when
 * trained without validation or when loaded from a file). */
dr_status dr_tree_val_history(const dr_tree_model *m, const double **auc, int *n);

/* Importance per feature: type is "gain" (mean gain of the feature's splits),
 * "total_gain", "weight" (split count), "cover" or "total_cover" (XGBoost's kinds
 * only: LightGBM reports no cover). Features never used get 0. score [n_features]. */
dr_status dr_tree_importance(const dr_tree_model *m, const char *type, float *score,
                             int n_features);

/* path must end in ".json" or ".ubj" for XGBoost's kinds (XGBoost picks the format
 * by the extension) and in ".txt" for LightGBM (its text format); dr_tree_file_ext
 * gives the default. Written to a temporary name and renamed into place, so a
 * file at path is whole. dr_tree_load tells the library by the extension. */
const char *dr_tree_file_ext(dr_tree_kind kind);
dr_status dr_tree_save(const dr_tree_model *m, const char *path);
dr_status dr_tree_load(dr_tree_model **out, const char *path);

void dr_tree_free(dr_tree_model *m);

#endif
