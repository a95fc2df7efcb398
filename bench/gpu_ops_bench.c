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
 *   graph:  the same N calls captured once as a step graph (kernels/step.h) and
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
 * Work per call (B = 256 rows; fp32 and int32 are 4 bytes; FLOP = 2 per
 * multiply-add, element-wise math and bias terms not counted, so GFLOP/s are a
 * lower bound of the arithmetic done):
 *   conv1d    F = 2 B L Cout Cin K; fwd F; bwd 2F (dW and dX products), F where
 *             dx is NULL (the Cin = 1 layers, whose input is data)
 *   linear    F = 2 B C OC; fwd F; bwd 2F (dW, dX)
 *   lstm      fwd 2 B T 4H I + 2 B (T-1) 4H H (input product at every step,
 *             recurrent product from the second: h_{-1} = 0);
 *             bwd 2 B T 4H I (dW_ih; x 2 with dx) + 2 x 2 B (T-1) 4H H (dh_{t-1}, dW_hh)
 *   attention fwd 2 B T A H + 2 B T (A + H) (projection, scores, context);
 *             bwd 4 B T A H + 2 B T A + 4 B T H (dW and dh products, dv, dalpha and
 *             the context's dh)
 * Memory-bound ops: the bytes each call must read and write once at least, n the
 * elements of the activation:
 *   batchnorm fwd 8n (read x, write out; the statistics' second read of x not
 *             counted); bwd 16n (read dout, x; read-modify-write dx)
 *   relu      fwd 8n; bwd 16n (read dout, out; read-modify-write dx)
 *   add       (the residual) fwd 12n (read a, b; write out); bwd 24n (two axpy:
 *             dA += dout, dB += dout, each read dout, dX, write dX)
 *   maxpool   m = n / K outputs; fwd 4n + 8m (read x; write out, argmax);
 *             bwd 16m (read dout, argmax; read-modify-write dx at the argmax)
 *   dropout   fwd 12n (read x; write out, mask; the random numbers are computed);
 *             bwd 16n (read dout, mask; read-modify-write dx)
 *   copy2d    (concat into / slice from a wider row) fwd 8 rows cols; bwd 12 rows cols
 *   sigmoid   8n (fwd only: the probability node)
 *   loss      fwd 12B + 4 (read z, y; write per-sample, loss); bwd 16B (read z, y;
 *             read-modify-write dz)
 *   adam      28 P (read p, g, m, v; write p, m, v), P = the network's parameter
 *             count (built here with models/hybrid.c on the CPU backend)
 *
 * Shapes (models/hybrid.c with bench/train_compare.sh's data: four feature groups
 * of 20, a 12 x 2 history, filters 64/128/256, kernel 3, pool 2, LSTM 128,
 * attention 128, FC 256/64, dropout 0.5). Per branch, three residual blocks
 * conv(3) -> BN -> ReLU, + 1x1 conv projection, + add, all at L = 20; max-pool 2
 * to L = 10, then max-pool 10 to the branch summary; LSTM over the history
 * (T = 12, I = 2, its input is data: no dx); attention over its 12 steps; concat
 * of 4 x 256 summaries and the 128 context -> FC 1152 -> 256 -> 64 -> 1 with BN,
 * ReLU and dropout; composite loss; Adam. "calls" is how often a training step
 * makes the call (4: once per branch). Not timed: the gradient memsets and input
 * copies of a step (cudaMemsetAsync / cudaMemcpyAsync, no project kernel).
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/backend.h"
#include "core/op_table.h"
#include "core/philox.h"
#include "kernels/cuda_backend.h"
#include "models/hybrid.h"
#include "bench/bench_clock.h"
#include "bench/gpu_ceilings.h"

#ifndef DR_HAVE_CUDA
#error "gpu_ops_bench needs a build with the CUDA backend (CMakeLists.txt builds it only then)"
#endif

enum { BATCH = 256, MAXBUF = 12, MAXSETS = 64, MAXRUNS = 31, MAXCALLS = 2000 };

static dr_backend *g_be;
static const dr_op_table *g_ops;
static int g_runs = 7;
static double g_target_ms = 3.0;
static const char *g_only = "";
static size_t g_l2_bytes;
static double g_gflops, g_gbps; /* the ceilings */
static int g_failures;

static int want(const char *op) { return strncmp(op, g_only, strlen(g_only)) == 0; }

/* ---- op cases: one op at one shape, its buffers in rotating sets ---- */
typedef enum { FILL_ZERO, FILL_UNIFORM, FILL_ONE, FILL_LABEL } fill_kind;

typedef struct opcase opcase;
/* One call on the buffers of one set (p[i] is buffer i, NULL if not allocated). */
typedef void op_fn(opcase *c, float *const *p);

struct opcase {
    const char *op;   /* the op table's op */
    const char *impl; /* the implementation choice timed, "-" for an op without one */
    char shape[64];
    int calls; /* calls per training step in the network */
    int ia[6]; /* sizes, per op */
    long n;
    int nbuf;
    size_t floats[MAXBUF];
    fill_kind fill[MAXBUF];
    float scale[MAXBUF];
    float *block[MAXSETS];
    float *p[MAXSETS][MAXBUF];
    int nsets, in_l2;
    float *scratch; /* shared by the sets: its contents are undefined between calls */
    size_t scratch_floats;
    op_fn *fwd, *bwd;   /* bwd NULL: forward only */
    const char *pass[2]; /* "fwd", "bwd" (adam: "update") */
    double work[2];      /* per call: FLOP if flop, else bytes */
    int flop;
    int bwd_pair;       /* time bwd as (fwd + bwd pairs) - fwd (see lstm_case) */
    double fwd_us[2];   /* the fwd pass's eager and graph us, for bwd_pair */
    uint64_t counter;   /* dropout's Philox counter, one per call */
    dr_loss_params lp;
    dr_adam_params hp;
    int is_default; /* counted in the per-step sum */
};

static void buf(opcase *c, int i, size_t floats, fill_kind fill, float scale)
{
    if (i + 1 > c->nbuf)
        c->nbuf = i + 1;
    c->floats[i] = floats, c->fill[i] = fill, c->scale[i] = scale;
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; } /* 256-byte aligned pointers */

static void free_sets(opcase *c)
{
    for (int s = 0; s < c->nsets; s++)
        g_ops->free(g_be, c->block[s]);
    g_ops->free(g_be, c->scratch);
    c->nsets = 0, c->scratch = NULL;
}

/* Allocates the sets (see the header: at least 2 x L2 in total where 64 sets
 * allow it, at most 1 GiB) and fills them: set 0 from Philox on the host, the
 * others copied from it on the device. 0 on failure (message printed). */
static int alloc_sets(opcase *c)
{
    size_t set_floats = 0;
    for (int i = 0; i < c->nbuf; i++)
        set_floats += align64(c->floats[i]);
    size_t set_bytes = set_floats * sizeof(float);
    size_t want_bytes = 2 * g_l2_bytes, cap = (size_t)1 << 30;
    long nsets = (long)((want_bytes + set_bytes - 1) / set_bytes);
    if (nsets > MAXSETS)
        nsets = MAXSETS;
    if ((size_t)nsets * set_bytes > cap)
        nsets = (long)(cap / set_bytes);
    if (nsets < 1)
        nsets = 1;
    c->in_l2 = (size_t)nsets * set_bytes < want_bytes;
    c->nsets = 0;
    c->scratch = NULL;
    if (c->scratch_floats) {
        c->scratch = g_ops->alloc(g_be, c->scratch_floats * sizeof(float));
        if (!c->scratch)
            goto fail;
    }
    for (int s = 0; s < nsets; s++) {
        c->block[s] = g_ops->alloc(g_be, set_bytes);
        if (!c->block[s])
            goto fail;
        c->nsets = s + 1;
        size_t off = 0;
        for (int i = 0; i < c->nbuf; i++) {
            c->p[s][i] = c->floats[i] ? c->block[s] + off : NULL;
            off += align64(c->floats[i]);
        }
    }
    size_t most = 1;
    for (int i = 0; i < c->nbuf; i++)
        most = c->floats[i] > most ? c->floats[i] : most;
    float *h = malloc(most * sizeof *h);
    if (!h) {
        fprintf(stderr, "gpu_ops_bench: out of host memory\n");
        free_sets(c);
        return 0;
    }
    for (int i = 0; i < c->nbuf; i++) {
        if (!c->floats[i])
            continue;
        for (size_t j = 0; j < c->floats[i]; j++) {
            float u = dr_philox_uniform(7u, (uint32_t)(100 + i), 0, (uint64_t)j);
            h[j] = c->fill[i] == FILL_ZERO      ? 0.0f
                   : c->fill[i] == FILL_ONE     ? 1.0f
                   : c->fill[i] == FILL_LABEL   ? (u < 0.187f ? 1.0f : 0.0f)
                                                : c->scale[i] * (2.0f * u - 1.0f);
        }
        g_ops->to_device(g_be, c->p[0][i], h, c->floats[i] * sizeof(float));
    }
    free(h);
    for (int s = 1; s < c->nsets; s++)
        g_ops->copy(g_be, c->block[s], c->block[0], set_bytes);
    if (c->scratch)
        g_ops->zero(g_be, c->scratch, c->scratch_floats * sizeof(float));
    if (dr_backend_sync(g_be) != DR_OK)
        goto fail;
    return 1;
fail:
    printf("%-9s %-6s %-26s FAILED to set up: %s\n", c->op, c->impl, c->shape, dr_last_error());
    free_sets(c);
    return 0;
}

/* ---- the ops: each call through the backend's op table ---- */
enum { CV_X, CV_W, CV_B, CV_OUT, CV_DOUT, CV_DX, CV_DW, CV_DB };
static void conv_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, Cin, Cout, L, K, need_dx */
    g_ops->conv1d_forward(g_be, p[CV_OUT], c->scratch, p[CV_X], p[CV_W], p[CV_B], a[0], a[1], a[2],
                          a[3], a[4]);
}
static void conv_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    g_ops->conv1d_backward(g_be, p[CV_DX], p[CV_DW], p[CV_DB], c->scratch, p[CV_DOUT], p[CV_X],
                           p[CV_W], a[0], a[1], a[2], a[3], a[4]);
}

