/* Behavioural summaries of per-loan histories, for the models that only see
 * flat features (logistic regression, the tree ensembles): the bureau-style
 * attributes credit scoring computes from a repayment history.
 *
 * For every sequence channel c (columns c_1 .. c_T, see dr_seq_find) of T steps,
 * with missing steps skipped (a row whose steps are all missing gets missing
 * summaries):
 *   c_mean     mean of the steps
 *   c_max      largest step
 *   c_last     the last step that is present
 *   c_trend    mean of the last min(3, T) steps minus mean of the first min(3, T)
 *              (missing when either window has no value present)
 *   c_nonzero  number of steps > 0
 *   c_run      number of consecutive steps > 0 ending at the last present step
 *   c_over_X   number of steps > X for each threshold X (name: X printed with %g)
 * The thresholds apply to every channel; they are meant for day counts (30, 60,
 * 90 days past due), so a channel of another scale may get constant columns. */
#ifndef DR_DATA_HISTORY_H
#define DR_DATA_HISTORY_H

#include "data/table.h"

enum { DR_HISTORY_WINDOW = 3 }; /* steps averaged at each end for c_trend */

/* Appends the summary columns of every channel of t, channel by channel, in the
 * order above. A name that exists already is DR_ERR_INVALID (a summary never
 * silently reuses a column of the data). */
dr_status dr_history_summarise(dr_table *t, const double *thresholds, int n_thresholds);

#endif
