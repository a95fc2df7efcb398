/* Feature engineering and sequences: see data/features.h. */
#include "data/features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/dates.h"
#include "data/history.h"

enum { SEQ_H5_VERSION = 1 };

static const double kPi = 3.14159265358979323846;
static const double kDaysPerMonth = 365.2425 / 12.0; /* 30.436875 */

static const char *src_of(const dr_table *t) { return t->source ? t->source : "(table)"; }

/* The numeric column called name, or an error naming what asked for it. */
static dr_status numeric_col(const dr_table *t, const char *name, const char *why, int *j)
{
    *j = dr_table_find(t, name);
    if (*j < 0)
        return dr_error(DR_ERR_INVALID, "%s: %s: no column '%s'", src_of(t), why, name);
    if (t->cols[*j].kind != DR_COL_NUMERIC || !t->cols[*j].num)
        return dr_error(DR_ERR_INVALID, "%s: %s: column '%s' is not numeric", src_of(t), why,
                        name);
    return DR_OK;
}

/* Appends "a*b" (or "a^2" when a == b) unless that name exists. */
static dr_status add_product(dr_table *t, int a, int b)
{
    char name[512];
    if (a == b)
        snprintf(name, sizeof name, "%s^2", t->cols[a].name);
    else
        snprintf(name, sizeof name, "%s*%s", t->cols[a].name, t->cols[b].name);
    if (dr_table_find(t, name) >= 0)
        return DR_OK;
    double *v = malloc((size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof *v);
    if (!v)
        return dr_error(DR_ERR_NOMEM, "features: out of memory");
    const double *x = t->cols[a].num, *y = t->cols[b].num; /* NaN propagates */
    for (long i = 0; i < t->n_rows; i++)
        v[i] = x[i] * y[i];
    return dr_table_add_numeric(t, name, v);
}

static dr_status apply_products(dr_table *t, const dr_fe_options *o)
{
    for (int k = 0; k < o->n_products; k++) {
        const char *spec = o->products[k];
        const char *star = spec ? strchr(spec, '*') : NULL;
        if (!star || star == spec || !star[1] || strchr(star + 1, '*'))
            return dr_error(DR_ERR_INVALID, "features: product '%s' is not of the form a*b",
                            spec ? spec : "(null)");
        char left[256];
        size_t n = (size_t)(star - spec);
        if (n >= sizeof left)
            return dr_error(DR_ERR_INVALID, "features: product '%s': name too long", spec);
        memcpy(left, spec, n);
        left[n] = '\0';
        char why[320];
        snprintf(why, sizeof why, "product '%s'", spec);
        int a, b;
        DR_TRY(numeric_col(t, left, why, &a));
        DR_TRY(numeric_col(t, star + 1, why, &b));
        DR_TRY(add_product(t, a, b));
    }
    return DR_OK;
}

static dr_status apply_poly(dr_table *t, const dr_fe_options *o)
{
    if (o->n_poly <= 0)
        return DR_OK;
    int *idx = malloc((size_t)o->n_poly * sizeof *idx);
    if (!idx)
        return dr_error(DR_ERR_NOMEM, "features: out of memory");
    dr_status s = DR_OK;
    for (int k = 0; k < o->n_poly && s == DR_OK; k++)
        s = numeric_col(t, o->poly[k] ? o->poly[k] : "(null)", "polynomial features", &idx[k]);
    for (int a = 0; a < o->n_poly && s == DR_OK; a++)
        for (int b = a; b < o->n_poly && s == DR_OK; b++)
            s = add_product(t, idx[a], idx[b]);
    free(idx);
    return s;
}

static dr_status add_num(dr_table *t, const char *date, const char *suffix, double *v)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", date, suffix);
    return dr_table_add_numeric(t, name, v);
}

