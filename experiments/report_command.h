/* output.report = true: at the end of a run, `run_experiment report RUN_DIR`
 * (scripts/report.sh, the notebooks in Python). Its failure, a missing Python
 * environment included, is logged and leaves the run's result alone. */
#ifndef DR_EXPERIMENTS_REPORT_COMMAND_H
#define DR_EXPERIMENTS_REPORT_COMMAND_H

#include "experiments/run.h"

void dr_make_report(dr_run *run);

#endif
