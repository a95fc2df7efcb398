/* One experiment, as ./run_experiment runs it: the data stage (read, engineer,
 * split, preprocess, select, group), the model stage (the hybrid network, the
 * baselines, the ensemble) and the report. Each stage reads its own section of
 * the experiment file. */
#ifndef DR_EXPERIMENTS_EXPERIMENT_H
#define DR_EXPERIMENTS_EXPERIMENT_H

#include <stdbool.h>

#include "core/backend.h"
#include "core/config.h"
#include "data/features.h"
#include "data/preprocess.h"
#include "data/split.h"
#include "data/table.h"
#include "experiments/evaluation.h"
#include "experiments/explain.h"
#include "experiments/run.h"
#include "experiments/train.h"
#include "models/hybrid.h"

enum { DR_MAX_MODELS = 12 };

/* One split's model inputs: features in group order, labels, sequences. */
typedef struct dr_part {
    dr_matrix m;     /* selected features, grouped */
    float *y;
    float *seq;      /* [n, T, C] or NULL */
    const long *rows; /* row indices into the table */
} dr_part;

/* Predictions of one model on validation and test. */
typedef struct dr_model_result {
    char name[48];
    float *val, *test;
} dr_model_result;

/* An experiment run as one trial of a study (experiments/trial.c): no
 * checkpoints, tree files or report, and the model the study scores reports
 * each epoch's validation AUC (pruning decides whether it goes on). */
typedef struct dr_trial_hooks {
    const char *model;
    int check_only; /* stop once every key is read and known: nothing trains */
    dr_status (*epoch_end)(void *ctx, int epoch, double val_auc, int *stop);
    void *ctx;
} dr_trial_hooks;

typedef struct dr_experiment {
    dr_config *cfg;
    const dr_trial_hooks *trial; /* NULL in a normal run */
    dr_run run;
    int checked; /* every key read and known (dr_model_stage): a failure from here on keeps a new run folder */
    bool write_features; /* output.features: the model inputs of every split in features.h5 */
    bool make_report;    /* output.report: report.html and figures/ at the end of the run */
    dr_backend *be;
    /* data */
    dr_table table;
    float *label;
    double *p_true;       /* synthetic data: true default probability per row */
    dr_split split;
    dr_fe_options fe;
    double reference_date;
    dr_seq_stats seq_stats;
    int has_seq;
    dr_prep prep;
    int n_selected;
    int *feature_order;   /* [n_selected] preprocessed feature index, in group order */
    int n_groups;
    int group_size[DR_HYBRID_MAX_GROUPS];
    char group_name[DR_HYBRID_MAX_GROUPS][32];
    dr_part train, val, test;
    dr_evaluation eval; /* [evaluation], read by the model stage */
    dr_explain explain; /* [explain]: settings from the model stage, SHAP values from the models */
    /* models */
    int n_models;
    dr_model_result models[DR_MAX_MODELS];
} dr_experiment;

/* The model names of baselines.models and ensemble.members, NULL-terminated. */
extern const char *const dr_model_names[];

dr_status dr_data_stage(dr_experiment *e);
/* features.select over the preprocessed train rows tr (experiments/select_stage.c):
 * selected [tr->n_features] out, 1 = kept. */
dr_status dr_select_stage(dr_experiment *e, const dr_matrix *tr, int *selected);
/* The network's branches and history input as the data stage made them
 * (experiments/model_stage.c). */
void dr_hybrid_shape(const dr_experiment *e, dr_hybrid_config *hc);
/* A split's rows as graph model io reads them: the histories only where it takes them. */
dr_rows dr_rows_of(const dr_experiment *e, const dr_model_io *io, const dr_part *p);
/* Reads every remaining key, stops on an unknown one (dr_config_check_unused),
 * sets e->checked, then trains the models and runs the ensemble stage. */
dr_status dr_model_stage(dr_experiment *e);
/* [explain] for one model the model stage has trained (experiments/explain_stage.c):
 * its SHAP values and LIME explanations into its slot of e->explain, and its
 * Kernel SHAP values as a member of an explained ensemble. A graph model's
 * probabilities are sigmoid(platt[0] margin + platt[1]) when platt is given
 * (the SVM), else its own. */
