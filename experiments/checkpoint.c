#include "experiments/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dr_ckpt_format = "defrisk-checkpoint";

static const char *dr_kind_group(dr_state_kind k)
{
    switch (k) {
    case DR_STATE_PARAM: return "params";
    case DR_STATE_ADAM_M: return "adam_m";
    case DR_STATE_ADAM_V: return "adam_v";
    case DR_STATE_BUFFER: return "buffers";
    case DR_STATE_GRAD: break;
    }
    return "grads";
}

static const dr_state_kind dr_saved_kinds[] = {DR_STATE_PARAM, DR_STATE_ADAM_M, DR_STATE_ADAM_V, DR_STATE_BUFFER};

static dr_status dr_write_state(dr_h5 *f, dr_graph *g)
{
    for (size_t k = 0; k < sizeof dr_saved_kinds / sizeof *dr_saved_kinds; k++) {
        for (int i = 0; i < dr_graph_state_count(g, dr_saved_kinds[k]); i++) {
            dr_state_tensor t;
            DR_TRY(dr_graph_state_get(g, dr_saved_kinds[k], i, &t));
            float *host = malloc((size_t)t.numel * sizeof *host);
            if (!host)
                return dr_error(DR_ERR_NOMEM, "checkpoint: out of host memory");
            char name[160];
            snprintf(name, sizeof name, "%s/%s", dr_kind_group(dr_saved_kinds[k]), t.name);
            int64_t dims[DR_MAX_DIMS];
            for (int d = 0; d < t.ndim; d++)
                dims[d] = t.shape[d];
            dr_status s = dr_graph_state_read(g, &t, host);
            if (s == DR_OK)
                s = dr_h5_write_f32(f, name, host, t.ndim, dims);
            free(host);
            DR_TRY(s);
        }
    }
    return DR_OK;
}

/* The best weights are one flat host array per kind; they are stored per tensor
 * so h5py users see names. */
static dr_status dr_write_best(dr_h5 *f, dr_graph *g, const dr_train_state *st)
{
    for (int k = 0; k < 2; k++) {
        dr_state_kind kind = k ? DR_STATE_BUFFER : DR_STATE_PARAM;
        const float *src = k ? st->best_buffers : st->best_params;
        for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
            dr_state_tensor t;
            DR_TRY(dr_graph_state_get(g, kind, i, &t));
            char name[160];
            snprintf(name, sizeof name, "best/%s/%s", dr_kind_group(kind), t.name);
            int64_t dims[DR_MAX_DIMS];
            for (int d = 0; d < t.ndim; d++)
                dims[d] = t.shape[d];
            DR_TRY(dr_h5_write_f32(f, name, src, t.ndim, dims));
            src += t.numel;
        }
    }
    return DR_OK;
}

static dr_status dr_write_checkpoint(dr_h5 *f, dr_graph *g, const dr_train_state *st, dr_h5_writer_fn *extra,
                                     void *ctx)
{
    DR_TRY(dr_h5_attr_set_str(f, "/", "format", dr_ckpt_format));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "version", DR_CHECKPOINT_VERSION));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "epoch", st->epoch));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "adam_step", st->adam_step));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "graph_step", (int64_t)dr_graph_step(g)));
    DR_TRY(dr_h5_attr_set_f64(f, "/", "lr", st->lr));
    DR_TRY(dr_h5_attr_set_f64(f, "/", "plateau_best", st->plateau_best));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "plateau_bad", st->plateau_bad));
    DR_TRY(dr_h5_attr_set_f64(f, "/", "best_auc", st->best_auc));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "best_epoch", st->best_epoch));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "es_wait", st->es_wait));
    DR_TRY(dr_h5_attr_set_i64(f, "/", "stopped", st->stopped));
    DR_TRY(dr_write_state(f, g));
    if (st->best_epoch >= 0)
        DR_TRY(dr_write_best(f, g, st));
    int64_t n = st->epoch;
    const char *names[] = {"history/train_loss", "history/val_loss", "history/val_auc", "history/lr",
                           "history/seconds"};
    const double *cols[] = {st->train_loss, st->val_loss, st->val_auc, st->hist_lr, st->seconds};
    for (int i = 0; i < 5; i++)
        DR_TRY(dr_h5_write_f64(f, names[i], cols[i], 1, &n));
    return extra ? extra(f, ctx) : DR_OK;
}

