#include "experiments/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/random.h"
#include "data/auc.h"
#include "experiments/checkpoint.h"
#include "experiments/tracking.h"

enum { DR_SHUFFLE_STREAM = 0x20000 };

/* Epoch e's order, keyed by (seed, e) alone. */
static void dr_shuffle(long *idx, long n, uint64_t seed, int epoch)
{
    for (long i = 0; i < n; i++)
        idx[i] = i;
    dr_philox_shuffle(idx, n, seed, DR_SHUFFLE_STREAM, (uint64_t)epoch);
}

/* Host rows that feed the graph. Prediction, and training on the CPU, gather
 * one batch at a time into malloc'd rows. Training on a device gathers each
 * batch of the epoch into its own rows of an epoch-sized buffer in pinned memory
 * (dr_backend_host_alloc), whose copy to the device is only queued: no row is
 * overwritten while its copy may still be pending, and the host never waits. */
typedef struct dr_batch_buf {
    float *x, *seq, *y;
    dr_backend *pinned; /* the backend that allocated them, or NULL: malloc */
    long rows;          /* rows held: a batch, or the whole training split */
} dr_batch_buf;

static float *dr_buf_alloc(dr_backend *pinned, size_t floats)
{
    size_t bytes = floats * sizeof(float);
    return pinned ? dr_backend_host_alloc(pinned, bytes) : malloc(bytes ? bytes : 1);
}

static void dr_batch_free(dr_batch_buf *b)
{
    float *p[3] = {b->x, b->seq, b->y};
    for (int i = 0; i < 3; i++) {
        if (b->pinned)
            dr_backend_host_free(b->pinned, p[i]);
        else
            free(p[i]);
    }
    memset(b, 0, sizeof *b);
}

static dr_status dr_batch_alloc(dr_batch_buf *b, const dr_rows *r, long rows, dr_backend *pinned)
{
    b->pinned = pinned;
    b->rows = rows;
    b->x = dr_buf_alloc(pinned, (size_t)rows * (size_t)r->n_features);
    b->y = dr_buf_alloc(pinned, (size_t)rows);
    b->seq = r->seq ? dr_buf_alloc(pinned, (size_t)rows * (size_t)r->seq_len * (size_t)r->seq_channels) : NULL;
    if (!b->x || !b->y || (r->seq && !b->seq)) {
        dr_batch_free(b);
        return dr_error(DR_ERR_NOMEM, "training: out of host memory for %ld rows", rows);
    }
    return DR_OK;
}

/* Copies rows idx[start .. start+n) (or start .. start+n when idx is NULL) of r
 * to rows at .. at+n of b. */
static void dr_gather(const dr_rows *r, const dr_batch_buf *b, long at, const long *idx, long start, int n)
{
    long seq_row = (long)r->seq_len * r->seq_channels;
    for (int i = 0; i < n; i++) {
        long row = idx ? idx[start + i] : start + i, to = at + i;
        memcpy(b->x + to * r->n_features, r->x + row * r->n_features, (size_t)r->n_features * sizeof(float));
        b->y[to] = r->y[row];
        if (r->seq)
            memcpy(b->seq + to * seq_row, r->seq + row * seq_row, (size_t)seq_row * sizeof(float));
    }
}

/* Feeds rows at .. at+n of b: copied at once, or queued (training). */
static dr_status dr_feed(const dr_model_io *m, const dr_rows *r, const dr_batch_buf *b, long at, int n,
                         int queued)
{
    dr_status (*set)(dr_graph *, dr_value, const float *, int) =
        queued ? dr_graph_set_input_async : dr_graph_set_input;
    long seq_row = (long)r->seq_len * r->seq_channels;
    DR_TRY(set(m->g, m->x, b->x + at * r->n_features, n));
    DR_TRY(set(m->g, m->y, b->y + at, n));
    if (m->seq.id >= 0)
        DR_TRY(set(m->g, m->seq, b->seq + at * seq_row, n));
    return DR_OK;
}

static dr_status dr_predict_into(const dr_model_io *m, const dr_rows *rows, float *prob, float *logit,
                                 double *mean_loss)
{
    int batch = dr_graph_max_batch(m->g);
    dr_batch_buf b = {0};
    dr_status s = dr_batch_alloc(&b, rows, batch, NULL);
    double loss_sum = 0.0;
    for (long start = 0; s == DR_OK && start < rows->n; start += batch) {
        int n = (int)(rows->n - start < batch ? rows->n - start : batch);
        float l = 0;
        dr_gather(rows, &b, 0, NULL, start, n);
        s = dr_feed(m, rows, &b, 0, n, 0);
        if (s == DR_OK)
            s = dr_graph_forward(m->g, DR_MODE_EVAL);
        if (s == DR_OK)
            s = dr_graph_read(m->g, m->prob, prob + start);
        if (s == DR_OK && logit)
            s = dr_graph_read(m->g, m->logit, logit + start);
        if (s == DR_OK)
            s = dr_graph_read(m->g, m->loss, &l);
        loss_sum += (double)l * n;
    }
    dr_batch_free(&b);
    if (s == DR_OK && mean_loss)
        *mean_loss = loss_sum / (double)rows->n;
    return s;
}

