/* Preprocessing: see data/preprocess.h. Statistics are accumulated in double;
 * only the output matrix is float. */
#include "data/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PREP_H5_VERSION = 1 };

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void dr_prep_free(dr_prep *p)
{
    if (!p)
        return;
    for (int k = 0; k < p->n_cols; k++) {
        dr_prep_column *c = &p->cols[k];
        free(c->name);
        for (int l = 0; l < c->n_levels; l++)
            free(c->levels[l]);
        free(c->levels);
    }
    free(p->cols);
    memset(p, 0, sizeof *p);
}

static long row_at(const long *rows, long k) { return rows ? rows[k] : k; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..m-1], linear between order statistics (R type 7). */
static double quantile(const double *v, long m, double q)
{
    double h = (double)(m - 1) * q;
    long lo = (long)floor(h);
    if (lo >= m - 1)
        return v[m - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

static dr_status fit_numeric(dr_prep_column *c, const dr_column *tc, const long *rows, long n,
                             const dr_prep_options *o, int *any_missing)
{
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    long m = 0;
    for (long k = 0; k < n; k++) {
        double x = tc->num[row_at(rows, k)];
        if (!isnan(x))
            v[m++] = x;
    }
    *any_missing = m < n;
    c->clip_lo = -INFINITY;
    c->clip_hi = INFINITY;
    int winsor = !(o->winsor_lo == 0 && (o->winsor_hi == 0 || o->winsor_hi == 1));
    if (winsor && m > 0) {
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        c->clip_lo = quantile(v, m, o->winsor_lo);
        c->clip_hi = quantile(v, m, o->winsor_hi);
    }
    double sum = 0;
    for (long k = 0; k < m; k++)
        sum += fmin(fmax(v[k], c->clip_lo), c->clip_hi);
    c->mean = m ? sum / (double)m : 0.0;
    double ss = 0;
    for (long k = 0; k < m; k++) {
        double d = fmin(fmax(v[k], c->clip_lo), c->clip_hi) - c->mean;
        ss += d * d;
    }
    c->std = m ? sqrt(ss / (double)m) : 1.0;
    /* below this the column is constant up to rounding: keep it, as all zeros */
    if (!(c->std > 1e-12 * fmax(1.0, fabs(c->mean))))
        c->std = 1.0;
    free(v);
    return DR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static dr_status fit_categorical(dr_prep_column *c, const dr_column *tc, const long *rows,
                                 long n, int *any_missing)
{
    long *count = calloc((size_t)(tc->n_levels > 0 ? tc->n_levels : 1), sizeof *count);
    if (!count)
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    long missing = 0;
    for (long k = 0; k < n; k++) {
        int32_t code = tc->cat[row_at(rows, k)];
        if (code < 0)
            missing++;
        else
            count[code]++;
    }
    *any_missing = missing > 0;
    int nl = 0;
    for (int l = 0; l < tc->n_levels; l++)
        nl += count[l] > 0;
    c->levels = calloc((size_t)(nl > 0 ? nl : 1), sizeof *c->levels);
    if (!c->levels) {
        free(count);
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    }
    /* mode: most frequent, ties to the first level in sorted order */
    const char *mode = NULL;
    long best = 0;
    for (int l = 0; l < tc->n_levels; l++) {
        if (count[l] == 0)
            continue;
        if (!(c->levels[c->n_levels++] = dup_str(tc->levels[l]))) {
            free(count);
            return dr_error(DR_ERR_NOMEM, "prep: out of memory");
        }
        if (count[l] > best || (count[l] == best && strcmp(tc->levels[l], mode) < 0)) {
            best = count[l];
            mode = tc->levels[l];
        }
    }
    qsort(c->levels, (size_t)c->n_levels, sizeof *c->levels, cmp_str);
    c->mode = -1;
    for (int l = 0; mode && l < c->n_levels; l++)
        if (strcmp(c->levels[l], mode) == 0)
            c->mode = l;
    free(count);
    return DR_OK;
}

static int is_feature_kind(const dr_column *c)
{
    return (c->kind == DR_COL_NUMERIC && c->num) || (c->kind == DR_COL_CATEGORICAL && c->cat);
}

static void count_features(dr_prep *p)
{
    p->n_features = 0;
    for (int k = 0; k < p->n_cols; k++) {
        const dr_prep_column *c = &p->cols[k];
        p->n_features += (c->categorical ? c->n_levels : 1) + (c->indicator ? 1 : 0);
    }
}

dr_status dr_prep_fit(dr_prep *out, const dr_table *t, const long *rows, long n,
                      const dr_prep_options *opt)
{
    memset(out, 0, sizeof *out);
    if (opt)
        out->opt = *opt;
    const dr_prep_options *o = &out->opt;
    if (!(o->winsor_lo >= 0 && o->winsor_lo <= o->winsor_hi && o->winsor_hi <= 1) &&
        !(o->winsor_lo == 0 && o->winsor_hi == 0))
        return dr_error(DR_ERR_INVALID, "prep: winsor quantiles %g, %g must satisfy 0 <= lo <= hi <= 1",
                        o->winsor_lo, o->winsor_hi);
    if (n <= 0)
        return dr_error(DR_ERR_INVALID, "prep: fitting needs at least one training row");
    for (long k = 0; rows && k < n; k++)
        if (rows[k] < 0 || rows[k] >= t->n_rows)
            return dr_error(DR_ERR_INVALID, "prep: training row %ld outside the table's %ld rows",
                            rows[k], t->n_rows);
    if (!rows && n > t->n_rows)
        return dr_error(DR_ERR_INVALID, "prep: %ld rows asked, the table has %ld", n, t->n_rows);
    out->cols = calloc((size_t)(t->n_cols > 0 ? t->n_cols : 1), sizeof *out->cols);
    if (!out->cols)
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    dr_status s = DR_OK;
    for (int j = 0; j < t->n_cols && s == DR_OK; j++) {
        const dr_column *tc = &t->cols[j];
        if (!is_feature_kind(tc))
            continue;
        dr_prep_column *c = &out->cols[out->n_cols++];
        c->source = j;
        c->categorical = tc->kind == DR_COL_CATEGORICAL;
        c->mode = -1;
        c->std = 1.0; /* numeric columns overwrite; kept valid for the saved file */
        if (!(c->name = dup_str(tc->name))) {
            s = dr_error(DR_ERR_NOMEM, "prep: out of memory");
            break;
        }
        int any_missing = 0;
        s = c->categorical ? fit_categorical(c, tc, rows, n, &any_missing)
                           : fit_numeric(c, tc, rows, n, o, &any_missing);
        c->indicator = o->missing_indicators && any_missing;
    }
    if (s != DR_OK) {
        dr_prep_free(out);
        return s;
    }
    count_features(out);
    return DR_OK;
}

static char *feature_name(const char *col, const char *level)
{
    size_t a = strlen(col), b = level ? strlen(level) : 0;
    char *s = malloc(a + b + 2);
    if (!s)
        return NULL;
    memcpy(s, col, a);
    if (level) {
        s[a] = '=';
        memcpy(s + a + 1, level, b);
        s[a + 1 + b] = '\0';
    } else {
        s[a] = '\0';
    }
    return s;
}

dr_status dr_prep_feature_names(const dr_prep *p, dr_matrix *out)
{
    memset(out, 0, sizeof *out);
    int nf = p->n_features;
    out->names = calloc((size_t)(nf > 0 ? nf : 1), sizeof *out->names);
    out->source = malloc((size_t)(nf > 0 ? nf : 1) * sizeof *out->source);
    if (!out->names || !out->source) {
        dr_matrix_free(out);
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    }
    out->n_features = nf;
    int f = 0;
    for (int k = 0; k < p->n_cols; k++) {
        const dr_prep_column *c = &p->cols[k];
        int m = c->categorical ? c->n_levels : 1;
        for (int l = 0; l < m; l++) {
            out->source[f] = c->source;
            out->names[f++] = feature_name(c->name, c->categorical ? c->levels[l] : NULL);
        }
        if (c->indicator) {
            out->source[f] = c->source;
            out->names[f++] = feature_name(c->name, "NA");
        }
    }
    DR_ASSERT(f == nf);
    for (int i = 0; i < nf; i++)
        if (!out->names[i]) {
            dr_matrix_free(out);
            return dr_error(DR_ERR_NOMEM, "prep: out of memory");
        }
    return DR_OK;
}

/* Table level code -> prep level index (or -1: unseen), by name. */
static int32_t *level_map(const dr_prep_column *c, const dr_column *tc)
{
    int32_t *map = malloc((size_t)(tc->n_levels > 0 ? tc->n_levels : 1) * sizeof *map);
    if (!map)
        return NULL;
    for (int l = 0; l < tc->n_levels; l++) {
        const char *key = tc->levels[l];
        char **hit = bsearch(&key, c->levels, (size_t)c->n_levels, sizeof *c->levels, cmp_str);
        map[l] = hit ? (int32_t)(hit - c->levels) : -1;
    }
    return map;
}

dr_status dr_prep_transform(const dr_prep *p, const dr_table *t, const long *rows, long n,
                            dr_matrix *out)
{
    memset(out, 0, sizeof *out);
    const char *src = t->source ? t->source : "(table)";
    for (long k = 0; rows && k < n; k++)
        if (rows[k] < 0 || rows[k] >= t->n_rows)
            return dr_error(DR_ERR_INVALID, "prep: row %ld outside the table's %ld rows", rows[k],
                            t->n_rows);
    if (n < 0 || (!rows && n > t->n_rows))
        return dr_error(DR_ERR_INVALID, "prep: %ld rows asked, the table has %ld", n, t->n_rows);
    int *where = malloc((size_t)(p->n_cols > 0 ? p->n_cols : 1) * sizeof *where);
    if (!where)
        return dr_error(DR_ERR_NOMEM, "prep: out of memory");
    for (int k = 0; k < p->n_cols; k++) {
        const dr_prep_column *c = &p->cols[k];
        int j = dr_table_find(t, c->name);
        if (j < 0 || (c->categorical ? !t->cols[j].cat : !t->cols[j].num)) {
            free(where);
            return dr_error(DR_ERR_INVALID,
                            "%s: %s column '%s', which the preprocessing was fitted with",
                            src, j < 0 ? "no" : c->categorical ? "no categorical" : "no numeric",
                            c->name);
        }
        where[k] = j;
    }
    DR_TRY(dr_prep_feature_names(p, out));
    int nf = p->n_features;
    out->n_rows = n;
    out->x = malloc((size_t)(n > 0 ? n : 1) * (size_t)(nf > 0 ? nf : 1) * sizeof *out->x);
    if (!out->x) {
        free(where);
        dr_matrix_free(out);
        return dr_error(DR_ERR_NOMEM, "prep: out of memory for %ld x %d features", n, nf);
    }
    int f0 = 0;
    dr_status s = DR_OK;
    for (int k = 0; k < p->n_cols && s == DR_OK; k++) {
        const dr_prep_column *c = &p->cols[k];
        const dr_column *tc = &t->cols[where[k]];
        if (!c->categorical) {
            for (long r = 0; r < n; r++) {
                double x = tc->num[row_at(rows, r)];
                float *o = out->x + (size_t)r * (size_t)nf + (size_t)f0;
                o[0] = isnan(x) ? 0.0f
                                : (float)((fmin(fmax(x, c->clip_lo), c->clip_hi) - c->mean) / c->std);
                if (c->indicator)
                    o[1] = isnan(x) ? 1.0f : 0.0f;
            }
            f0 += 1 + c->indicator;
            continue;
        }
        int32_t *map = level_map(c, tc);
        if (!map) {
            s = dr_error(DR_ERR_NOMEM, "prep: out of memory");
            break;
        }
        for (long r = 0; r < n; r++) {
            int32_t code = tc->cat[row_at(rows, r)];
            float *o = out->x + (size_t)r * (size_t)nf + (size_t)f0;
            for (int l = 0; l < c->n_levels; l++)
                o[l] = 0.0f;
            int lv = code < 0 ? c->mode : map[code];
            if (lv >= 0)
                o[lv] = 1.0f;
            if (c->indicator)
                o[c->n_levels] = code < 0 ? 1.0f : 0.0f;
        }
        free(map);
        f0 += c->n_levels + c->indicator;
    }
    free(where);
    if (s != DR_OK)
        dr_matrix_free(out);
    return s;
}

/* ---- HDF5 ---- */

static dr_status save_body(const dr_prep *p, dr_h5 *f, const char *g)
{
    int nc = p->n_cols;
    int64_t d = nc;
    char path[512];
    size_t nlev = 0;
    for (int k = 0; k < nc; k++)
        nlev += (size_t)p->cols[k].n_levels;
    const char **names = malloc((size_t)(nc + 1) * sizeof *names);
    const char **levels = malloc((nlev + 1) * sizeof *levels);
    int32_t *i32 = malloc((size_t)(nc + 1) * 5 * sizeof *i32);
    double *f64 = malloc((size_t)(nc + 1) * 4 * sizeof *f64);
    if (!names || !levels || !i32 || !f64) {
        free(names);
        free(levels);
        free(i32);
        free(f64);
        return dr_error(DR_ERR_NOMEM, "prep: out of memory saving");
    }
    size_t li = 0;
    for (int k = 0; k < nc; k++) {
        const dr_prep_column *c = &p->cols[k];
        names[k] = c->name;
        i32[k] = c->source;
        i32[nc + k] = c->categorical;
        i32[2 * nc + k] = c->indicator;
        i32[3 * nc + k] = c->mode;
        i32[4 * nc + k] = c->n_levels;
        f64[k] = c->mean;
        f64[nc + k] = c->std;
        f64[2 * nc + k] = c->clip_lo;
        f64[3 * nc + k] = c->clip_hi;
        for (int l = 0; l < c->n_levels; l++)
            levels[li++] = c->levels[l];
    }
    static const char *i32_names[] = {"source", "categorical", "indicator", "mode", "n_levels"};
    static const char *f64_names[] = {"mean", "std", "clip_lo", "clip_hi"};
    dr_status s;
    snprintf(path, sizeof path, "%s/columns", g);
    s = dr_h5_write_strings(f, path, names, nc);
    for (int a = 0; a < 5 && s == DR_OK; a++) {
        snprintf(path, sizeof path, "%s/%s", g, i32_names[a]);
        s = dr_h5_write_i32(f, path, i32 + a * nc, 1, &d);
    }
    for (int a = 0; a < 4 && s == DR_OK; a++) {
        snprintf(path, sizeof path, "%s/%s", g, f64_names[a]);
        s = dr_h5_write_f64(f, path, f64 + a * nc, 1, &d);
    }
    if (s == DR_OK) {
        snprintf(path, sizeof path, "%s/levels", g);
        s = dr_h5_write_strings(f, path, levels, (long)nlev);
    }
    free(names);
    free(levels);
    free(i32);
    free(f64);
    return s;
}

dr_status dr_prep_save(const dr_prep *p, dr_h5 *f, const char *group)
{
    DR_TRY(save_body(p, f, group));
    DR_TRY(dr_h5_attr_set_str(f, group, "format", "defrisk-prep"));
    DR_TRY(dr_h5_attr_set_i64(f, group, "version", PREP_H5_VERSION));
    DR_TRY(dr_h5_attr_set_i64(f, group, "missing_indicators", p->opt.missing_indicators));
    DR_TRY(dr_h5_attr_set_f64(f, group, "winsor_lo", p->opt.winsor_lo));
    DR_TRY(dr_h5_attr_set_f64(f, group, "winsor_hi", p->opt.winsor_hi));
    DR_TRY(dr_h5_attr_set_i64(f, group, "n_features", p->n_features));
    return DR_OK;
}

static dr_status read_i32_n(dr_h5 *f, const char *g, const char *name, long n, int32_t **out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g, name);
    int r;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_read_i32(f, path, out, &r, d));
    if (r != 1 || d[0] != n) {
        free(*out);
        *out = NULL;
        return dr_error(DR_ERR_FORMAT, "%s: '%s' has the wrong length", dr_h5_path(f), path);
    }
    return DR_OK;
}

static dr_status read_f64_n(dr_h5 *f, const char *g, const char *name, long n, double **out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g, name);
    int r;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_read_f64(f, path, out, &r, d));
    if (r != 1 || d[0] != n) {
        free(*out);
        *out = NULL;
        return dr_error(DR_ERR_FORMAT, "%s: '%s' has the wrong length", dr_h5_path(f), path);
    }
    return DR_OK;
}