static dr_status apply_time(dr_table *t, const dr_fe_options *o, double *ref_used)
{
    int j = dr_table_find(t, o->date_column);
    if (j < 0)
        return dr_error(DR_ERR_INVALID, "%s: time features: no date column '%s'", src_of(t),
                        o->date_column);
    if (t->cols[j].kind != DR_COL_DATE || !t->cols[j].num)
        return dr_error(DR_ERR_INVALID,
                        "%s: time features: column '%s' is not a date (YYYY-MM-DD or YYYY-MM)",
                        src_of(t), o->date_column);
    double ref = NAN;
    if (o->reference_date) {
        if (!dr_parse_date(o->reference_date, strlen(o->reference_date), &ref))
            return dr_error(DR_ERR_INVALID,
                            "features: reference date '%s' is not YYYY-MM-DD or YYYY-MM",
                            o->reference_date);
    } else {
        for (long i = 0; i < t->n_rows; i++)
            if (!isnan(t->cols[j].num[i]) && !(t->cols[j].num[i] <= ref))
                ref = t->cols[j].num[i];
        if (isnan(ref))
            return dr_error(DR_ERR_INVALID, "%s: time features: column '%s' has no dates",
                            src_of(t), o->date_column);
    }
    *ref_used = ref;
    long n = t->n_rows;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
    double *age = malloc(bytes), *ms = malloc(bytes), *mc = malloc(bytes), *qs = malloc(bytes),
           *qc = malloc(bytes);
    int32_t *mcode = malloc((size_t)(n > 0 ? n : 1) * sizeof *mcode);
    int32_t *qcode = malloc((size_t)(n > 0 ? n : 1) * sizeof *qcode);
    char **mlev = calloc(12, sizeof *mlev), **qlev = calloc(4, sizeof *qlev);
    int ok = age && ms && mc && qs && qc && mcode && qcode && mlev && qlev;
    for (int m = 0; ok && m < 12; m++)
        ok = (mlev[m] = malloc(3)) != NULL;
    for (int q = 0; ok && q < 4; q++)
        ok = (qlev[q] = malloc(3)) != NULL;
    if (!ok) {
        free(age); free(ms); free(mc); free(qs); free(qc); free(mcode); free(qcode);
        for (int m = 0; mlev && m < 12; m++)
            free(mlev[m]);
        for (int q = 0; qlev && q < 4; q++)
            free(qlev[q]);
        free(mlev);
        free(qlev);
        return dr_error(DR_ERR_NOMEM, "features: out of memory");
    }
    for (int m = 0; m < 12; m++) { /* "01".."12" */
        mlev[m][0] = (char)('0' + (m + 1) / 10);
        mlev[m][1] = (char)('0' + (m + 1) % 10);
        mlev[m][2] = '\0';
    }
    for (int q = 0; q < 4; q++) { /* "Q1".."Q4" */
        qlev[q][0] = 'Q';
        qlev[q][1] = (char)('1' + q);
        qlev[q][2] = '\0';
    }
    for (long i = 0; i < n; i++) {
        double d = t->cols[j].num[i];
        if (isnan(d)) {
            age[i] = ms[i] = mc[i] = qs[i] = qc[i] = NAN;
            mcode[i] = qcode[i] = -1;
            continue;
        }
        int y, m, dd;
        dr_date_from_days(d, &y, &m, &dd);
        int q = (m - 1) / 3;
        age[i] = (ref - d) / kDaysPerMonth;
        ms[i] = sin(2 * kPi * (m - 1) / 12.0);
        mc[i] = cos(2 * kPi * (m - 1) / 12.0);
        qs[i] = sin(2 * kPi * q / 4.0);
        qc[i] = cos(2 * kPi * q / 4.0);
        mcode[i] = m - 1;
        qcode[i] = q;
    }
    const char *D = o->date_column;
    char mname[512], qname[512];
    snprintf(mname, sizeof mname, "%s_month", D);
    snprintf(qname, sizeof qname, "%s_quarter", D);
    /* each add takes ownership (and frees on error), so every array is passed on */
    dr_status s = add_num(t, D, "age_months", age);
    dr_status s1, s2, s3, s4;
    if (o->season_onehot) {
        free(ms); free(mc); free(qs); free(qc);
        s1 = dr_table_add_categorical(t, mname, mcode, mlev, 12);
        s2 = dr_table_add_categorical(t, qname, qcode, qlev, 4);
        s3 = s4 = DR_OK;
    } else {
        free(mcode); free(qcode);
        for (int m = 0; m < 12; m++)
            free(mlev[m]);
        for (int q = 0; q < 4; q++)
            free(qlev[q]);
        free(mlev);
        free(qlev);
        s1 = add_num(t, D, "month_sin", ms);
        s2 = add_num(t, D, "month_cos", mc);
        s3 = add_num(t, D, "quarter_sin", qs);
        s4 = add_num(t, D, "quarter_cos", qc);
    }
    return s != DR_OK ? s : s1 != DR_OK ? s1 : s2 != DR_OK ? s2 : s3 != DR_OK ? s3 : s4;
}