enum { LN_X, LN_W, LN_B, LN_OUT, LN_DOUT, LN_DX, LN_DW, LN_DB };
static void lin_fwd(opcase *c, float *const *p)
{
    g_ops->linear_forward(g_be, p[LN_OUT], p[LN_X], p[LN_W], p[LN_B], c->ia[0], c->ia[1],
                          c->ia[2]);
}
static void lin_bwd(opcase *c, float *const *p)
{
    g_ops->linear_backward(g_be, p[LN_DX], p[LN_DW], p[LN_DB], p[LN_DOUT], p[LN_X], p[LN_W],
                           c->ia[0], c->ia[1], c->ia[2]);
}

enum { BN_X, BN_OUT, BN_MEAN, BN_RSTD, BN_RM, BN_RV, BN_G, BN_BETA, BN_DOUT, BN_DX, BN_DG, BN_DB };
static void bn_fwd(opcase *c, float *const *p)
{
    g_ops->batchnorm_forward_train(g_be, p[BN_OUT], p[BN_MEAN], p[BN_RSTD], p[BN_RM], p[BN_RV],
                                   p[BN_X], p[BN_G], p[BN_BETA], c->ia[0], c->ia[1], c->ia[2],
                                   1e-5f, 0.1f);
}
static void bn_bwd(opcase *c, float *const *p)
{
    g_ops->batchnorm_backward(g_be, p[BN_DX], p[BN_DG], p[BN_DB], p[BN_DOUT], p[BN_X], p[BN_MEAN],
                              p[BN_RSTD], p[BN_G], c->ia[0], c->ia[1], c->ia[2]);
}

