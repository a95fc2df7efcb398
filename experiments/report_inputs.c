/* The files about the model inputs: features.h5 (output.features) and
 * explain.h5 ([explain]), and what the report shares with them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/experiment.h"
#include "experiments/report_inputs.h"

void dr_free_names(const char **name, int d)
{
    for (int j = 0; name && j < d; j++)
        free((void *)name[j]);
    free(name);
}

/* The model inputs' names, in the order of the parts' columns. */
dr_status dr_input_names(const dr_experiment *e, const char ***out)
{
    int d = e->train.m.n_features;
    dr_matrix all = {0};
    DR_TRY(dr_prep_feature_names(&e->prep, &all));
    const char **name = calloc((size_t)(d ? d : 1), sizeof *name);
    for (int j = 0; name && j < d; j++)
        name[j] = strdup(all.names[e->feature_order[j]]);
    dr_matrix_free(&all);
    if (!name)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    *out = name;
    return DR_OK;
}

dr_status dr_write_rows(dr_h5 *f, const char *name, const dr_part *p)
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

/* features.h5 (output.features): each split's model inputs as the models read
 * them (preprocessed, selected, in group order), labels and rows, the inputs'
 * names and the CNN's groups, so that other tools train on exactly these. */
dr_status dr_write_features(dr_experiment *e)
{
    char path[1100];
    dr_h5 *f;
    const char **name;
    int d = e->train.m.n_features;
    if (!e->train.m.x)
        return dr_error(DR_ERR_INVALID, "output.features: the run holds no feature matrices");
    DR_TRY(dr_input_names(e, &name));
    dr_status s = dr_h5_create(&f, dr_run_path(&e->run, "features.h5", path, sizeof path));
    if (s != DR_OK) {
        dr_free_names(name, d);
        return s;
    }
    const dr_part *parts[3] = {&e->train, &e->val, &e->test};
    const char *label[3] = {"train", "val", "test"};
    for (int p = 0; p < 3 && s == DR_OK; p++) {
        char key[64];
        int64_t dims[2] = {parts[p]->m.n_rows, d};
        snprintf(key, sizeof key, "%s/x", label[p]);
        s = dr_h5_write_f32(f, key, parts[p]->m.x, 2, dims);
        snprintf(key, sizeof key, "%s/label", label[p]);
        if (s == DR_OK)
            s = dr_h5_write_f32(f, key, parts[p]->y, 1, dims);
        snprintf(key, sizeof key, "%s/row", label[p]);
        if (s == DR_OK)
            s = dr_write_rows(f, key, parts[p]);
    }
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "feature", name, d);
    int32_t size[DR_HYBRID_MAX_GROUPS];
    const char *group[DR_HYBRID_MAX_GROUPS];
    for (int g = 0; g < e->n_groups; g++) {
        size[g] = e->group_size[g];
        group[g] = e->group_name[g];
    }
    int64_t ng = e->n_groups;
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "group_size", size, 1, &ng);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "group", group, ng);
    dr_free_names(name, d);
    if (s != DR_OK) {
        dr_h5_close(f);
        return s;
    }
    return dr_h5_commit(f);
}

/* explain.h5: per explained model its LIME explanations (MODEL/lime/) and its SHAP values of the first explain.rows
 * test loans on the model inputs (MODEL/shap, MODEL/base the expected value,
 * MODEL/margin the log-odds they add up to, exactly for TreeSHAP, nearly for
 * expected gradients; a network's history in MODEL/shap_history, one value per
 * channel of MODEL/history_channel) and summed per column of the data
 * (MODEL/shap_by_column: a column's one-hot and missing-indicator inputs
 * together; engineered features, products and history summaries are columns
 * of their own), with feature, column, row (the loans' rows of the data) and
 * x (their model inputs, as the network and the trees see them). */
/* MODEL/lime/{feature, weight, intercept, score, local_prediction, stability},
 * and the first loan's explanation in the log. */
