/* Preprocessing fitted on the training rows, applied to any rows (or another
 * table with the same column names), saved to and loaded from HDF5.
 *
 * Features come from the table's numeric and categorical columns (date, target,
 * id and ignored columns are skipped), in table order:
 *   numeric      optional winsorising: clip to the train quantiles [winsor_lo,
 *                winsor_hi] (linear interpolation between order statistics);
 *                then mean imputation and z-score with the train mean and
 *                (population) standard deviation of the clipped values. Missing
 *                values become 0 (the mean). A constant column (std 0) uses std 1.
 *                A column with no train value has mean 0, std 1: all zeros.
 *                Feature "col".
 *   categorical  one-hot over the levels seen in the train rows (sorted by
 *                strcmp), features "col=level"; a missing value takes the train
 *                mode. A level never seen in train (at prediction time) maps to
 *                all-zero one-hot columns: the model sees "none of the known
 *                levels" rather than a guess.
 *   indicators   with missing_indicators, a 0/1 feature "col=NA" after the
 *                column's features, for each column with a missing value in the
 *                train rows (1 where the value was missing, before imputation).
 * Every feature records its source column (the index in the fitting table), so
 * the one-hot columns of one categorical column form a group. */
#ifndef DR_DATA_PREPROCESS_H
#define DR_DATA_PREPROCESS_H

#include "core/h5.h"
#include "data/table.h"

typedef struct dr_prep_options {
    int missing_indicators;
    double winsor_lo, winsor_hi; /* quantiles; 0 and 0 (or 0 and 1) turn clipping off */
} dr_prep_options;

typedef struct dr_prep_column {
    char *name;
    int source;      /* column index in the fitting table */
    int categorical; /* 0: numeric, 1: one-hot */
    int indicator;   /* emits "col=NA" */
    double mean, std, clip_lo, clip_hi; /* numeric (clip bounds +-inf when off) */
    char **levels;                      /* categorical: train levels, sorted */
    int n_levels;
    int mode; /* categorical: index of the most frequent train level, -1 if none */
} dr_prep_column;

typedef struct dr_prep {
    dr_prep_options opt;
    int n_cols;
    dr_prep_column *cols;
    int n_features;
} dr_prep;

/* rows: n training row indices (NULL: rows 0..n-1). opt may be NULL. */
dr_status dr_prep_fit(dr_prep *out, const dr_table *t, const long *rows, long n,
                      const dr_prep_options *opt);
/* Dense features of n rows of t (NULL: rows 0..n-1). Columns are found in t by
 * name; a missing one, or one of the other kind, is an error. */
dr_status dr_prep_transform(const dr_prep *p, const dr_table *t, const long *rows, long n,
                            dr_matrix *out);
/* Fills only names and source (n_rows 0, x NULL). */
dr_status dr_prep_feature_names(const dr_prep *p, dr_matrix *out);
void dr_prep_free(dr_prep *p);

/* Under group (e.g. "prep"), layout in data/README.md; format-versioned. */
dr_status dr_prep_save(const dr_prep *p, dr_h5 *f, const char *group);
dr_status dr_prep_load(dr_prep *out, dr_h5 *f, const char *group);

#endif
