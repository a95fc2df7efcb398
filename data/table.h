/* The loan table as read from CSV or HDF5, column by column, before any
 * preprocessing. Numeric and date columns hold doubles (NaN = missing; a date is
 * days since 1970-01-01); categorical columns hold level codes (-1 = missing)
 * into their list of level names. */
#ifndef DR_DATA_TABLE_H
#define DR_DATA_TABLE_H

#include <stdint.h>

#include "core/status.h"

typedef enum dr_col_kind {
    DR_COL_NUMERIC = 0,
    DR_COL_CATEGORICAL,
    DR_COL_DATE,
    DR_COL_TARGET, /* read as categorical; the binary label comes from dr_table_target */
    DR_COL_ID,
    DR_COL_IGNORE
} dr_col_kind;

typedef struct dr_column {
    char *name;
    dr_col_kind kind;
    double *num;   /* numeric, date: n_rows values, NaN when missing */
    int32_t *cat;  /* categorical, target, id: n_rows codes, -1 when missing */
    char **levels; /* categorical, target, id: level names, n_levels of them */
    int n_levels;
} dr_column;

typedef struct dr_table {
    long n_rows;
    int n_cols;
    dr_column *cols;
    char *source; /* file the table came from, for error messages */
} dr_table;

/* Index of the column called name, or -1. */
int dr_table_find(const dr_table *t, const char *name);
void dr_table_free(dr_table *t);

/* ---- additions (data layer) ---- */

/* Appends a column; the table takes ownership of values (n_rows doubles, NaN =
 * missing) or of codes (n_rows, -1 = missing) and levels (n_levels strings, all
 * malloc'd). The name is copied. A duplicate name is DR_ERR_INVALID and the
 * passed arrays are then freed, so the caller never leaks on error. */
dr_status dr_table_add_numeric(dr_table *t, const char *name, double *values);
dr_status dr_table_add_categorical(dr_table *t, const char *name, int32_t *codes, char **levels,
                                   int n_levels);

/* Binary label from a column and its positive value: label[i] = 1 when the
 * value of row i is `positive`, else 0. Errors (naming t->source): the column is
 * missing, is not categorical/target/id, `positive` is not one of its values,
 * only one class occurs, or a row's value is missing. *label_out is malloc'd
 * (n_rows floats); free() it. */
dr_status dr_table_target(const dr_table *t, const char *column, const char *positive,
                          float **label_out);

/* HDF5 copy of a table (layout in data/README.md: one dataset per column under
 * /columns, levels as string lists, kind as an attribute; h5py reads it). The
 * file is written to a temporary name and renamed into place. */
dr_status dr_table_write_h5(const dr_table *t, const char *path);
dr_status dr_table_read_h5(dr_table *out, const char *path);

/* A dense row-major feature matrix, the output of preprocessing and the input of
 * feature selection and the models. */
typedef struct dr_matrix {
    long n_rows;
    int n_features;
    float *x;     /* [n_rows, n_features], row-major */
    char **names; /* n_features names: "col" (numeric), "col=level" (one-hot), "col=NA"
                     (missing indicator) */
    int *source;  /* n_features: index of the table column the feature came from (the
                     CNN's feature groups); all one-hot columns of a column share it */
} dr_matrix;

/* Frees x, names, source and zeroes *m (safe on a zeroed matrix). */
void dr_matrix_free(dr_matrix *m);

#endif
