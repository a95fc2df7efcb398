/* Tree baselines over the XGBoost C API (libxgboost 1.7): binary classification of
 * dense row-major float features, NaN = missing, labels 0 / 1.
 *
 * Kinds:
 *   DR_TREE_XGBOOST   gradient boosting, tree_method hist, grow_policy depthwise;
 *   DR_TREE_LEAFWISE  the LightGBM stand-in: XGBoost's hist trees grown leaf-wise
 *                     (grow_policy lossguide, max_leaves). It imitates LightGBM's
 *                     growth strategy; it is not LightGBM (no GOSS, no EFB, other
 *                     defaults for leaf size and regularisation);
 *   DR_TREE_FOREST    random forest in XGBoost's forest mode: one boosting round of
 *                     n_estimators parallel trees, eta 1, row subsampling without
 *                     replacement and per-node column sampling.
 *
 * Early stopping (boosting kinds): one XGBoosterUpdateOneIter per round, then
 * XGBoosterEvalOneIter on the validation set (AUC); training stops after
 * early_stopping_rounds rounds without a strictly better AUC and the model is cut
 * (XGBoosterSlice) to the best round, so prediction, saving and importance all see
 * the model that was selected. The forest trains its single round in full.
 *
 * Errors from XGBoost come back as dr_status with XGBGetLastError()'s text. */
#ifndef DR_MODELS_TREES_H
#define DR_MODELS_TREES_H

#include <stdint.h>

#include "core/status.h"

typedef enum dr_tree_kind { DR_TREE_XGBOOST, DR_TREE_LEAFWISE, DR_TREE_FOREST } dr_tree_kind;

typedef struct dr_tree_params {
    dr_tree_kind kind;
    int n_estimators;          /* boosting rounds, or trees in the forest */
    int max_depth;             /* 0 = no limit (leaf-wise only) */
    int max_leaves;            /* leaf-wise: leaves per tree; 0 = no limit */
    float eta;                 /* learning rate (the forest always uses 1) */
    float subsample;           /* row share per tree, (0, 1] */
    float colsample;           /* column share: per tree (boosting) or per node
                                  (forest); 0 = sqrt(F) / F */
    float min_child_weight;    /* minimum hessian sum in a child */
    float lambda;              /* L2 regularisation of leaf weights */
    int early_stopping_rounds; /* 0 = off; needs a validation set */
    int max_bin;               /* histogram bins per feature */
    int nthread;               /* 0 = XGBoost's default (all cores) */
    uint64_t seed;
} dr_tree_params;

/* Defaults per kind (see trees.c for the reasons behind each). */
void dr_tree_params_default(dr_tree_params *p, dr_tree_kind kind);
const char *dr_tree_kind_name(dr_tree_kind kind);

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

dr_status dr_tree_get_info(const dr_tree_model *m, dr_tree_info *info);
/* Validation AUC after each trained round (length rounds_trained; empty when
 * trained without validation or when loaded from a file). */
dr_status dr_tree_val_history(const dr_tree_model *m, const double **auc, int *n);

/* Importance per feature: type is "gain" (mean gain of the feature's splits),
 * "total_gain", "weight" (split count), "cover" or "total_cover". Features never
 * used get 0. score [n_features]. */
dr_status dr_tree_importance(const dr_tree_model *m, const char *type, float *score,
                             int n_features);

/* path must end in ".json" or ".ubj" (XGBoost picks the format by the extension).
 * Written to a temporary name and renamed into place, so a file at path is whole. */
dr_status dr_tree_save(const dr_tree_model *m, const char *path);
dr_status dr_tree_load(dr_tree_model **out, const char *path);

void dr_tree_free(dr_tree_model *m);

#endif
