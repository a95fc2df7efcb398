/* Splits: see data/split.h. */
#include "data/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/random.h"

void dr_split_free(dr_split *s)
{
    if (!s)
        return;
    free(s->train);
    free(s->val);
    free(s->test);
    memset(s, 0, sizeof *s);
}

static dr_status check_fracs(double *tr, double *va)
{
    if (*tr == 0 && *va == 0) {
        *tr = 0.70;
        *va = 0.15;
    }
    if (!(*tr > 0 && *va >= 0 && *tr + *va <= 1.0 + 1e-12))
        return dr_error(DR_ERR_INVALID,
                        "split: fractions train %g, val %g must be > 0, >= 0 and sum to <= 1",
                        *tr, *va);
    return DR_OK;
}

static dr_status alloc_split(dr_split *s, long n_train, long n_val, long n_test)
{
    memset(s, 0, sizeof *s);
    s->train = malloc((size_t)(n_train > 0 ? n_train : 1) * sizeof(long));
    s->val = malloc((size_t)(n_val > 0 ? n_val : 1) * sizeof(long));
    s->test = malloc((size_t)(n_test > 0 ? n_test : 1) * sizeof(long));
    if (!s->train || !s->val || !s->test) {
        dr_split_free(s);
        return dr_error(DR_ERR_NOMEM, "split: out of memory");
    }
    return DR_OK;
}

static long round_count(long n, double frac)
{
    long k = (long)floor((double)n * frac + 0.5);
    return k < 0 ? 0 : k > n ? n : k;
}

/* ---- time-ordered ---- */

typedef struct dated {
    double d;
    long i;
} dated;

