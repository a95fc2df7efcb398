/* maxpool1d kernel tests: the CPU kernel (kernels/cpu/maxpool1d.c) against the
 * plain-loop reference below (values and argmax exactly), ceil mode (L not a
 * multiple of K, L = 1, K > L), the += contract of the backward, central finite
 * differences of dx, NaN propagation, and NaN-poisoned outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "core/ops/maxpool1d.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* ---- the slow, obvious version ----
 *   x [B, C, L] -> out [B, C, Lout], argmax [B, C, Lout], Lout = ceil(L / K)
 *   window j = x[j*K .. min(j*K+K, L)-1]; first index of the maximum */
static void ref_maxpool1d_forward(float *out, int32_t *argmax, const float *x, int B, int C,
                                  int L, int K)
{
    int Lout = (L + K - 1) / K;
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < Lout; j++) {
                const float *xr = x + ((size_t)n * C + c) * L;
                int bi = j * K;
                for (int i = j * K; i < j * K + K && i < L; i++)
                    if (xr[i] > xr[bi])
                        bi = i;
                out[((size_t)n * C + c) * Lout + j] = xr[bi];
                argmax[((size_t)n * C + c) * Lout + j] = bi;
            }
}

/* dx[n,c,argmax] += dout[n,c,j] */
static void ref_maxpool1d_backward(float *dx, const float *dout, const int32_t *argmax, int B,
                                   int C, int L, int K)
{
    int Lout = (L + K - 1) / K;
    for (long r = 0; r < (long)B * C; r++)
        for (int j = 0; j < Lout; j++)
            dx[r * L + argmax[r * Lout + j]] += dout[r * Lout + j];
}

typedef struct {
    int B, C, L, K;
} shape;

/* L a multiple of K, not a multiple (short last window), L = 1, K = 1, K > L,
 * K = L, B = 1, C = 1, and the paper's pooling (length 20, K = 2). */
