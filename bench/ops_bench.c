/* CPU op benchmark at the paper's sizes (batch 256): each kernel's forward and
 * forward + backward, median of DR_RUNS timed runs after warm-up, turned into
 * GFLOP/s and a fraction of this machine's measured 2-core fp32 FMA peak (the
 * loop of bench/peak_bench.c, run in this program before and after the ops).
 *
 * FLOP counts (multiply-add = 2), GEMM work only; element-wise work is left out,
 * so the GFLOP/s are a lower bound of the arithmetic done:
 *   conv1d    F = 2 B L Cout Cin K; fwd+bwd = 3F (dw and dx products; 2F when
 *             dx is NULL, as for the first layer whose input is data)
 *   linear    F = 2 B C OC; fwd+bwd = 3F
 *   lstm      F = 2 B T 4H (I + H) (input and recurrent products);
 *             fwd+bwd = F + 2 B T 4H I (dw_ih, dx) + 2 B (T-1) 4H H (dh, dw_hh)
 *   attention F = 2 B T A H; fwd+bwd = 3F (dw, dh)
 * Memory-bound ops (maxpool, batchnorm, relu, loss, adam) report GB/s instead, of
 * the bytes each pass must read and write once (stated per op below).
 *
 * A lab variant sits next to the kernels, as the style guide asks: conv1d as it
 * was before the implicit GEMMs, im2col + OpenBLAS ("conv1d/im2col-lab",
 * bench/conv1d_lab.c), timed right after the kernel in the same run. It is
 * checked against the kernel's output before it is timed.
 *
 * CPU-time mode (--cpu-time): one thread for OpenMP and OpenBLAS, every time is
 * the process's CPU time and the ceiling is the 1-thread peak in thread CPU time.
 * On a machine shared with other jobs, wall-clock times mostly measure the
 * scheduler; CPU time of a single thread still measures how well the kernel uses
 * one core (caches shared with the other jobs still cost a little). The 2-core
 * wall-clock table is the one that counts; this mode is the load-proof check.
 *
 *   ./build/ops_bench [runs] [--cpu-time] [--only NAME]
 * runs: default 9, at least 7; --only runs the ops whose name starts with NAME. */
#define DR_PEAK_NO_MAIN
#include "peak_bench.c" /* the same FMA loop as peak_bench; one copy of the code */

#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "core/philox.h"
#include "core/ops/activation.h"
#include "core/ops/adam.h"
#include "core/ops/attention.h"
#include "core/ops/batchnorm.h"
#include "core/ops/conv1d.h"
#include "core/ops/linear.h"
#include "core/ops/loss.h"
#include "core/ops/lstm.h"
#include "core/ops/maxpool1d.h"

#include "conv1d_lab.c" /* the lab variant of conv1d: the previous kernel */
#include "kernels/cpu/ops.h"

enum { BATCH = 256, SEQ_L = 20 };

static dr_backend cpu_be = {.iface = &dr_cpu_backend, .ops = &dr_cpu_ops};

static float *falloc(size_t n, float lo, float hi, uint32_t stream)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "ops_bench: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * dr_philox_uniform(7u, stream, 0, (uint64_t)i);
    return p;
}

/* ---- timing ---- */
static int g_runs = 9;
static clockid_t op_clock = CLOCK_MONOTONIC;

