/* The hybrid selection (VIF, then MI, then RFECV) and the paper's Table 2. */
#include "data/select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dr_select_options_default(dr_select_options *o)
{
    o->vif_threshold = 10;
    o->vif_max_rows = 0;
    o->mi_bins = 16;
    o->mi_min = -INFINITY;
    dr_rfecv_options_default(&o->rfecv);
}

void dr_select_result_free(dr_select_result *r)
{
    if (!r)
        return;
    free(r->keep_vif);
    free(r->vif);
    free(r->mi);
    free(r->keep_mi);
    dr_rfecv_result_free(&r->rfecv);
    memset(r, 0, sizeof *r);
}

dr_status dr_select_hybrid(const float *X, long n, int d, const char *const *names, const float *y,
                           const dr_select_options *opt, dr_select_result *out, FILE *log)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "select: out is NULL");
    memset(out, 0, sizeof *out);
    dr_select_options o;
    dr_select_options_default(&o);
    if (opt)
        o = *opt;
    out->d = d;
    out->keep_vif = calloc((size_t)(d > 0 ? d : 1), sizeof *out->keep_vif);
    out->vif = calloc((size_t)(d > 0 ? d : 1), sizeof *out->vif);
    out->mi = calloc((size_t)(d > 0 ? d : 1), sizeof *out->mi);
    out->keep_mi = calloc((size_t)(d > 0 ? d : 1), sizeof *out->keep_mi);
    dr_status st = DR_OK;
    if (!out->keep_vif || !out->vif || !out->mi || !out->keep_mi) {
        st = dr_error(DR_ERR_NOMEM, "select: d = %d", d);
        goto fail;
    }
    st = dr_select_vif(X, n, d, names, o.vif_threshold, o.vif_max_rows, out->keep_vif, out->vif,
                       log);
    if (st != DR_OK)
        goto fail;
    st = dr_select_mi(X, n, d, y, o.mi_bins, out->mi);
    if (st != DR_OK)
        goto fail;
    int *order = malloc((size_t)d * sizeof *order);
    if (!order) {
        st = dr_error(DR_ERR_NOMEM, "select: d = %d", d);
        goto fail;
    }
    dr_select_rank(out->mi, d, order);
    int nk = 0;
    for (int r = 0; r < d; r++) {
        int j = order[r];
        out->keep_mi[j] = out->keep_vif[j] && out->mi[j] > o.mi_min;
        nk += out->keep_mi[j];
        if (log && out->keep_vif[j] && !out->keep_mi[j])
            fprintf(log, "mi: drop %s (MI %.3g nats <= %g)\n", names ? names[j] : "?", out->mi[j],
                    o.mi_min);
    }
    if (log) {
        fprintf(log, "mi: %d features pass; top by MI:", nk);
        for (int r = 0, shown = 0; r < d && shown < 10; r++)
            if (out->keep_mi[order[r]]) {
                fprintf(log, " %s (%.4f)", names ? names[order[r]] : "?", out->mi[order[r]]);
                shown++;
            }
        fprintf(log, "\n");
    }
    free(order);
    if (nk == 0) {
        st = dr_error(DR_ERR_INVALID, "select: no feature left after VIF and the MI filter");
        goto fail;
    }
    st = dr_select_rfecv(X, n, d, names, y, out->keep_mi, &o.rfecv, &out->rfecv, log);
    if (st != DR_OK)
        goto fail;
    out->selected = out->rfecv.selected;
    out->n_selected = out->rfecv.n_selected;
    return DR_OK;
fail:
    dr_select_result_free(out);
    return st;
}

void dr_select_table_print(FILE *f, const dr_select_result *r, const char *const *names)
{
    int d = r->d;
    int *order = malloc((size_t)(d > 0 ? d : 1) * sizeof *order);
    double *imp = malloc((size_t)(d > 0 ? d : 1) * sizeof *imp);
    if (!order || !imp) {
        free(order);
        free(imp);
        fprintf(f, "(table: out of memory)\n");
        return;
    }
    for (int j = 0; j < d; j++)
        imp[j] = r->selected && r->selected[j] ? r->rfecv.importance[j] : -1;
    dr_select_rank(imp, d, order);
    fprintf(f, "%-36s  %10s  %10s  %4s\n", "feature", "MI (nats)", "importance", "rank");
    for (int a = 0; a < r->n_selected; a++) {
        int j = order[a];
        fprintf(f, "%-36s  %10.4f  %10.4f  %4d\n", names ? names[j] : "?", r->mi[j], imp[j], a + 1);
    }
    free(order);
    free(imp);
}
