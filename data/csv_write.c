/* Writing a table as CSV (the inverse of dr_csv_read, for the synthetic book and
 * for tests that feed generated loans back through the reader). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "data/csv.h"
#include "data/dates.h"

/* RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
static void put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

dr_status dr_csv_write(const dr_table *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    for (int j = 0; j < t->n_cols; j++) {
        if (j)
            fputc(',', f);
        put_field(f, t->cols[j].name);
    }
    fputc('\n', f);
    for (long i = 0; i < t->n_rows; i++) {
        for (int j = 0; j < t->n_cols; j++) {
            const dr_column *c = &t->cols[j];
            if (j)
                fputc(',', f);
            if (c->num && c->num[i] != c->num[i])
                continue; /* missing: an empty field */
            if (c->kind == DR_COL_DATE) {
                int y, m, d;
                dr_date_from_days(c->num[i], &y, &m, &d);
                fprintf(f, "%04d-%02d-%02d", y, m, d);
            } else if (c->num) {
                fprintf(f, "%.10g", c->num[i]);
            } else if (c->cat[i] >= 0) {
                put_field(f, c->levels[c->cat[i]]);
            }
        }
        fputc('\n', f);
    }
    if (ferror(f) | (fclose(f) != 0))
        return dr_error(DR_ERR_IO, "error writing %s: %s", path, strerror(errno));
    return DR_OK;
}
