/* dr_table basics: lookup, freeing, appending derived columns, the binary target. */
#include "data/table.h"

#include <stdlib.h>
#include <string.h>

int dr_table_find(const dr_table *t, const char *name)
{
    for (int j = 0; j < t->n_cols; j++)
        if (t->cols[j].name && strcmp(t->cols[j].name, name) == 0)
            return j;
    return -1;
}

static void free_levels(char **levels, int n)
{
    if (!levels)
        return;
    for (int i = 0; i < n; i++)
        free(levels[i]);
    free(levels);
}

void dr_table_free(dr_table *t)
{
    if (!t)
        return;
    for (int j = 0; j < t->n_cols; j++) {
        dr_column *c = &t->cols[j];
        free(c->name);
        free(c->num);
        free(c->cat);
        free_levels(c->levels, c->n_levels);
    }
    free(t->cols);
    free(t->source);
    memset(t, 0, sizeof *t);
}

void dr_matrix_free(dr_matrix *m)
{
    if (!m)
        return;
    if (m->names)
        for (int i = 0; i < m->n_features; i++)
            free(m->names[i]);
    free(m->names);
    free(m->x);
    free(m->source);
    memset(m, 0, sizeof *m);
}

/* Grows cols by one and names it; the new column is zeroed. */
static dr_status add_col(dr_table *t, const char *name, dr_column **out)
{
    if (dr_table_find(t, name) >= 0)
        return dr_error(DR_ERR_INVALID, "table %s: a column '%s' already exists",
                        t->source ? t->source : "", name);
    size_t n = strlen(name) + 1;
    char *copy = malloc(n);
    dr_column *cols = realloc(t->cols, (size_t)(t->n_cols + 1) * sizeof *cols);
    if (!copy || !cols) {
        free(copy);
        if (cols)
            t->cols = cols;
        return dr_error(DR_ERR_NOMEM, "table: out of memory adding column '%s'", name);
    }
    memcpy(copy, name, n);
    t->cols = cols;
    dr_column *c = &t->cols[t->n_cols++];
    memset(c, 0, sizeof *c);
    c->name = copy;
    *out = c;
    return DR_OK;
}

dr_status dr_table_add_numeric(dr_table *t, const char *name, double *values)
{
    dr_column *c;
    dr_status s = add_col(t, name, &c);
    if (s != DR_OK) {
        free(values);
        return s;
    }
    c->kind = DR_COL_NUMERIC;
    c->num = values;
    return DR_OK;
}

dr_status dr_table_add_categorical(dr_table *t, const char *name, int32_t *codes, char **levels,
                                   int n_levels)
{
    dr_column *c;
    dr_status s = add_col(t, name, &c);
    if (s != DR_OK) {
        free(codes);
        free_levels(levels, n_levels);
        return s;
    }
    c->kind = DR_COL_CATEGORICAL;
    c->cat = codes;
    c->levels = levels;
    c->n_levels = n_levels;
    return DR_OK;
}

dr_status dr_table_target(const dr_table *t, const char *column, const char *positive,
                          float **label_out)
{
    *label_out = NULL;
    const char *src = t->source ? t->source : "(table)";
    int j = dr_table_find(t, column);
    if (j < 0)
        return dr_error(DR_ERR_INVALID, "%s: no target column '%s'", src, column);
    const dr_column *c = &t->cols[j];
    if (!c->cat)
        return dr_error(DR_ERR_INVALID,
                        "%s: target column '%s' (column %d) holds numbers, not class names; "
                        "declare it as target or categorical",
                        src, column, j + 1);
    int pos = -1;
    for (int k = 0; k < c->n_levels; k++)
        if (strcmp(c->levels[k], positive) == 0)
            pos = k;
    if (pos < 0)
        return dr_error(DR_ERR_INVALID,
                        "%s: target column '%s' (column %d) never holds the positive value '%s'",
                        src, column, j + 1, positive);
    float *y = malloc((size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof *y);
    if (!y)
        return dr_error(DR_ERR_NOMEM, "target: out of memory");
    long n_pos = 0;
    for (long i = 0; i < t->n_rows; i++) {
        if (c->cat[i] < 0) {
            free(y);
            return dr_error(DR_ERR_INVALID,
                            "%s: target column '%s' (column %d) is missing in data row %ld",
                            src, column, j + 1, i + 1);
        }
        y[i] = c->cat[i] == pos ? 1.0f : 0.0f;
        n_pos += c->cat[i] == pos;
    }
    if (n_pos == 0 || n_pos == t->n_rows) {
        free(y);
        return dr_error(DR_ERR_INVALID,
                        "%s: target column '%s' (column %d) has only one class (%s) in %ld rows",
                        src, column, j + 1, n_pos ? "all positive" : "no positive", t->n_rows);
    }
    *label_out = y;
    return DR_OK;
}
