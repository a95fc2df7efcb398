/* One training epoch of the hybrid network (models/hybrid.h) on random data of a
 * given shape: the C side of the comparison with bench/torch_ref.py.
 *
 * usage: train_bench [--rows N] [--groups 20,20,20,20] [--seq-len T --seq-ch C]
 *                    [--batch 256] [--repeats 3] [--device cpu|cuda] [--graphs 1|0] [--infer-repeats 20]
 *                    [--profile 0|1]
 * Prints one JSON line per repeat, then the inference latency of one batch (the
 * median of --infer-repeats after 3 warm-ups: host rows in, evaluation forward,
 * probabilities back on the host, as bench/torch_ref.py measures it; 0 skips it),
 * then the summary: median epoch, samples/s, inference ms and peak RSS. With
 * --profile 1, after those (which it does not touch) one more epoch and the
 * inference batches again, op by op (dr_graph_profile): one JSON line per op
 * with its forward and backward seconds and its share of the profiled time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/philox.h"
#include "kernels/backends.h"
#include "models/hybrid.h"
#include "bench/bench_clock.h"

static int fail(const char *what)
{
    fprintf(stderr, "train_bench: %s: %s\n", what, dr_last_error());
    return 1;
}

/* The profile since dr_graph_profile(g, 1), one line per op, largest first,
 * then the ops' total against the wall time of the profiled work. */
static void print_profile(const dr_graph *g, const char *phase, double wall_s)
{
    dr_op_time t[32];
    int n = dr_graph_profile_ops(g, t, 32);
    double total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].forward_s + t[i].backward_s;
    for (int i = 0; i < n; i++) /* selection order: a handful of ops */
        for (int j = i + 1; j < n; j++)
            if (t[j].forward_s + t[j].backward_s > t[i].forward_s + t[i].backward_s) {
                dr_op_time k = t[i];
                t[i] = t[j];
                t[j] = k;
            }
    for (int i = 0; i < n; i++)
        printf("{\"profile\": \"%s\", \"op\": \"%s\", \"nodes\": %d, \"forward_s\": %.4f, \"backward_s\": %.4f, "
               "\"share\": %.4f}\n",
               phase, t[i].op, t[i].nodes, t[i].forward_s, t[i].backward_s,
               (t[i].forward_s + t[i].backward_s) / (total > 0 ? total : 1));
    printf("{\"profile\": \"%s\", \"ops_s\": %.4f, \"wall_s\": %.4f}\n", phase, total, wall_s);
}

