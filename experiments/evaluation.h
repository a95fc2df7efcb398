/* [evaluation]: the settings of the credit-risk measures in the results table
 * (experiments/credit_metrics.h) and each loan's exposure to loss, LGD x EAD,
 * from constants or from columns of the data. */
#ifndef DR_EXPERIMENTS_EVALUATION_H
#define DR_EXPERIMENTS_EVALUATION_H

#include "core/config.h"
#include "data/table.h"

typedef enum dr_calibration { DR_CALIBRATE_NONE = 0, DR_CALIBRATE_PLATT, DR_CALIBRATE_ISOTONIC } dr_calibration;

typedef struct dr_evaluation {
    dr_calibration calibration;
    double emp_p0, emp_p1, emp_roi;
    double pdo, base_score, base_odds;
    char exposure[160]; /* where LGD and EAD come from, for the log */
    float *val_exposure, *test_exposure; /* LGD x EAD per loan of each split */
} dr_evaluation;

/* The keys other than the exposure's (the ensemble command reads them from the
 * first run's config.toml). */
dr_status dr_evaluation_keys(dr_config *cfg, dr_evaluation *ev);

/* Every key; exposures for the rows of validation and test, from
 * evaluation.lgd_column / ead_column when named (numeric columns of t: LGD in
 * [0, 1], EAD >= 0, none missing; an error names the file, the column and the
 * data row) or the constants evaluation.lgd and evaluation.ead. */
dr_status dr_evaluation_read(dr_config *cfg, const dr_table *t, const long *val_rows, long n_val,
                             const long *test_rows, long n_test, dr_evaluation *ev);

/* Fits the calibration on (val, val_y) and maps val and test into val_out and
 * test_out (DR_CALIBRATE_NONE copies them). */
dr_status dr_evaluation_calibrate(const dr_evaluation *ev, const float *val, const float *val_y, long n_val,
                                  const float *test, long n_test, float *val_out, float *test_out);

void dr_evaluation_free(dr_evaluation *ev);

#endif
