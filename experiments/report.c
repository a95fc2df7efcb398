/* The report: the paper's Tables 5 and 6 for every model (test metrics at 0.5
 * and at the threshold that maximises F1 on validation), printed and written as
 * results.csv and results.h5 (with ROC points), and every model's validation and
 * test probabilities in predictions.h5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/experiment.h"
#include "experiments/metrics.h"

const char *const dr_result_columns[DR_N_COLS + 1] = {
    "auc", "ks", "gini", "pr_auc", "brier", "log_loss", "accuracy@0.5", "precision@0.5", "recall@0.5", "f1@0.5",
    "threshold", "accuracy@t", "precision@t", "recall@t", "f1@t", NULL};

dr_status dr_result_row(const float *fit_score, const float *fit_y, long n_fit, const float *score, const float *y,
                        long n, double *row)
{
    double t, f1;
    dr_metrics at_half, at_t;
    DR_TRY(dr_metrics_best_f1_threshold(fit_score, fit_y, n_fit, &t, &f1));
    DR_TRY(dr_metrics_compute(score, y, n, 0.5, &at_half));
    DR_TRY(dr_metrics_compute(score, y, n, t, &at_t));
    const double v[DR_N_COLS] = {at_half.auc,       at_half.ks,        at_half.gini,   at_half.pr_auc,
                                 at_half.brier,     at_half.log_loss,  at_half.accuracy, at_half.precision,
                                 at_half.recall,    at_half.f1,        t,              at_t.accuracy,
                                 at_t.precision,    at_t.recall,       at_t.f1};
    memcpy(row, v, sizeof v);
    return DR_OK;
}

static dr_status dr_model_row(const dr_experiment *e, const dr_model_result *r, double *row)
{
    return dr_result_row(r->val, e->val.y, e->val.m.n_rows, r->test, e->test.y, e->test.m.n_rows, row);
}

static dr_status dr_write_csv(const dr_experiment *e, const double *table)
{
    char path[1100], tmp[1110];
    dr_run_path(&e->run, "results.csv", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s", tmp);
    fprintf(f, "model");
    for (int c = 0; c < DR_N_COLS; c++)
        fprintf(f, ",%s", dr_result_columns[c]);
    fprintf(f, "\n");
    for (int i = 0; i < e->n_models; i++) {
        fprintf(f, "%s", e->models[i].name);
        for (int c = 0; c < DR_N_COLS; c++)
            fprintf(f, ",%.6f", table[i * DR_N_COLS + c]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return dr_error(DR_ERR_IO, "cannot write %s", path);
    return DR_OK;
}

static dr_status dr_write_results_h5(const dr_experiment *e, const double *table)
{
    char path[1100];
    dr_h5 *f;
    DR_TRY(dr_h5_create(&f, dr_run_path(&e->run, "results.h5", path, sizeof path)));
    const char *names[DR_MAX_MODELS];
    for (int i = 0; i < e->n_models; i++)
        names[i] = e->models[i].name;
    int64_t dims[2] = {e->n_models, DR_N_COLS};
    dr_status s = dr_h5_write_strings(f, "models", names, e->n_models);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "metrics", dr_result_columns, DR_N_COLS);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "table", table, 2, dims);
    long n = e->test.m.n_rows;
    double *fpr = malloc((size_t)(n + 1) * sizeof *fpr), *tpr = malloc((size_t)(n + 1) * sizeof *tpr);
    double *thr = malloc((size_t)(n + 1) * sizeof *thr);
    if (s == DR_OK && (!fpr || !tpr || !thr))
        s = dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        long np;
        char name[96];
        s = dr_metrics_roc(e->models[i].test, e->test.y, n, fpr, tpr, thr, &np);
        int64_t d = np;
        snprintf(name, sizeof name, "roc/%s/fpr", names[i]);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, name, fpr, 1, &d);
        snprintf(name, sizeof name, "roc/%s/tpr", names[i]);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, name, tpr, 1, &d);
        snprintf(name, sizeof name, "roc/%s/threshold", names[i]);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, name, thr, 1, &d);
    }
    free(fpr);
    free(tpr);
    free(thr);
    if (s != DR_OK) {
        dr_h5_close(f);
        return s;
    }
    return dr_h5_commit(f);
}

static dr_status dr_write_rows(dr_h5 *f, const char *name, const dr_part *p)
{
    int64_t n = p->m.n_rows;
    int32_t *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    if (!rows)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    for (long i = 0; i < n; i++)
        rows[i] = (int32_t)p->rows[i];
    dr_status s = dr_h5_write_i32(f, name, rows, 1, &n);
    free(rows);
    return s;
}

static dr_status dr_write_predictions(const dr_experiment *e)
{
    char path[1100];
    dr_h5 *f;
    DR_TRY(dr_h5_create(&f, dr_run_path(&e->run, "predictions.h5", path, sizeof path)));
    int64_t nv = e->val.m.n_rows, nt = e->test.m.n_rows;
    dr_status s = dr_h5_write_f32(f, "val/label", e->val.y, 1, &nv);
    if (s == DR_OK)
        s = dr_h5_write_f32(f, "test/label", e->test.y, 1, &nt);
    if (s == DR_OK)
        s = dr_write_rows(f, "val/row", &e->val);
    if (s == DR_OK)
        s = dr_write_rows(f, "test/row", &e->test);
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        char name[96];
        snprintf(name, sizeof name, "val/%s", e->models[i].name);
        s = dr_h5_write_f32(f, name, e->models[i].val, 1, &nv);
        snprintf(name, sizeof name, "test/%s", e->models[i].name);
        if (s == DR_OK)
            s = dr_h5_write_f32(f, name, e->models[i].test, 1, &nt);
    }
    if (s != DR_OK) {
        dr_h5_close(f);
        return s;
    }
    return dr_h5_commit(f);
}

dr_status dr_report_stage(dr_experiment *e)
{
    double *table = malloc((size_t)e->n_models * DR_N_COLS * sizeof *table);
    if (!table)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    dr_status s = DR_OK;
    for (int i = 0; i < e->n_models && s == DR_OK; i++)
        s = dr_model_row(e, &e->models[i], table + i * DR_N_COLS);
    if (s == DR_OK) {
        double pos = 0;
        for (long i = 0; i < e->test.m.n_rows; i++)
            pos += e->test.y[i];
        dr_run_log(&e->run, "\ntest set (%ld loans, %.2f %% defaults); t = threshold maximising F1 on validation\n",
                   e->test.m.n_rows, 100.0 * pos / (double)e->test.m.n_rows);
        dr_run_log(&e->run, "%-16s %6s %7s %7s %7s %7s %8s | %7s %7s %7s %7s | %6s %7s %7s %7s %7s\n", "model", "AUC",
                   "KS", "Gini", "PR-AUC", "Brier", "LogLoss", "Acc", "Prec", "Recall", "F1", "t", "Acc", "Prec",
                   "Recall", "F1");
        for (int i = 0; i < e->n_models; i++) {
            const double *r = table + i * DR_N_COLS;
            dr_run_log(&e->run,
                       "%-16s %6.4f %7.4f %7.4f %7.4f %7.4f %8.4f | %7.4f %7.4f %7.4f %7.4f | %6.3f %7.4f %7.4f %7.4f "
                       "%7.4f\n",
                       e->models[i].name, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                       r[12], r[13], r[14]);
        }
        s = dr_write_csv(e, table);
    }
    if (s == DR_OK)
        s = dr_write_results_h5(e, table);
    if (s == DR_OK)
        s = dr_write_predictions(e);
    free(table);
    return s;
}
