/* CUDA op benchmark at the paper's shapes (batch 256): every op the hybrid
 * network calls in a training step, forward and backward timed separately, each
 * turned into GFLOP/s or GB/s and a fraction of this card's ceilings, measured in
 * the same run. Only built with CUDA (CMakeLists.txt skips bench/gpu_*_bench.c
 * otherwise); bench/ops_bench.c is the CPU's counterpart.
 *
 * Ceilings, measured before the ops (and once more after them, to show drift):
 *   fp32 FLOP/s:  cuBLAS SGEMM 8192 x 8192 x 8192 on random data, CUBLAS_DEFAULT_MATH
 *                 (plain fp32, no TF32), 2 FLOP per multiply-add, each call timed
 *                 with CUDA events on a stream of this program, median of --runs.
 *   bandwidth:    cudaMemcpyAsync device to device of 1 GiB, read + write counted
 *                 (2 GiB moved per copy), event-timed, median of 2 x --runs.
 * GEMM-like ops (conv1d, linear, LSTM, attention) are set against the SGEMM rate,
 * the others against the copy rate.
 *
 * Timing of the ops: the backend's stream is not exposed, so no events there.
 * After warm-up, N back-to-back calls are timed on the host's monotonic clock
 * between two dr_backend_sync() calls; per call = elapsed / N; median of --runs
 * such repeats. N is chosen so that a repeat takes about --ms milliseconds (the
 * sync's own latency, ~10 us, is then under 1 %). Two modes:
 *   eager:  the N calls launched from the host, as op-by-op training runs them;
 *           a small kernel's figure is then mostly its launch cost (~2-5 us).
 *   graph:  the same N calls captured once as a step graph (core/ops/step.h) and
 *           replayed, as training steps run from the second step on: the kernels'
 *           own time plus the gaps between graph nodes. An op that cannot be
 *           captured says why and is rated from its eager time (marked "e").
 * Rates and % of ceiling come from the graph time. The LSTM's backward is timed
 * as fwd+bwd pairs less the forward's time (cuDNN's LSTM keeps the state of one
 * forward only, so each backward must follow its own forward).
 * Each call's buffers rotate over several copies ("sets") whose total is at
 * least twice the card's L2 cache where 64 sets allow it, so that a call finds
 * its data in HBM as in a training step, not in the L2 where the previous call
 * left it; where even 64 sets fit in 2 x L2 the row is marked "L2" (its GB/s may
 * exceed the HBM ceiling). Ops that move well under a megabyte per call (loss,
 * the small FC layers, concat) are latency-bound: their rates say how far from
 * the ceilings such a call is, not how well it streams.
 *
 * What each call is, its work per call (FLOP or bytes) and the network's shapes:
 * the op cases in bench/gpu_ops_cases.c, whose header lists them.
 *
 * Implementation choices (dr_backend_set_impl): for "conv1d" and "lstm" each of
 * "custom", "steps" and "cudnn" is tried and every one accepted is timed; a refusal
 * is printed with its reason. An op with no choice at all is timed once ("-").
 * "custom" LSTM runs the per-step launches where its one-launch kernel does not
 * fit the card or shape; the backend says so once on stderr (in the log too).
 *
 * Output: the ceilings, one table line per op, pass and implementation, the sum
 * over one training step of calls x time, then one "OPS {json}" line per row.
 *
 *   ./build/gpu_ops_bench [--device cuda|cuda:N] [--runs R] [--ms T] [--only NAME]
 * --runs: timed repeats per figure (default 7, 3 to 31); --ms: target length of
 * one repeat (default 3); --only: the ops whose name starts with NAME.
 * Exit status: 0 every figure measured; 1 a device error during a measurement (the
 * row says which); 2 no usable CUDA device (the reason on stderr); 3 bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/backend.h"
#include "core/op_table.h"
#include "bench/bench_clock.h"
#include "bench/gpu_ceilings.h"
#include "bench/gpu_ops_cases.h"
#include "kernels/backends.h"

#ifndef DR_HAVE_CUDA
#error "gpu_ops_bench needs a build with the CUDA backend (CMakeLists.txt builds it only then)"
#endif

enum { MAXRUNS = 31, MAXCALLS = 2000 };

static dr_backend *g_be;
static int g_runs = 7;
static double g_target_ms = 3.0;
static const char *g_only = "";
static size_t g_l2_bytes;
static double g_gflops, g_gbps; /* the ceilings */
static int g_failures;