enum { RL_X, RL_OUT, RL_DOUT, RL_DX };
static void relu_fwd(opcase *c, float *const *p) { g_ops->relu_forward(g_be, p[RL_OUT], p[RL_X], c->n); }
static void relu_bwd(opcase *c, float *const *p)
{
    g_ops->relu_backward(g_be, p[RL_DX], p[RL_DOUT], p[RL_OUT], c->n);
}
static void sigmoid_fwd(opcase *c, float *const *p)
{
    g_ops->sigmoid_forward(g_be, p[RL_OUT], p[RL_X], c->n);
}

/* the residual add; its backward is the graph's: one axpy into each input's gradient */
enum { AD_A, AD_B, AD_OUT, AD_DOUT, AD_DA, AD_DB };
static void add_fwd(opcase *c, float *const *p) { g_ops->add(g_be, p[AD_OUT], p[AD_A], p[AD_B], c->n); }
static void add_bwd(opcase *c, float *const *p)
{
    g_ops->axpy(g_be, p[AD_DA], 1.0f, p[AD_DOUT], c->n);
    g_ops->axpy(g_be, p[AD_DB], 1.0f, p[AD_DOUT], c->n);
}

enum { MP_X, MP_OUT, MP_ARG, MP_DOUT, MP_DX };
static void pool_fwd(opcase *c, float *const *p)
{
    g_ops->maxpool1d_forward(g_be, p[MP_OUT], (int32_t *)p[MP_ARG], p[MP_X], c->ia[0], c->ia[1],
                             c->ia[2], c->ia[3]);
}
static void pool_bwd(opcase *c, float *const *p)
{
    g_ops->maxpool1d_backward(g_be, p[MP_DX], p[MP_DOUT], (const int32_t *)p[MP_ARG], c->ia[0],
                              c->ia[1], c->ia[2], c->ia[3]);
}

enum { DO_X, DO_OUT, DO_MASK, DO_DOUT, DO_DX };
static void drop_fwd(opcase *c, float *const *p)
{
    g_ops->dropout_forward(g_be, p[DO_OUT], p[DO_MASK], p[DO_X], c->n, 0.5f, 1u, 7u, c->counter++);
}
static void drop_bwd(opcase *c, float *const *p)
{
    g_ops->dropout_backward(g_be, p[DO_DX], p[DO_DOUT], p[DO_MASK], c->n);
}

