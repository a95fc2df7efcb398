/* Train / validation / test splits and k-fold assignment.
 *
 * Time-ordered when a date column is named: rows sorted by date (ties by row
 * index), the earliest train_frac to train, the next val_frac to validation, the
 * rest to test; a row without a date is an error. Otherwise stratified random:
 * each class is shuffled with Philox (seed, DR_SPLIT_STREAM) and cut by the same
 * fractions, so every split has the default rate of the whole within one row per
 * class. Sizes are round(n * frac) (per class when stratified); test gets the rest.
 * Index lists are ascending for the random split and in date order for the
 * time split. */
#ifndef DR_DATA_SPLIT_H
#define DR_DATA_SPLIT_H

#include <stdint.h>
#include <stdio.h>

#include "data/table.h"

enum { DR_SPLIT_STREAM = 0x53504c54 /* "SPLT" */, DR_KFOLD_STREAM = 0x4b464c44 /* "KFLD" */ };

typedef struct dr_split {
    long *train, *val, *test; /* row indices into the table */
    long n_train, n_val, n_test;
} dr_split;

typedef struct dr_split_options {
    double train_frac, val_frac; /* 0 and 0 mean 0.70 and 0.15; test = the rest */
    const char *date_column;     /* time-ordered split when set */
    uint64_t seed;
} dr_split_options;

/* label: n_rows values of 0 or 1 (from dr_table_target). */
dr_status dr_split_make(dr_split *out, const dr_table *t, const float *label,
                        const dr_split_options *opt);
/* The two strategies on their own (n rows). */
dr_status dr_split_by_time(dr_split *out, const double *date, long n, double train_frac,
                           double val_frac);
dr_status dr_split_stratified(dr_split *out, const float *label, long n, double train_frac,
                              double val_frac, uint64_t seed);
void dr_split_free(dr_split *s);

/* Stratified k-fold: fold[i] in 0..k-1 for each of n rows; each fold gets an
 * equal share (within one row) of each class. */
dr_status dr_kfold_assign(int *fold, const float *label, long n, int k, uint64_t seed);
/* Split for fold f: train = rows of the other folds, val = rows of fold f, test
 * empty. */
dr_status dr_kfold_split(dr_split *out, const int *fold, long n, int f);

/* One line per part: rows, share of all rows, positives and the default rate. */
void dr_split_print(FILE *fp, const dr_split *s, const float *label);

#endif
