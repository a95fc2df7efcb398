/* The explanations as CSV for people: reasons.csv (each loan's principal
 * reasons, as in an adverse-action notice) and lime_<row>.csv (one loan's LIME
 * explanation by every explained model). Rows are the 1-based rows of the data
 * file, its header not counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "experiments/report_inputs.h"

/* The loan's value of table column c, as the CSV would show it (empty: missing). */
static void dr_write_value(FILE *f, const dr_column *c, long row)
{
    if (c->num && isnan(c->num[row]))
        return;
    if (c->kind == DR_COL_DATE) {
        time_t t = (time_t)(c->num[row] * 86400.0);
        struct tm tm;
        gmtime_r(&t, &tm);
        fprintf(f, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    } else if (c->num) {
        fprintf(f, "%.10g", c->num[row]);
    } else if (c->cat && c->cat[row] >= 0) {
        fputc('"', f);
        for (const char *p = c->levels[c->cat[row]]; *p; p++) {
            if (*p == '"') /* CSV quoting: "" inside quotes */
                fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    }
}

typedef struct dr_reason {
    int col;
    double v;
} dr_reason;

static int dr_cmp_reason(const void *a, const void *b)
{
    const dr_reason *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return (x->col > y->col) - (x->col < y->col);
}

dr_status dr_write_reasons(const dr_experiment *e, FILE *f, int m, const double *by_col, const int *col_table,
                           int n_cols)
{
    const dr_explain *ex = &e->explain;
    const dr_model_result *res = dr_find_result(e, ex->model[m]);
    const float *p = res ? res->test : NULL;
    const char *scale = ex->scale[m] ? ex->scale[m] : "log-odds";
    dr_reason *r = malloc((size_t)(n_cols ? n_cols : 1) * sizeof *r);
    if (!r)
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    for (long i = 0; i < ex->n[m]; i++) {
        long row = e->test.rows[i], n = 0;
        for (int k = 0; k < n_cols; k++) /* only what raised the risk is a reason */
            if (by_col[i * n_cols + k] > 0)
                r[n++] = (dr_reason){k, by_col[i * n_cols + k]};
        qsort(r, (size_t)n, sizeof *r, dr_cmp_reason);
        for (int a = 0; a < ex->reasons && a < n; a++) {
            const dr_column *c = &e->table.cols[col_table[r[a].col]];
            fprintf(f, "%s,%ld,%.6g,%d,\"%s\",", ex->model[m], row + 1, p ? p[i] : NAN, a + 1, c->name);
            dr_write_value(f, c, row);
            fprintf(f, ",%.6g,%s\n", r[a].v, scale);
        }
    }
    free(r);
    return DR_OK;
}

dr_status dr_write_lime_csv(const dr_experiment *e, const char *const *name)
{
    const dr_explain *ex = &e->explain;
    for (long i = 0; i < ex->lime_rows; i++) {
        char file[64];
        dr_run_file out;
        snprintf(file, sizeof file, "lime_%ld.csv", e->test.rows[i] + 1);
        DR_TRY(dr_run_file_open(&e->run, file, &out));
        FILE *f = out.f;
        fprintf(f, "model,rank,feature,weight,direction,local_prediction,r2,stability\n");
        for (int m = 0; m < ex->n_models; m++) {
            if (!ex->lime[m])
                continue;
            const dr_lime_result *r = &ex->lime[m][i];
            for (int a = 0; a < r->k; a++)
                fprintf(f, "%s,%d,\"%s\",%.6g,%s,%.6g,%.4f,%.4f\n", ex->model[m], a + 1, name[r->feature[a]],
                        r->weight[a], r->weight[a] > 0 ? "raises risk" : "lowers risk", r->local_prediction,
                        r->score, ex->stability[m][i]);
        }
        DR_TRY(dr_run_file_close(&out, DR_OK));
    }
    return DR_OK;
}