/* ---- timing ---- */
typedef struct row {
    const char *op, *impl, *pass;
    char shape[64];
    int calls;
    double eager_us, graph_us, work;
    int flop, in_l2, nsets, pair, ok;
} row;

static row *g_rows;
static int g_nrows, g_cap_rows;
static double g_step_us[3]; /* one training step: forward, backward, update (default impls) */

static void run_calls(opcase *c, op_fn *fn, int n, int *k)
{
    for (int i = 0; i < n; i++, (*k)++)
        fn(c, c->p[*k % c->nsets]);
}

/* Median microseconds per call of n back-to-back eager calls; < 0 on a device error. */
static double eager_us(opcase *c, op_fn *fn, int n)
{
    double t[MAXRUNS];
    int k = 0;
    for (int r = 0; r < g_runs; r++) {
        if (dr_backend_sync(g_be) != DR_OK)
            return -1.0;
        double t0 = dr_now();
        run_calls(c, fn, n, &k);
        if (dr_backend_sync(g_be) != DR_OK)
            return -1.0;
        t[r] = 1e6 * (dr_now() - t0) / n;
    }
    return bench_median(t, g_runs);
}

/* The same n calls captured as one step graph and replayed: median us per call.
 * -1 on a device error; -2 when the calls cannot be captured (why says why). */
static double graph_us(opcase *c, op_fn *fn, int n, char *why, size_t why_len)
{
    const dr_step_ops *so = g_be->ops->step;
    if (!so) {
        snprintf(why, why_len, "this backend has no step graphs");
        return -2.0;
    }
    dr_step_graph *sg = NULL;
    int k = 0;
    if (so->capture_begin(g_be) != DR_OK) {
        snprintf(why, why_len, "%s", dr_last_error());
        return -2.0;
    }
    run_calls(c, fn, n, &k);
    if (so->capture_end(g_be, &sg) != DR_OK) {
        snprintf(why, why_len, "%s", dr_last_error());
        return -2.0;
    }
    /* each replay advances the step state by one, so passing the next values
     * uploads nothing (the captured dropout and Adam read it) */
    dr_step_scalars sc = {.counter = 1000, .adam = c->hp};
    sc.adam.step = 1;
    double t[MAXRUNS], res = -1.0;
    for (int r = -1; r < g_runs; r++) { /* one warm-up replay */
        if (dr_backend_sync(g_be) != DR_OK)
            goto out;
        double t0 = dr_now();
        if (so->replay(g_be, sg, &sc) != DR_OK || dr_backend_sync(g_be) != DR_OK)
            goto out;
        if (r >= 0)
            t[r] = 1e6 * (dr_now() - t0) / n;
        sc.counter++, sc.adam.step++;
    }
    res = bench_median(t, g_runs);
out:
    so->graph_free(g_be, sg);
    return res;
}

/* After a device error: is the context still usable (not a sticky error)? */
static int context_alive(void)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess)
        return 1;
    printf("the CUDA context is unusable after that error (%s): stopping the op measurements\n",
           cudaGetErrorString(e));
    return 0;
}

static void add_row(const row *r)
{
    if (g_nrows == g_cap_rows) {
        int cap = g_cap_rows ? 2 * g_cap_rows : 64;
        row *p = realloc(g_rows, (size_t)cap * sizeof *p);
        if (!p)
            return;
        g_rows = p, g_cap_rows = cap;
    }
    g_rows[g_nrows++] = *r;
}

/* A row's rate comes from its graph time where captured, else its eager time;
 * FLOP are set against the SGEMM ceiling, bytes against the copy ceiling. */
static double row_us(const row *r) { return r->graph_us > 0 ? r->graph_us : r->eager_us; }
static double row_rate(const row *r) /* GFLOP/s or GB/s */
{
    double us = row_us(r);
    return us > 0 ? r->work / (us * 1e-6) * 1e-9 : 0.0;
}
static double row_ceiling(const row *r) { return r->flop ? g_gflops : g_gbps; }

static void print_header(void)
{
    printf("%-9s %-6s %-26s %-6s %5s %9s %9s %14s %19s %7s %s\n", "op", "impl", "shape", "pass",
           "calls", "eager us", "graph us", "work/call", "rate (graph)", "of ceil", "sets");
}

static void fwd_bwd(opcase *c, float *const *p)
{
    c->fwd(c, p);
    c->bwd(c, p);
}