/* concat: a [rows, cols] block into columns off.. of a [rows, ld] row (fwd) and
 * its gradient back (bwd, accumulated); slice: the reverse, forward only */
enum { CP_SMALL, CP_BIG, CP_DSMALL, CP_DBIG };
static void concat_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* rows, cols, ld, off */
    g_ops->copy2d(g_be, p[CP_BIG] + a[3], a[2], p[CP_SMALL], a[1], a[0], a[1], 0);
}
static void concat_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    g_ops->copy2d(g_be, p[CP_DSMALL], a[1], p[CP_DBIG] + a[3], a[2], a[0], a[1], 1);
}
static void slice_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    g_ops->copy2d(g_be, p[CP_SMALL], a[1], p[CP_BIG] + a[3], a[2], a[0], a[1], 0);
}

enum { LS_X, LS_WIH, LS_WHH, LS_B, LS_H, LS_C, LS_G, LS_DH, LS_DWIH, LS_DWHH, LS_DB };
static void lstm_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, T, I, H */
    g_ops->lstm_forward(g_be, p[LS_H], p[LS_C], p[LS_G], p[LS_X], p[LS_WIH], p[LS_WHH], p[LS_B],
                        a[0], a[1], a[2], a[3]);
}
static void lstm_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    g_ops->lstm_backward(g_be, NULL, p[LS_DWIH], p[LS_DWHH], p[LS_DB], c->scratch, p[LS_DH],
                         p[LS_X], p[LS_H], p[LS_C], p[LS_G], p[LS_WIH], p[LS_WHH], a[0], a[1],
                         a[2], a[3]);
}

enum { AT_H, AT_W, AT_B, AT_V, AT_CTX, AT_ALPHA, AT_U, AT_DCTX, AT_DH, AT_DW, AT_DB, AT_DV };
static void att_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, T, H, A */
    g_ops->attention_forward(g_be, p[AT_CTX], p[AT_ALPHA], p[AT_U], p[AT_H], p[AT_W], p[AT_B],
                             p[AT_V], a[0], a[1], a[2], a[3]);
}
static void att_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    g_ops->attention_backward(g_be, p[AT_DH], p[AT_DW], p[AT_DB], p[AT_DV], c->scratch, p[AT_DCTX],
                              p[AT_H], p[AT_W], p[AT_V], p[AT_U], p[AT_ALPHA], a[0], a[1], a[2],
                              a[3]);
}

enum { LO_Z, LO_Y, LO_PER, LO_LOSS, LO_DZ };
static void loss_fwd(opcase *c, float *const *p)
{
    g_ops->loss_forward(g_be, p[LO_LOSS], p[LO_PER], p[LO_Z], p[LO_Y], c->ia[0], c->lp);
}
static void loss_bwd(opcase *c, float *const *p)
{
    g_ops->loss_backward(g_be, p[LO_DZ], p[LO_Z], p[LO_Y], c->ia[0], c->lp, 1.0f);
}

enum { AM_P, AM_G, AM_M, AM_V };
static void adam_upd(opcase *c, float *const *p)
{
    c->hp.step++;
    g_ops->adam_update(g_be, p[AM_P], p[AM_G], p[AM_M], p[AM_V], c->n, &c->hp);
}

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
        double t0 = bench_now();
        run_calls(c, fn, n, &k);
        if (dr_backend_sync(g_be) != DR_OK)
            return -1.0;
        t[r] = 1e6 * (bench_now() - t0) / n;
    }
    return bench_median(t, g_runs);
}

/* The same n calls captured as one step graph and replayed: median us per call.
 * -1 on a device error; -2 when the calls cannot be captured (why says why). */
