/* A run from start to end, resuming, and prediction from a finished run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/dates.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment.h"
#include "experiments/report_command.h"
#include "experiments/study.h"
#include "experiments/tracking.h"
#include "kernels/backends.h"

void dr_experiment_free(dr_experiment *e)
{
    dr_part *parts[3] = {&e->train, &e->val, &e->test};
    for (int i = 0; i < 3; i++) {
        dr_matrix_free(&parts[i]->m);
        free(parts[i]->y);
        free(parts[i]->seq);
    }
    for (int i = 0; i < e->n_models; i++) {
        free(e->models[i].val);
        free(e->models[i].test);
    }
    free(e->feature_order);
    dr_evaluation_free(&e->eval);
    dr_explain_free(&e->explain);
    dr_prep_free(&e->prep);
    if (e->has_seq)
        dr_seq_stats_free(&e->seq_stats);
    dr_split_free(&e->split);
    free(e->label);
    free(e->p_true);
    dr_table_free(&e->table);
    dr_backend_free(e->be);
    dr_run_close(&e->run);
    dr_config_free(e->cfg);
    memset(e, 0, sizeof *e);
}

/* --- the transform stored with the weights ------------------------------------------ */

dr_status dr_transform_write(dr_h5 *f, void *ctx)
{
    const dr_experiment *e = ctx;
    int64_t n = e->n_selected, g = e->n_groups, one = 1;
    int32_t *order = malloc((size_t)n * sizeof *order), sizes[DR_HYBRID_MAX_GROUPS];
    if (!order)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    const char *gnames[DR_HYBRID_MAX_GROUPS];
    for (int i = 0; i < e->n_selected; i++)
        order[i] = e->feature_order[i];
    for (int i = 0; i < e->n_groups; i++) {
        sizes[i] = e->group_size[i];
        gnames[i] = e->group_name[i];
    }
    const char *date = e->fe.date_column ? e->fe.date_column : "";
    dr_status s = dr_prep_save(&e->prep, f, "transform/prep");
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "transform/feature_order", order, 1, &n);
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "transform/group_size", sizes, 1, &g);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "transform/group_name", gnames, e->n_groups);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "transform/products", e->fe.products, e->fe.n_products);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "transform/polynomial", e->fe.poly, e->fe.n_poly);
    if (s == DR_OK)
        s = dr_h5_write_strings(f, "transform/date_column", &date, 1);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "transform/reference_date", &e->reference_date, 1, &one);
    int32_t history = e->fe.history;
    int64_t n_thr = e->fe.n_history_thresholds;
    const double no_thresholds = 0; /* HDF5 wants a buffer even for 0 values */
    if (s == DR_OK)
        s = dr_h5_write_i32(f, "transform/history_summaries", &history, 1, &one);
    if (s == DR_OK)
        s = dr_h5_write_f64(f, "transform/history_thresholds",
                            n_thr ? e->fe.history_thresholds : &no_thresholds, 1, &n_thr);
    if (s == DR_OK && e->has_seq)
        s = dr_seq_save(&e->seq_stats, f, "transform/seq");
    free(order);
    return s;
}

/* --- running -------------------------------------------------------------------- */

/* [cuda]: how each op with a choice is implemented on a CUDA device
 * (core/backend.h). Read on every device, so that the keys are known and
 * recorded in config.toml; no effect on the CPU. The default is the backend's
 * choice so far: "custom", or $DR_CUDA_CONV1D / $DR_CUDA_LSTM where set; the
 * same for cuda.math ("fp32", or $DR_CUDA_MATH). */