/* Times one pass (0 fwd, 1 bwd) of a prepared case and prints its line; 0 on a
 * device error. */
static int measure_pass(opcase *c, int pass)
{
    static char last_why[512];
    static int pair_said;
    int pair = pass == 1 && c->bwd_pair;
    op_fn *fn = pair ? fwd_bwd : pass ? c->bwd : c->fwd;
    row r = {.op = c->op, .impl = c->impl, .pass = c->pass[pass], .calls = c->calls,
             .work = c->work[pass], .flop = c->flop, .in_l2 = c->in_l2, .nsets = c->nsets,
             .pair = pair};
    snprintf(r.shape, sizeof r.shape, "%s", c->shape);
    /* estimate one call's time from one eager pass over the sets */
    int k = 0, est_n = c->nsets < 3 ? 3 : c->nsets;
    if (dr_backend_sync(g_be) != DR_OK)
        goto fail;
    double t0 = dr_now();
    run_calls(c, fn, est_n, &k);
    if (dr_backend_sync(g_be) != DR_OK)
        goto fail;
    double per_us = 1e6 * (dr_now() - t0) / est_n;
    long n = (long)ceil(1e3 * g_target_ms / (per_us > 0.1 ? per_us : 0.1));
    if (n < c->nsets)
        n = c->nsets;
    n = (n + c->nsets - 1) / c->nsets * c->nsets; /* every set equally often */
    if (n > MAXCALLS)
        n = MAXCALLS;
    r.eager_us = eager_us(c, fn, (int)n);
    if (r.eager_us < 0)
        goto fail;
    char why[512] = "";
    r.graph_us = graph_us(c, fn, (int)n, why, sizeof why);
    if (r.graph_us == -1.0)
        goto fail;
    if (pass == 0) {
        c->fwd_us[0] = r.eager_us, c->fwd_us[1] = r.graph_us;
    } else if (pair) { /* the backward's share of the pairs */
        r.eager_us -= c->fwd_us[0];
        if (r.graph_us > 0 && c->fwd_us[1] > 0)
            r.graph_us -= c->fwd_us[1];
        else if (r.graph_us > 0)
            r.graph_us = -2.0, snprintf(why, sizeof why, "the forward was not captured");
    }

    double us = row_us(&r), rate = row_rate(&r), ceil_rate = row_ceiling(&r);
    char graph[16], work[32], rt[32];
    if (r.graph_us > 0)
        snprintf(graph, sizeof graph, "%9.2f", r.graph_us);
    else
        snprintf(graph, sizeof graph, "%9s", "n/a");
    snprintf(work, sizeof work, "%.3f %s", r.work * 1e-6, r.flop ? "MFLOP" : "MB");
    snprintf(rt, sizeof rt, "%.1f %s%s", rate, r.flop ? "GFLOP/s" : "GB/s",
             r.graph_us > 0 ? "  " : " e");
    printf("%-9s %-6s %-26s %-6s %5d %9.2f %s %14s %19s %6.2f%% %d%s\n", r.op, r.impl, r.shape,
           r.pass, r.calls, r.eager_us, graph, work, rt, ceil_rate > 0 ? 100.0 * rate / ceil_rate : 0,
           r.nsets, r.in_l2 ? " L2" : "");
    if (pair && !pair_said++)
        printf("          (bwd = fwd+bwd pairs - fwd: cuDNN's LSTM keeps the state of one forward, so "
               "each backward follows its own; timed so for every LSTM implementation alike)\n");
    if (r.graph_us < 0 && strcmp(why, last_why) != 0) /* each reason once in a row */
        printf("          (not captured, rated from the eager time: %s)\n", why);
    snprintf(last_why, sizeof last_why, "%s", r.graph_us < 0 ? why : "");
    if (c->is_default) {
        int slot = strcmp(r.pass, "update") == 0 ? 2 : pass;
        g_step_us[slot] += c->calls * us;
    }
    r.ok = 1;
    add_row(&r);
    return 1;
fail:
    printf("%-9s %-6s %-26s %-6s FAILED: %s\n", c->op, c->impl, c->shape, c->pass[pass],
           dr_last_error());
    r.eager_us = r.graph_us = -1.0;
    add_row(&r);
    g_failures++;
    return 0;
}

/* Warm-up (each set through the forward, then at once its backward, which needs
 * that forward's saved values: cuDNN's LSTM keeps only the last forward's), then
 * both passes. 0 when the context is dead. */