dr_status dr_checkpoint_save(const char *path, dr_graph *g, const dr_train_state *st, dr_h5_writer_fn *extra,
                             void *extra_ctx)
{
    dr_h5 *f;
    DR_TRY(dr_h5_create(&f, path));
    dr_status s = dr_write_checkpoint(f, g, st, extra, extra_ctx);
    if (s != DR_OK) {
        dr_h5_close(f);
        return dr_error_context(s, "writing checkpoint %s: ", path);
    }
    return dr_h5_commit(f);
}

/* --- loading ----------------------------------------------------------------------- */

static dr_status dr_check_format(dr_h5 *f, const char *path)
{
    char *format = NULL;
    int64_t version = 0;
    if (dr_h5_attr_get_str(f, "/", "format", &format) != DR_OK || strcmp(format, dr_ckpt_format) != 0) {
        free(format);
        return dr_error(DR_ERR_FORMAT, "%s is not a defrisk checkpoint (no format = \"%s\" attribute)", path,
                        dr_ckpt_format);
    }
    free(format);
    DR_TRY(dr_h5_attr_get_i64(f, "/", "version", &version));
    if (version != DR_CHECKPOINT_VERSION)
        return dr_error(DR_ERR_FORMAT,
                        "%s has checkpoint layout version %lld but this build reads version %d; use the "
                        "defrisk release that wrote it, or retrain",
                        path, (long long)version, DR_CHECKPOINT_VERSION);
    return DR_OK;
}

static dr_status dr_read_tensor(dr_h5 *f, const char *path, const char *name, float *host, long numel)
{
    if (!dr_h5_exists(f, name))
        return dr_error(DR_ERR_FORMAT, "%s lacks %s: it was written by a different network", path, name);
    dr_status s = dr_h5_read_f32_into(f, name, host, numel);
    return s == DR_OK ? s : dr_error_context(DR_ERR_FORMAT, "%s: %s: ", path, name);
}

static dr_status dr_read_kind(dr_h5 *f, const char *path, dr_graph *g, dr_state_kind kind, const char *prefix,
                              float *flat)
{
    for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
        dr_state_tensor t;
        DR_TRY(dr_graph_state_get(g, kind, i, &t));
        char name[160];
        snprintf(name, sizeof name, "%s%s/%s", prefix, dr_kind_group(kind), t.name);
        float *host = flat ? flat : malloc((size_t)t.numel * sizeof *host);
        if (!host)
            return dr_error(DR_ERR_NOMEM, "checkpoint: out of host memory");
        dr_status s = dr_read_tensor(f, path, name, host, t.numel);
        if (s == DR_OK && !flat)
            s = dr_graph_state_write(g, &t, host);
        if (!flat)
            free(host);
        else
            flat += t.numel;
        DR_TRY(s);
    }
    return DR_OK;
}

static dr_status dr_read_i64(dr_h5 *f, const char *key, int *out)
{
    int64_t v;
    DR_TRY(dr_h5_attr_get_i64(f, "/", key, &v));
    *out = (int)v;
    return DR_OK;
}