dr_status dr_predict(const dr_model_io *m, const dr_rows *rows, float *prob, double *mean_loss)
{
    return dr_predict_into(m, rows, prob, NULL, mean_loss);
}

dr_status dr_predict_logit(const dr_model_io *m, const dr_rows *rows, float *prob, float *logit)
{
    return dr_predict_into(m, rows, prob, logit, NULL);
}

/* --- state ------------------------------------------------------------------ */

void dr_train_state_free(dr_train_state *st)
{
    free(st->train_loss);
    free(st->val_loss);
    free(st->val_auc);
    free(st->hist_lr);
    free(st->seconds);
    free(st->best_params);
    free(st->best_buffers);
    memset(st, 0, sizeof *st);
}

static dr_status dr_state_init(dr_train_state *st, const dr_train_config *tc, dr_graph *g)
{
    memset(st, 0, sizeof *st);
    st->lr = tc->lr;
    st->plateau_best = INFINITY;
    st->best_auc = -1.0;
    st->best_epoch = -1;
    size_t n = (size_t)tc->epochs;
    st->train_loss = calloc(n, sizeof(double));
    st->val_loss = calloc(n, sizeof(double));
    st->val_auc = calloc(n, sizeof(double));
    st->hist_lr = calloc(n, sizeof(double));
    st->seconds = calloc(n, sizeof(double));
    for (int k = 0; k < 2; k++) {
        dr_state_kind kind = k ? DR_STATE_BUFFER : DR_STATE_PARAM;
        long total = 0;
        for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
            dr_state_tensor t;
            DR_TRY(dr_graph_state_get(g, kind, i, &t));
            total += t.numel;
        }
        if (k) {
            st->n_buffer_floats = total;
            st->best_buffers = malloc((size_t)(total ? total : 1) * sizeof(float));
        } else {
            st->n_param_floats = total;
            st->best_params = malloc((size_t)(total ? total : 1) * sizeof(float));
        }
    }
    if (!st->train_loss || !st->val_loss || !st->val_auc || !st->hist_lr || !st->seconds || !st->best_params ||
        !st->best_buffers)
        return dr_error(DR_ERR_NOMEM, "training: out of host memory");
    return DR_OK;
}

/* Copies parameters and buffers between the graph and host arrays (to_host != 0:
 * graph -> host). */
static dr_status dr_copy_weights(dr_graph *g, float *params, float *buffers, int to_host)
{
    for (int k = 0; k < 2; k++) {
        dr_state_kind kind = k ? DR_STATE_BUFFER : DR_STATE_PARAM;
        float *dst = k ? buffers : params;
        for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
            dr_state_tensor t;
            DR_TRY(dr_graph_state_get(g, kind, i, &t));
            DR_TRY(to_host ? dr_graph_state_read(g, &t, dst) : dr_graph_state_write(g, &t, dst));
            dst += t.numel;
        }
    }
    return DR_OK;
}

/* --- progress and metrics ------------------------------------------------------ */

static void dr_progress(const dr_train_config *tc, const dr_train_state *st, int epoch, long done, long total,
                        double loss, double rate, double eta)
{
    /* The bar redraws one line: only on a terminal, never into a log file. */
    if (!tc->progress || !isatty(STDERR_FILENO))
        return;
    int width = 24, fill = (int)(width * done / (total ? total : 1));
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double last_auc = st->epoch > 0 ? st->val_auc[st->epoch - 1] : NAN;
    fprintf(stderr, "\repoch %3d/%d [%s] %6ld/%ld loss %.4f val_auc %.4f lr %.1e %7.0f samples/s ETA %4.0fs ",
            epoch + 1, tc->epochs, bar, done, total, loss, last_auc, st->lr, rate, eta);
    fflush(stderr);
}

static dr_status dr_write_metrics(const char *run_dir, const dr_train_state *st)
{
    char path[4096], tmp[4120];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s", tmp);
    for (int e = 0; e < st->epoch; e++)
        fprintf(f,
                "{\"epoch\": %d, \"train_loss\": %.9g, \"val_loss\": %.9g, \"val_auc\": %.9g, \"lr\": %.9g, "
                "\"seconds\": %.3f}\n",
                e + 1, st->train_loss[e], st->val_loss[e], st->val_auc[e], st->hist_lr[e], st->seconds[e]);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return dr_error(DR_ERR_IO, "cannot write %s", path);
    return DR_OK;
}

