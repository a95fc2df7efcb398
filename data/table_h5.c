/* dr_table <-> HDF5, and the CSV cache keyed by the CSV's size, mtime and the
 * reader options. Layout (data/README.md):
 *   /                attrs format="defrisk-table", version, n_rows, n_cols, source
 *   /column_names    strings [n_cols]
 *   /column_kinds    strings [n_cols]: numeric, categorical, date, target, id, ignore
 *   /columns/cNNNN   float64 [n_rows] (numeric, date: days since 1970-01-01, NaN =
 *                    missing) or int32 [n_rows] (codes, -1 = missing); attrs name, kind
 *   /levels/cNNNN    strings [n_levels] for coded columns
 * Ignored columns have a name and kind but no dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/h5.h"
#include "data/csv.h"
#include "data/table.h"

enum { TABLE_H5_VERSION = 1 };

static const char *kind_names[] = {"numeric", "categorical", "date", "target", "id", "ignore"};

static dr_status write_table(dr_h5 *f, const dr_table *t)
{
    DR_TRY(dr_h5_attr_set_str(f, "/", "format", "defrisk-table"));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "version", TABLE_H5_VERSION));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "n_rows", t->n_rows));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "n_cols", t->n_cols));
    DR_TRY(dr_h5_attr_set_str(f, "/", "source", t->source ? t->source : ""));
    int nc = t->n_cols;
    const char **names = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *names);
    const char **kinds = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *kinds);
    if (!names || !kinds) {
        free(names);
        free(kinds);
        return dr_error(DR_ERR_NOMEM, "table h5: out of memory");
    }
    for (int j = 0; j < nc; j++) {
        names[j] = t->cols[j].name;
        kinds[j] = kind_names[t->cols[j].kind];
    }
    dr_status s = dr_h5_write_strings(f, "column_names", names, nc);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "column_kinds", kinds, nc);
    free(names);
    free(kinds);
    DR_TRY(s);
    int64_t n = t->n_rows;
    for (int j = 0; j < nc; j++) {
        const dr_column *c = &t->cols[j];
        char path[64];
        snprintf(path, sizeof path, "columns/c%04d", j);
        if (c->num)
            DR_TRY(dr_h5_write_f64(f, path, c->num, 1, &n));
        else if (c->cat)
            DR_TRY(dr_h5_write_i32(f, path, c->cat, 1, &n));
        else
            continue;
        DR_TRY(dr_h5_attr_set_str(f, path, "name", c->name));
        DR_TRY(dr_h5_attr_set_str(f, path, "kind", kind_names[c->kind]));
        if (c->cat) {
            char lp[64];
            snprintf(lp, sizeof lp, "levels/c%04d", j);
            DR_TRY(dr_h5_write_strings(f, lp, (const char *const *)c->levels, c->n_levels));
        }
    }
    return DR_OK;
}

/* Writes t, then the extra attributes of a cache (when key != NULL), then commits. */
static dr_status write_file(const dr_table *t, const char *path, const int64_t *key)
{
    dr_h5 *f;
    DR_TRY(dr_h5_create(&f, path));
    dr_status s = write_table(f, t);
    if (s == DR_OK && key) {
        s = dr_h5_attr_set_i64(f, "/", "csv_size", key[0]);
        if (s == DR_OK)
            s = dr_h5_attr_set_i64(f, "/", "csv_mtime_ns", key[1]);
        if (s == DR_OK)
            s = dr_h5_attr_set_i64(f, "/", "options_hash", key[2]);
    }
    if (s != DR_OK) {
        dr_h5_close(f);
        return dr_error_context(s, "writing table %s: ", path);
    }
    return dr_h5_commit(f);
}

dr_status dr_table_write_h5(const dr_table *t, const char *path)
{
    return write_file(t, path, NULL);
}