static int run_case(opcase *c)
{
    if (!gpu_ops_alloc_sets(c, g_l2_bytes)) {
        g_failures++;
        return context_alive();
    }
    int ok = 1;
    for (int s = 0; s < c->nsets; s++) {
        c->fwd(c, c->p[s]);
        if (c->bwd)
            c->bwd(c, c->p[s]);
    }
    if (dr_backend_sync(g_be) != DR_OK) {
        printf("%-9s %-6s %-26s FAILED in the warm-up: %s\n", c->op, c->impl, c->shape,
               dr_last_error());
        g_failures++;
        ok = 0;
    }
    if (ok)
        ok = measure_pass(c, 0);
    if (ok && c->bwd)
        ok = measure_pass(c, 1);
    gpu_ops_free_sets(c);
    return ok || context_alive();
}

/* Runs c once per implementation of its op that the backend accepts ("custom",
 * "steps", "cudnn"), or once as "-" when the op has no choice. 0 when the
 * context is dead. */
static int run_impls(opcase c)
{
    static const char *const names[] = {"custom", "steps", "cudnn"};
    const char *initial = dr_backend_get_impl(g_be, c.op); /* NULL: no choice */
    if (!initial)
        return run_case(&c);
    int alive = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && alive; i++) {
        if (dr_backend_set_impl(g_be, c.op, names[i]) != DR_OK) {
            printf("%-9s %-6s %-26s not timed: %s\n", c.op, names[i], c.shape, dr_last_error());
            continue;
        }
        opcase ci = c;
        ci.impl = names[i];
        ci.is_default = strcmp(names[i], initial) == 0;
        alive = run_case(&ci);
    }
    if (dr_backend_set_impl(g_be, c.op, initial) != DR_OK)
        printf("could not restore %s implementation \"%s\": %s\n", c.op, initial, dr_last_error());
    return alive;
}

/* a time for JSON: null where there is none (failed, or not captured) */
static const char *num(char *buf, size_t len, double v)
{
    if (v > 0)
        snprintf(buf, len, "%.3f", v);
    else
        snprintf(buf, len, "null");
    return buf;
}

static void print_json(const row *r)
{
    char e[32], g[32];
    double rate = row_rate(r), ceil_rate = row_ceiling(r);
    printf("OPS {\"op\": \"%s\", \"impl\": \"%s\", \"shape\": \"%s\", \"pass\": \"%s\", "
           "\"calls_per_step\": %d, \"eager_us\": %s, \"graph_us\": %s, \"%s\": %.0f, "
           "\"rate\": %.2f, \"unit\": \"%s\", \"pct_of_ceiling\": %.3f, \"rated_from\": \"%s\", "
           "\"bwd_from_pairs\": %s, \"sets\": %d, \"fits_l2\": %s, \"ok\": %s}\n",
           r->op, r->impl, r->shape, r->pass, r->calls, num(e, sizeof e, r->eager_us),
           num(g, sizeof g, r->graph_us),
           r->flop ? "flop" : "bytes", r->work, rate, r->flop ? "GFLOP/s" : "GB/s",
           rate > 0 && ceil_rate > 0 ? 100.0 * rate / ceil_rate : -1.0,
           r->graph_us > 0 ? "graph" : "eager", r->pair ? "true" : "false", r->nsets,
           r->in_l2 ? "true" : "false",
           r->ok ? "true" : "false");
}

#define USAGE "usage: gpu_ops_bench [--device cuda|cuda:N] [--runs R] [--ms T] [--only NAME]\n"