static dr_status dr_write_lime(dr_experiment *e, dr_h5 *f, int m, const char *const *name)
{
    const dr_explain *ex = &e->explain;
    long n = ex->lime_rows;
    if (n == 0 || !ex->lime[m])
        return DR_OK; /* the ensemble: its members are gone when it is explained */
    const dr_lime_result *r = ex->lime[m];
    int k = r[0].k;
    int32_t *feat = malloc((size_t)(n * k) * sizeof *feat);
    double *w = malloc((size_t)(n * k) * sizeof *w), *one = malloc((size_t)n * 3 * sizeof *one);
    dr_status s = feat && w && one ? DR_OK : dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    for (long i = 0; s == DR_OK && i < n; i++) {
        for (int a = 0; a < k; a++) {
            feat[i * k + a] = r[i].feature[a];
            w[i * k + a] = r[i].weight[a];
        }
        one[i] = r[i].intercept, one[n + i] = r[i].score, one[2 * n + i] = r[i].local_prediction;
    }
    int64_t dims[2] = {n, k}, dn = n;
    char key[160];
    const char *what[3] = {"intercept", "score", "local_prediction"};
    snprintf(key, sizeof key, "%s/lime/feature", ex->model[m]);
    if (s == DR_OK)
        s = dr_h5_write_i32(f, key, feat, 2, dims);
    snprintf(key, sizeof key, "%s/lime/weight", ex->model[m]);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, key, w, 2, dims);
    for (int q = 0; q < 3 && s == DR_OK; q++) {
        snprintf(key, sizeof key, "%s/lime/%s", ex->model[m], what[q]);
        s = dr_h5_write_f64(f, key, one + q * n, 1, &dn);
    }
    snprintf(key, sizeof key, "%s/lime/stability", ex->model[m]);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, key, ex->stability[m], 1, &dn);
    if (s == DR_OK) {
        double mean = 0;
        for (long i = 0; i < n; i++)
            mean += ex->stability[m][i] / (double)n;
        dr_run_log(&e->run,
                   "LIME of %s for test loan 1 (data row %ld; local prediction %.4f, R^2 %.3f), the top %d inputs "
                   "(weight of \"in the loan's quartile bin\"); the same top 5 in %.0f %% of %d seeds (mean over "
                   "%ld loans %.0f %%):\n",
                   ex->model[m], e->test.rows[0] + 1, r[0].local_prediction, r[0].score, k,
                   100 * ex->stability[m][0], ex->lime_seeds, n, 100 * mean);
        for (int a = 0; a < k; a++)
            dr_run_log(&e->run, "  %2d. %-40s %+.4f\n", a + 1, name[r[0].feature[a]], r[0].weight[a]);
    }
    free(feat), free(w), free(one);
    return s;
}

/* The mean SHAP value of input j over the explained rows. */
static double dr_mean_shap(const float *phi, long n, int d, int j)
{
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += phi[i * (d + 1) + j];
    return sum / (double)n;
}

/* Pearson correlation of input j's values with its SHAP values (the colour
 * gradient of a beeswarm plot: > 0 when high values raise the risk); 0 when
 * either is constant. */
static double dr_value_correlation(const float *x, const float *phi, long n, int d, int j)
{
    double mx = 0, mp = 0, sxx = 0, spp = 0, sxp = 0;
    for (long i = 0; i < n; i++)
        mx += x[i * d + j] / (double)n, mp += phi[i * (d + 1) + j] / (double)n;
    for (long i = 0; i < n; i++) {
        double a = x[i * d + j] - mx, b = phi[i * (d + 1) + j] - mp;
        sxx += a * a, spp += b * b, sxp += a * b;
    }
    return sxx > 0 && spp > 0 ? sxp / sqrt(sxx * spp) : 0.0;
}

/* MODEL/shap_interaction [n, d, d]: the inputs' block of XGBoost's [n, d + 1, d + 1]
 * (the bias row and column hold only the expected value, MODEL/base). */
static dr_status dr_write_interactions(dr_h5 *f, const char *model, const float *in, long n, int d)
{
    long P = d + 1;
    float *block = malloc(((size_t)(n * d * d) + 1) * sizeof *block);
    if (!block)
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory for %ld loans' interaction values", n);
    for (long i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            memcpy(block + (i * d + a) * d, in + (i * P + a) * P, (size_t)d * sizeof *block);
    char key[128];
    int64_t dims[3] = {n, d, d};
    snprintf(key, sizeof key, "%s/shap_interaction", model);
    dr_status s = dr_h5_write_f32(f, key, block, 3, dims);
    free(block);
    return s;
}

/* Kernel SHAP's background: kernel_background/{x, weight, row} (row: the
 * data row whose history stands for the point's). */
static dr_status dr_write_kernel_background(const dr_experiment *e, dr_h5 *f)
{
    const dr_kshap_background *bg = &e->explain.bg;
    int64_t dims[2] = {bg->k, bg->d}, k = bg->k;
    int32_t *row = malloc((size_t)k * sizeof *row);
    if (!row)
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    for (long i = 0; i < bg->k; i++)
        row[i] = (int32_t)e->train.rows[bg->nearest[i]];
    dr_status s = dr_h5_write_f32(f, "kernel_background/x", bg->x, 2, dims);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "kernel_background/weight", bg->w, 1, &k);
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "kernel_background/row", row, 1, &k);
    free(row);
    return s;
}