static double graph_us(opcase *c, op_fn *fn, int n, char *why, size_t why_len)
{
    const dr_step_ops *so = g_ops->step;
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
        double t0 = bench_now();
        if (so->replay(g_be, sg, &sc) != DR_OK || dr_backend_sync(g_be) != DR_OK)
            goto out;
        if (r >= 0)
            t[r] = 1e6 * (bench_now() - t0) / n;
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
    double t0 = bench_now();
    run_calls(c, fn, est_n, &k);
    if (dr_backend_sync(g_be) != DR_OK)
        goto fail;
    double per_us = 1e6 * (bench_now() - t0) / est_n;
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

    double us = r.graph_us > 0 ? r.graph_us : r.eager_us;
    double rate = us > 0 ? r.work / (us * 1e-6) * 1e-9 : 0.0; /* GFLOP/s or GB/s */
    double ceil_rate = r.flop ? g_gflops : g_gbps;
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
    if (!alloc_sets(c)) {
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
    free_sets(c);
    return ok || context_alive();
}

/* ---- the network's cases ---- */
static opcase new_case(const char *op, int calls, op_fn *fwd, op_fn *bwd)
{
    opcase c;
    memset(&c, 0, sizeof c);
    c.op = op, c.impl = "-", c.calls = calls, c.fwd = fwd, c.bwd = bwd;
    c.pass[0] = "fwd", c.pass[1] = "bwd";
    c.is_default = 1;
    c.lp = (dr_loss_params){.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f};
    c.hp = (dr_adam_params){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    return c;
}

static opcase conv_case(int Cin, int Cout, int K)
{
    const int B = BATCH, L = 20, need_dx = Cin > 1; /* Cin = 1: the input is data */
    opcase c = new_case("conv1d", 4, conv_fwd, conv_bwd);
    memcpy(c.ia, (int[]){B, Cin, Cout, L, K, need_dx}, sizeof(int) * 6);
    snprintf(c.shape, sizeof c.shape, "%d->%d L=%d K=%d%s", Cin, Cout, L, K, need_dx ? "" : " no dx");
    size_t nx = (size_t)B * Cin * L, ny = (size_t)B * Cout * L, nw = (size_t)Cout * Cin * K;
    float bound = 1.0f / sqrtf((float)(Cin * K));
    buf(&c, CV_X, nx, FILL_UNIFORM, 1), buf(&c, CV_W, nw, FILL_UNIFORM, bound);
    buf(&c, CV_B, Cout, FILL_UNIFORM, bound), buf(&c, CV_OUT, ny, FILL_ZERO, 0);
    buf(&c, CV_DOUT, ny, FILL_UNIFORM, 1), buf(&c, CV_DX, need_dx ? nx : 0, FILL_ZERO, 0);
    buf(&c, CV_DW, nw, FILL_ZERO, 0), buf(&c, CV_DB, Cout, FILL_ZERO, 0);
    c.scratch_floats = g_ops->conv1d_scratch(B, Cin, Cout, L, K);
    double F = 2.0 * B * L * Cout * Cin * K;
    c.flop = 1, c.work[0] = F, c.work[1] = need_dx ? 2 * F : F;
    return c;
}

static opcase linear_case(int C, int OC)
{
    opcase c = new_case("linear", 1, lin_fwd, lin_bwd);
    memcpy(c.ia, (int[]){BATCH, C, OC}, sizeof(int) * 3);
    snprintf(c.shape, sizeof c.shape, "%d->%d", C, OC);
    size_t nx = (size_t)BATCH * C, ny = (size_t)BATCH * OC, nw = (size_t)OC * C;
    float bound = 1.0f / sqrtf((float)C);
    buf(&c, LN_X, nx, FILL_UNIFORM, 1), buf(&c, LN_W, nw, FILL_UNIFORM, bound);
    buf(&c, LN_B, OC, FILL_UNIFORM, bound), buf(&c, LN_OUT, ny, FILL_ZERO, 0);
    buf(&c, LN_DOUT, ny, FILL_UNIFORM, 1), buf(&c, LN_DX, nx, FILL_ZERO, 0);
    buf(&c, LN_DW, nw, FILL_ZERO, 0), buf(&c, LN_DB, OC, FILL_ZERO, 0);
    double F = 2.0 * BATCH * C * OC;
    c.flop = 1, c.work[0] = F, c.work[1] = 2 * F;
    return c;
}

static opcase bn_case(int C, int L, int calls)
{
    opcase c = new_case("batchnorm", calls, bn_fwd, bn_bwd);
    memcpy(c.ia, (int[]){BATCH, C, L}, sizeof(int) * 3);
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d", C, L);
    size_t n = (size_t)BATCH * C * L;
    buf(&c, BN_X, n, FILL_UNIFORM, 1), buf(&c, BN_OUT, n, FILL_ZERO, 0);
    buf(&c, BN_MEAN, C, FILL_ZERO, 0), buf(&c, BN_RSTD, C, FILL_ZERO, 0);
    buf(&c, BN_RM, C, FILL_ZERO, 0), buf(&c, BN_RV, C, FILL_ONE, 0);
    buf(&c, BN_G, C, FILL_ONE, 0), buf(&c, BN_BETA, C, FILL_ZERO, 0);
    buf(&c, BN_DOUT, n, FILL_UNIFORM, 1), buf(&c, BN_DX, n, FILL_ZERO, 0);
    buf(&c, BN_DG, C, FILL_ZERO, 0), buf(&c, BN_DB, C, FILL_ZERO, 0);
    c.work[0] = 8.0 * n, c.work[1] = 16.0 * n;
    return c;
}

static opcase relu_case(int C, int L, int calls)
{
    opcase c = new_case("relu", calls, relu_fwd, relu_bwd);
    c.n = (long)BATCH * C * L;
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d", C, L);
    buf(&c, RL_X, (size_t)c.n, FILL_UNIFORM, 1), buf(&c, RL_OUT, (size_t)c.n, FILL_ZERO, 0);
    buf(&c, RL_DOUT, (size_t)c.n, FILL_UNIFORM, 1), buf(&c, RL_DX, (size_t)c.n, FILL_ZERO, 0);
    c.work[0] = 8.0 * c.n, c.work[1] = 16.0 * c.n;
    return c;
}

static opcase add_case(int C, int L)
{
    opcase c = new_case("add", 4, add_fwd, add_bwd);
    c.n = (long)BATCH * C * L;
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d (residual)", C, L);
    size_t n = (size_t)c.n;
    buf(&c, AD_A, n, FILL_UNIFORM, 1), buf(&c, AD_B, n, FILL_UNIFORM, 1);
    buf(&c, AD_OUT, n, FILL_ZERO, 0), buf(&c, AD_DOUT, n, FILL_UNIFORM, 1);
    buf(&c, AD_DA, n, FILL_ZERO, 0), buf(&c, AD_DB, n, FILL_ZERO, 0);
    c.work[0] = 12.0 * c.n, c.work[1] = 24.0 * c.n;
    return c;
}

static opcase pool_case(int C, int L, int K)
{
    opcase c = new_case("maxpool1d", 4, pool_fwd, pool_bwd);
    memcpy(c.ia, (int[]){BATCH, C, L, K}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d K=%d", C, L, K);
    size_t nx = (size_t)BATCH * C * L, ny = (size_t)BATCH * C * dr_maxpool1d_out_len(L, K);
    buf(&c, MP_X, nx, FILL_UNIFORM, 1), buf(&c, MP_OUT, ny, FILL_ZERO, 0);
    buf(&c, MP_ARG, ny, FILL_ZERO, 0), buf(&c, MP_DOUT, ny, FILL_UNIFORM, 1);
    buf(&c, MP_DX, nx, FILL_ZERO, 0);
    c.work[0] = 4.0 * nx + 8.0 * ny, c.work[1] = 16.0 * ny;
    return c;
}

static opcase dropout_case(int C)
{
    opcase c = new_case("dropout", 1, drop_fwd, drop_bwd);
    c.n = (long)BATCH * C;
    snprintf(c.shape, sizeof c.shape, "n=%dx%d p=0.5", BATCH, C);
    size_t n = (size_t)c.n;
    buf(&c, DO_X, n, FILL_UNIFORM, 1), buf(&c, DO_OUT, n, FILL_ZERO, 0);
    buf(&c, DO_MASK, n, FILL_ZERO, 0), buf(&c, DO_DOUT, n, FILL_UNIFORM, 1);
    buf(&c, DO_DX, n, FILL_ZERO, 0);
    c.work[0] = 12.0 * c.n, c.work[1] = 16.0 * c.n;
    return c;
}

/* concat (slice = 0): [B, cols] into columns off.. of [B, ld]; slice: the reverse */
static opcase copy2d_case(int cols, int ld, int off, int calls, int slice)
{
    opcase c = new_case("copy2d", calls, slice ? slice_fwd : concat_fwd, slice ? NULL : concat_bwd);
    memcpy(c.ia, (int[]){BATCH, cols, ld, off}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "%s %d of %d", slice ? "slice" : "concat", cols, ld);
    size_t ns = (size_t)BATCH * cols, nb = (size_t)BATCH * ld;
    buf(&c, CP_SMALL, ns, FILL_UNIFORM, 1), buf(&c, CP_BIG, nb, FILL_UNIFORM, 1);
    if (!slice)
        buf(&c, CP_DSMALL, ns, FILL_ZERO, 0), buf(&c, CP_DBIG, nb, FILL_UNIFORM, 1);
    c.work[0] = 8.0 * ns, c.work[1] = 12.0 * ns;
    return c;
}

static opcase lstm_case(void)
{
    const int B = BATCH, T = 12, I = 2, H = 128, G = 4 * H;
    opcase c = new_case("lstm", 1, lstm_fwd, lstm_bwd);
    memcpy(c.ia, (int[]){B, T, I, H}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "T=%d I=%d H=%d no dx", T, I, H);
    size_t nx = (size_t)B * T * I, nh = (size_t)B * T * H;
    float k = 1.0f / sqrtf((float)H); /* PyTorch's initial scale */
    buf(&c, LS_X, nx, FILL_UNIFORM, 1), buf(&c, LS_WIH, (size_t)G * I, FILL_UNIFORM, k);
    buf(&c, LS_WHH, (size_t)G * H, FILL_UNIFORM, k), buf(&c, LS_B, G, FILL_UNIFORM, k);
    buf(&c, LS_H, nh, FILL_ZERO, 0), buf(&c, LS_C, nh, FILL_ZERO, 0);
    buf(&c, LS_G, 4 * nh, FILL_ZERO, 0), buf(&c, LS_DH, nh, FILL_UNIFORM, 1);
    buf(&c, LS_DWIH, (size_t)G * I, FILL_ZERO, 0), buf(&c, LS_DWHH, (size_t)G * H, FILL_ZERO, 0);
    buf(&c, LS_DB, G, FILL_ZERO, 0);
    c.scratch_floats = dr_lstm_scratch_floats(B, T, I, H);
    /* cuDNN's LSTM ("cudnn") keeps one forward's state per shape and refuses a
     * backward of any other forward: the rotating sets' backwards would fail */
    c.bwd_pair = 1;
    c.flop = 1;
    c.work[0] = 2.0 * B * T * G * I + 2.0 * B * (T - 1) * G * H;
    c.work[1] = 2.0 * B * T * G * I + 2.0 * 2.0 * B * (T - 1) * G * H; /* no dx */
    printf("lstm \"custom\" at B=%d H=%d: %s\n", B, H, dr_cuda_lstm_plan_text(g_be, B, H));
    return c;
}

static opcase attention_case(void)
{
    const int B = BATCH, T = 12, H = 128, A = 128;
    opcase c = new_case("attention", 1, att_fwd, att_bwd);
    memcpy(c.ia, (int[]){B, T, H, A}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "T=%d H=%d A=%d", T, H, A);
    size_t nh = (size_t)B * T * H;
    float k = 1.0f / sqrtf((float)H);
    buf(&c, AT_H, nh, FILL_UNIFORM, 1), buf(&c, AT_W, (size_t)A * H, FILL_UNIFORM, k);
    buf(&c, AT_B, A, FILL_UNIFORM, k), buf(&c, AT_V, A, FILL_UNIFORM, k);
    buf(&c, AT_CTX, (size_t)B * H, FILL_ZERO, 0), buf(&c, AT_ALPHA, (size_t)B * T, FILL_ZERO, 0);
    buf(&c, AT_U, (size_t)B * T * A, FILL_ZERO, 0), buf(&c, AT_DCTX, (size_t)B * H, FILL_UNIFORM, 1);
    buf(&c, AT_DH, nh, FILL_ZERO, 0), buf(&c, AT_DW, (size_t)A * H, FILL_ZERO, 0);
    buf(&c, AT_DB, A, FILL_ZERO, 0), buf(&c, AT_DV, A, FILL_ZERO, 0);
    c.scratch_floats = dr_attention_scratch_floats(B, T, H, A);
    c.flop = 1;
    c.work[0] = 2.0 * B * T * A * H + 2.0 * B * T * (A + H);
    c.work[1] = 4.0 * B * T * A * H + 2.0 * B * T * A + 4.0 * B * T * H;
    return c;
}

static opcase loss_case(void)
{
    opcase c = new_case("loss", 1, loss_fwd, loss_bwd);
    c.ia[0] = BATCH;
    snprintf(c.shape, sizeof c.shape, "B=%d a=0.7 gamma=2", BATCH);
    buf(&c, LO_Z, BATCH, FILL_UNIFORM, 3), buf(&c, LO_Y, BATCH, FILL_LABEL, 0);
    buf(&c, LO_PER, BATCH, FILL_ZERO, 0), buf(&c, LO_LOSS, 1, FILL_ZERO, 0);
    buf(&c, LO_DZ, BATCH, FILL_ZERO, 0);
    c.work[0] = 12.0 * BATCH + 4, c.work[1] = 16.0 * BATCH;
    return c;
}

static opcase adam_case(long params)
{
    opcase c = new_case("adam", 1, adam_upd, NULL);
    c.pass[0] = "update";
    c.n = params;
    snprintf(c.shape, sizeof c.shape, "P=%ld (all params)", params);
    buf(&c, AM_P, (size_t)params, FILL_UNIFORM, 0.1f), buf(&c, AM_G, (size_t)params, FILL_UNIFORM, 1);
    buf(&c, AM_M, (size_t)params, FILL_ZERO, 0), buf(&c, AM_V, (size_t)params, FILL_ZERO, 0);
    c.work[0] = 28.0 * params;
    return c;
}

/* The parameter count of the paper's network, from models/hybrid.c itself (built
 * on the CPU backend for one row: nothing on the GPU). */
static long network_params(void)
{
    dr_hybrid_config cfg = {.n_groups = 4, .group_size = {20, 20, 20, 20}, .filters = {64, 128, 256},
                            .kernel = {3, 3, 3}, .pool = 2, .lstm_units = 128, .attention_dim = 128,
                            .seq_len = 12, .seq_channels = 2, .n_fc = 2, .fc = {256, 64},
                            .dropout = 0.5f,
                            .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f}};
    dr_backend *cpu = NULL;
    dr_hybrid m;
    if (dr_backend_create(&cpu, "cpu") != DR_OK || dr_hybrid_build(&m, cpu, &cfg, 1, 1) != DR_OK) {
        fprintf(stderr, "gpu_ops_bench: building the network for its parameter count: %s\n",
                dr_last_error());
        dr_backend_free(cpu);
        return -1;
    }
    long n = dr_graph_param_count(m.g);
    dr_hybrid_free(&m);
    dr_backend_free(cpu);
    return n;
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
    double us = r->graph_us > 0 ? r->graph_us : r->eager_us;
    double rate = us > 0 ? r->work / (us * 1e-6) * 1e-9 : 0.0;
    double ceil_rate = r->flop ? g_gflops : g_gbps;
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

static int usage(const char *msg)
{
    fprintf(stderr, "gpu_ops_bench: %s\nusage: gpu_ops_bench [--device cuda|cuda:N] [--runs R] "
                    "[--ms T] [--only NAME]\n", msg);
    return 3;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a run killed by a time limit keeps its lines */
    const char *device = "cuda";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: gpu_ops_bench [--device cuda|cuda:N] [--runs R] [--ms T] [--only NAME]\n"
                   "(the header of bench/gpu_ops_bench.c says what is measured and how)\n");
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
    g_ops = g_be->ops;
    int l2 = 0;
    if (!BENCH_CUDA_OK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, g_be->device_index))) {
        dr_backend_free(g_be);
        return 1;
    }
    g_l2_bytes = (size_t)l2;
    long params = network_params();
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

    int alive = 1;
    /* one CNN branch (x4): three residual blocks, the conv and its 1x1 projection */
    const int io[3][2] = {{1, 64}, {64, 128}, {128, 256}};
    for (int i = 0; i < 3 && alive && want("conv1d"); i++)
        alive = run_impls(conv_case(io[i][0], io[i][1], 3)) && run_impls(conv_case(io[i][0], io[i][1], 1));
    for (int i = 0; i < 3 && alive && want("batchnorm"); i++)
        alive = run_impls(bn_case(io[i][1], 20, 4));
    for (int i = 0; i < 3 && alive && want("relu"); i++)
        alive = run_impls(relu_case(io[i][1], 20, 4));
    for (int i = 0; i < 3 && alive && want("add"); i++)
        alive = run_impls(add_case(io[i][1], 20));
    if (alive && want("maxpool1d"))
        alive = run_impls(pool_case(256, 20, 2)) && run_impls(pool_case(256, 10, 10));
    if (alive && want("copy2d"))
        alive = run_impls(copy2d_case(20, 80, 20, 4, 1)) &&
                run_impls(copy2d_case(256, 4 * 256 + 128, 256, 4, 0)) &&
                run_impls(copy2d_case(128, 4 * 256 + 128, 4 * 256, 1, 0));
    if (alive && want("lstm"))
        alive = run_impls(lstm_case());
    if (alive && want("attention"))
        alive = run_impls(attention_case());
    /* the head: FC 1152 -> 256 -> 64 (BN, ReLU, dropout each) -> 1 */
    const int fc[3][2] = {{4 * 256 + 128, 256}, {256, 64}, {64, 1}};
    for (int i = 0; i < 3 && alive && want("linear"); i++)
        alive = run_impls(linear_case(fc[i][0], fc[i][1]));
    for (int i = 0; i < 2 && alive && want("batchnorm"); i++)
        alive = run_impls(bn_case(fc[i][1], 1, 1));
    for (int i = 0; i < 2 && alive && want("relu"); i++)
        alive = run_impls(relu_case(fc[i][1], 1, 1));
    for (int i = 0; i < 2 && alive && want("dropout"); i++)
        alive = run_impls(dropout_case(fc[i][1]));
    if (alive && want("sigmoid")) {
        opcase c = new_case("sigmoid", 1, sigmoid_fwd, NULL);
        c.n = BATCH;
        snprintf(c.shape, sizeof c.shape, "n=%d (probability)", BATCH);
        buf(&c, RL_X, BATCH, FILL_UNIFORM, 3), buf(&c, RL_OUT, BATCH, FILL_ZERO, 0);
        c.work[0] = 8.0 * BATCH;
        alive = run_impls(c);
    }
    if (alive && want("loss"))
        alive = run_impls(loss_case());
    if (alive && want("adam"))
        alive = run_impls(adam_case(params));

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
