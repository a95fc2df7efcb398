/* Feature engineering on the table (before preprocessing), and per-loan
 * histories gathered into a sequence tensor.
 *
 * dr_fe_apply appends derived columns to the table, so preprocessing imputes and
 * z-scores them like any other column (fitted on train), and each keeps its own
 * source index for the CNN's feature groups:
 *   products  "a*b" for each named pair of numeric columns (raw values; missing
 *             if either is missing)
 *   poly      degree-2 terms of the named numeric columns: "a^2" for each and
 *             "a*b" for each pair (a before b in the given order); a name that
 *             already exists (the same product asked twice) is skipped
 *   time      from the issue date column D (kind date):
 *             "D_age_months"  (reference - date) / 30.436875 days (the mean
 *                             Gregorian month), the loan's age at the reference
 *                             date; the reference is reference_date, or else the
 *                             latest date in the column (returned, so the caller
 *                             can record it and reuse it at prediction time)
 *             seasonality, season_onehot = 0: "D_month_sin", "D_month_cos" =
 *                             sin/cos(2 pi (month - 1) / 12) and "D_quarter_sin",
 *                             "D_quarter_cos" = sin/cos(2 pi (quarter - 1) / 4);
 *                             season_onehot = 1: categorical "D_month" (levels
 *                             "01".."12") and "D_quarter" ("Q1".."Q4"), one-hot
 *                             encoded by preprocessing
 *             a missing date gives missing time features.
 *   history   first, on the table as given: the summaries of every sequence
 *             channel (data/history.h), so the flat-feature models see the
 *             repayment histories too; products may name them. */
#ifndef DR_DATA_FEATURES_H
#define DR_DATA_FEATURES_H

#include "core/h5.h"
#include "data/table.h"

typedef struct dr_fe_options {
    const char *const *products; /* "a*b" */
    int n_products;
    const char *const *poly; /* column names */
    int n_poly;
    const char *date_column;    /* time features when set */
    const char *reference_date; /* "YYYY-MM-DD" or "YYYY-MM"; NULL: latest date */
    int season_onehot;
    int history; /* dr_history_summarise with the thresholds below */
    const double *history_thresholds;
    int n_history_thresholds;
} dr_fe_options;

/* reference_used (may be NULL) receives the reference date in days since
 * 1970-01-01 (NaN when no time features were made). */
dr_status dr_fe_apply(dr_table *t, const dr_fe_options *opt, double *reference_used);

/* ---- sequences: columns name_1 .. name_T of each channel "name" ---- */

typedef struct dr_seq_stats {
    int n_channels, T;
    char **channels; /* base names */
    double *mean, *std; /* per channel, over the train rows and all T steps */
} dr_seq_stats;

/* Finds channels: numeric columns "base_1" .. "base_T" with T >= 2 and no gap.
 * All channels must share T (else DR_ERR_INVALID naming them). *bases is
 * malloc'd (free each and the array); *n_bases may be 0. */
dr_status dr_seq_find(const dr_table *t, char ***bases, int *n_bases, int *T);
/* Statistics over n train rows (NULL: rows 0..n-1). A missing value is skipped;
 * a channel with std 0 uses 1. */
dr_status dr_seq_fit(dr_seq_stats *out, const dr_table *t, const char *const *bases,
                     int n_bases, const long *rows, long n);
/* out: n x T x n_channels floats (malloc'd), z-scored; missing -> 0 (the mean). */
dr_status dr_seq_transform(const dr_seq_stats *s, const dr_table *t, const long *rows, long n,
                           float **out);
/* Removes the sequence columns from the flat features: they become
 * DR_COL_IGNORE (values freed), so preprocessing skips them. */
dr_status dr_seq_drop_columns(dr_table *t, const dr_seq_stats *s);
/* Fit on the train rows, transform all table rows ([n_rows, T, C] in *x), drop. */
dr_status dr_seq_gather(dr_table *t, const char *const *bases, int n_bases,
                        const long *train_rows, long n_train, dr_seq_stats *stats, float **x);
void dr_seq_stats_free(dr_seq_stats *s);
dr_status dr_seq_save(const dr_seq_stats *s, dr_h5 *f, const char *group);
dr_status dr_seq_load(dr_seq_stats *out, dr_h5 *f, const char *group);

#endif