static dr_status dr_read_impl_keys(dr_config *cfg, dr_backend *be)
{
    for (const char *const *op = dr_backend_impl_ops; *op; op++) {
        char key[32];
        snprintf(key, sizeof key, "cuda.%s", *op);
        const char *impl;
        DR_TRY(dr_config_string(cfg, key, dr_backend_get_impl(be, *op), dr_backend_impl_names(*op),
                                &impl));
        if (strcmp(be->iface->name, "cuda") != 0)
            continue;
        dr_status s = dr_backend_set_impl(be, *op, impl);
        if (s != DR_OK)
            return dr_error_context(s, "%s: %s: ", dr_config_where(cfg, key), key);
    }
    const char *math;
    DR_TRY(dr_config_string(cfg, "cuda.math", dr_backend_get_math(be), dr_backend_math_names, &math));
    if (strcmp(be->iface->name, "cuda") != 0)
        return DR_OK;
    dr_status s = dr_backend_set_math(be, math);
    return s == DR_OK ? s : dr_error_context(s, "%s: cuda.math: ", dr_config_where(cfg, "cuda.math"));
}

/* train.device: "cpu", "cuda", "cuda:N", or "auto": the first CUDA device where
 * one is usable, else the CPU, with the reason in note ("" otherwise). A device
 * that was asked for by name and fails is an error naming the key. */
static dr_status dr_open_device(dr_config *cfg, dr_backend **be, char *note, size_t cap)
{
    const char *device;
    *note = '\0';
    DR_TRY(dr_config_string(cfg, "train.device", "cpu", NULL, &device));
    if (strcmp(device, "auto") == 0) {
        if (dr_backend_create(be, "cuda") == DR_OK)
            return DR_OK;
        snprintf(note, cap, "train.device = \"auto\": running on the CPU (%s)", dr_last_error());
        return dr_backend_create(be, "cpu");
    }
    dr_status s = dr_backend_create(be, device);
    return s == DR_OK ? s
                      : dr_error_context(s, "%s: train.device = \"%s\": ", dr_config_where(cfg, "train.device"),
                                         device);
}

dr_status dr_experiment_device(dr_config *cfg, dr_backend **be, char *note, size_t cap)
{
    DR_TRY(dr_open_device(cfg, be, note, cap));
    return dr_read_impl_keys(cfg, *be);
}

static dr_status dr_setup(dr_experiment *e, const char *config_path, const char *const *overrides, int n_overrides,
                          const char *resume_dir)
{
    char saved[1100];
    if (resume_dir) {
        snprintf(saved, sizeof saved, "%s/experiment.toml", resume_dir);
        DR_TRY(dr_config_load(&e->cfg, saved));
        DR_TRY(dr_run_load_overrides(e->cfg, resume_dir));
    } else {
        DR_TRY(dr_config_load(&e->cfg, config_path));
        for (int i = 0; i < n_overrides; i++)
            DR_TRY(dr_config_override(e->cfg, overrides[i]));
    }
    const char *dir, *name;
    char note[600];
    DR_TRY(dr_config_string(e->cfg, "output.dir", "runs", NULL, &dir));
    DR_TRY(dr_config_string(e->cfg, "output.name", "", NULL, &name));
    DR_TRY(dr_config_bool(e->cfg, "output.features", false, &e->write_features));
    DR_TRY(dr_config_bool(e->cfg, "output.report", false, &e->make_report));
    DR_TRY(dr_experiment_device(e->cfg, &e->be, note, sizeof note));
    if (resume_dir) {
        DR_TRY(dr_run_open(&e->run, resume_dir));
    } else {
        char stem[256];
        if (!*name)
            name = dr_run_stem(config_path, stem, sizeof stem);
        DR_TRY(dr_run_create(&e->run, dir, name));
        DR_TRY(dr_run_save_inputs(&e->run, config_path, overrides, n_overrides));
    }
    if (*note)
        dr_run_log(&e->run, "%s\n", note);
    dr_run_log(&e->run, "device: %s\n", dr_backend_describe(e->be));
    return DR_OK;
}

dr_status dr_experiment_run(const char *config_path, const char *const *overrides, int n_overrides,
                            const char *resume_dir)
{
    return dr_experiment_run_in(config_path, overrides, n_overrides, resume_dir, NULL, 0);
}