dr_status dr_fe_apply(dr_table *t, const dr_fe_options *opt, double *reference_used)
{
    double ref = NAN;
    if (reference_used)
        *reference_used = NAN;
    if (!opt)
        return DR_OK;
    if (opt->history)
        DR_TRY(dr_history_summarise(t, opt->history_thresholds, opt->n_history_thresholds));
    DR_TRY(apply_products(t, opt));
    DR_TRY(apply_poly(t, opt));
    if (opt->date_column)
        DR_TRY(apply_time(t, opt, &ref));
    if (reference_used)
        *reference_used = ref;
    return DR_OK;
}

/* ---- sequences ---- */

void dr_seq_stats_free(dr_seq_stats *s)
{
    if (!s)
        return;
    for (int c = 0; c < s->n_channels && s->channels; c++)
        free(s->channels[c]);
    free(s->channels);
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

/* "base_K" with K a positive integer without leading zeros: returns K, else 0,
 * and the base length in *blen. */
static long seq_suffix(const char *name, size_t *blen)
{
    const char *u = strrchr(name, '_');
    if (!u || u == name || !u[1] || u[1] == '0')
        return 0;
    long k = 0;
    for (const char *c = u + 1; *c; c++) {
        if (*c < '0' || *c > '9' || k > 100000)
            return 0;
        k = k * 10 + (*c - '0');
    }
    *blen = (size_t)(u - name);
    return k;
}

static int seq_col(const dr_table *t, const char *base, long step)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%ld", base, step);
    int j = dr_table_find(t, name);
    return j >= 0 && t->cols[j].kind == DR_COL_NUMERIC && t->cols[j].num ? j : -1;
}

dr_status dr_seq_find(const dr_table *t, char ***bases, int *n_bases, int *T)
{
    *bases = NULL;
    *n_bases = 0;
    *T = 0;
    char **out = calloc((size_t)(t->n_cols > 0 ? t->n_cols : 1), sizeof *out);
    if (!out)
        return dr_error(DR_ERR_NOMEM, "sequences: out of memory");
    int nb = 0, common = 0;
    dr_status s = DR_OK;
    for (int j = 0; j < t->n_cols && s == DR_OK; j++) {
        size_t blen;
        if (t->cols[j].kind != DR_COL_NUMERIC || seq_suffix(t->cols[j].name, &blen) != 1)
            continue;
        char base[512];
        if (blen >= sizeof base)
            continue;
        memcpy(base, t->cols[j].name, blen);
        base[blen] = '\0';
        long steps = 1;
        while (seq_col(t, base, steps + 1) >= 0)
            steps++;
        if (steps < 2)
            continue;
        if (common && steps != common) {
            s = dr_error(DR_ERR_INVALID,
                         "%s: sequence channels differ in length: '%s' has %ld steps, '%s' has %d",
                         src_of(t), base, steps, out[0], common);
            break;
        }
        common = (int)steps;
        if (!(out[nb] = malloc(blen + 1))) {
            s = dr_error(DR_ERR_NOMEM, "sequences: out of memory");
            break;
        }
        memcpy(out[nb++], base, blen + 1);
    }
    if (s != DR_OK) {
        for (int k = 0; k < nb; k++)
            free(out[k]);
        free(out);
        return s;
    }
    *bases = out;
    *n_bases = nb;
    *T = common;
    return DR_OK;
}

/* Column indices [c * T + step] of every channel; T from the first channel. */
static dr_status seq_columns(const dr_table *t, const dr_seq_stats *s, int *cols)
{
    for (int c = 0; c < s->n_channels; c++) {
        for (int k = 0; k < s->T; k++) {
            int j = seq_col(t, s->channels[c], k + 1);
            if (j < 0)
                return dr_error(DR_ERR_INVALID, "%s: sequence channel '%s' lacks numeric column '%s_%d'",
                                src_of(t), s->channels[c], s->channels[c], k + 1);
            cols[c * s->T + k] = j;
        }
    }
    return DR_OK;
}