int main(int argc, char **argv)
{
    long rows = 105000;
    int batch = 256, repeats = 3, seq_len = 0, seq_ch = 0, infer_repeats = 20, graphs = 1, profile = 0;
    const char *groups = "20,20,20,20", *device = "cpu";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) rows = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--groups")) groups = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq-len")) seq_len = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq-ch")) seq_ch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--device")) device = argv[i + 1];
        else if (!strcmp(argv[i], "--infer-repeats")) infer_repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--graphs")) graphs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile")) profile = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "train_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (rows < 1 || batch < 1 || repeats < 1) {
        fprintf(stderr, "train_bench: --rows, --batch and --repeats must be at least 1\n");
        return 2;
    }
    dr_hybrid_config cfg = {.filters = {64, 128, 256}, .kernel = {3, 3, 3}, .pool = 2, .lstm_units = 128,
                            .attention_dim = 128, .n_fc = 2, .fc = {256, 64}, .dropout = 0.5f,
                            .seq_len = seq_len, .seq_channels = seq_ch,
                            .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f}};
    for (const char *p = groups; *p && cfg.n_groups < DR_HYBRID_MAX_GROUPS; cfg.n_groups++) {
        cfg.group_size[cfg.n_groups] = atoi(p);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    cfg.n_groups++;
    dr_backend *be;
    if (dr_backend_create(&be, device) != DR_OK)
        return fail("backend");
    dr_hybrid m;
    if (dr_hybrid_build(&m, be, &cfg, 1, batch) != DR_OK)
        return fail("build");
    int nf = m.n_features;
    long seq_row = (long)seq_len * seq_ch;
    float *x = malloc(sizeof(float) * (size_t)rows * (size_t)nf), *y = malloc(sizeof(float) * (size_t)rows);
    float *seq = seq_row ? malloc(sizeof(float) * (size_t)(rows * seq_row)) : NULL;
    for (long i = 0; i < rows * nf; i++)
        x[i] = 2.0f * dr_philox_uniform(3, 1, 0, (uint64_t)i) - 1.0f;
    for (long i = 0; i < rows * seq_row; i++)
        seq[i] = 2.0f * dr_philox_uniform(3, 3, 0, (uint64_t)i) - 1.0f;
    for (long i = 0; i < rows; i++)
        y[i] = dr_philox_uniform(3, 2, 0, (uint64_t)i) < 0.187f;
    /* As experiments/train.c feeds a training run: each batch gathered into its own
     * rows of an epoch-sized buffer (pinned on a GPU), copies queued, whole steps
     * (dr_graph_train_step: replayed CUDA graphs unless --graphs 0), the loss read
     * once at the end of the epoch. */
    float *bx = dr_backend_host_alloc(be, sizeof(float) * (size_t)rows * (size_t)nf);
    float *by = dr_backend_host_alloc(be, sizeof(float) * (size_t)rows);
    float *bs = seq_row ? dr_backend_host_alloc(be, sizeof(float) * (size_t)(rows * seq_row)) : NULL;
    if (!bx || !by || (seq_row && !bs))
        return fail("host buffers");
    dr_graph_use_step_graphs(m.g, graphs);
    double *times = malloc(sizeof(double) * (size_t)repeats);
    long step = 0;
    printf("{\"device\": \"%s\", \"params\": %ld, \"rows\": %ld, \"features\": %d, \"batch\": %d, "
           "\"graphs\": %d}\n",
           dr_backend_describe(be), dr_graph_param_count(m.g), rows, nf, batch, graphs);
    /* the timed repeats, then with --profile one more, profiled */
    for (int r = 0; r < repeats + (profile != 0); r++) {
        if (r == repeats && dr_graph_profile(m.g, 1) != DR_OK)
            return fail("profile");
        double t0 = dr_now();
        if (dr_graph_step_metrics_reset(m.g) != DR_OK)
            return fail("metrics");
        for (long start = 0; start < rows; start += batch) {
            int n = (int)(rows - start < batch ? rows - start : batch);
            for (long i = start; i < start + n; i++) {
                /* a strided walk stands in for the shuffled order */
                long row = (i * 7919) % rows;
                memcpy(bx + i * nf, x + row * nf, sizeof(float) * (size_t)nf);
                if (bs)
                    memcpy(bs + i * seq_row, seq + row * seq_row, sizeof(float) * (size_t)seq_row);
                by[i] = y[row];
            }
            dr_adam_params hp = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = ++step};
            if (dr_graph_set_input_async(m.g, m.x, bx + start * nf, n) != DR_OK ||
                dr_graph_set_input_async(m.g, m.y, by + start, n) != DR_OK ||
                (bs && dr_graph_set_input_async(m.g, m.seq, bs + start * seq_row, n) != DR_OK) ||
                dr_graph_train_step(m.g, m.loss, &hp) != DR_OK)
                return fail("step");
        }
        dr_step_metrics sm;
        if (dr_graph_step_metrics(m.g, &sm) != DR_OK)
            return fail("epoch");
        if (r == repeats) {
            print_profile(m.g, "train", dr_now() - t0);
            break;
        }
        times[r] = dr_now() - t0;
        printf("{\"repeat\": %d, \"epoch_s\": %.3f, \"samples_per_s\": %.1f, \"mean_loss\": %.5f}\n", r,
               times[r], rows / times[r], sm.loss_sum / (double)rows);
        fflush(stdout);
    }
    const dr_step_stats *ss = dr_graph_step_stats(m.g);
    printf("{\"steps_eager\": %ld, \"steps_replayed\": %ld, \"captures\": %d}\n", ss->eager,
           ss->replayed, ss->captured);
    if (ss->failure[0])
        fprintf(stderr, "train_bench: step graphs turned off: %s\n", ss->failure);
    qsort(times, (size_t)repeats, sizeof *times, bench_cmp_double);
    double med = times[repeats / 2];

    /* Inference of one batch, end to end: the first rows in, probabilities out. */
    double infer_ms = -1.0;
    if (infer_repeats > 0) {
        int n = (int)(rows < batch ? rows : batch);
        float *prob = malloc(sizeof(float) * (size_t)n);
        double *lat = malloc(sizeof(double) * (size_t)infer_repeats);
        double profiled_from = 0;
        for (int r = -3; r < infer_repeats + (profile ? infer_repeats : 0); r++) { /* 3 warm-ups */
            if (r == infer_repeats) { /* then profiled again */
                if (dr_graph_profile(m.g, 1) != DR_OK)
                    return fail("profile");
                profiled_from = dr_now();
            }
            double t0 = dr_now();
            if (dr_graph_set_input(m.g, m.x, x, n) != DR_OK || dr_graph_set_input(m.g, m.y, y, n) != DR_OK ||
                (seq && dr_graph_set_input(m.g, m.seq, seq, n) != DR_OK) ||
                dr_graph_forward(m.g, DR_MODE_EVAL) != DR_OK || dr_graph_read(m.g, m.prob, prob) != DR_OK ||
                dr_backend_sync(be) != DR_OK)
                return fail("inference");
            if (r >= 0 && r < infer_repeats)
                lat[r] = 1e3 * (dr_now() - t0);
        }
        if (profile)
            print_profile(m.g, "inference", dr_now() - profiled_from);
        qsort(lat, (size_t)infer_repeats, sizeof *lat, bench_cmp_double);
        infer_ms = lat[infer_repeats / 2];
        printf("{\"infer_batch\": %d, \"infer_repeats\": %d, \"infer_median_ms\": %.3f, \"infer_min_ms\": %.3f}\n",
               n, infer_repeats, infer_ms, lat[0]);
        free(prob), free(lat);
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\": \"defrisk\", \"median_epoch_s\": %.3f, \"samples_per_s\": %.1f, \"infer_ms\": ", med,
           rows / med);
    if (infer_ms >= 0)
        printf("%.3f", infer_ms);
    else
        printf("null");
    printf(", \"peak_rss_mib\": %.1f}\n", ru.ru_maxrss / 1024.0);
    dr_backend_host_free(be, bx), dr_backend_host_free(be, by), dr_backend_host_free(be, bs);
    dr_hybrid_free(&m);
    dr_backend_free(be);
    free(x), free(y), free(seq), free(times);
    return 0;
}
