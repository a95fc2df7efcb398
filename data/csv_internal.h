/* Internals of the CSV reader (data/csv.h), shared by its parts:
 *   csv_values.c    one field's value: trimming, missing markers, numbers, dates
 *   csv_tokenise.c  phase 1: the header and each block of rows into fields
 *   csv.c           phase 2: the fields of a block into columns, and the reader */
#ifndef DR_DATA_CSV_INTERNAL_H
#define DR_DATA_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data/csv.h"

typedef struct field_ref {
    uint32_t off, len;
} field_ref;

typedef struct parser {
    const char *name;
    char *b; /* owned copy, NUL-terminated */
    size_t len;
    char delim;
    unsigned char stop[256]; /* 1 for the delimiter, CR and LF: ends an unquoted field */
    int n_cols;
    char **header;
    size_t pos; /* tokeniser position and line */
    long line;
    long n_rows, cap_rows;
    field_ref *f; /* column-major: f[j * cap_rows + row] */
    int32_t *row_line;
} parser;

/* csv_tokenise.c */
dr_status csv_tokenise_header(parser *p);
dr_status csv_tokenise_rows(parser *p, long max_rows);

/* Spaces and tabs around a field are not part of it. */
static inline void csv_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Empty, NA, NaN and null (after trimming) are missing values. */
static inline int csv_is_missing(const char *s, size_t n)
{
    csv_trim(&s, &n);
    return n == 0 || (n == 2 && memcmp(s, "NA", 2) == 0) || (n == 3 && memcmp(s, "NaN", 3) == 0) ||
           (n == 4 && memcmp(s, "null", 4) == 0);
}

#endif