/* The epoch just completed, as TensorBoard scalars; restart > 0 first tells
 * TensorBoard that a resumed run goes on from that step (1-based epochs). */
static dr_status dr_write_events(const char *run_dir, const dr_train_state *st, int restart)
{
    dr_tfevents *w;
    DR_TRY(dr_tracking_open(run_dir, &w, NULL));
    dr_status s = restart > 0 ? dr_tfevents_restart(w, restart) : DR_OK;
    int e = st->epoch - 1;
    const char *tags[] = {"loss/train", "loss/val", "auc/val", "lr", "epoch_seconds"};
    const double v[] = {st->train_loss[e], st->val_loss[e], st->val_auc[e], st->hist_lr[e], st->seconds[e]};
    for (int i = 0; i < 5 && s == DR_OK && e >= 0; i++)
        s = dr_tfevents_scalar(w, tags[i], e + 1, v[i]);
    dr_status c = dr_tfevents_close(w);
    return s != DR_OK ? s : c;
}

/* --- the loop ------------------------------------------------------------------- */

static dr_status dr_check_rows(const dr_model_io *m, const dr_rows *r, const char *name)
{
    if (r->n < 1)
        return dr_error(DR_ERR_INVALID, "training: the %s split is empty", name);
    if (r->n_features != dr_graph_numel(m->g, m->x))
        return dr_error(DR_ERR_SHAPE, "training: the %s split has %d features, the network expects %ld", name,
                        r->n_features, dr_graph_numel(m->g, m->x));
    if ((m->seq.id >= 0) != (r->seq != NULL))
        return dr_error(DR_ERR_SHAPE, "training: the %s split %s a history sequence but the network %s one", name,
                        r->seq ? "has" : "lacks", m->seq.id >= 0 ? "expects" : "has no input for");
    return DR_OK;
}

/* The epoch's first non-finite loss, named by its step; steps_before: Adam
 * steps of the earlier epochs. */
static dr_status dr_diverged(const dr_train_state *st, long steps_before, const dr_step_metrics *sm)
{
    return dr_error(DR_ERR_NUMERIC,
                    "training diverged: the loss is %g at epoch %d, step %ld of the epoch (global step %ld, lr "
                    "%g); lower train.lr or check the data for extreme values",
                    (double)sm->bad_loss, st->epoch + 1, (long)sm->bad_step - steps_before, (long)sm->bad_step,
                    st->lr);
}

static dr_status dr_train_epoch(const dr_model_io *m, const dr_train_config *tc, const dr_rows *train,
                                dr_train_state *st, long *idx, dr_batch_buf *b, double *mean_loss)
{
    int batch = dr_graph_max_batch(m->g) > tc->batch_size ? tc->batch_size : dr_graph_max_batch(m->g);
    int epoch = st->epoch;
    long steps_before = st->adam_step;
    int bar = tc->progress && isatty(STDERR_FILENO);
    dr_shuffle(idx, train->n, tc->seed, epoch);
    DR_TRY(dr_graph_step_metrics_reset(m->g));
    double t0 = dr_now(), last_draw = 0;
    for (long start = 0; start < train->n; start += batch) {
        int n = (int)(train->n - start < batch ? train->n - start : batch);
        long done = start + n;
        long at = b->rows >= train->n ? start : 0; /* epoch-sized: this batch's own rows */
        dr_gather(train, b, at, idx, start, n);
        DR_TRY(dr_feed(m, train, b, at, n, 1));
        dr_adam_params hp = {.lr = (float)st->lr, .beta1 = (float)tc->beta1, .beta2 = (float)tc->beta2,
                             .eps = (float)tc->eps, .weight_decay = (float)tc->weight_decay,
                             .step = ++st->adam_step};
        dr_status s = dr_graph_train_step(m->g, m->loss, &hp);
        if (s != DR_OK && s != DR_ERR_NUMERIC)
            return s;
        /* Reading the loss waits for the device: only at the end of the epoch,
         * to redraw the bar, or after the CPU has seen a non-finite loss. */
        int redraw = bar && dr_now() - last_draw > 0.25;
        if (s == DR_OK && !redraw && done < train->n)
            continue;
        dr_step_metrics sm;
        DR_TRY(dr_graph_step_metrics(m->g, &sm));
        if (sm.bad_step)
            return dr_diverged(st, steps_before, &sm);
        DR_TRY(s);
        double now = dr_now(), rate = done / (now - t0 + 1e-9);
        dr_progress(tc, st, epoch, done, train->n, sm.loss_sum / done, rate, (train->n - done) / (rate + 1e-9));
        last_draw = now;
        if (done == train->n)
            *mean_loss = sm.loss_sum / (double)train->n;
    }
    return DR_OK;
}

