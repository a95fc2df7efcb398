/* LightGBM through its own C API (lib_lightgbm.so from the PyPI wheel, fetched by
 * scripts/bootstrap.sh): the DR_TREE_LIGHTGBM kind behind models/trees.h, which
 * checks arguments and data before calling here. Built without the library
 * (DR_HAVE_LIGHTGBM unset), every call fails with a message saying how to get it.
 *
 * Models are saved in LightGBM's own text format (".txt"), which the Python
 * package's lightgbm.Booster(model_file=...) reads. */
#ifndef DR_MODELS_TREE_LIGHTGBM_H
#define DR_MODELS_TREE_LIGHTGBM_H

#include "models/trees.h"

typedef struct dr_lgbm dr_lgbm;

/* The library's version, or NULL in a build without it. */
const char *dr_lgbm_version(void);

/* Trains with early stopping on the validation AUC and keeps the best round's
 * model; fills info and history[0 .. *n_history) (room for p->n_estimators). */
dr_status dr_lgbm_train(dr_lgbm **out, const dr_tree_params *p, const float *x, const float *y, long n,
                        int n_features, const float *x_val, const float *y_val, long n_val, dr_tree_info *info,
                        double *history, int *n_history);
dr_status dr_lgbm_predict(const dr_lgbm *m, const float *x, long n, int n_features, float *prob);
/* margin [n]: the raw score. */
dr_status dr_lgbm_margin(const dr_lgbm *m, const float *x, long n, int n_features, float *margin);
/* TreeSHAP (C_API_PREDICT_CONTRIB): phi [n, n_features + 1], the last column
 * the expected value; margin [n] the raw score. */
dr_status dr_lgbm_shap(const dr_lgbm *m, const float *x, long n, int n_features, float *phi, float *margin);
/* Per feature: gain 0 = split count, 1 = total gain. */
dr_status dr_lgbm_importance(const dr_lgbm *m, int gain, double *score, int n_features);
dr_status dr_lgbm_save(const dr_lgbm *m, const char *path);
/* info gets the kind, features and rounds; the validation AUC is not in the file
 * (NaN). */
dr_status dr_lgbm_load(dr_lgbm **out, const char *path, dr_tree_info *info);
void dr_lgbm_free(dr_lgbm *m);

#endif
