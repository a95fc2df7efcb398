/* The report: the paper's Tables 5 and 6 for every model (test metrics at 0.5
 * and at the threshold that maximises F1 on validation) and the credit-risk
 * measures of [evaluation], printed and written as results.csv and results.h5
 * (with ROC points, reliability tables and each feature's PSI), the same for
 * the calibrated probabilities when evaluation.calibration asks for them, and
 * every model's validation and test probabilities, exposures and scorecard
 * points in predictions.h5; features.h5 and explain.h5 when asked
 * (experiments/report_inputs.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/credit_metrics.h"
#include "experiments/experiment.h"
#include "experiments/metrics.h"
#include "experiments/report_inputs.h"
#include "experiments/tracking.h"

const char *const dr_result_columns[DR_N_COLS + 1] = {
    "auc",       "ks",        "gini",        "pr_auc",     "brier",          "log_loss",        "accuracy@0.5",
    "precision@0.5", "recall@0.5", "f1@0.5",  "threshold",  "accuracy@t",     "precision@t",     "recall@t",
    "f1@t",      "ece",       "hosmer_lemeshow", "psi",    "emp",            "emp_reject",      "expected_loss",
    NULL};

dr_status dr_result_row(const dr_evaluation *ev, const float *fit_score, const float *fit_y, long n_fit,
                        const float *score, const float *y, const float *exposure, long n, double *row)
{
    double t, f1, psi, emp, reject, el = 0;
    dr_metrics at_half, at_t;
    dr_reliability rel;
    DR_TRY(dr_metrics_best_f1_threshold(fit_score, fit_y, n_fit, &t, &f1));
    DR_TRY(dr_metrics_compute(score, y, n, 0.5, &at_half));
    DR_TRY(dr_metrics_compute(score, y, n, t, &at_t));
    DR_TRY(dr_reliability_table(score, y, n, &rel));
    DR_TRY(dr_psi(fit_score, n_fit, score, n, &psi));
    DR_TRY(dr_emp(score, y, n, ev->emp_p0, ev->emp_p1, ev->emp_roi, &emp, &reject));
    for (long i = 0; i < n; i++)
        el += (double)score[i] * exposure[i];
    const double v[DR_N_COLS] = {at_half.auc,    at_half.ks,       at_half.gini,     at_half.pr_auc,
                                 at_half.brier,  at_half.log_loss, at_half.accuracy, at_half.precision,
                                 at_half.recall, at_half.f1,       t,                at_t.accuracy,
                                 at_t.precision, at_t.recall,      at_t.f1,          rel.ece,
                                 rel.hosmer_lemeshow, psi,         emp,              reject,
                                 el};
    memcpy(row, v, sizeof v);
    return DR_OK;
}

/* Every model's probabilities as the report reads them: the models' own, or
 * calibrated on validation. */
typedef struct dr_scores {
    const char *label; /* "" or "calibrated" */
    float *val[DR_MAX_MODELS], *test[DR_MAX_MODELS];
    double *table; /* [n_models, DR_N_COLS] */
} dr_scores;

static dr_status dr_score_table(const dr_experiment *e, dr_scores *sc)
{
    sc->table = malloc((size_t)(e->n_models ? e->n_models : 1) * DR_N_COLS * sizeof *sc->table);
    if (!sc->table)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < e->n_models; i++) {
        dr_status s = dr_result_row(&e->eval, sc->val[i], e->val.y, e->val.m.n_rows, sc->test[i], e->test.y,
                                    e->eval.test_exposure, e->test.m.n_rows, sc->table + i * DR_N_COLS);
        if (s != DR_OK)
            return dr_error_context(s, "%s%s%s: ", e->models[i].name, *sc->label ? ", " : "", sc->label);
    }
    return DR_OK;
}

static dr_status dr_calibrated_scores(const dr_experiment *e, dr_scores *sc)
{
    long nv = e->val.m.n_rows, nt = e->test.m.n_rows;
    for (int i = 0; i < e->n_models; i++) {
        sc->val[i] = malloc((size_t)(nv ? nv : 1) * sizeof(float));
        sc->test[i] = malloc((size_t)(nt ? nt : 1) * sizeof(float));
        if (!sc->val[i] || !sc->test[i])
            return dr_error(DR_ERR_NOMEM, "out of host memory");
        dr_status s = dr_evaluation_calibrate(&e->eval, e->models[i].val, e->val.y, nv, e->models[i].test, nt,
                                              sc->val[i], sc->test[i]);
        if (s != DR_OK)
            return dr_error_context(s, "calibrating %s: ", e->models[i].name);
    }
    return DR_OK;
}