dr_status dr_train(const dr_model_io *m, const dr_train_config *tc, const dr_rows *train, const dr_rows *val,
                   const char *run_dir, int resume, dr_train_state *st)
{
    memset(st, 0, sizeof *st); /* safe to free whatever happens below */
    DR_TRY(dr_check_rows(m, train, "training"));
    DR_TRY(dr_check_rows(m, val, "validation"));
    char ckpt[4096] = "";
    int restart = 0;
    if (run_dir)
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", run_dir);
    if (resume && run_dir && access(ckpt, F_OK) == 0) {
        DR_TRY(dr_checkpoint_load(ckpt, m->g, st, tc->epochs));
        fprintf(stderr, "resuming from %s after epoch %d\n", ckpt, st->epoch);
        restart = st->epoch + 1;
    } else {
        DR_TRY(dr_state_init(st, tc, m->g));
    }

    long *idx = malloc((size_t)train->n * sizeof *idx);
    float *vprob = malloc((size_t)val->n * sizeof *vprob);
    dr_batch_buf b = {0};
    dr_backend *be = dr_graph_backend(m->g);
    /* copies done at once: one batch of rows will do */
    int copies_at_once = !dr_backend_async_copies(be);
    dr_status s = !(idx && vprob) ? dr_error(DR_ERR_NOMEM, "training: out of host memory")
                  : copies_at_once ? dr_batch_alloc(&b, train, dr_graph_max_batch(m->g), NULL)
                                   : dr_batch_alloc(&b, train, train->n, be);
    dr_graph_use_step_graphs(m->g, tc->cuda_graphs);
    while (s == DR_OK && st->epoch < tc->epochs && !st->stopped) {
        double t0 = dr_now(), train_loss = 0, val_loss = 0, auc = 0;
        s = dr_train_epoch(m, tc, train, st, idx, &b, &train_loss);
        if (s == DR_OK)
            s = dr_predict(m, val, vprob, &val_loss);
        if (s == DR_OK)
            s = dr_auc(vprob, val->y, val->n, &auc);
        if (s != DR_OK)
            break;
        int e = st->epoch;
        st->train_loss[e] = train_loss;
        st->val_loss[e] = val_loss;
        st->val_auc[e] = auc;
        st->hist_lr[e] = st->lr;
        st->seconds[e] = dr_now() - t0;
        st->epoch++;

        /* ReduceLROnPlateau(mode="min", threshold=1e-4 relative), as in PyTorch */
        if (val_loss < st->plateau_best * (1.0 - 1e-4)) {
            st->plateau_best = val_loss;
            st->plateau_bad = 0;
        } else if (++st->plateau_bad > tc->plateau_patience) {
            st->lr *= tc->plateau_factor;
            st->plateau_bad = 0;
        }
        if (auc > st->best_auc) {
            st->best_auc = auc;
            st->best_epoch = e;
            st->es_wait = 0;
            s = dr_copy_weights(m->g, st->best_params, st->best_buffers, 1);
        } else if (++st->es_wait >= tc->early_stop_patience) {
            st->stopped = 1;
        }
        if (tc->progress)
            fprintf(stderr, "%sepoch %3d/%d  train_loss %.4f  val_loss %.4f  val_auc %.4f  lr %.1e  %.1fs%s%24s\n",
                    isatty(STDERR_FILENO) ? "\r" : "", e + 1, tc->epochs, train_loss, val_loss, auc, st->hist_lr[e], st->seconds[e],
                    st->best_epoch == e ? "  *best" : "", "");
        if (s == DR_OK && tc->epoch_end) {
            int stop = 0;
            s = tc->epoch_end(tc->epoch_end_ctx, e, auc, &stop);
            st->stopped |= stop;
        }
        if (s == DR_OK && run_dir) {
            /* the events before the checkpoint: a resumed run never lacks a
             * checkpointed epoch, and what it redoes TensorBoard drops */
            s = dr_write_events(run_dir, st, restart);
            restart = 0;
            if (s == DR_OK)
                s = dr_checkpoint_save(ckpt, m->g, st, tc->checkpoint_extra, tc->checkpoint_extra_ctx);
            if (s == DR_OK)
                s = dr_write_metrics(run_dir, st);
        }
    }
    if (s == DR_OK && st->best_epoch >= 0)
        s = dr_copy_weights(m->g, st->best_params, st->best_buffers, 0);
    if (s == DR_OK && tc->progress && st->stopped)
        fprintf(stderr, "early stopping after epoch %d; best validation AUC %.4f at epoch %d\n", st->epoch,
                st->best_auc, st->best_epoch + 1);
    dr_batch_free(&b);
    free(idx);
    free(vprob);
    return s;
}
