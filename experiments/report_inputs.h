/* The files about the model inputs (experiments/report_inputs.c), and the
 * helpers the report shares with them. */
#ifndef DR_EXPERIMENTS_REPORT_INPUTS_H
#define DR_EXPERIMENTS_REPORT_INPUTS_H

#include "core/h5.h"
#include "experiments/experiment.h"

/* The model inputs' names, in the order of the parts' columns (free with dr_free_names). */
dr_status dr_input_names(const dr_experiment *e, const char ***out);
void dr_free_names(const char **name, int d);
/* The part's rows of the data as an int32 dataset. */
dr_status dr_write_rows(dr_h5 *f, const char *name, const dr_part *p);
dr_status dr_write_features(dr_experiment *e);
dr_status dr_write_explain(dr_experiment *e);

#endif
