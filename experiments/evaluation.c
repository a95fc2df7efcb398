/* [evaluation] settings and each loan's exposure to loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/credit_metrics.h"
#include "experiments/evaluation.h"
#include "models/platt.h"

static const char *const dr_calibration_names[] = {"none", "platt", "isotonic", NULL};

dr_status dr_evaluation_keys(dr_config *cfg, dr_evaluation *ev)
{
    const char *cal;
    DR_TRY(dr_config_string(cfg, "evaluation.calibration", "none", dr_calibration_names, &cal));
    for (int k = 0; dr_calibration_names[k]; k++)
        if (strcmp(cal, dr_calibration_names[k]) == 0)
            ev->calibration = (dr_calibration)k;
    /* Verbraken et al. (2014): LGD 0 for 55 % of defaults, 1 for 10 %, uniform
     * between; a good loan returns 26.44 % */
    DR_TRY(dr_config_float(cfg, "evaluation.emp_p0", 0.55, 0.0, 1.0, &ev->emp_p0));
    DR_TRY(dr_config_float(cfg, "evaluation.emp_p1", 0.10, 0.0, 1.0, &ev->emp_p1));
    if (ev->emp_p0 + ev->emp_p1 > 1)
        return dr_error(DR_ERR_INVALID, "%s: evaluation.emp_p0 + emp_p1 = %g exceeds 1 (they are probabilities)",
                        dr_config_where(cfg, "evaluation.emp_p1"), ev->emp_p0 + ev->emp_p1);
    DR_TRY(dr_config_float(cfg, "evaluation.emp_roi", 0.2644, 1e-6, 100.0, &ev->emp_roi));
    DR_TRY(dr_config_float(cfg, "evaluation.pdo", 20.0, 1e-3, 1e6, &ev->pdo));
    DR_TRY(dr_config_float(cfg, "evaluation.base_score", 600.0, -1e9, 1e9, &ev->base_score));
    DR_TRY(dr_config_float(cfg, "evaluation.base_odds", 50.0, 1e-9, 1e12, &ev->base_odds));
    return DR_OK;
}

/* The values of a numeric column for the rows of both splits, each in [lo, hi]. */
static dr_status dr_exposure_column(dr_config *cfg, const char *key, const char *name, const dr_table *t,
                                    double lo, double hi, const long *const rows[2], const long n[2],
                                    float *out[2])
{
    int c = dr_table_find(t, name);
    if (c < 0)
        return dr_error(DR_ERR_INVALID, "%s: %s = \"%s\": %s has no column of that name", dr_config_where(cfg, key),
                        key, name, t->source);
    const dr_column *col = &t->cols[c];
    if (col->kind != DR_COL_NUMERIC || !col->num)
        return dr_error(DR_ERR_INVALID, "%s: %s = \"%s\": column %d of %s is not numeric", dr_config_where(cfg, key),
                        key, name, c + 1, t->source);
    for (int p = 0; p < 2; p++)
        for (long i = 0; i < n[p]; i++) {
            double v = col->num[rows[p][i]];
            if (!(v >= lo && v <= hi))
                return dr_error(DR_ERR_INVALID,
                                "%s, column \"%s\" (%s at %s), data row %ld: %g %s; %s must lie in [%g, %g] for "
                                "every loan of validation and test",
                                t->source, name, key, dr_config_where(cfg, key), rows[p][i] + 1, v,
                                isnan(v) ? "(missing)" : "is out of range", name, lo, hi);
            out[p][i] *= (float)v;
        }
    return DR_OK;
}

dr_status dr_evaluation_read(dr_config *cfg, const dr_table *t, const long *val_rows, long n_val,
                             const long *test_rows, long n_test, dr_evaluation *ev)
{
    memset(ev, 0, sizeof *ev);
    DR_TRY(dr_evaluation_keys(cfg, ev));
    double lgd, ead;
    const char *lgd_col, *ead_col;
    DR_TRY(dr_config_float(cfg, "evaluation.lgd", 1.0, 0.0, 1.0, &lgd));
    DR_TRY(dr_config_float(cfg, "evaluation.ead", 1.0, 0.0, 1e15, &ead));
    DR_TRY(dr_config_string(cfg, "evaluation.lgd_column", "", NULL, &lgd_col));
    DR_TRY(dr_config_string(cfg, "evaluation.ead_column", "", NULL, &ead_col));
    const long *const rows[2] = {val_rows, test_rows};
    const long n[2] = {n_val, n_test};
    ev->val_exposure = malloc((size_t)(n_val ? n_val : 1) * sizeof(float));
    ev->test_exposure = malloc((size_t)(n_test ? n_test : 1) * sizeof(float));
    if (!ev->val_exposure || !ev->test_exposure)
        return dr_error(DR_ERR_NOMEM, "out of host memory for exposures");
    float *out[2] = {ev->val_exposure, ev->test_exposure};
    for (int p = 0; p < 2; p++)
        for (long i = 0; i < n[p]; i++)
            out[p][i] = (float)((*lgd_col ? 1.0 : lgd) * (*ead_col ? 1.0 : ead));
    if (*lgd_col)
        DR_TRY(dr_exposure_column(cfg, "evaluation.lgd_column", lgd_col, t, 0.0, 1.0, rows, n, out));
    if (*ead_col)
        DR_TRY(dr_exposure_column(cfg, "evaluation.ead_column", ead_col, t, 0.0, INFINITY, rows, n, out));
    char l[80], d[80];
    if (*lgd_col)
        snprintf(l, sizeof l, "column %s", lgd_col);
    else
        snprintf(l, sizeof l, "%g", lgd);
    if (*ead_col)
        snprintf(d, sizeof d, "column %s", ead_col);
    else
        snprintf(d, sizeof d, "%g", ead);
    snprintf(ev->exposure, sizeof ev->exposure, "LGD %s x EAD %s%s", l, d,
             !*lgd_col && !*ead_col && lgd == 1 && ead == 1 ? " (expected loss = expected defaults)" : "");
    return DR_OK;
}

dr_status dr_evaluation_calibrate(const dr_evaluation *ev, const float *val, const float *val_y, long n_val,
                                  const float *test, long n_test, float *val_out, float *test_out)
{
    if (ev->calibration == DR_CALIBRATE_PLATT) {
        double A, B;
        DR_TRY(dr_platt_fit(val, val_y, n_val, &A, &B));
        dr_platt_apply(val_out, val, n_val, A, B);
        dr_platt_apply(test_out, test, n_test, A, B);
    } else if (ev->calibration == DR_CALIBRATE_ISOTONIC) {
        dr_isotonic m;
        DR_TRY(dr_isotonic_fit(val, val_y, n_val, &m));
        dr_isotonic_apply(&m, val, n_val, val_out);
        dr_isotonic_apply(&m, test, n_test, test_out);
        dr_isotonic_free(&m);
    } else {
        memcpy(val_out, val, (size_t)n_val * sizeof *val);
        memcpy(test_out, test, (size_t)n_test * sizeof *test);
    }
    return DR_OK;
}

void dr_evaluation_free(dr_evaluation *ev)
{
    free(ev->val_exposure);
    free(ev->test_exposure);
    memset(ev, 0, sizeof *ev);
}