dr_status dr_experiment_run_in(const char *config_path, const char *const *overrides, int n_overrides,
                               const char *resume_dir, char *run_dir, size_t cap)
{
    dr_experiment e;
    memset(&e, 0, sizeof e);
    dr_status s = dr_setup(&e, config_path, overrides, n_overrides, resume_dir);
    if (s == DR_OK)
        dr_run_log(&e.run, "%s %s in %s\n", resume_dir ? "resuming" : "running", resume_dir ? resume_dir : config_path,
                   e.run.dir);
    if (s == DR_OK && run_dir)
        snprintf(run_dir, cap, "%s", e.run.dir);
    if (s == DR_OK && dr_study_requested(e.cfg)) {
        /* a study's refit: the run of the study's file knows its [search] */
        dr_study_settings st;
        s = dr_study_settings_read(e.cfg, &st);
    }
    if (s == DR_OK)
        s = dr_data_stage(&e);
    if (s == DR_OK)
        s = dr_model_stage(&e);
    if (s == DR_OK) {
        char path[1100];
        s = dr_config_write_resolved(e.cfg, dr_run_path(&e.run, "config.toml", path, sizeof path));
    }
    if (s == DR_OK)
        s = dr_report_stage(&e);
    if (e.checked) {
        dr_status t = dr_tracking_end(e.run.dir, s == DR_OK);
        s = s != DR_OK ? s : t;
    }
    if (s == DR_OK) {
        dr_run_log(&e.run, "\nresults in %s\n", e.run.dir);
        if (e.make_report)
            dr_make_report(&e.run);
    } else if (e.run.created && !e.checked) {
        /* nothing trained yet: a mistake in the file or an override leaves no
         * folder behind (most keys are only read by the stages, so the folder
         * exists by then) */
        dr_run_discard(&e.run);
        fprintf(stderr, "stopped before training: %s removed\n", e.run.dir);
    } else if (e.run.log) {
        fprintf(e.run.log, "error: %s\n", dr_last_error());
    }
    dr_experiment_free(&e);
    return s;
}

dr_status dr_experiment_trial(dr_experiment *e, const char *trial_dir)
{
    const char *unused;
    char note[600];
    DR_TRY(dr_config_string(e->cfg, "output.dir", "runs", NULL, &unused));
    DR_TRY(dr_config_string(e->cfg, "output.name", "", NULL, &unused));
    DR_TRY(dr_config_bool(e->cfg, "output.features", false, &e->write_features)); /* a trial writes no files */
    DR_TRY(dr_config_bool(e->cfg, "output.report", false, &e->make_report));
    DR_TRY(dr_experiment_device(e->cfg, &e->be, note, sizeof note));
    DR_TRY(dr_run_open(&e->run, trial_dir));
    if (*note)
        dr_run_log(&e->run, "%s\n", note);
    DR_TRY(dr_data_stage(e));
    return dr_model_stage(e);
}

/* --- prediction ------------------------------------------------------------------ */

typedef struct dr_saved_transform {
    int32_t *order, *group_size;
    int64_t n_order, n_groups;
    char **products, **poly, **date;
    long n_products, n_poly, n_date;
    double reference_date;
    int history;
    double *history_thresholds;
    int64_t n_history_thresholds;
} dr_saved_transform;

static void dr_saved_free(dr_saved_transform *t)
{
    free(t->order);
    free(t->group_size);
    dr_h5_free_strings(t->products, t->n_products);
    dr_h5_free_strings(t->poly, t->n_poly);
    dr_h5_free_strings(t->date, t->n_date);
    free(t->history_thresholds);
}