static dr_status dr_write_csv(const dr_experiment *e, const char *file, const double *table)
{
    dr_run_file out;
    DR_TRY(dr_run_file_open(&e->run, file, &out));
    FILE *f = out.f;
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
    return dr_run_file_close(&out, DR_OK);
}

static dr_status dr_write_roc(dr_h5 *f, const dr_experiment *e)
{
    long n = e->test.m.n_rows;
    double *fpr = malloc((size_t)(n + 1) * sizeof *fpr), *tpr = malloc((size_t)(n + 1) * sizeof *tpr);
    double *thr = malloc((size_t)(n + 1) * sizeof *thr);
    dr_status s = fpr && tpr && thr ? DR_OK : dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        long np;
        s = dr_metrics_roc(e->models[i].test, e->test.y, n, fpr, tpr, thr, &np);
        int64_t d = np;
        const char *what[3] = {"fpr", "tpr", "threshold"};
        const double *v[3] = {fpr, tpr, thr};
        for (int k = 0; k < 3 && s == DR_OK; k++) {
            char name[96];
            snprintf(name, sizeof name, "roc/%s/%s", e->models[i].name, what[k]);
            s = dr_h5_write_f64(f, name, v[k], 1, &d);
        }
    }
    free(fpr);
    free(tpr);
    free(thr);
    return s;
}

/* reliability[/calibrated]/MODEL/{count, mean_predicted, observed_rate}: test, by deciles */
static dr_status dr_write_reliability(dr_h5 *f, const dr_experiment *e, const dr_scores *sc)
{
    dr_status s = DR_OK;
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        dr_reliability r;
        s = dr_reliability_table(sc->test[i], e->test.y, e->test.m.n_rows, &r);
        double count[DR_RELIABILITY_BINS];
        for (int b = 0; s == DR_OK && b < r.n_bins; b++)
            count[b] = (double)r.count[b];
        int64_t d = r.n_bins;
        const char *what[3] = {"count", "mean_predicted", "observed_rate"};
        const double *v[3] = {count, r.mean_predicted, r.observed_rate};
        for (int k = 0; k < 3 && s == DR_OK; k++) {
            char name[128];
            snprintf(name, sizeof name, "reliability/%s%s%s/%s", sc->label, *sc->label ? "/" : "", e->models[i].name,
                     what[k]);
            s = dr_h5_write_f64(f, name, v[k], 1, &d);
        }
    }
    return s;
}

/* Each model input's PSI between train and test, and the inputs' names;
 * *out NULL when the data are not at hand (the ensemble command). */
static dr_status dr_feature_psi(dr_experiment *e, double **out, const char ***names)
{
    const dr_matrix *tr = &e->train.m, *te = &e->test.m;
    *out = NULL;
    *names = NULL;
    if (!tr->x || !te->x || tr->n_rows == 0)
        return DR_OK;
    int d = tr->n_features;
    const char **name;
    DR_TRY(dr_input_names(e, &name));
    double *psi = malloc((size_t)(d ? d : 1) * sizeof *psi);
    float *a = malloc((size_t)tr->n_rows * sizeof *a), *b = malloc((size_t)(te->n_rows ? te->n_rows : 1) * sizeof *b);
    dr_status s = psi && name && a && b ? DR_OK : dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int j = 0; j < d && s == DR_OK; j++) {
        for (long i = 0; i < tr->n_rows; i++)
            a[i] = tr->x[i * d + j];
        for (long i = 0; i < te->n_rows; i++)
            b[i] = te->x[i * d + j];
        s = dr_psi(a, tr->n_rows, b, te->n_rows, &psi[j]);
        if (s != DR_OK)
            s = dr_error_context(s, "feature %s: ", name[j]);
    }
    free(a);
    free(b);
    if (s != DR_OK) {
        free(psi);
        dr_free_names(name, d);
        return s;
    }
    int top = 0, shifted = 0;
    for (int j = 0; j < d; j++) {
        shifted += psi[j] > 0.1;
        if (psi[j] > psi[top])
            top = j;
    }
    if (d > 0)
        dr_run_log(&e->run, "feature PSI, train -> test: %d of %d features above 0.1 (a shift); largest %s %.4f\n",
                   shifted, d, name[top], psi[top]);
    *out = psi;
    *names = name;
    return DR_OK;
}

