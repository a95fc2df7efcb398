/* CSV reader (RFC 4180) into a dr_table.
 *
 * Accepted: quoted fields with "" escapes and embedded delimiters/newlines, CRLF
 * or LF line ends, a UTF-8 byte-order mark, a header row of column names. Blank
 * lines are skipped. A field that is empty, NA, NaN or null is missing (after
 * removing surrounding spaces). Column kinds are inferred unless overridden:
 *   numeric      every present value is a decimal number (12, -3.5, 1e-3)
 *   date         every present value is YYYY-MM-DD or YYYY-MM (first of month)
 *   categorical  otherwise; levels are sorted (byte order) so codes are stable
 * An all-missing column is numeric. Overrides force a kind: numeric and date then
 * fail on the first value that is not one, naming file:line:column; target and id
 * are read as categorical; ignore keeps the column's name but no values.
 *
 * Every error names the file and the line (of the physical file, 1-based) and,
 * where there is one, the column (1-based field number and header name). */
#ifndef DR_DATA_CSV_H
#define DR_DATA_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "data/table.h"

typedef struct dr_csv_override {
    const char *column;
    dr_col_kind kind;
} dr_csv_override;

typedef struct dr_csv_options {
    const dr_csv_override *overrides; /* every named column must exist */
    int n_overrides;
    /* If set, this column must exist and hold at least two distinct values; it is
     * read with kind DR_COL_TARGET. */
    const char *target;
    char delimiter; /* 0 means ',' */
} dr_csv_options;

/* Reads path into *out (zeroed first; free with dr_table_free). opt may be NULL. */
dr_status dr_csv_read(dr_table *out, const char *path, const dr_csv_options *opt);

/* Parses an in-memory CSV of len bytes; name is used in messages and as
 * out->source. The buffer is not modified. */
dr_status dr_csv_parse(dr_table *out, const char *buf, size_t len, const char *name,
                       const dr_csv_options *opt);

/* Writes t as CSV with a header row (data/csv_write.c): dates YYYY-MM-DD, numbers
 * with 10 significant digits, a missing value as an empty field, fields quoted
 * per RFC 4180 where needed; dr_csv_read reads it back. */
dr_status dr_csv_write(const dr_table *t, const char *path);

/* Parses a strict decimal number (n bytes; [+-]digits[.digits][e[+-]digits],
 * surrounding spaces allowed; no inf, nan or hex) exactly as strtod would.
 * Returns 1 on success, 0 if it is not such a finite number. */
int dr_csv_parse_number(const char *s, size_t n, double *out);

/* Parses "YYYY-MM-DD" or "YYYY-MM" (n bytes) into days since 1970-01-01.
 * Returns 1 on success, 0 if it is not such a date (month 1-12, day valid). */
int dr_parse_date(const char *s, size_t n, double *days);

/* Loads a table through an HDF5 cache at cache_path. The cache records the CSV's
 * size and modification time and a hash of opt; when they match, the table is
 * read from the cache without parsing (*hit = 1). Otherwise the CSV is parsed and
 * the cache rewritten (atomically); a cache that cannot be written is reported
 * on stderr but is not an error. hit may be NULL. */
dr_status dr_csv_read_cached(dr_table *out, const char *path, const dr_csv_options *opt,
                             const char *cache_path, int *hit);

#endif