static int usage(const char *msg)
{
    fprintf(stderr, "gpu_ops_bench: %s\n" USAGE, msg);
    return 3;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a run killed by a time limit keeps its lines */
    const char *device = "cuda";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf(USAGE "(the header of bench/gpu_ops_bench.c says what is measured and how)\n");
            return 0;
        }
        if (!v)
            return usage("an option is missing its value");
        if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--runs"))
            g_runs = atoi(v);
        else if (!strcmp(a, "--ms"))
            g_target_ms = atof(v);
        else if (!strcmp(a, "--only"))
            g_only = v;
        else {
            fprintf(stderr, "gpu_ops_bench: unknown option %s\n", a);
            return usage("see the header of bench/gpu_ops_bench.c");
        }
        i++;
    }
    if (g_runs < 3 || g_runs > MAXRUNS || !(g_target_ms > 0 && g_target_ms <= 1000))
        return usage("--runs must be 3 to 31 and --ms more than 0 (at most 1000)");
    if (strncmp(device, "cuda", 4) != 0)
        return usage("--device must be cuda or cuda:N (bench/ops_bench.c times the CPU)");

    dr_status st = dr_backend_create(&g_be, device);
    if (st != DR_OK) {
        fprintf(stderr, "gpu_ops_bench: %s\n", dr_last_error());
        return st == DR_ERR_INVALID ? 3 : 2; /* a bad --device, or no usable GPU */
    }
    int l2 = 0;
    if (!BENCH_CUDA_OK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, g_be->device_index))) {
        dr_backend_free(g_be);
        return 1;
    }
    g_l2_bytes = (size_t)l2;
    long params = gpu_ops_network_params();
    if (params < 0) {
        dr_backend_free(g_be);
        return 1;
    }

    printf("CUDA op benchmark, the paper's network at batch %d\n", BATCH);
    printf("device: %s; L2 %.1f MiB\n", dr_backend_describe(g_be), l2 / 1048576.0);
    printf("kernels:\n");
    const char *k = dr_backend_kernels(g_be);
    for (const char *line = k; line && *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        printf("  %.*s\n", len, line);
        line = end ? end + 1 : NULL;
    }
    const char *tf32 = getenv("NVIDIA_TF32_OVERRIDE");
    g_gflops = gpu_ceiling_sgemm_gflops(8192, g_runs);
    g_gbps = gpu_ceiling_copy_gbps((size_t)1 << 30, 2 * g_runs);
    if (g_gflops <= 0 || g_gbps <= 0) {
        fprintf(stderr, "gpu_ops_bench: could not measure the card's ceilings (above)\n");
        dr_backend_free(g_be);
        return 1;
    }
    printf("ceilings, measured now (CUDA events on a stream of this program):\n");
    printf("  fp32:      %8.1f GFLOP/s  cuBLAS SGEMM 8192^3, CUBLAS_DEFAULT_MATH (no TF32%s), "
           "2 FLOP per multiply-add, median of %d after 2 warm-ups\n",
           g_gflops, tf32 ? "; NVIDIA_TF32_OVERRIDE is set" : "", g_runs);
    printf("  bandwidth: %8.1f GB/s     cudaMemcpyAsync device to device of 1 GiB, read + write "
           "counted, median of %d after 3 warm-ups\n",
           g_gbps, 2 * g_runs);
    printf("ops: per call = host clock over N back-to-back calls between two syncs, median of %d "
           "repeats of about %g ms;\n"
           "  eager = launched from the host; graph = the N calls captured as one step graph and "
           "replayed;\n"
           "  rate and %% of ceiling from the graph time (\"e\": not capturable, from the eager "
           "time); FLOP vs the SGEMM\n"
           "  ceiling, bytes vs the copy ceiling; sets = copies of the buffers the calls rotate "
           "over (\"L2\": all fit in 2 x L2)\n\n",
           g_runs, g_target_ms);
    print_header();

    int alive = gpu_ops_network_cases(g_be, g_only, params, run_impls);

    if (g_only[0] == '\0')
        printf("\none training step's op calls at these times (calls x graph us, eager where not "
               "captured; each op's default implementation):\n  forward %.1f us, backward %.1f us, "
               "Adam %.1f us, total %.1f us (not included: a step's gradient memsets, input copies "
               "and step-state update;\n  compare with train_bench's epoch time / steps)\n",
               g_step_us[0], g_step_us[1], g_step_us[2], g_step_us[0] + g_step_us[1] + g_step_us[2]);
    if (alive) {
        double f2 = gpu_ceiling_sgemm_gflops(8192, g_runs), b2 = gpu_ceiling_copy_gbps((size_t)1 << 30, 2 * g_runs);
        printf("\nceilings measured again after the ops: fp32 %.1f GFLOP/s (before %.1f), bandwidth "
               "%.1f GB/s (before %.1f)\n", f2, g_gflops, b2, g_gbps);
        if (f2 <= 0 || b2 <= 0)
            g_failures++;
    }
    printf("\n");
    for (int i = 0; i < g_nrows; i++)
        print_json(&g_rows[i]);
    if (g_failures)
        printf("%d measurement%s failed (see FAILED above)\n", g_failures, g_failures == 1 ? "" : "s");
    free(g_rows);
    dr_backend_free(g_be);
    return g_failures ? 1 : 0;
}
