/* The files about the model inputs (experiments/report_inputs.c), and the
 * helpers the report shares with them. */
#ifndef DR_EXPERIMENTS_REPORT_INPUTS_H
#define DR_EXPERIMENTS_REPORT_INPUTS_H

#include <stdio.h>

#include "core/h5.h"
#include "experiments/experiment.h"

/* The model inputs' names, in the order of the parts' columns (free with dr_free_names). */
dr_status dr_input_names(const dr_experiment *e, const char ***out);
void dr_free_names(const char **name, int d);
/* The part's rows of the data as an int32 dataset. */
dr_status dr_write_rows(dr_h5 *f, const char *name, const dr_part *p);
dr_status dr_write_features(dr_experiment *e);
dr_status dr_write_explain(dr_experiment *e);
/* experiments/explain_csv.c: model m's rows of reasons.csv, the explain.reasons
 * source columns of largest positive summed SHAP value per loan (by_col
 * [loans, n_cols], col_table [n_cols] the table column of each); and
 * lime_<row>.csv for each LIME loan (name: the inputs' names). */
dr_status dr_write_reasons(const dr_experiment *e, FILE *f, int m, const double *by_col, const int *col_table,
                           int n_cols);
dr_status dr_write_lime_csv(const dr_experiment *e, const char *const *name);

#endif