static dr_status dr_load(dr_h5 *f, const char *path, dr_graph *g, dr_train_state *st, int max_epochs)
{
    DR_TRY(dr_check_format(f, path));
    int64_t step, adam_step;
    memset(st, 0, sizeof *st);
    DR_TRY(dr_read_i64(f, "epoch", &st->epoch));
    DR_TRY(dr_h5_attr_get_i64(f, "/", "adam_step", &adam_step));
    DR_TRY(dr_h5_attr_get_i64(f, "/", "graph_step", &step));
    DR_TRY(dr_h5_attr_get_f64(f, "/", "lr", &st->lr));
    DR_TRY(dr_h5_attr_get_f64(f, "/", "plateau_best", &st->plateau_best));
    DR_TRY(dr_read_i64(f, "plateau_bad", &st->plateau_bad));
    DR_TRY(dr_h5_attr_get_f64(f, "/", "best_auc", &st->best_auc));
    DR_TRY(dr_read_i64(f, "best_epoch", &st->best_epoch));
    DR_TRY(dr_read_i64(f, "es_wait", &st->es_wait));
    DR_TRY(dr_read_i64(f, "stopped", &st->stopped));
    st->adam_step = (long)adam_step;
    dr_graph_set_step(g, (uint64_t)step);

    for (size_t k = 0; k < sizeof dr_saved_kinds / sizeof *dr_saved_kinds; k++)
        DR_TRY(dr_read_kind(f, path, g, dr_saved_kinds[k], "", NULL));

    size_t cap = (size_t)(max_epochs > st->epoch ? max_epochs : st->epoch) + 1;
    double **cols[] = {&st->train_loss, &st->val_loss, &st->val_auc, &st->hist_lr, &st->seconds};
    const char *names[] = {"history/train_loss", "history/val_loss", "history/val_auc", "history/lr",
                           "history/seconds"};
    for (int i = 0; i < 5; i++) {
        *cols[i] = calloc(cap, sizeof(double));
        double *h = NULL;
        int64_t dims[DR_H5_MAX_RANK];
        int rank;
        if (!*cols[i])
            return dr_error(DR_ERR_NOMEM, "checkpoint: out of host memory");
        DR_TRY(dr_h5_read_f64(f, names[i], &h, &rank, &dims[0]));
        if (rank != 1 || dims[0] != st->epoch) {
            free(h);
            return dr_error(DR_ERR_FORMAT, "%s: %s has %lld entries for %d epochs", path, names[i],
                            (long long)dims[0], st->epoch);
        }
        memcpy(*cols[i], h, (size_t)st->epoch * sizeof(double));
        free(h);
    }

    for (int k = 0; k < 2; k++) {
        dr_state_kind kind = k ? DR_STATE_BUFFER : DR_STATE_PARAM;
        long total = 0;
        for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
            dr_state_tensor t;
            DR_TRY(dr_graph_state_get(g, kind, i, &t));
            total += t.numel;
        }
        float *flat = malloc((size_t)(total ? total : 1) * sizeof *flat);
        if (!flat)
            return dr_error(DR_ERR_NOMEM, "checkpoint: out of host memory");
        if (k) {
            st->best_buffers = flat;
            st->n_buffer_floats = total;
        } else {
            st->best_params = flat;
            st->n_param_floats = total;
        }
        if (st->best_epoch >= 0)
            DR_TRY(dr_read_kind(f, path, g, kind, "best/", flat));
    }
    return DR_OK;
}

dr_status dr_checkpoint_load(const char *path, dr_graph *g, dr_train_state *st, int max_epochs)
{
    dr_h5 *f;
    DR_TRY(dr_h5_open(&f, path));
    dr_status s = dr_load(f, path, g, st, max_epochs);
    dr_h5_close(f);
    if (s != DR_OK)
        dr_train_state_free(st);
    return s;
}

dr_status dr_checkpoint_load_best(const char *path, dr_graph *g)
{
    dr_h5 *f;
    DR_TRY(dr_h5_open(&f, path));
    dr_status s = dr_check_format(f, path);
    for (int k = 0; k < 2 && s == DR_OK; k++)
        s = dr_read_kind(f, path, g, k ? DR_STATE_BUFFER : DR_STATE_PARAM, "best/", NULL);
    dr_h5_close(f);
    return s;
}