dr_status dr_seq_fit(dr_seq_stats *out, const dr_table *t, const char *const *bases,
                     int n_bases, const long *rows, long n)
{
    memset(out, 0, sizeof *out);
    if (n_bases <= 0)
        return dr_error(DR_ERR_INVALID, "sequences: no channels named");
    long T = 0;
    for (T = 1; seq_col(t, bases[0], T) >= 0; T++)
        ;
    T--;
    if (T < 2)
        return dr_error(DR_ERR_INVALID, "%s: sequence channel '%s' needs columns %s_1, %s_2, ...",
                        src_of(t), bases[0], bases[0], bases[0]);
    out->n_channels = n_bases;
    out->T = (int)T;
    out->channels = calloc((size_t)n_bases, sizeof *out->channels);
    out->mean = calloc((size_t)n_bases, sizeof *out->mean);
    out->std = calloc((size_t)n_bases, sizeof *out->std);
    int *cols = malloc((size_t)n_bases * (size_t)T * sizeof *cols);
    dr_status s = DR_OK;
    if (!out->channels || !out->mean || !out->std || !cols)
        s = dr_error(DR_ERR_NOMEM, "sequences: out of memory");
    for (int c = 0; c < n_bases && s == DR_OK; c++) {
        size_t len = strlen(bases[c]) + 1;
        if (!(out->channels[c] = malloc(len)))
            s = dr_error(DR_ERR_NOMEM, "sequences: out of memory");
        else
            memcpy(out->channels[c], bases[c], len);
    }
    if (s == DR_OK)
        s = seq_columns(t, out, cols);
    for (int c = 0; c < n_bases && s == DR_OK; c++) {
        if (seq_col(t, bases[c], T + 1) >= 0) {
            s = dr_error(DR_ERR_INVALID, "%s: sequence channel '%s' is longer than '%s' (%ld steps)",
                         src_of(t), bases[c], bases[0], T);
            break;
        }
        double sum = 0, ss = 0;
        long m = 0;
        for (long r = 0; r < n; r++)
            for (long k = 0; k < T; k++) {
                double x = t->cols[cols[c * T + k]].num[rows ? rows[r] : r];
                if (!isnan(x)) {
                    sum += x;
                    m++;
                }
            }
        double mean = m ? sum / (double)m : 0.0;
        for (long r = 0; r < n; r++)
            for (long k = 0; k < T; k++) {
                double x = t->cols[cols[c * T + k]].num[rows ? rows[r] : r];
                if (!isnan(x))
                    ss += (x - mean) * (x - mean);
            }
        double sd = m ? sqrt(ss / (double)m) : 1.0;
        out->mean[c] = mean;
        out->std[c] = sd > 1e-12 * fmax(1.0, fabs(mean)) ? sd : 1.0;
    }
    free(cols);
    if (s != DR_OK)
        dr_seq_stats_free(out);
    return s;
}

dr_status dr_seq_transform(const dr_seq_stats *s, const dr_table *t, const long *rows, long n,
                           float **out)
{
    *out = NULL;
    int C = s->n_channels, T = s->T;
    int *cols = malloc((size_t)(C * T > 0 ? C * T : 1) * sizeof *cols);
    if (!cols)
        return dr_error(DR_ERR_NOMEM, "sequences: out of memory");
    dr_status st = seq_columns(t, s, cols);
    float *x = NULL;
    if (st == DR_OK && !(x = malloc((size_t)(n > 0 ? n : 1) * (size_t)T * (size_t)C * sizeof *x)))
        st = dr_error(DR_ERR_NOMEM, "sequences: out of memory for %ld x %d x %d", n, T, C);
    for (long r = 0; r < n && st == DR_OK; r++) {
        long row = rows ? rows[r] : r;
        if (row < 0 || row >= t->n_rows) {
            st = dr_error(DR_ERR_INVALID, "sequences: row %ld outside the table", row);
            break;
        }
        for (int k = 0; k < T; k++)
            for (int c = 0; c < C; c++) {
                double v = t->cols[cols[c * T + k]].num[row];
                x[((size_t)r * (size_t)T + (size_t)k) * (size_t)C + (size_t)c] =
                    isnan(v) ? 0.0f : (float)((v - s->mean[c]) / s->std[c]);
            }
    }
    free(cols);
    if (st != DR_OK) {
        free(x);
        return st;
    }
    *out = x;
    return DR_OK;
}