static int cmp_dated(const void *a, const void *b)
{
    const dated *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

dr_status dr_split_by_time(dr_split *out, const double *date, long n, double train_frac,
                           double val_frac)
{
    memset(out, 0, sizeof *out);
    DR_TRY(check_fracs(&train_frac, &val_frac));
    long missing = 0, first = -1;
    for (long i = 0; i < n; i++)
        if (isnan(date[i]) && missing++ == 0)
            first = i;
    if (missing)
        return dr_error(DR_ERR_INVALID,
                        "split: %ld rows have no date (first: data row %ld); a time-ordered "
                        "split needs every row dated",
                        missing, first + 1);
    dated *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return dr_error(DR_ERR_NOMEM, "split: out of memory");
    for (long i = 0; i < n; i++)
        v[i] = (dated){date[i], i};
    qsort(v, (size_t)n, sizeof *v, cmp_dated);
    long ntr = round_count(n, train_frac), nva = round_count(n, val_frac);
    if (ntr + nva > n)
        nva = n - ntr;
    dr_status s = alloc_split(out, ntr, nva, n - ntr - nva);
    if (s == DR_OK) {
        for (long k = 0; k < n; k++) {
            if (k < ntr)
                out->train[out->n_train++] = v[k].i;
            else if (k < ntr + nva)
                out->val[out->n_val++] = v[k].i;
            else
                out->test[out->n_test++] = v[k].i;
        }
    }
    free(v);
    return s;
}

/* ---- stratified random ---- */

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Rows of class c (0 or 1) into idx; returns the count. */
static long class_rows(const float *label, long n, int c, long *idx)
{
    long m = 0;
    for (long i = 0; i < n; i++)
        if ((label[i] != 0.0f) == c)
            idx[m++] = i;
    return m;
}

static dr_status check_labels(const float *label, long n)
{
    for (long i = 0; i < n; i++)
        if (label[i] != 0.0f && label[i] != 1.0f)
            return dr_error(DR_ERR_INVALID, "split: label of row %ld is %g, not 0 or 1", i + 1,
                            (double)label[i]);
    return DR_OK;
}

dr_status dr_split_stratified(dr_split *out, const float *label, long n, double train_frac,
                              double val_frac, uint64_t seed)
{
    memset(out, 0, sizeof *out);
    DR_TRY(check_fracs(&train_frac, &val_frac));
    DR_TRY(check_labels(label, n));
    long *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    long cnt[2][3];
    if (!idx)
        return dr_error(DR_ERR_NOMEM, "split: out of memory");
    long m[2];
    for (int c = 0; c < 2; c++) {
        m[c] = class_rows(label, n, c, idx);
        cnt[c][0] = round_count(m[c], train_frac);
        cnt[c][1] = round_count(m[c], val_frac);
        if (cnt[c][0] + cnt[c][1] > m[c])
            cnt[c][1] = m[c] - cnt[c][0];
        cnt[c][2] = m[c] - cnt[c][0] - cnt[c][1];
    }
    dr_status s = alloc_split(out, cnt[0][0] + cnt[1][0], cnt[0][1] + cnt[1][1],
                              cnt[0][2] + cnt[1][2]);
    for (int c = 0; c < 2 && s == DR_OK; c++) {
        class_rows(label, n, c, idx);
        dr_philox_shuffle(idx, m[c], seed, DR_SPLIT_STREAM, (uint64_t)c);
        for (long k = 0; k < m[c]; k++) {
            if (k < cnt[c][0])
                out->train[out->n_train++] = idx[k];
            else if (k < cnt[c][0] + cnt[c][1])
                out->val[out->n_val++] = idx[k];
            else
                out->test[out->n_test++] = idx[k];
        }
    }
    free(idx);
    if (s == DR_OK) {
        qsort(out->train, (size_t)out->n_train, sizeof(long), cmp_long);
        qsort(out->val, (size_t)out->n_val, sizeof(long), cmp_long);
        qsort(out->test, (size_t)out->n_test, sizeof(long), cmp_long);
    }
    return s;
}

dr_status dr_split_make(dr_split *out, const dr_table *t, const float *label,
                        const dr_split_options *opt)
{
    memset(out, 0, sizeof *out);
    dr_split_options o = opt ? *opt : (dr_split_options){0};
    if (!o.date_column)
        return dr_split_stratified(out, label, t->n_rows, o.train_frac, o.val_frac, o.seed);
    int j = dr_table_find(t, o.date_column);
    const char *src = t->source ? t->source : "(table)";
    if (j < 0)
        return dr_error(DR_ERR_INVALID, "%s: no date column '%s' for the time-ordered split", src,
                        o.date_column);
    if (t->cols[j].kind != DR_COL_DATE || !t->cols[j].num)
        return dr_error(DR_ERR_INVALID,
                        "%s: column '%s' (column %d) is not a date column (YYYY-MM-DD or YYYY-MM)",
                        src, o.date_column, j + 1);
    dr_status s = dr_split_by_time(out, t->cols[j].num, t->n_rows, o.train_frac, o.val_frac);
    if (s != DR_OK)
        return dr_error_context(s, "%s, column '%s': ", src, o.date_column);
    return DR_OK;
}

/* ---- k-fold ---- */

dr_status dr_kfold_assign(int *fold, const float *label, long n, int k, uint64_t seed)
{
    if (k < 2 || k > n)
        return dr_error(DR_ERR_INVALID, "kfold: k = %d must be in 2..%ld (rows)", k, n);
    DR_TRY(check_labels(label, n));
    long *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!idx)
        return dr_error(DR_ERR_NOMEM, "kfold: out of memory");
    /* Deal each shuffled class round-robin, continuing the rotation across the
     * classes so fold sizes also differ by at most one. */
    long next = 0;
    for (int c = 0; c < 2; c++) {
        long m = class_rows(label, n, c, idx);
        dr_philox_shuffle(idx, m, seed, DR_KFOLD_STREAM, (uint64_t)c);
        for (long r = 0; r < m; r++)
            fold[idx[r]] = (int)(next++ % k);
    }
    free(idx);
    return DR_OK;
}

dr_status dr_kfold_split(dr_split *out, const int *fold, long n, int f)
{
    memset(out, 0, sizeof *out);
    long nv = 0;
    for (long i = 0; i < n; i++)
        nv += fold[i] == f;
    if (nv == 0)
        return dr_error(DR_ERR_INVALID, "kfold: fold %d holds no rows", f);
    DR_TRY(alloc_split(out, n - nv, nv, 0));
    for (long i = 0; i < n; i++) {
        if (fold[i] == f)
            out->val[out->n_val++] = i;
        else
            out->train[out->n_train++] = i;
    }
    return DR_OK;
}

static void print_part(FILE *fp, const char *name, const long *idx, long m, long n,
                       const float *label)
{
    long pos = 0;
    for (long k = 0; k < m; k++)
        pos += label[idx[k]] != 0.0f;
    fprintf(fp, "  %-5s %8ld rows (%5.1f %%), %7ld positive, default rate %6.2f %%\n", name, m,
            n ? 100.0 * (double)m / (double)n : 0.0, pos, m ? 100.0 * (double)pos / (double)m : 0.0);
}

void dr_split_print(FILE *fp, const dr_split *s, const float *label)
{
    long n = s->n_train + s->n_val + s->n_test;
    print_part(fp, "train", s->train, s->n_train, n, label);
    print_part(fp, "val", s->val, s->n_val, n, label);
    print_part(fp, "test", s->test, s->n_test, n, label);
}