static double op_now(void)
{
    struct timespec ts;
    clock_gettime(op_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct timing {
    double med, min; /* ms: median and fastest of g_runs runs */
} timing;

static timing time_op(void (*fn)(void *), void *ctx)
{
    double t[64];
    fn(ctx), fn(ctx); /* warm-up: caches, page faults, thread pools */
    for (int i = 0; i < g_runs; i++) {
        double t0 = op_now();
        fn(ctx);
        t[i] = 1e3 * (op_now() - t0);
    }
    qsort(t, (size_t)g_runs, sizeof t[0], peak_cmp);
    return (timing){.med = t[g_runs / 2], .min = t[0]};
}

static double g_peak, g_peak_best; /* GFLOP/s, 2 cores: median and best run */
static const char *g_only = "";

static int want(const char *op) { return strncmp(op, g_only, strlen(g_only)) == 0; }

/* One table line. Besides the median (the number to quote), the fastest run and
 * its fraction of the best peak run: on a loaded machine the best runs are the
 * ones that had the cores, so best/best is the closer estimate of a quiet one.
 */
static void row(const char *op, const char *shape, const char *pass, timing tm, double flop,
                double bytes)
{
    double ms = tm.med, g_min_ms = tm.min;
    if (flop > 0) {
        double gf = flop / (ms * 1e-3) * 1e-9, gbest = flop / (g_min_ms * 1e-3) * 1e-9;
        printf("%-18s %-22s %-8s %9.3f %8.1f GFLOP/s %6.1f %% | %9.3f %6.1f %%\n", op, shape,
               pass, ms, gf, 100.0 * gf / g_peak, g_min_ms, 100.0 * gbest / g_peak_best);
    } else {
        printf("%-18s %-22s %-8s %9.3f %8.2f GB/s            | %9.3f\n", op, shape, pass, ms,
               bytes / (ms * 1e-3) * 1e-9, g_min_ms);
    }
}

/* ---- conv1d ---- */
typedef struct {
    int B, Cin, Cout, L, K, need_dx;
    float *x, *w, *b, *out, *scratch, *lab_scratch, *dout, *dx, *dw, *db;
} conv_ctx;

static void conv_init(conv_ctx *c, int Cin, int Cout, int need_dx)
{
    *c = (conv_ctx){.B = BATCH, .Cin = Cin, .Cout = Cout, .L = SEQ_L, .K = 3, .need_dx = need_dx};
    size_t nx = (size_t)c->B * Cin * c->L, ny = (size_t)c->B * Cout * c->L;
    size_t nw = (size_t)Cout * Cin * c->K;
    c->x = falloc(nx, -1, 1, 1), c->w = falloc(nw, -0.1f, 0.1f, 2), c->b = falloc(Cout, -1, 1, 3);
    c->out = falloc(ny, 0, 0, 4), c->dout = falloc(ny, -1, 1, 5), c->dx = falloc(nx, 0, 0, 6);
    c->dw = falloc(nw, 0, 0, 7), c->db = falloc(Cout, 0, 0, 8);
    c->scratch = falloc(dr_cpu_conv1d_scratch(c->B, Cin, Cout, c->L, c->K), 0, 0, 9);
    c->lab_scratch = falloc(lab_conv1d_scratch_floats(c->B, Cin, Cout, c->L, c->K), 0, 0, 10);
}

static void conv_free(conv_ctx *c)
{
    free(c->x), free(c->w), free(c->b), free(c->out), free(c->dout), free(c->dx), free(c->dw);
    free(c->db), free(c->scratch), free(c->lab_scratch);
}

static void conv_fwd(void *p)
{
    conv_ctx *c = p;
    dr_cpu_conv1d_forward(&cpu_be, c->out, c->scratch, c->x, c->w, c->b, c->B, c->Cin, c->Cout,
                          c->L, c->K);
}

static void conv_fb(void *p)
{
    conv_ctx *c = p;
    conv_fwd(p);
    dr_cpu_conv1d_backward(&cpu_be, c->need_dx ? c->dx : NULL, c->dw, c->db, c->scratch, c->dout,
                           c->x, c->w, c->B, c->Cin, c->Cout, c->L, c->K);
}

/* ---- lab: the previous conv1d kernel (bench/conv1d_lab.c) ---- */
static void lab_conv_fwd(void *p)
{
    conv_ctx *c = p;
    lab_conv1d_forward(c->out, c->lab_scratch, c->x, c->w, c->b, c->B, c->Cin, c->Cout, c->L,
                       c->K);
}

static void lab_conv_fb(void *p)
{
    conv_ctx *c = p;
    lab_conv_fwd(p);
    lab_conv1d_backward(c->need_dx ? c->dx : NULL, c->dw, c->db, c->lab_scratch, c->dout, c->x,
                        c->w, c->B, c->Cin, c->Cout, c->L, c->K);
}

/* The lab variant must compute what the kernel computes before its time means
 * anything: forward outputs and one backward's dx, dw from zero, compared with a
 * relative tolerance of 1e-4 (both are fp32 sums of <= B*L = 5120 terms in
 * different orders: ~sqrt(5120) * 6e-8 ~ 4e-6 relative; 25x margin). */
static int lab_check(conv_ctx *c)
{
    size_t ny = (size_t)c->B * c->Cout * c->L, nx = (size_t)c->B * c->Cin * c->L;
    size_t nw = (size_t)c->Cout * c->Cin * c->K;
    float *o1 = malloc(ny * sizeof *o1), *dx1 = calloc(nx, sizeof *dx1), *dw1 = calloc(nw, 4);
    if (!o1 || !dx1 || !dw1)
        exit(1);
    memset(c->dx, 0, nx * 4), memset(c->dw, 0, nw * 4);
    conv_fwd(c);
    dr_cpu_conv1d_backward(&cpu_be, c->dx, c->dw, NULL, c->scratch, c->dout, c->x, c->w, c->B,
                           c->Cin, c->Cout, c->L, c->K);
    memcpy(o1, c->out, ny * 4), memcpy(dx1, c->dx, nx * 4), memcpy(dw1, c->dw, nw * 4);
    memset(c->dx, 0, nx * 4), memset(c->dw, 0, nw * 4);
    lab_conv_fwd(c);
    lab_conv1d_backward(c->dx, c->dw, NULL, c->lab_scratch, c->dout, c->x, c->w, c->B, c->Cin,
                        c->Cout, c->L, c->K);
    long bad = 0;
    const float *a[3] = {o1, dx1, dw1}, *bb[3] = {c->out, c->dx, c->dw};
    size_t n[3] = {ny, nx, nw};
    for (int k = 0; k < 3; k++) {
        double mx = 0;
        for (size_t i = 0; i < n[k]; i++)
            mx = fmax(mx, fabs(a[k][i]));
        for (size_t i = 0; i < n[k]; i++)
            if (!(fabs(a[k][i] - bb[k][i]) <= 1e-4 * mx))
                bad++;
    }
    free(o1), free(dx1), free(dw1);
    return bad == 0;
}

/* ---- linear ---- */
typedef struct {
    int B, C, OC;
    float *x, *w, *b, *out, *dout, *dx, *dw, *db;
} lin_ctx;

static void lin_init(lin_ctx *c, int C, int OC)
{
    *c = (lin_ctx){.B = BATCH, .C = C, .OC = OC};
    c->x = falloc((size_t)BATCH * C, -1, 1, 11), c->w = falloc((size_t)OC * C, -0.1f, 0.1f, 12);
    c->b = falloc(OC, -1, 1, 13), c->out = falloc((size_t)BATCH * OC, 0, 0, 14);
    c->dout = falloc((size_t)BATCH * OC, -1, 1, 15), c->dx = falloc((size_t)BATCH * C, 0, 0, 16);
    c->dw = falloc((size_t)OC * C, 0, 0, 17), c->db = falloc(OC, 0, 0, 18);
}

static void lin_free(lin_ctx *c)
{
    free(c->x), free(c->w), free(c->b), free(c->out), free(c->dout), free(c->dx), free(c->dw);
    free(c->db);
}

static void lin_fwd(void *p)
{
    lin_ctx *c = p;
    dr_cpu_linear_forward(&cpu_be, c->out, c->x, c->w, c->b, c->B, c->C, c->OC);
}

static void lin_fb(void *p)
{
    lin_ctx *c = p;
    lin_fwd(p);
    dr_cpu_linear_backward(&cpu_be, c->dx, c->dw, c->db, c->dout, c->x, c->w, c->B, c->C, c->OC);
}

/* ---- maxpool: bytes = read x, write out + argmax (fwd); read dout + argmax,
 * read-modify-write the touched dx entries (bwd) ---- */
typedef struct {
    int B, C, L, K;
    float *x, *out, *dout, *dx;
    int32_t *am;
} pool_ctx;

static void pool_fwd(void *p)
{
    pool_ctx *c = p;
    dr_cpu_maxpool1d_forward(&cpu_be, c->out, c->am, c->x, c->B, c->C, c->L, c->K);
}

static void pool_fb(void *p)
{
    pool_ctx *c = p;
    pool_fwd(p);
    dr_cpu_maxpool1d_backward(&cpu_be, c->dx, c->dout, c->am, c->B, c->C, c->L, c->K);
}

/* ---- LSTM ---- */
typedef struct {
    int B, T, In, H;
    float *x, *w_ih, *w_hh, *b, *h, *c, *gates, *dh, *dx, *dw_ih, *dw_hh, *db, *scratch;
} lstm_ctx;

static void lstm_fwd(void *p)
{
    lstm_ctx *s = p;
    dr_cpu_lstm_forward(&cpu_be, s->h, s->c, s->gates, s->x, s->w_ih, s->w_hh, s->b, s->B, s->T,
                        s->In, s->H);
}

static void lstm_fb(void *p)
{
    lstm_ctx *s = p;
    lstm_fwd(p);
    dr_cpu_lstm_backward(&cpu_be, s->dx, s->dw_ih, s->dw_hh, s->db, s->scratch, s->dh, s->x, s->h,
                         s->c, s->gates, s->w_ih, s->w_hh, s->B, s->T, s->In, s->H);
}

/* ---- attention ---- */
typedef struct {
    int B, T, H, A;
    float *h, *w, *b, *v, *ctx, *alpha, *u, *dctx, *dh, *dw, *db, *dv, *scratch;
} att_ctx;

static void att_fwd(void *p)
{
    att_ctx *s = p;
    dr_cpu_attention_forward(&cpu_be, s->ctx, s->alpha, s->u, s->h, s->w, s->b, s->v, s->B, s->T,
                             s->H, s->A);
}

static void att_fb(void *p)
{
    att_ctx *s = p;
    att_fwd(p);
    dr_cpu_attention_backward(&cpu_be, s->dh, s->dw, s->db, s->dv, s->scratch, s->dctx, s->h, s->w,
                              s->v, s->u, s->alpha, s->B, s->T, s->H, s->A);
}

/* ---- batchnorm over [B, C, L] = [256, 256, 20]: bytes fwd = read x, write out
 * (training statistics need a second read of x: counted once); bwd = read dout,
 * x, read-modify-write dx ---- */
typedef struct {
    int B, C, L;
    float *x, *out, *mean, *rstd, *rm, *rv, *gamma, *beta, *dout, *dx, *dgamma, *dbeta;
} bn_ctx;

static void bn_fwd(void *p)
{
    bn_ctx *s = p;
    dr_cpu_batchnorm_forward_train(&cpu_be, s->out, s->mean, s->rstd, s->rm, s->rv, s->x, s->gamma,
                                   s->beta, s->B, s->C, s->L, 1e-5f, 0.1f);
}

static void bn_fb(void *p)
{
    bn_ctx *s = p;
    bn_fwd(p);
    dr_cpu_batchnorm_backward(&cpu_be, s->dx, s->dgamma, s->dbeta, s->dout, s->x, s->mean, s->rstd,
                              s->gamma, s->B, s->C, s->L);
}

/* ---- relu over n: fwd read x write out; bwd read dout, out, rmw dx ---- */
typedef struct {
    long n;
    float *x, *out, *dout, *dx;
} relu_ctx;

static void relu_fwd(void *p)
{
    relu_ctx *s = p;
    dr_cpu_relu_forward(&cpu_be, s->out, s->x, s->n);
}

static void relu_fb(void *p)
{
    relu_ctx *s = p;
    relu_fwd(p);
    dr_cpu_relu_backward(&cpu_be, s->dx, s->dout, s->out, s->n);
}

/* ---- loss over B logits; adam over n parameters (read p, g, m, v; write p, m, v) ---- */
typedef struct {
    int B;
    float *z, *y, *per, *loss, *dz;
    dr_loss_params lp;
} loss_ctx;

static void loss_fwd(void *p)
{
    loss_ctx *s = p;
    dr_cpu_loss_forward(&cpu_be, s->loss, s->per, s->z, s->y, s->B, s->lp);
}

static void loss_fb(void *p)
{
    loss_ctx *s = p;
    loss_fwd(p);
    dr_cpu_loss_backward(&cpu_be, s->dz, s->z, s->y, s->B, s->lp, 1.0f);
}

typedef struct {
    long n;
    float *p, *g, *m, *v;
    dr_adam_params hp;
} adam_ctx;

static void adam_step(void *p)
{
    adam_ctx *s = p;
    s->hp.step++;
    dr_cpu_adam_update(&cpu_be, s->p, s->g, s->m, s->v, s->n, &s->hp);
}

int main(int argc, char **argv)
{
    int cpu_time = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu-time") == 0)
            cpu_time = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            g_only = argv[++i];
        else
            g_runs = atoi(argv[i]);
    }
    if (g_runs < 7)
        g_runs = 7;
    if (g_runs > 64)
        g_runs = 64;
    if (cpu_time) {
        omp_set_num_threads(1);
        openblas_set_num_threads(1);
        peak_clock = CLOCK_THREAD_CPUTIME_ID;
        op_clock = CLOCK_PROCESS_CPUTIME_ID;
    }
    double peak1_best;
    double peak1 = peak_measure(1, 0.2, 7, &peak1_best);
    if (cpu_time)
        g_peak = peak1, g_peak_best = peak1_best;
    else
        g_peak = peak_measure(2, 0.2, 7, &g_peak_best);
    printf("CPU op benchmark: batch %d, median of %d runs after 2 warm-ups, %s\n", BATCH, g_runs,
           cpu_time ? "CPU time of 1 thread (--cpu-time): % of the 1-thread peak"
                    : "wall clock: % of the 2-thread peak");
    printf("threads: OpenMP %d, OpenBLAS %d (%s)\n", omp_get_max_threads(),
           openblas_get_num_threads(), openblas_get_config());
    printf("measured fp32 FMA peak (%s):\n  1 thread %.1f GFLOP/s (best run %.1f)", PEAK_ISA,
           peak1, peak1_best);
    if (!cpu_time)
        printf(", 2 threads %.1f GFLOP/s (best run %.1f)", g_peak, g_peak_best);
    printf("\n  %% of peak = median rate / median peak %.1f; best %% = fastest run / best peak "
           "%.1f\n\n",
           g_peak, g_peak_best);
    printf("%-18s %-22s %-8s %9s %16s %8s | %9s %6s\n", "op", "shape", "pass", "median ms",
           "rate", "of peak", "best ms", "best %");

    /* conv1d: the three layers of one CNN branch at the paper's filters */
    const int conv_io[3][2] = {{1, 64}, {64, 128}, {128, 256}};
    double conv_fb_flop = 0;
    timing conv_sum = {0, 0}, lab_sum = {0, 0};
    for (int i = 0; i < 3 && want("conv1d"); i++) {
        conv_ctx c;
        int need_dx = i > 0; /* the first layer's input is data: no dx */
        conv_init(&c, conv_io[i][0], conv_io[i][1], need_dx);
        char shape[64];
        snprintf(shape, sizeof shape, "%d->%d L=%d K=%d", c.Cin, c.Cout, c.L, c.K);
        double F = 2.0 * c.B * c.L * c.Cout * c.Cin * c.K, Ffb = (need_dx ? 3 : 2) * F;
        timing tf = time_op(conv_fwd, &c), tb = time_op(conv_fb, &c);
        row("conv1d", shape, "fwd", tf, F, 0);
        row("conv1d", shape, "fwd+bwd", tb, Ffb, 0);
        conv_fb_flop += Ffb, conv_sum.med += tb.med, conv_sum.min += tb.min;
        /* the lab variant, right after the kernel, so both see the same machine */
        if (!lab_check(&c)) {
            printf("conv1d/im2col-lab %s: results differ from the kernel: not timed\n", shape);
        } else {
            timing lf = time_op(lab_conv_fwd, &c), lb = time_op(lab_conv_fb, &c);
            row("conv1d/im2col-lab", shape, "fwd", lf, F, 0);
            row("conv1d/im2col-lab", shape, "fwd+bwd", lb, Ffb, 0);
            lab_sum.med += lb.med, lab_sum.min += lb.min;
        }
        conv_free(&c);
    }
    if (conv_sum.med > 0)
        row("conv1d", "x3 (sum)", "fwd+bwd", conv_sum, conv_fb_flop, 0);
    if (lab_sum.med > 0)
        row("conv1d/im2col-lab", "x3 (sum)", "fwd+bwd", lab_sum, conv_fb_flop, 0);

    const int lin_io[2][2] = {{1024, 256}, {256, 64}};
    for (int i = 0; i < 2 && want("linear"); i++) {
        lin_ctx c;
        lin_init(&c, lin_io[i][0], lin_io[i][1]);
        char shape[64];
        snprintf(shape, sizeof shape, "%d->%d", c.C, c.OC);
        double F = 2.0 * c.B * c.C * c.OC;
        row("linear", shape, "fwd", time_op(lin_fwd, &c), F, 0);
        row("linear", shape, "fwd+bwd", time_op(lin_fb, &c), 3 * F, 0);
        lin_free(&c);
    }

    if (want("maxpool1d")) {
        pool_ctx c = {.B = BATCH, .C = 256, .L = SEQ_L, .K = 2};
        size_t nx = (size_t)c.B * c.C * c.L, ny = (size_t)c.B * c.C * (c.L / c.K);
        c.x = falloc(nx, -1, 1, 21), c.out = falloc(ny, 0, 0, 22), c.dout = falloc(ny, -1, 1, 23);
        c.dx = falloc(nx, 0, 0, 24);
        c.am = malloc(ny * sizeof *c.am);
        if (!c.am)
            return 1;
        double bf = 4.0 * (nx + 2 * ny), bb = bf + 4.0 * (2 * ny + 2 * ny);
        row("maxpool1d", "C=256 L=20 K=2", "fwd", time_op(pool_fwd, &c), 0, bf);
        row("maxpool1d", "C=256 L=20 K=2", "fwd+bwd", time_op(pool_fb, &c), 0, bb);
        free(c.x), free(c.out), free(c.dout), free(c.dx), free(c.am);
    }

    if (want("lstm")) {
        lstm_ctx s = {.B = BATCH, .T = 12, .In = 256, .H = 128};
        size_t nx = (size_t)s.B * s.T * s.In, nh = (size_t)s.B * s.T * s.H;
        size_t G = 4 * (size_t)s.H;
        float k = 1.0f / sqrtf((float)s.H);
        s.x = falloc(nx, -1, 1, 31), s.w_ih = falloc(G * s.In, -k, k, 32);
        s.w_hh = falloc(G * s.H, -k, k, 33), s.b = falloc(G, -k, k, 34);
        s.h = falloc(nh, 0, 0, 35), s.c = falloc(nh, 0, 0, 36), s.gates = falloc(nh * 4, 0, 0, 37);
        s.dh = falloc(nh, -1, 1, 38), s.dx = falloc(nx, 0, 0, 39);
        s.dw_ih = falloc(G * s.In, 0, 0, 40), s.dw_hh = falloc(G * s.H, 0, 0, 41);
        s.db = falloc(G, 0, 0, 42);
        s.scratch = falloc(dr_lstm_scratch_floats(s.B, s.T, s.In, s.H), 0, 0, 43);
        double F = 2.0 * s.B * s.T * G * (s.In + s.H);
        double Ffb = F + 2.0 * 2 * s.B * s.T * G * s.In + 2.0 * 2 * s.B * (s.T - 1) * G * s.H;
        row("lstm", "I=256 H=128 T=12", "fwd", time_op(lstm_fwd, &s), F, 0);
        row("lstm", "I=256 H=128 T=12", "fwd+bwd", time_op(lstm_fb, &s), Ffb, 0);
        float *ptrs[] = {s.x,  s.w_ih, s.w_hh,  s.b,     s.h,  s.c,      s.gates,
                         s.dh, s.dx,   s.dw_ih, s.dw_hh, s.db, s.scratch};
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
            free(ptrs[i]);
    }

    if (want("attention")) {
        att_ctx s = {.B = BATCH, .T = 12, .H = 128, .A = 128};
        size_t nh = (size_t)s.B * s.T * s.H;
        s.h = falloc(nh, -1, 1, 51), s.w = falloc((size_t)s.A * s.H, -0.1f, 0.1f, 52);
        s.b = falloc(s.A, -0.1f, 0.1f, 53), s.v = falloc(s.A, -0.1f, 0.1f, 54);
        s.ctx = falloc((size_t)s.B * s.H, 0, 0, 55), s.alpha = falloc((size_t)s.B * s.T, 0, 0, 56);
        s.u = falloc((size_t)s.B * s.T * s.A, 0, 0, 57);
        s.dctx = falloc((size_t)s.B * s.H, -1, 1, 58), s.dh = falloc(nh, 0, 0, 59);
        s.dw = falloc((size_t)s.A * s.H, 0, 0, 60), s.db = falloc(s.A, 0, 0, 61);
        s.dv = falloc(s.A, 0, 0, 62);
        s.scratch = falloc(dr_attention_scratch_floats(s.B, s.T, s.H, s.A), 0, 0, 63);
        double F = 2.0 * s.B * s.T * s.A * s.H;
        row("attention", "T=12 H=128 A=128", "fwd", time_op(att_fwd, &s), F, 0);
        row("attention", "T=12 H=128 A=128", "fwd+bwd", time_op(att_fb, &s), 3 * F, 0);
        float *ptrs[] = {s.h,  s.w,  s.b,  s.v,  s.ctx, s.alpha,  s.u,
                         s.dctx, s.dh, s.dw, s.db, s.dv, s.scratch};
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
            free(ptrs[i]);
    }

    if (want("batchnorm")) {
        bn_ctx s = {.B = BATCH, .C = 256, .L = SEQ_L};
        size_t n = (size_t)s.B * s.C * s.L;
        s.x = falloc(n, -1, 1, 71), s.out = falloc(n, 0, 0, 72), s.dout = falloc(n, -1, 1, 73);
        s.dx = falloc(n, 0, 0, 74), s.mean = falloc(s.C, 0, 0, 75), s.rstd = falloc(s.C, 0, 0, 76);
        s.rm = falloc(s.C, 0, 0, 77), s.rv = falloc(s.C, 1, 1, 78), s.gamma = falloc(s.C, 1, 1, 79);
        s.beta = falloc(s.C, 0, 0, 80), s.dgamma = falloc(s.C, 0, 0, 81);
        s.dbeta = falloc(s.C, 0, 0, 82);
        double bf = 8.0 * n, bb = bf + 16.0 * n;
        row("batchnorm", "C=256 L=20", "fwd", time_op(bn_fwd, &s), 0, bf);
        row("batchnorm", "C=256 L=20", "fwd+bwd", time_op(bn_fb, &s), 0, bb);
        float *ptrs[] = {s.x,  s.out, s.mean, s.rstd, s.rm,     s.rv,
                         s.gamma, s.beta, s.dout, s.dx, s.dgamma, s.dbeta};
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
            free(ptrs[i]);
    }

    if (want("relu")) {
        relu_ctx s = {.n = (long)BATCH * 256 * SEQ_L};
        s.x = falloc((size_t)s.n, -1, 1, 91), s.out = falloc((size_t)s.n, 0, 0, 92);
        s.dout = falloc((size_t)s.n, -1, 1, 93), s.dx = falloc((size_t)s.n, 0, 0, 94);
        double bf = 8.0 * s.n, bb = bf + 16.0 * s.n;
        row("relu", "n=256*256*20", "fwd", time_op(relu_fwd, &s), 0, bf);
        row("relu", "n=256*256*20", "fwd+bwd", time_op(relu_fb, &s), 0, bb);
        free(s.x), free(s.out), free(s.dout), free(s.dx);
    }

    if (want("loss")) {
        loss_ctx s = {.B = BATCH, .lp = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f}};
        s.z = falloc(BATCH, -3, 3, 101), s.y = falloc(BATCH, 0, 1, 102);
        for (int i = 0; i < BATCH; i++)
            s.y[i] = s.y[i] > 0.8f ? 1.0f : 0.0f;
        s.per = falloc(BATCH, 0, 0, 103), s.loss = falloc(1, 0, 0, 104);
        s.dz = falloc(BATCH, 0, 0, 105);
        row("loss", "B=256", "fwd", time_op(loss_fwd, &s), 0, 12.0 * BATCH);
        row("loss", "B=256", "fwd+bwd", time_op(loss_fb, &s), 0, 24.0 * BATCH);
        free(s.z), free(s.y), free(s.per), free(s.loss), free(s.dz);
    }

    if (want("adam")) {
        /* about the hybrid net's size: one CNN branch (~0.12 M), LSTM (~0.2 M), FC */
        adam_ctx s = {.n = 1L << 20,
                      .hp = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f}};
        s.p = falloc((size_t)s.n, -0.1f, 0.1f, 111), s.g = falloc((size_t)s.n, -1, 1, 112);
        s.m = falloc((size_t)s.n, 0, 0, 113), s.v = falloc((size_t)s.n, 0, 0, 114);
        row("adam", "n=2^20", "update", time_op(adam_step, &s), 0, 28.0 * s.n);
        free(s.p), free(s.g), free(s.m), free(s.v);
    }

    double peak_after = peak_measure(cpu_time ? 1 : 2, 0.2, 7, NULL);
    printf("\n%s peak measured again after the ops: %.1f GFLOP/s (before: %.1f)\n",
           cpu_time ? "1-thread" : "2-thread", peak_after, g_peak);
    return 0;
}