static dr_status dr_write_results_h5(dr_experiment *e, const dr_scores *raw, const dr_scores *cal)
{
    char path[1100];
    dr_h5 *f;
    double *psi;
    const char **feature;
    int d = e->train.m.n_features;
    DR_TRY(dr_feature_psi(e, &psi, &feature));
    dr_status s = dr_h5_create(&f, dr_run_path(&e->run, "results.h5", path, sizeof path));
    if (s != DR_OK) {
        free(psi);
        dr_free_names(feature, d);
        return s;
    }
    const char *names[DR_MAX_MODELS];
    for (int i = 0; i < e->n_models; i++)
        names[i] = e->models[i].name;
    int64_t dims[2] = {e->n_models, DR_N_COLS};
    s = dr_h5_write_strings(f, "models", names, e->n_models);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "metrics", dr_result_columns, DR_N_COLS);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "table", raw->table, 2, dims);
    if (s == DR_OK)
        s = dr_h5_attr_set_str(f, "table", "exposure", e->eval.exposure);
    if (s == DR_OK && cal)
        s = dr_h5_write_f64(f, "calibrated/table", cal->table, 2, dims);
    if (s == DR_OK && cal)
        s = dr_h5_attr_set_str(f, "calibrated/table", "method",
                               e->eval.calibration == DR_CALIBRATE_PLATT ? "platt" : "isotonic");
    if (s == DR_OK)
        s = dr_write_roc(f, e);
    if (s == DR_OK)
        s = dr_write_reliability(f, e, raw);
    if (s == DR_OK && cal)
        s = dr_write_reliability(f, e, cal);
    if (s == DR_OK && psi) {
        int64_t nd = d;
        s = dr_h5_write_strings(f, "psi/feature", feature, d);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, "psi/value", psi, 1, &nd);
    }
    free(psi);
    dr_free_names(feature, d);
    if (s != DR_OK) {
        dr_h5_close(f);
        return s;
    }
    return dr_h5_commit(f);
}

/* test_points/MODEL: scorecard points of the test loans. */
static dr_status dr_write_points(dr_h5 *f, const dr_experiment *e, const dr_scores *sc)
{
    int64_t nt = e->test.m.n_rows;
    float *pts = malloc((size_t)(nt ? nt : 1) * sizeof *pts);
    dr_status s = pts ? DR_OK : dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        char name[96];
        dr_scorecard_points(sc->test[i], nt, e->eval.pdo, e->eval.base_score, e->eval.base_odds, pts);
        snprintf(name, sizeof name, "test_points/%s", e->models[i].name);
        s = dr_h5_write_f32(f, name, pts, 1, &nt);
    }
    free(pts);
    return s;
}

/* sc: the probabilities the points come from (the calibrated ones when there are some). */
static dr_status dr_write_predictions(const dr_experiment *e, const dr_scores *sc, int calibrated)
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
    if (s == DR_OK)
        s = dr_h5_write_f32(f, "val/exposure", e->eval.val_exposure, 1, &nv);
    if (s == DR_OK)
        s = dr_h5_write_f32(f, "test/exposure", e->eval.test_exposure, 1, &nt);
    for (int i = 0; i < e->n_models && s == DR_OK; i++) {
        char name[96];
        snprintf(name, sizeof name, "val/%s", e->models[i].name);
        s = dr_h5_write_f32(f, name, e->models[i].val, 1, &nv);
        snprintf(name, sizeof name, "test/%s", e->models[i].name);
        if (s == DR_OK)
            s = dr_h5_write_f32(f, name, e->models[i].test, 1, &nt);
        snprintf(name, sizeof name, "val_calibrated/%s", e->models[i].name);
        if (s == DR_OK && calibrated)
            s = dr_h5_write_f32(f, name, sc->val[i], 1, &nv);
        snprintf(name, sizeof name, "test_calibrated/%s", e->models[i].name);
        if (s == DR_OK && calibrated)
            s = dr_h5_write_f32(f, name, sc->test[i], 1, &nt);
    }
    if (s == DR_OK)
        s = dr_write_points(f, e, sc);
    if (s != DR_OK) {
        dr_h5_close(f);
        return s;
    }
    return dr_h5_commit(f);
}

