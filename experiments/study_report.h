/* What a study leaves besides its journal: the sensitivity table, and the
 * study commands' views of a journal (run_experiment study ...). */
#ifndef DR_EXPERIMENTS_STUDY_REPORT_H
#define DR_EXPERIMENTS_STUDY_REPORT_H

#include "experiments/journal.h"
#include "experiments/study.h"

/* sensitivity.csv and sensitivity.h5 in dir: per cell of the grid, its values,
 * the seeds that completed, and mean and standard deviation (n - 1) of every
 * validation and test metric over them. final[slot] is the trial number that
 * settled each slot (-1: none). */
dr_status dr_sensitivity_table(const dr_journal *j, const dr_study_settings *st, const long *final, const char *dir);

/* A trial's numeric user attribute, NaN when it has none. */
double dr_trial_attr(const dr_journal_trial *t, const char *key);

#endif