static dr_status read_table(dr_h5 *f, dr_table *t)
{
    const char *path = dr_h5_path(f);
    char *fmt = NULL;
    DR_TRY(dr_h5_attr_get_str(f, "/", "format", &fmt));
    int ok = strcmp(fmt, "defrisk-table") == 0;
    free(fmt);
    if (!ok)
        return dr_error(DR_ERR_FORMAT, "%s: not a defrisk table (format attribute)", path);
    int64_t version, n_rows, n_cols;
    DR_TRY(dr_h5_attr_get_i64(f, "/", "version", &version));
    if (version != TABLE_H5_VERSION)
        return dr_error(DR_ERR_FORMAT,
                        "%s: table layout version %lld, this build reads %d; delete the file to "
                        "rebuild it from the CSV",
                        path, (long long)version, TABLE_H5_VERSION);
    DR_TRY(dr_h5_attr_get_i64(f, "/", "n_rows", &n_rows));
    DR_TRY(dr_h5_attr_get_i64(f, "/", "n_cols", &n_cols));
    DR_TRY(dr_h5_attr_get_str(f, "/", "source", &t->source));
    char **names = NULL, **kinds = NULL;
    long nn = 0, nk = 0;
    dr_status s = dr_h5_read_strings(f, "column_names", &names, &nn);
    if (s == DR_OK)
        s = dr_h5_read_strings(f, "column_kinds", &kinds, &nk);
    if (s == DR_OK && (nn != n_cols || nk != n_cols || n_rows < 0))
        s = dr_error(DR_ERR_FORMAT, "%s: column lists disagree with n_cols", path);
    if (s == DR_OK && !(t->cols = calloc((size_t)(n_cols > 0 ? n_cols : 1), sizeof *t->cols)))
        s = dr_error(DR_ERR_NOMEM, "%s: out of memory", path);
    if (s == DR_OK) {
        t->n_rows = (long)n_rows;
        t->n_cols = (int)n_cols;
    }
    for (int j = 0; s == DR_OK && j < t->n_cols; j++) {
        dr_column *c = &t->cols[j];
        c->name = names[j];
        names[j] = NULL;
        int k = -1;
        for (int i = 0; i < 6; i++)
            if (strcmp(kinds[j], kind_names[i]) == 0)
                k = i;
        if (k < 0) {
            s = dr_error(DR_ERR_FORMAT, "%s: column '%s' has unknown kind '%s'", path, c->name,
                         kinds[j]);
            break;
        }
        c->kind = (dr_col_kind)k;
        char cp[64], lp[64];
        snprintf(cp, sizeof cp, "columns/c%04d", j);
        snprintf(lp, sizeof lp, "levels/c%04d", j);
        if (c->kind == DR_COL_IGNORE)
            continue;
        int r;
        int64_t d[DR_H5_MAX_RANK];
        s = dr_h5_shape(f, cp, &r, d);
        if (s == DR_OK && (r != 1 || d[0] != n_rows))
            s = dr_error(DR_ERR_FORMAT, "%s: column '%s' has the wrong length", path, c->name);
        if (s != DR_OK)
            break;
        if (c->kind == DR_COL_NUMERIC || c->kind == DR_COL_DATE) {
            s = dr_h5_read_f64(f, cp, &c->num, NULL, NULL);
            continue;
        }
        s = dr_h5_read_i32(f, cp, &c->cat, NULL, NULL);
        long nl = 0;
        if (s == DR_OK)
            s = dr_h5_read_strings(f, lp, &c->levels, &nl);
        c->n_levels = (int)nl;
        for (long i = 0; s == DR_OK && i < t->n_rows; i++)
            if (c->cat[i] < -1 || c->cat[i] >= c->n_levels)
                s = dr_error(DR_ERR_FORMAT, "%s: column '%s' row %ld has code %d of %d levels",
                             path, c->name, i + 1, c->cat[i], c->n_levels);
    }
    dr_h5_free_strings(names, nn);
    dr_h5_free_strings(kinds, nk);
    return s;
}

dr_status dr_table_read_h5(dr_table *out, const char *path)
{
    memset(out, 0, sizeof *out);
    dr_h5 *f;
    DR_TRY(dr_h5_open(&f, path));
    dr_status s = read_table(f, out);
    dr_h5_close(f);
    if (s != DR_OK)
        dr_table_free(out);
    return s;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int64_t options_hash(const dr_csv_options *opt)
{
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, "v1", 2);
    if (!opt)
        return (int64_t)h;
    for (int k = 0; k < opt->n_overrides; k++) {
        const char *c = opt->overrides[k].column ? opt->overrides[k].column : "";
        int kind = (int)opt->overrides[k].kind;
        h = fnv(h, c, strlen(c) + 1);
        h = fnv(h, &kind, sizeof kind);
    }
    h = fnv(h, "|", 1);
    if (opt->target)
        h = fnv(h, opt->target, strlen(opt->target) + 1);
    char d = opt->delimiter ? opt->delimiter : ',';
    h = fnv(h, &d, 1);
    return (int64_t)h;
}

static int cache_matches(const char *cache_path, const int64_t *key)
{
    dr_h5 *f;
    if (dr_h5_open(&f, cache_path) != DR_OK)
        return 0;
    int64_t v[3];
    int ok = dr_h5_attr_get_i64(f, "/", "csv_size", &v[0]) == DR_OK &&
             dr_h5_attr_get_i64(f, "/", "csv_mtime_ns", &v[1]) == DR_OK &&
             dr_h5_attr_get_i64(f, "/", "options_hash", &v[2]) == DR_OK && v[0] == key[0] &&
             v[1] == key[1] && v[2] == key[2];
    dr_h5_close(f);
    return ok;
}

dr_status dr_csv_read_cached(dr_table *out, const char *path, const dr_csv_options *opt,
                             const char *cache_path, int *hit)
{
    memset(out, 0, sizeof *out);
    if (hit)
        *hit = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return dr_error(DR_ERR_IO, "%s: cannot stat the CSV", path);
    int64_t key[3] = {(int64_t)st.st_size,
                      (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                      options_hash(opt)};
    if (cache_matches(cache_path, key)) {
        dr_status s = dr_table_read_h5(out, cache_path);
        if (s == DR_OK) {
            /* messages keep naming the CSV the user gave */
            free(out->source);
            size_t n = strlen(path) + 1;
            if ((out->source = malloc(n)))
                memcpy(out->source, path, n);
            if (hit)
                *hit = 1;
            return DR_OK;
        }
        fprintf(stderr, "warning: table cache %s unreadable (%s); re-parsing %s\n", cache_path,
                dr_last_error(), path);
    }
    DR_TRY(dr_csv_read(out, path, opt));
    if (write_file(out, cache_path, key) != DR_OK)
        fprintf(stderr, "warning: cannot write table cache %s: %s\n", cache_path,
                dr_last_error());
    return DR_OK;
}
