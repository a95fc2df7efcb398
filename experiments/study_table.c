/* The sensitivity table: one row per cell of the grid, mean and standard
 * deviation of each metric over the cell's seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/experiment.h"
#include "experiments/study_report.h"

double dr_trial_attr(const dr_journal_trial *t, const char *key)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (strcmp(t->attrs[a].key, key) == 0)
            return t->attrs[a].num;
    return NAN;
}

enum { DR_TABLE_METRICS = 2 * DR_N_COLS };

static void dr_metric_name(int m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s_%s", m < DR_N_COLS ? "val" : "test", dr_result_columns[m % DR_N_COLS]);
}

/* mean and std (n - 1) of metric m over the completed seeds of cell c */
static void dr_cell_stats(const dr_journal *j, const dr_study_settings *st, const long *final, long c, int m,
                          double *mean, double *sd, int *n)
{
    char name[64];
    dr_metric_name(m, name, sizeof name);
    double sum = 0, sum2 = 0;
    *n = 0;
    for (int s = 0; s < st->n_seeds; s++) {
        long slot = c * st->n_seeds + s;
        const dr_journal_trial *t = final[slot] >= 0 ? dr_journal_trial_at(j, final[slot]) : NULL;
        double x = t && t->state == DR_TRIAL_COMPLETE ? dr_trial_attr(t, name) : NAN;
        if (isnan(x))
            continue;
        sum += x;
        (*n)++;
    }
    *mean = *n ? sum / *n : NAN;
    for (int s = 0; s < st->n_seeds && *n > 1; s++) {
        long slot = c * st->n_seeds + s;
        const dr_journal_trial *t = final[slot] >= 0 ? dr_journal_trial_at(j, final[slot]) : NULL;
        double x = t && t->state == DR_TRIAL_COMPLETE ? dr_trial_attr(t, name) : NAN;
        if (!isnan(x))
            sum2 += (x - *mean) * (x - *mean);
    }
    *sd = *n > 1 ? sqrt(sum2 / (*n - 1)) : NAN;
}

/* the value of key k in cell c, as TOML text ("" = the file's value) */
static void dr_cell_value(const dr_journal *j, const dr_study_settings *st, const long *final, long c, int k,
                          char *buf, size_t cap)
{
    *buf = '\0';
    for (int s = 0; s < st->n_seeds; s++) {
        long slot = c * st->n_seeds + s;
        if (final[slot] < 0)
            continue;
        const dr_journal_trial *t = dr_journal_trial_at(j, final[slot]);
        if (!isnan(t->v[k]))
            dr_search_value_toml(&st->space, k, t->v[k], buf, cap);
        return;
    }
}

static void dr_csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static dr_status dr_write_csv(const dr_journal *j, const dr_study_settings *st, const long *final, long cells,
                              const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s", path);
    char name[64], val[1024];
    for (int k = 0; k < st->space.n; k++)
        fprintf(f, "%s,", st->space.p[k].key);
    fprintf(f, "seeds_completed");
    for (int m = 0; m < DR_TABLE_METRICS; m++) {
        dr_metric_name(m, name, sizeof name);
        fprintf(f, ",%s_mean,%s_std", name, name);
    }
    fprintf(f, "\n");
    for (long c = 0; c < cells; c++) {
        for (int k = 0; k < st->space.n; k++) {
            dr_cell_value(j, st, final, c, k, val, sizeof val);
            dr_csv_field(f, val);
            fputc(',', f);
        }
        double mean, sd;
        int n;
        dr_cell_stats(j, st, final, c, 0, &mean, &sd, &n);
        fprintf(f, "%d", n);
        for (int m = 0; m < DR_TABLE_METRICS; m++) {
            dr_cell_stats(j, st, final, c, m, &mean, &sd, &n);
            fprintf(f, isnan(mean) ? "," : ",%.6f", mean);
            fprintf(f, isnan(sd) ? "," : ",%.6f", sd);
        }
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? DR_OK : dr_error(DR_ERR_IO, "cannot write %s", path);
}

static dr_status dr_write_h5(const dr_journal *j, const dr_study_settings *st, const long *final, long cells,
                             const char *path)
{
    double *mean = malloc((size_t)cells * DR_TABLE_METRICS * sizeof *mean);
    double *sd = malloc((size_t)cells * DR_TABLE_METRICS * sizeof *sd);
    int32_t *n = malloc((size_t)cells * sizeof *n);
    char **vals = calloc((size_t)cells, sizeof *vals);
    const char *names[DR_TABLE_METRICS], *keys[DR_TPE_MAX_PARAMS];
    char name_buf[DR_TABLE_METRICS][64];
    dr_h5 *f = NULL;
    dr_status s = mean && sd && n && vals ? dr_h5_create(&f, path) : dr_error(DR_ERR_NOMEM, "out of memory");
    for (int m = 0; m < DR_TABLE_METRICS; m++) {
        dr_metric_name(m, name_buf[m], sizeof name_buf[m]);
        names[m] = name_buf[m];
    }
    for (long c = 0; s == DR_OK && c < cells; c++)
        for (int m = 0; m < DR_TABLE_METRICS; m++) {
            int cnt;
            dr_cell_stats(j, st, final, c, m, &mean[c * DR_TABLE_METRICS + m], &sd[c * DR_TABLE_METRICS + m], &cnt);
            if (m == 0)
                n[c] = cnt;
        }
    int64_t dims[2] = {cells, DR_TABLE_METRICS};
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "metrics", names, DR_TABLE_METRICS);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "mean", mean, 2, dims);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "std", sd, 2, dims);
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "seeds_completed", n, 1, dims);
    for (int k = 0; k < st->space.n; k++)
        keys[k] = st->space.p[k].key;
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "keys", keys, st->space.n);
    /* per key, its value in each cell as TOML text ("" = the file's value) */
    for (int k = 0; s == DR_OK && k < st->space.n; k++) {
        char ds[128], val[1024];
        for (long c = 0; c < cells && s == DR_OK; c++) {
            dr_cell_value(j, st, final, c, k, val, sizeof val);
            free(vals[c]);
            if (!(vals[c] = strdup(val)))
                s = dr_error(DR_ERR_NOMEM, "out of memory");
        }
        snprintf(ds, sizeof ds, "values/%s", keys[k]);
        if (s == DR_OK)
            s = dr_h5_write_strings(f, ds, (const char *const *)vals, cells);
    }
    if (s == DR_OK)
        s = dr_h5_commit(f);
    else
        dr_h5_close(f);
    for (long c = 0; vals && c < cells; c++)
        free(vals[c]);
    free(vals);
    free(mean);
    free(sd);
    free(n);
    return s;
}

dr_status dr_sensitivity_table(const dr_journal *j, const dr_study_settings *st, const long *final, const char *dir)
{
    long cells = st->trials / st->n_seeds;
    char path[1100];
    snprintf(path, sizeof path, "%s/sensitivity.csv", dir);
    DR_TRY(dr_write_csv(j, st, final, cells, path));
    snprintf(path, sizeof path, "%s/sensitivity.h5", dir);
    DR_TRY(dr_write_h5(j, st, final, cells, path));
    fprintf(stderr, "sensitivity table: %s/sensitivity.csv, sensitivity.h5 (mean and std over %d seed%s per cell)\n",
            dir, st->n_seeds, st->n_seeds > 1 ? "s" : "");
    return DR_OK;
}