static dr_status load_body(dr_prep *p, dr_h5 *f, const char *g)
{
    char path[512];
    char **names = NULL, **levels = NULL;
    long nc = 0, nlev = 0;
    snprintf(path, sizeof path, "%s/columns", g);
    DR_TRY(dr_h5_read_strings(f, path, &names, &nc));
    int32_t *ia[5] = {0};
    double *fa[4] = {0};
    static const char *i32_names[] = {"source", "categorical", "indicator", "mode", "n_levels"};
    static const char *f64_names[] = {"mean", "std", "clip_lo", "clip_hi"};
    dr_status s = DR_OK;
    for (int a = 0; a < 5 && s == DR_OK; a++)
        s = read_i32_n(f, g, i32_names[a], nc, &ia[a]);
    for (int a = 0; a < 4 && s == DR_OK; a++)
        s = read_f64_n(f, g, f64_names[a], nc, &fa[a]);
    if (s == DR_OK) {
        snprintf(path, sizeof path, "%s/levels", g);
        s = dr_h5_read_strings(f, path, &levels, &nlev);
    }
    if (s == DR_OK && !(p->cols = calloc((size_t)(nc > 0 ? nc : 1), sizeof *p->cols)))
        s = dr_error(DR_ERR_NOMEM, "prep: out of memory loading");
    long li = 0;
    for (long k = 0; k < nc && s == DR_OK; k++) {
        dr_prep_column *c = &p->cols[k];
        p->n_cols++;
        c->name = names[k];
        names[k] = NULL;
        c->source = ia[0][k];
        c->categorical = ia[1][k] != 0;
        c->indicator = ia[2][k] != 0;
        c->mode = ia[3][k];
        int nl = ia[4][k];
        c->mean = fa[0][k];
        c->std = fa[1][k];
        c->clip_lo = fa[2][k];
        c->clip_hi = fa[3][k];
        if (nl < 0 || li + nl > nlev || c->mode < -1 || c->mode >= (nl > 0 ? nl : 1) ||
            (c->categorical && nl > 0 && c->mode < 0) || !(c->std > 0)) {
            s = dr_error(DR_ERR_FORMAT, "%s: preprocessing of column '%s' is inconsistent",
                         dr_h5_path(f), c->name);
            break;
        }
        if (nl > 0 && !(c->levels = calloc((size_t)nl, sizeof *c->levels))) {
            s = dr_error(DR_ERR_NOMEM, "prep: out of memory loading");
            break;
        }
        for (int l = 0; l < nl; l++) {
            c->levels[l] = levels[li];
            levels[li++] = NULL;
        }
        c->n_levels = nl;
        for (int l = 1; l < nl; l++) /* bsearch at transform needs sorted levels */
            if (strcmp(c->levels[l - 1], c->levels[l]) >= 0)
                s = dr_error(DR_ERR_FORMAT, "%s: levels of '%s' are not sorted", dr_h5_path(f),
                             c->name);
    }
    dr_h5_free_strings(names, nc);
    dr_h5_free_strings(levels, nlev);
    for (int a = 0; a < 5; a++)
        free(ia[a]);
    for (int a = 0; a < 4; a++)
        free(fa[a]);
    return s;
}

