/* A run as TensorBoard sees it: RUN_DIR/events.out.tfevents.defrisk, so that
 * `tensorboard --logdir runs/` shows runs side by side. The network's epochs
 * (written by training, experiments/train.c), the hyperparameters of [model]
 * and [train] as the file and its overrides give them, every test metric of
 * the results table, and whether the run ended well. */
#ifndef DR_EXPERIMENTS_TRACKING_H
#define DR_EXPERIMENTS_TRACKING_H

#include <stddef.h>

#include "core/tfevents.h"

struct dr_experiment;

/* RUN_DIR's event file, opened for appending (created with its header when
 * missing: *created = 1). */
dr_status dr_tracking_open(const char *run_dir, dr_tfevents **w, int *created);
/* At the start of a new run, once every key has been checked: the hparams. */
dr_status dr_tracking_start(struct dr_experiment *e);
/* After the results table: test_<column>/<model> for every model and column. */
dr_status dr_tracking_results(struct dr_experiment *e, const double *table);
/* The hparams session's end: success or failure. */
dr_status dr_tracking_end(const char *run_dir, int success);

#endif