/* History summaries as the run made them; a checkpoint older than them had none. */
static dr_status dr_read_history(dr_h5 *f, dr_saved_transform *t)
{
    if (!dr_h5_exists(f, "transform/history_summaries"))
        return DR_OK;
    int32_t *on;
    int rank;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_read_i32(f, "transform/history_summaries", &on, &rank, d));
    int one_flag = rank == 1 && d[0] == 1;
    t->history = one_flag && on[0] != 0;
    free(on);
    if (!one_flag)
        return dr_error(DR_ERR_FORMAT, "%s: transform/history_summaries is not one flag", dr_h5_path(f));
    DR_TRY(dr_h5_read_f64(f, "transform/history_thresholds", &t->history_thresholds, &rank, d));
    if (rank != 1)
        return dr_error(DR_ERR_FORMAT, "%s: transform/history_thresholds is not a list", dr_h5_path(f));
    t->n_history_thresholds = d[0];
    return DR_OK;
}

static dr_status dr_read_transform(dr_h5 *f, dr_saved_transform *t, dr_prep *prep, dr_seq_stats *seq, int *has_seq)
{
    int rank;
    double *ref;
    DR_TRY(dr_prep_load(prep, f, "transform/prep"));
    DR_TRY(dr_h5_read_i32(f, "transform/feature_order", &t->order, &rank, &t->n_order));
    DR_TRY(dr_h5_read_i32(f, "transform/group_size", &t->group_size, &rank, &t->n_groups));
    DR_TRY(dr_h5_read_strings(f, "transform/products", &t->products, &t->n_products));
    DR_TRY(dr_h5_read_strings(f, "transform/polynomial", &t->poly, &t->n_poly));
    DR_TRY(dr_h5_read_strings(f, "transform/date_column", &t->date, &t->n_date));
    DR_TRY(dr_h5_read_f64(f, "transform/reference_date", &ref, NULL, NULL));
    t->reference_date = ref[0];
    free(ref);
    DR_TRY(dr_read_history(f, t));
    *has_seq = dr_h5_exists(f, "transform/seq");
    return *has_seq ? dr_seq_load(seq, f, "transform/seq") : DR_OK;
}

static dr_status dr_predict_rows(dr_config *cfg, dr_backend *be, const char *ckpt, const dr_saved_transform *t,
                                 const dr_matrix *full, const dr_seq_stats *seq_stats, const float *seq, float *prob)
{
    dr_hybrid_config hc;
    DR_TRY(dr_hybrid_config_read(cfg, &hc));
    hc.n_groups = (int)t->n_groups;
    for (int g = 0; g < hc.n_groups && g < DR_HYBRID_MAX_GROUPS; g++)
        hc.group_size[g] = t->group_size[g];
    if (seq) {
        hc.seq_len = seq_stats->T;
        hc.seq_channels = seq_stats->n_channels;
    }
    long n = full->n_rows;
    int nf = (int)t->n_order;
    float *x = malloc((size_t)n * (size_t)nf * sizeof *x), *y = calloc((size_t)n, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    }
    for (int j = 0; j < nf; j++)
        if (t->order[j] < 0 || t->order[j] >= full->n_features) {
            free(x);
            free(y);
            return dr_error(DR_ERR_FORMAT, "%s: transform/feature_order[%d] = %d, but the stored preprocessing makes "
                            "%d features", ckpt, j, t->order[j], full->n_features);
        }
    for (long i = 0; i < n; i++)
        for (int j = 0; j < nf; j++)
            x[i * nf + j] = full->x[i * full->n_features + t->order[j]];
    dr_hybrid m;
    dr_status s = dr_hybrid_build(&m, be, &hc, 0, 256);
    if (s == DR_OK) {
        s = dr_checkpoint_load_best(ckpt, m.g);
        dr_rows rows = {.n = n, .n_features = nf, .x = x, .y = y, .seq = seq,
                        .seq_len = seq ? seq_stats->T : 0, .seq_channels = seq ? seq_stats->n_channels : 0};
        dr_model_io io = {.g = m.g, .x = m.x, .seq = m.seq, .y = m.y, .logit = m.logit, .prob = m.prob, .loss = m.loss};
        if (s == DR_OK)
            s = dr_predict(&io, &rows, prob, NULL);
        dr_hybrid_free(&m);
    }
    free(x);
    free(y);
    return s;
}