dr_status dr_prep_load(dr_prep *out, dr_h5 *f, const char *group)
{
    memset(out, 0, sizeof *out);
    char *fmt = NULL;
    DR_TRY(dr_h5_attr_get_str(f, group, "format", &fmt));
    int ok = strcmp(fmt, "defrisk-prep") == 0;
    free(fmt);
    if (!ok)
        return dr_error(DR_ERR_FORMAT, "%s: '%s' is not a saved preprocessing", dr_h5_path(f),
                        group);
    int64_t version, mi;
    DR_TRY(dr_h5_attr_get_i64(f, group, "version", &version));
    if (version != PREP_H5_VERSION)
        return dr_error(DR_ERR_FORMAT,
                        "%s: preprocessing layout version %lld, this build reads %d; refit it",
                        dr_h5_path(f), (long long)version, PREP_H5_VERSION);
    DR_TRY(dr_h5_attr_get_i64(f, group, "missing_indicators", &mi));
    DR_TRY(dr_h5_attr_get_f64(f, group, "winsor_lo", &out->opt.winsor_lo));
    DR_TRY(dr_h5_attr_get_f64(f, group, "winsor_hi", &out->opt.winsor_hi));
    out->opt.missing_indicators = (int)mi;
    dr_status s = load_body(out, f, group);
    if (s != DR_OK) {
        dr_prep_free(out);
        return s;
    }
    count_features(out);
    return DR_OK;
}