dr_status dr_write_explain(dr_experiment *e)
{
    const dr_explain *ex = &e->explain;
    int d = e->n_selected;
    long n = 0;
    for (int m = 0; m < ex->n_models; m++)
        n = ex->n[m] > n ? ex->n[m] : n;
    dr_matrix all = {0};
    DR_TRY(dr_prep_feature_names(&e->prep, &all));
    const char **name = NULL;
    dr_status s = dr_input_names(e, &name);
    int *col_of = malloc((size_t)(d ? d : 1) * sizeof *col_of), n_cols = 0;
    const char **col_name = calloc((size_t)(d ? d : 1), sizeof *col_name);
    int *col_table = malloc((size_t)(d ? d : 1) * sizeof *col_table);
    double *by_col = malloc((size_t)(n * (d ? d : 1)) * sizeof *by_col);
    double *mean_abs = malloc((size_t)(d ? d : 1) * sizeof *mean_abs);
    float *part = malloc((size_t)(n * (d ? d : 1)) * sizeof *part);
    if (s == DR_OK && (!col_of || !col_name || !col_table || !by_col || !mean_abs || !part))
        s = dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    for (int j = 0; s == DR_OK && j < d; j++) { /* the data's columns, in the order their inputs appear */
        int source = all.source[e->feature_order[j]];
        const char *c = e->table.cols[source].name;
        int k = 0;
        while (k < n_cols && strcmp(col_name[k], c) != 0)
            k++;
        if (k == n_cols)
            col_table[n_cols] = source, col_name[n_cols++] = c;
        col_of[j] = k;
    }
    char path[1100];
    dr_h5 *f = NULL;
    dr_run_file summary = {0}, reasons = {0};
    if (s == DR_OK)
        s = dr_run_file_open(&e->run, "shap_summary.csv", &summary);
    FILE *sf = summary.f;
    if (sf)
        fprintf(sf, "model,method,rank,feature,mean_abs_shap,mean_shap,value_correlation\n");
    if (s == DR_OK && ex->reasons > 0)
        s = dr_run_file_open(&e->run, "reasons.csv", &reasons);
    FILE *rf = reasons.f;
    if (rf)
        fprintf(rf, "model,row,probability,rank,reason,value,contribution,scale\n");
    if (s == DR_OK)
        s = dr_h5_create(&f, dr_run_path(&e->run, "explain.h5", path, sizeof path));
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "feature", name, d);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "column", col_name, n_cols);
    if (s == DR_OK) {
        dr_part first = e->test;
        first.m.n_rows = n;
        s = dr_write_rows(f, "row", &first);
    }
    if (s == DR_OK) { /* what SHAP's plots colour the values by */
        int64_t dims[2] = {n, d};
        s = dr_h5_write_f32(f, "x", e->test.m.x, 2, dims);
    }
    if (s == DR_OK && ex->bg.k > 0)
        s = dr_write_kernel_background(e, f);
    for (int m = 0; m < ex->n_models && s == DR_OK; m++) {
        const float *phi = ex->phi[m], *phi_seq = ex->phi_seq[m];
        float *base = part; /* reused below for the SHAP values */
        double worst = 0, gap = 0, spread = 0;
        int C = ex->seq_cols[m];
        long n = ex->n[m];
        const char *scale = ex->scale[m] ? ex->scale[m] : "log-odds";
        const char *const whole_history[1] = {"history"};
        memset(mean_abs, 0, (size_t)d * sizeof *mean_abs);
        memset(by_col, 0, (size_t)(n * n_cols) * sizeof *by_col);
        char key[128];
        for (long i = 0; i < n; i++) {
            double sum = phi[i * (d + 1) + d];
            for (int j = 0; j < d; j++) {
                double v = phi[i * (d + 1) + j];
                sum += v;
                mean_abs[j] += fabs(v) / (double)n;
                by_col[i * n_cols + col_of[j]] += v;
            }
            for (int c = 0; c < C; c++)
                sum += phi_seq[i * C + c];
            worst = fmax(worst, fabs(sum - ex->margin[m][i]));
            gap += fabs(sum - ex->margin[m][i]) / (double)n;
            spread += fabs(ex->margin[m][i] - phi[i * (d + 1) + d]) / (double)n;
            base[i] = phi[i * (d + 1) + d];
        }
        int64_t dn = n, dims[2] = {n, d}, cdims[2] = {n, n_cols}, dd = d, sdims[2] = {n, C};
        snprintf(key, sizeof key, "%s/base", ex->model[m]);
        s = dr_h5_write_f32(f, key, base, 1, &dn);
        snprintf(key, sizeof key, "%s/margin", ex->model[m]);
        if (s == DR_OK)
            s = dr_h5_write_f32(f, key, ex->margin[m], 1, &dn);
        for (long i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
                part[i * d + j] = phi[i * (d + 1) + j];
        snprintf(key, sizeof key, "%s/shap", ex->model[m]);
        if (s == DR_OK)
            s = dr_h5_write_f32(f, key, part, 2, dims);
        snprintf(key, sizeof key, "%s/shap_by_column", ex->model[m]);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, key, by_col, 2, cdims);
        if (s == DR_OK && rf)
            s = dr_write_reasons(e, rf, m, by_col, col_table, n_cols);
        snprintf(key, sizeof key, "%s/shap_history", ex->model[m]);
        if (s == DR_OK && C > 0)
            s = dr_h5_write_f32(f, key, phi_seq, 2, sdims);
        snprintf(key, sizeof key, "%s/history_channel", ex->model[m]);
        if (s == DR_OK && C > 0)
            s = dr_h5_write_strings(f, key, strcmp(ex->method[m], "Kernel SHAP")
                                    ? (const char *const *)e->seq_stats.channels : whole_history, C);
        if (s == DR_OK && ex->interaction[m])
            s = dr_write_interactions(f, ex->model[m], ex->interaction[m], ex->interaction_rows, d);
        snprintf(key, sizeof key, "%s/mean_abs", ex->model[m]);
        if (s == DR_OK)
            s = dr_h5_write_f64(f, key, mean_abs, 1, &dd);
        if (s != DR_OK)
            break;
        if (strcmp(ex->method[m], "TreeSHAP") == 0)
            dr_run_log(&e->run, "\nSHAP of %s (TreeSHAP, %ld test loans; largest |base + sum - margin| %.2e), the "
                       "top %d inputs by mean |SHAP| (log-odds):\n", ex->model[m], n, worst, ex->top);
        else if (strcmp(ex->method[m], "Kernel SHAP") == 0)
            dr_run_log(&e->run, "\nSHAP of %s (Kernel SHAP, %ld coalitions per loan over %ld k-means points of the "
                       "training rows, %ld test loans; largest |base + sum - %s| %.2e), the top %d inputs by mean "
                       "|SHAP| (%s%s):\n", ex->model[m], ex->kernel_samples, ex->bg.k, n,
                       strcmp(scale, "probability") ? "margin" : "probability", worst, ex->top, scale,
                       strcmp(ex->model[m], "ensemble") == 0 ? ": the members' values, weighted" : "");
        else
            dr_run_log(&e->run, "\nSHAP of %s (expected gradients, %ld samples per loan over %ld training rows, %ld "
                       "test loans; |base + sum - margin| mean %.2e, largest %.2e, against a mean |margin - base| of "
                       "%.3f), the top %d inputs by mean |SHAP| (log-odds%s):\n", ex->model[m], ex->samples,
                       ex->background, n, gap, worst, spread, ex->top,
                       strcmp(ex->model[m], "svm") == 0 ? ": the SVM's margin before Platt scaling" : "");
        for (int t = 0; t < ex->top && t < d; t++) { /* selection of the largest remaining */
            int best = -1;
            for (int j = 0; j < d; j++)
                if (mean_abs[j] >= 0 && (best < 0 || mean_abs[j] > mean_abs[best]))
                    best = j;
            dr_run_log(&e->run, "  %2d. %-40s %.4f\n", t + 1, name[best], mean_abs[best]);
            fprintf(sf, "%s,%s,%d,\"%s\",%.6g,%.6g,%.4f\n", ex->model[m], ex->method[m], t + 1, name[best],
                    mean_abs[best], dr_mean_shap(phi, n, d, best), dr_value_correlation(e->test.m.x, phi, n, d, best));
            mean_abs[best] = -1;
        }
        s = dr_write_lime(e, f, m, name);
    }
    if (s == DR_OK)
        s = dr_write_lime_csv(e, name);
    if (f) {
        if (s == DR_OK)
            s = dr_h5_commit(f);
        else
            dr_h5_close(f);
    }
    s = dr_run_file_close(&summary, s);
    s = dr_run_file_close(&reasons, s);
    dr_free_names(name, d);
    dr_matrix_free(&all);
    free(col_of);
    free(col_name);
    free(col_table);
    free(by_col);
    free(mean_abs);
    free(part);
    return s;
}