static void dr_log_table(dr_experiment *e, const dr_scores *sc)
{
    dr_run_log(&e->run, "%-16s %6s %7s %7s %7s %7s %8s | %7s %7s %7s %7s | %6s %7s %7s %7s %7s\n", "model", "AUC",
               "KS", "Gini", "PR-AUC", "Brier", "LogLoss", "Acc", "Prec", "Recall", "F1", "t", "Acc", "Prec",
               "Recall", "F1");
    for (int i = 0; i < e->n_models; i++) {
        const double *r = sc->table + i * DR_N_COLS;
        dr_run_log(&e->run,
                   "%-16s %6.4f %7.4f %7.4f %7.4f %7.4f %8.4f | %7.4f %7.4f %7.4f %7.4f | %6.3f %7.4f %7.4f %7.4f "
                   "%7.4f\n",
                   e->models[i].name, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                   r[13], r[14]);
    }
    dr_run_log(&e->run, "%-16s %7s %9s %7s %8s %7s %12s\n", "model", "ECE", "H-L", "PSI", "EMP", "reject",
               "exp. loss");
    for (int i = 0; i < e->n_models; i++) {
        const double *r = sc->table + i * DR_N_COLS;
        dr_run_log(&e->run, "%-16s %7.4f %9.2f %7.4f %8.5f %7.4f %12.6g\n", e->models[i].name, r[15], r[16], r[17],
                   r[18], r[19], r[20]);
    }
}

dr_status dr_report_stage(dr_experiment *e)
{
    dr_scores raw = {.label = ""}, cal = {.label = "calibrated"};
    for (int i = 0; i < e->n_models; i++) {
        raw.val[i] = e->models[i].val;
        raw.test[i] = e->models[i].test;
    }
    int calibrate = e->eval.calibration != DR_CALIBRATE_NONE;
    dr_status s = dr_score_table(e, &raw);
    if (s == DR_OK && calibrate)
        s = dr_calibrated_scores(e, &cal);
    if (s == DR_OK && calibrate)
        s = dr_score_table(e, &cal);
    if (s == DR_OK) {
        double pos = 0, loss = 0;
        for (long i = 0; i < e->test.m.n_rows; i++) {
            pos += e->test.y[i];
            loss += e->test.y[i] * e->eval.test_exposure[i];
        }
        dr_run_log(&e->run, "\ntest set (%ld loans, %.2f %% defaults); t = threshold maximising F1 on validation\n",
                   e->test.m.n_rows, 100.0 * pos / (double)e->test.m.n_rows);
        dr_log_table(e, &raw);
        dr_run_log(&e->run,
                   "ECE and H-L (Hosmer-Lemeshow) over deciles of the prediction; PSI of the scores, validation -> "
                   "test; EMP (p0 %g, p1 %g, ROI %g) per loan applied for, reject: the share it rejects; expected "
                   "loss with %s, observed %.6g\n",
                   e->eval.emp_p0, e->eval.emp_p1, e->eval.emp_roi, e->eval.exposure, loss);
        s = dr_write_csv(e, "results.csv", raw.table);
    }
    if (s == DR_OK)
        s = dr_tracking_results(e, raw.table);
    if (s == DR_OK && calibrate) {
        dr_run_log(&e->run, "\ncalibrated on validation (%s)\n",
                   e->eval.calibration == DR_CALIBRATE_PLATT ? "Platt" : "isotonic");
        dr_log_table(e, &cal);
        s = dr_write_csv(e, "results_calibrated.csv", cal.table);
    }
    if (s == DR_OK)
        s = dr_write_results_h5(e, &raw, calibrate ? &cal : NULL);
    if (s == DR_OK)
        s = dr_write_predictions(e, calibrate ? &cal : &raw, calibrate);
    if (s == DR_OK && e->write_features)
        s = dr_write_features(e);
    if (s == DR_OK && e->explain.n_models > 0)
        s = dr_write_explain(e);
    free(raw.table);
    free(cal.table);
    for (int i = 0; i < e->n_models; i++) {
        free(cal.val[i]);
        free(cal.test[i]);
    }
    return s;
}