static dr_status dr_write_probabilities(const char *out_path, const float *prob, long n)
{
    FILE *f = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s", out_path);
    fprintf(f, "row,probability\n");
    for (long i = 0; i < n; i++)
        fprintf(f, "%ld,%.6f\n", i + 1, prob[i]);
    if (f != stdout && fclose(f) != 0)
        return dr_error(DR_ERR_IO, "cannot write %s", out_path);
    return DR_OK;
}

dr_status dr_experiment_predict(const char *run_dir, const char *csv_path, const char *out_path)
{
    char cfg_path[1100], ckpt[1100];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.toml", run_dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", run_dir);
    dr_config *cfg = NULL;
    dr_backend *be = NULL;
    dr_h5 *f = NULL;
    dr_saved_transform t = {0};
    dr_prep prep = {0};
    dr_seq_stats seq_stats = {0};
    dr_table table = {0};
    dr_matrix full = {0};
    float *seq = NULL, *prob = NULL;
    int has_seq = 0;
    char note[600];
    dr_status s = dr_config_load(&cfg, cfg_path);
    if (s == DR_OK)
        s = dr_experiment_device(cfg, &be, note, sizeof note);
    if (s == DR_OK && *note)
        fprintf(stderr, "%s\n", note);
    if (s == DR_OK)
        s = dr_h5_open(&f, ckpt);
    if (s == DR_OK)
        s = dr_read_transform(f, &t, &prep, &seq_stats, &has_seq);
    dr_h5_close(f);
    if (s == DR_OK)
        s = dr_csv_read(&table, csv_path, NULL);
    if (s == DR_OK) {
        char ref[16] = "";
        int y, mo, d;
        if (isfinite(t.reference_date)) {
            dr_date_from_days(t.reference_date, &y, &mo, &d);
            snprintf(ref, sizeof ref, "%04d-%02d-%02d", y, mo, d);
        }
        dr_fe_options fe = {.products = (const char *const *)t.products, .n_products = (int)t.n_products,
                            .poly = (const char *const *)t.poly, .n_poly = (int)t.n_poly,
                            .date_column = t.n_date && t.date[0][0] ? t.date[0] : NULL, .reference_date = ref,
                            .history = t.history, .history_thresholds = t.history_thresholds,
                            .n_history_thresholds = (int)t.n_history_thresholds};
        s = dr_fe_apply(&table, &fe, NULL);
    }
    if (s == DR_OK && has_seq)
        s = dr_seq_transform(&seq_stats, &table, NULL, table.n_rows, &seq);
    if (s == DR_OK && has_seq)
        s = dr_seq_drop_columns(&table, &seq_stats);
    if (s == DR_OK)
        s = dr_prep_transform(&prep, &table, NULL, table.n_rows, &full);
    if (s == DR_OK && !(prob = malloc((size_t)(table.n_rows ? table.n_rows : 1) * sizeof *prob)))
        s = dr_error(DR_ERR_NOMEM, "out of host memory");
    if (s == DR_OK)
        s = dr_predict_rows(cfg, be, ckpt, &t, &full, &seq_stats, seq, prob);
    if (s == DR_OK)
        s = dr_write_probabilities(out_path, prob, table.n_rows);
    if (s != DR_OK)
        dr_error_context(s, "predicting %s with %s: ", csv_path, run_dir);
    free(prob);
    free(seq);
    dr_matrix_free(&full);
    dr_table_free(&table);
    if (has_seq)
        dr_seq_stats_free(&seq_stats);
    dr_prep_free(&prep);
    dr_saved_free(&t);
    dr_backend_free(be);
    dr_config_free(cfg);
    return s;
}
