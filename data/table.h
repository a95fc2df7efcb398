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

#endif
