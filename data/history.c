/* History summaries: see data/history.h. */
#include "data/history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/features.h"

enum { SUM_MEAN, SUM_MAX, SUM_LAST, SUM_TREND, SUM_NONZERO, SUM_RUN, SUM_OVER };

static const char *const summary_names[SUM_OVER] = {"mean", "max", "last", "trend", "nonzero", "run"};

/* Mean of the present values of v[lo..hi), NaN when none is. */
static double window_mean(const double *v, int lo, int hi)
{
    double sum = 0;
    int n = 0;
    for (int k = lo; k < hi; k++)
        if (!isnan(v[k])) {
            sum += v[k];
            n++;
        }
    return n ? sum / n : NAN;
}

/* out[SUM_OVER + n_thr] from one row's T steps v. */
static void summarise_row(const double *v, int T, const double *thr, int n_thr, double *out)
{
    int present = 0, nonzero = 0, run = 0;
    double sum = 0, max = -INFINITY, last = NAN;
    for (int j = 0; j < n_thr; j++)
        out[SUM_OVER + j] = 0;
    for (int k = 0; k < T; k++) {
        double x = v[k];
        if (isnan(x))
            continue;
        present++;
        sum += x;
        max = fmax(max, x);
        last = x;
        nonzero += x > 0;
        run = x > 0 ? run + 1 : 0;
        for (int j = 0; j < n_thr; j++)
            out[SUM_OVER + j] += x > thr[j];
    }
    if (!present) {
        for (int j = 0; j < SUM_OVER + n_thr; j++)
            out[j] = NAN;
        return;
    }
    int w = T < DR_HISTORY_WINDOW ? T : DR_HISTORY_WINDOW;
    out[SUM_MEAN] = sum / present;
    out[SUM_MAX] = max;
    out[SUM_LAST] = last;
    out[SUM_TREND] = window_mean(v, T - w, T) - window_mean(v, 0, w);
    out[SUM_NONZERO] = nonzero;
    out[SUM_RUN] = run;
}

/* The summaries of one channel whose step columns are steps[0..T). */
static dr_status summarise_channel(dr_table *t, const char *base, const double *const *steps, int T,
                                   const double *thr, int n_thr)
{
    int ns = SUM_OVER + n_thr;
    long n = t->n_rows;
    double **cols = calloc((size_t)ns, sizeof *cols);
    double *v = malloc((size_t)T * sizeof *v), *row = malloc((size_t)ns * sizeof *row);
    int ok = cols && v && row;
    for (int j = 0; ok && j < ns; j++)
        ok = (cols[j] = malloc((size_t)(n > 0 ? n : 1) * sizeof **cols)) != NULL;
    dr_status s = ok ? DR_OK : dr_error(DR_ERR_NOMEM, "history summaries: out of memory");
    for (long i = 0; s == DR_OK && i < n; i++) {
        for (int k = 0; k < T; k++)
            v[k] = steps[k][i];
        summarise_row(v, T, thr, n_thr, row);
        for (int j = 0; j < ns; j++)
            cols[j][i] = row[j];
    }
    /* each add takes its array (and frees it on error); the rest are freed here */
    for (int j = 0; j < ns && cols; j++) {
        if (s != DR_OK) {
            free(cols[j]);
            continue;
        }
        char name[600];
        if (j < SUM_OVER)
            snprintf(name, sizeof name, "%s_%s", base, summary_names[j]);
        else
            snprintf(name, sizeof name, "%s_over_%g", base, thr[j - SUM_OVER]);
        s = dr_table_add_numeric(t, name, cols[j]);
    }
    free(cols);
    free(v);
    free(row);
    return s;
}

dr_status dr_history_summarise(dr_table *t, const double *thresholds, int n_thresholds)
{
    char **bases;
    int nb, T;
    DR_TRY(dr_seq_find(t, &bases, &nb, &T));
    const double **steps = malloc((size_t)(T > 0 ? T : 1) * sizeof *steps);
    dr_status s = steps ? DR_OK : dr_error(DR_ERR_NOMEM, "history summaries: out of memory");
    for (int c = 0; c < nb && s == DR_OK; c++) {
        /* dr_seq_find checked that c_1 .. c_T exist and are numeric */
        for (int k = 0; k < T; k++) {
            char name[600];
            snprintf(name, sizeof name, "%s_%d", bases[c], k + 1);
            steps[k] = t->cols[dr_table_find(t, name)].num;
        }
        s = summarise_channel(t, bases[c], steps, T, thresholds, n_thresholds);
    }
    for (int c = 0; c < nb; c++)
        free(bases[c]);
    free(bases);
    free(steps);
    return s;
}