struct dr_tree_model;
dr_status dr_explain_tree(dr_experiment *e, const char *name, const struct dr_tree_model *m);
dr_status dr_explain_graph(dr_experiment *e, const char *name, const dr_model_io *io, const dr_rows *train,
                           const dr_rows *test, const double *platt);
/* The ensemble's SHAP values: the members' weighted (experiments/explain.h). */
dr_status dr_explain_ensemble(dr_experiment *e, const char *const *members, const double *weights, int k);
/* [ensemble] over e->models; ensemble.seed defaults to default_seed (train.seed). */
dr_status dr_ensemble_stage(dr_experiment *e, uint64_t default_seed);
/* Reads the [ensemble] keys and checks that every member is among the trained
 * models, so that the model stage can stop on a mistake before it trains
 * anything; *members / *k the members (k < 2: no ensemble). */
dr_status dr_ensemble_settings(dr_experiment *e, uint64_t default_seed, const char *const *trained, int n_trained,
                               const char *const **members, int *k);
dr_status dr_report_stage(dr_experiment *e);
/* The columns of the results table (NULL-terminated) and one row: the
 * threshold metrics at 0.5 and at the threshold maximising F1 on fit_score,
 * then the credit-risk measures of [evaluation] (the score's PSI taken against
 * fit_score; expected loss = sum of score x exposure), everything measured on
 * score. */
enum { DR_N_COLS = 21 };
extern const char *const dr_result_columns[DR_N_COLS + 1];
dr_status dr_result_row(const dr_evaluation *ev, const float *fit_score, const float *fit_y, long n_fit,
                        const float *score, const float *y, const float *exposure, long n, double *row);
/* Appends a model's result slot (val and test arrays of the split's sizes). */
dr_status dr_add_result(dr_experiment *e, const char *name, dr_model_result **out);
/* The result slot of `name`, or NULL. */
const dr_model_result *dr_find_result(const dr_experiment *e, const char *name);
/* Writes the transform (preprocessing, history summary settings, sequence
 * statistics, feature order and groups, reference date) under "transform/" of a
 * checkpoint being written. */
dr_h5_writer_fn dr_transform_write;
void dr_experiment_free(dr_experiment *e);

/* The whole run: config (with overrides) -> run folder -> stages. A new run
 * that fails before its configuration is checked in full (a mistake in the
 * file or an override, unreadable data) removes its folder again. resume_dir
 * continues a killed run from its folder instead; a failure keeps that folder. */
dr_status dr_experiment_run(const char *config_path, const char *const *overrides, int n_overrides,
                            const char *resume_dir);
/* The same, leaving the run folder's path in run_dir. */
dr_status dr_experiment_run_in(const char *config_path, const char *const *overrides, int n_overrides,
                               const char *resume_dir, char *run_dir, size_t cap);
/* The ensemble stage alone over the predictions.h5 of earlier runs on one split:
 * a new run folder "ensemble-<time>" under output.dir with the blend's results.
 * Overrides may set ensemble.* and output.*; the defaults are the first run's. */
dr_status dr_experiment_ensemble(const char *const *run_dirs, int n_dirs, const char *const *overrides,
                                 int n_overrides);
/* One trial of a study (experiments/trial.c): e->cfg and e->trial set by the
 * caller; the data and model stages with the run log in trial_dir (an existing
 * folder). The models' predictions are left in e->models. */
dr_status dr_experiment_trial(dr_experiment *e, const char *trial_dir);
/* train.device and [cuda] of cfg: the backend, and in note a line for the log
 * ("" when there is none). */
dr_status dr_experiment_device(dr_config *cfg, dr_backend **be, char *note, size_t cap);
/* `run_experiment explain RUN_DIR [explain.key=value ...]`: the run's saved
 * models (the network's checkpoint, the tree models' files) explained again with
 * its [explain] settings and the overrides, into a new folder
 * RUN_DIR/explain-<time>; the data stage is rerun and must give the run's test
 * predictions again (experiments/explain_command.c). */
dr_status dr_experiment_explain(const char *run_dir, const char *const *overrides, int n_overrides);
/* Default probabilities for the loans of csv_path with the model of run_dir,
 * written as CSV (row, probability) to out_path ("-" = stdout). */
dr_status dr_experiment_predict(const char *run_dir, const char *csv_path, const char *out_path);

#endif