dr_status dr_seq_drop_columns(dr_table *t, const dr_seq_stats *s)
{
    int C = s->n_channels, T = s->T;
    int *cols = malloc((size_t)(C * T > 0 ? C * T : 1) * sizeof *cols);
    if (!cols)
        return dr_error(DR_ERR_NOMEM, "sequences: out of memory");
    dr_status st = seq_columns(t, s, cols);
    for (int k = 0; k < C * T && st == DR_OK; k++) {
        dr_column *c = &t->cols[cols[k]];
        free(c->num);
        c->num = NULL;
        c->kind = DR_COL_IGNORE;
    }
    free(cols);
    return st;
}

dr_status dr_seq_gather(dr_table *t, const char *const *bases, int n_bases,
                        const long *train_rows, long n_train, dr_seq_stats *stats, float **x)
{
    *x = NULL;
    DR_TRY(dr_seq_fit(stats, t, bases, n_bases, train_rows, n_train));
    dr_status s = dr_seq_transform(stats, t, NULL, t->n_rows, x);
    if (s == DR_OK)
        s = dr_seq_drop_columns(t, stats);
    if (s != DR_OK) {
        free(*x);
        *x = NULL;
        dr_seq_stats_free(stats);
    }
    return s;
}

dr_status dr_seq_save(const dr_seq_stats *s, dr_h5 *f, const char *group)
{
    char path[512];
    int64_t d = s->n_channels;
    snprintf(path, sizeof path, "%s/channels", group);
    DR_TRY(dr_h5_write_strings(f, path, (const char *const *)s->channels, s->n_channels));
    snprintf(path, sizeof path, "%s/mean", group);
    DR_TRY(dr_h5_write_f64(f, path, s->mean, 1, &d));
    snprintf(path, sizeof path, "%s/std", group);
    DR_TRY(dr_h5_write_f64(f, path, s->std, 1, &d));
    DR_TRY(dr_h5_attr_set_str(f, group, "format", "defrisk-seq"));
    DR_TRY(dr_h5_attr_set_i64(f, group, "version", SEQ_H5_VERSION));
    DR_TRY(dr_h5_attr_set_i64(f, group, "T", s->T));
    return DR_OK;
}

dr_status dr_seq_load(dr_seq_stats *out, dr_h5 *f, const char *group)
{
    memset(out, 0, sizeof *out);
    char *fmt = NULL;
    int64_t version, T;
    DR_TRY(dr_h5_attr_get_str(f, group, "format", &fmt));
    int ok = strcmp(fmt, "defrisk-seq") == 0;
    free(fmt);
    if (!ok)
        return dr_error(DR_ERR_FORMAT, "%s: '%s' is not saved sequence statistics",
                        dr_h5_path(f), group);
    DR_TRY(dr_h5_attr_get_i64(f, group, "version", &version));
    if (version != SEQ_H5_VERSION)
        return dr_error(DR_ERR_FORMAT, "%s: sequence layout version %lld, this build reads %d",
                        dr_h5_path(f), (long long)version, SEQ_H5_VERSION);
    DR_TRY(dr_h5_attr_get_i64(f, group, "T", &T));
    char path[512];
    long n;
    snprintf(path, sizeof path, "%s/channels", group);
    DR_TRY(dr_h5_read_strings(f, path, &out->channels, &n));
    out->n_channels = (int)n;
    out->T = (int)T;
    int r;
    int64_t d[DR_H5_MAX_RANK];
    snprintf(path, sizeof path, "%s/mean", group);
    dr_status s = dr_h5_read_f64(f, path, &out->mean, &r, d);
    if (s == DR_OK && (r != 1 || d[0] != n))
        s = dr_error(DR_ERR_FORMAT, "%s: '%s' has the wrong length", dr_h5_path(f), path);
    snprintf(path, sizeof path, "%s/std", group);
    if (s == DR_OK)
        s = dr_h5_read_f64(f, path, &out->std, &r, d);
    if (s == DR_OK && (r != 1 || d[0] != n || T < 2))
        s = dr_error(DR_ERR_FORMAT, "%s: '%s' has the wrong length", dr_h5_path(f), path);
    if (s != DR_OK)
        dr_seq_stats_free(out);
    return s;
}