static const shape shapes[] = {
    {1, 1, 1, 1}, {1, 1, 1, 3}, {2, 3, 6, 2}, {3, 2, 7, 2}, {1, 4, 5, 3},
    {2, 1, 4, 4}, {3, 5, 3, 5}, {4, 3, 9, 1}, {5, 7, 20, 2}, {2, 3, 11, 4},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

static long nx(const shape *s) { return (long)s->B * s->C * s->L; }
static long ny(const shape *s) { return (long)s->B * s->C * dr_maxpool1d_out_len(s->L, s->K); }

/* Distinct values 0.05 apart in a random order, so each window's maximum beats the
 * runner-up by >= 0.05 and a finite-difference step of 0.01 cannot change argmax. */
static void fill_distinct(float *x, long n, uint32_t stream)
{
    for (long i = 0; i < n; i++)
        x[i] = 0.05f * (float)(i - n / 2);
    for (long i = n - 1; i > 0; i--) { /* Fisher-Yates with Philox draws */
        long j = (long)(dr_philox_uniform(tu_seed(), stream, 0, (uint64_t)i) * (float)(i + 1));
        if (j > i)
            j = i;
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static int32_t *alloc_idx(long n)
{
    int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (long i = 0; i < n; i++)
        p[i] = -7; /* poison: not a valid index */
    return p;
}

static void test_forward(void **state)
{
    (void)state;
    long bad = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        float *x = tu_alloc(nx(s)), *out = tu_alloc(ny(s)), *want = tu_alloc(ny(s));
        int32_t *am = alloc_idx(ny(s)), *wam = alloc_idx(ny(s));
        /* random values with ties allowed: in [-1, 1] quantised to 1/4 */
        tu_fill_uniform(x, nx(s), -1.0f, 1.0f, tu_seed(), (uint32_t)i);
        for (long j = 0; j < nx(s); j++)
            x[j] = roundf(x[j] * 4.0f) / 4.0f;
        dr_cpu_maxpool1d_forward(tu_cpu(), out, am, x, s->B, s->C, s->L, s->K);
        ref_maxpool1d_forward(want, wam, x, s->B, s->C, s->L, s->K);
        /* a copy of an input entry: exact, tolerance 0; argmax must match exactly
         * (ties to the first index) */
        long nb = tu_compare("out", out, want, ny(s), 0.0, 0.0);
        long nidx = 0;
        for (long j = 0; j < ny(s); j++)
            if (am[j] != wam[j]) {
                if (nidx < 5)
                    printf("  argmax[%ld]: got %d want %d\n", j, am[j], wam[j]);
                nidx++;
            }
        printf("  forward B=%d C=%d L=%d K=%d Lout=%d: %ld value and %ld argmax mismatches%s\n",
               s->B, s->C, s->L, s->K, dr_maxpool1d_out_len(s->L, s->K), nb, nidx,
               nb + nidx ? "  FAILED" : "");
        bad += nb + nidx;
        free(x), free(out), free(want), free(am), free(wam);
    }
    assert_int_equal(bad, 0);
}

/* Backward into dx pre-filled with 0.5: every entry must equal 0.5 plus the
 * reference's scatter. Exact: each dx entry receives at most one dout value
 * (windows do not overlap), so the fp32 sum 0.5 + d is the same single rounding
 * in both; tolerance 0. */
static void test_backward(void **state)
{
    (void)state;
    long bad = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        float *x = tu_alloc(nx(s)), *out = tu_alloc(ny(s)), *dout = tu_alloc(ny(s));
        float *dx = tu_alloc(nx(s)), *wdx = tu_alloc(nx(s));
        int32_t *am = alloc_idx(ny(s));
        fill_distinct(x, nx(s), 50u + (uint32_t)i);
        tu_fill_uniform(dout, ny(s), -1.0f, 1.0f, tu_seed(), 60u + (uint32_t)i);
        dr_cpu_maxpool1d_forward(tu_cpu(), out, am, x, s->B, s->C, s->L, s->K);
        for (long j = 0; j < nx(s); j++)
            dx[j] = wdx[j] = 0.5f;
        dr_cpu_maxpool1d_backward(tu_cpu(), dx, dout, am, s->B, s->C, s->L, s->K);
        ref_maxpool1d_backward(wdx, dout, am, s->B, s->C, s->L, s->K);
        long nb = tu_compare("dx", dx, wdx, nx(s), 0.0, 0.0);
        printf("  backward B=%d C=%d L=%d K=%d: %ld mismatches (tol 0)%s\n", s->B, s->C, s->L,
               s->K, nb, nb ? "  FAILED" : "");
        bad += nb;
        free(x), free(out), free(dout), free(dx), free(wdx), free(am);
    }
    assert_int_equal(bad, 0);
}

typedef struct {
    shape s;
    float *x, *out, *r;
    int32_t *am;
} gctx;

static double pool_loss(void *ctx)
{
    gctx *g = ctx;
    tu_fill_nan(g->out, ny(&g->s));
    dr_cpu_maxpool1d_forward(tu_cpu(), g->out, g->am, g->x, g->s.B, g->s.C, g->s.L, g->s.K);
    return tu_dot(g->r, g->out, ny(&g->s));
}

/* With values 0.05 apart and a step of 0.01 no window changes its argmax, so the
 * loss is exactly linear in each x over the step: out is a copy of x (exact) and
 * the loss is a double sum, so the only error is the double rounding of the loss
 * (~1e-16 * sum |r * out| <= 1e-13) over 2h = 0.02: ~1e-11. Allowed: 1e-6
 * relative (floor 1e-3 on the denominator, so the many exact zeros pass only if
 * the finite difference is below 1e-9 too). */
static void test_grad(void **state)
{
    (void)state;
    const double h = 0.01, tol = 1e-6, floor = 1e-3;
    int fails = 0;
    for (int i = 0; i < NSHAPES; i++) {
        gctx g = {.s = shapes[i]};
        const shape *s = &g.s;
        g.x = tu_alloc(nx(s)), g.out = tu_alloc(ny(s)), g.r = tu_alloc(ny(s));
        g.am = alloc_idx(ny(s));
        float *dx = tu_alloc(nx(s));
        fill_distinct(g.x, nx(s), 70u + (uint32_t)i);
        tu_fill_uniform(g.r, ny(s), -1.0f, 1.0f, tu_seed(), 80u + (uint32_t)i);
        pool_loss(&g);
        memset(dx, 0, (size_t)nx(s) * sizeof *dx);
        dr_cpu_maxpool1d_backward(tu_cpu(), dx, g.r, g.am, s->B, s->C, s->L, s->K);
        printf("  grad check B=%d C=%d L=%d K=%d\n", s->B, s->C, s->L, s->K);
        double e = tu_grad_check("dx", g.x, nx(s), dx, pool_loss, &g, h, 400, floor);
        if (!(e <= tol)) {
            printf("  FAILED: tolerance %.1e\n", tol);
            fails++;
        }
        free(g.x), free(g.out), free(g.r), free(g.am), free(dx);
    }
    assert_int_equal(fails, 0);
}

/* A NaN inside a window must come out (not be hidden by a larger neighbour), and
 * point argmax at itself, so the problem stays visible downstream. */
static void test_nan_propagates(void **state)
{
    (void)state;
    float x[6] = {1.0f, NAN, 3.0f, 2.0f, 5.0f, 4.0f}, out[2];
    int32_t am[2] = {-7, -7};
    dr_cpu_maxpool1d_forward(tu_cpu(), out, am, x, 1, 1, 6, 3);
    printf("  NaN window: out %g at %d; clean window: out %g at %d\n", out[0], am[0], out[1],
           am[1]);
    assert_true(isnan(out[0]));
    assert_int_equal(am[0], 1);
    assert_true(out[1] == 5.0f);
    assert_int_equal(am[1], 4);
    /* K = 2 has its own branch-free path: NaN first, NaN second, none */
    float x2[6] = {NAN, 1.0f, 2.0f, NAN, 3.0f, 4.0f}, out2[3];
    int32_t am2[3] = {-7, -7, -7};
    dr_cpu_maxpool1d_forward(tu_cpu(), out2, am2, x2, 1, 1, 6, 2);
    printf("  K=2: out %g %g %g at %d %d %d\n", out2[0], out2[1], out2[2], am2[0], am2[1], am2[2]);
    assert_true(isnan(out2[0]) && isnan(out2[1]) && out2[2] == 4.0f);
    assert_int_equal(am2[0], 0);
    assert_int_equal(am2[1], 3);
    assert_int_equal(am2[2], 5);
    /* and the eight-pair vector path (rows of 2 * 8 or more), with every kind of
     * pair: NaN first, NaN second, both NaN, a tie, a larger first or second */
    float x3[21] = {NAN, 1,   2,   NAN, NAN, NAN, 3, 3, 5, 4, 4, 5, -1,  -2,
                    0,   0,   7,   NAN, NAN, 8,   9};
    float out3[11];
    int32_t am3[11];
    dr_cpu_maxpool1d_forward(tu_cpu(), out3, am3, x3, 1, 1, 21, 2);
    int bad = 0;
    for (int j = 0; j < 10; j++) {
        float a = x3[2 * j], b = x3[2 * j + 1];
        int take = b > a || (isnan(b) && !isnan(a));
        float want = take ? b : a;
        if (am3[j] != 2 * j + take || !(out3[j] == want || (isnan(out3[j]) && isnan(want))))
            bad++;
    }
    bad += am3[10] != 20 || out3[10] != 9.0f; /* the one-element window of ceil mode */
    printf("  K=2, 21 positions: %d of 11 windows wrong\n", bad);
    assert_int_equal(bad, 0);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_backward),
        cmocka_unit_test(test_grad),
        cmocka_unit_test(test_nan_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
