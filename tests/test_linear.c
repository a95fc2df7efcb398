/* linear kernel tests: the fast CPU kernel (kernels/cpu/linear.c, OpenBLAS) against
 * the plain-loop reference below on odd shapes, central finite differences of dx,
 * dw and db, the += contract, NULL dx / db, NULL bias, NaN-poisoned outputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/linear.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* ---- the slow, obvious version (double accumulation) ----
 *   x [B, C], w [OC, C], b [OC] (may be NULL)  ->  out [B, OC]
 *   out[n,o] = b[o] + sum_c x[n,c] w[o,c] */
static void ref_linear_forward(float *out, const float *x, const float *w, const float *b, int B,
                               int C, int OC)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++)
                s += (double)x[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = (float)s;
        }
}

/* Adds into dx (may be NULL), dw, db (may be NULL):
 *   dx[n,c] += sum_o dout[n,o] w[o,c];  dw[o,c] += sum_n dout[n,o] x[n,c];
 *   db[o] += sum_n dout[n,o] */
static void ref_linear_backward(float *dx, float *dw, float *db, const float *dout,
                                const float *x, const float *w, int B, int C, int OC)
{
    for (int n = 0; dx && n < B; n++)
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int o = 0; o < OC; o++)
                s += (double)dout[(size_t)n * OC + o] * w[(size_t)o * C + c];
            dx[(size_t)n * C + c] += (float)s;
        }
    for (int o = 0; o < OC; o++) {
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int n = 0; n < B; n++)
                s += (double)dout[(size_t)n * OC + o] * x[(size_t)n * C + c];
            dw[(size_t)o * C + c] += (float)s;
        }
        double s = 0.0;
        for (int n = 0; n < B; n++)
            s += dout[(size_t)n * OC + o];
        if (db)
            db[o] += (float)s;
    }
}

typedef struct {
    int B, C, OC, bias;
} shape;

/* B = 1, C = 1, OC = 1, odd sizes, sizes past one BLAS block (C = 300), and one
 * paper-like layer shrunk in the batch. */
static const shape shapes[] = {
    {1, 1, 1, 1},  {1, 7, 3, 0},   {5, 1, 4, 1},    {3, 5, 1, 1},
    {17, 13, 9, 1}, {2, 300, 5, 1}, {33, 64, 17, 0}, {9, 256, 64, 1},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

typedef struct {
    shape s;
    float *x, *w, *b, *out, *r, *dout, *dx, *dw, *db, *want, *wdx, *wdw, *wdb;
} prob;

static long nx(const shape *s) { return (long)s->B * s->C; }
static long nw(const shape *s) { return (long)s->OC * s->C; }
static long ny(const shape *s) { return (long)s->B * s->OC; }

/* Everything in [-1, 1], so every |term| of a sum is <= 1 (used by the tolerances). */
static void prob_init(prob *p, const shape *s, uint32_t stream)
{
    uint64_t seed = tu_seed();
    memset(p, 0, sizeof *p);
    p->s = *s;
    p->x = tu_alloc(nx(s)), p->w = tu_alloc(nw(s)), p->b = tu_alloc(s->OC);
    p->out = tu_alloc(ny(s)), p->r = tu_alloc(ny(s)), p->dout = tu_alloc(ny(s));
    p->dx = tu_alloc(nx(s)), p->dw = tu_alloc(nw(s)), p->db = tu_alloc(s->OC);
    p->want = tu_alloc(ny(s)), p->wdx = tu_alloc(nx(s)), p->wdw = tu_alloc(nw(s));
    p->wdb = tu_alloc(s->OC);
    tu_fill_uniform(p->x, nx(s), -1.0f, 1.0f, seed, stream * 16 + 0);
    tu_fill_uniform(p->w, nw(s), -1.0f, 1.0f, seed, stream * 16 + 1);
    tu_fill_uniform(p->b, s->OC, -1.0f, 1.0f, seed, stream * 16 + 2);
    tu_fill_uniform(p->r, ny(s), -1.0f, 1.0f, seed, stream * 16 + 3);
    tu_fill_uniform(p->dout, ny(s), -1.0f, 1.0f, seed, stream * 16 + 4);
}

static void prob_free(prob *p)
{
    float *ptrs[] = {p->x,  p->w,  p->b,    p->out, p->r,   p->dout, p->dx,
                     p->dw, p->db, p->want, p->wdx, p->wdw, p->wdb};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
}

static void run_forward(prob *p)
{
    const shape *s = &p->s;
    tu_fill_nan(p->out, ny(s));
    dr_cpu_linear_forward(tu_cpu(), p->out, p->x, p->w, s->bias ? p->b : NULL, s->B, s->C,
                          s->OC);
}

/* fp32 error bound for a sum of m terms, each |term| <= 1, in any order (BLAS
 * blocking, FMA): |err| <= m * u * sum|terms| <= m^2 * u, u = 2^-24, plus one
 * rounding for the += onto the pre-filled value. We allow
 * (m + 1) * (m + 1 + |prefill|) * FLT_EPSILON (= 2u): a factor 2 above the bound. */
static double sum_tol(long m, double prefill)
{
    double t = (double)(m + 1);
    return t * (t + fabs(prefill)) * FLT_EPSILON;
}

static void test_forward(void **state)
{
    (void)state;
    long bad = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        prob p;
        prob_init(&p, s, (uint32_t)i);
        run_forward(&p);
        ref_linear_forward(p.want, p.x, p.w, s->bias ? p.b : NULL, s->B, s->C, s->OC);
        double atol = sum_tol(s->C + 1, 0.0); /* C products plus the bias */
        long nb = tu_compare("out", p.out, p.want, ny(s), atol, 0.0);
        double maxerr = 0.0;
        for (long j = 0; j < ny(s); j++)
            maxerr = fmax(maxerr, fabs((double)p.out[j] - p.want[j]));
        printf("  forward B=%-3d C=%-3d OC=%-3d bias=%d  max |err| %.2e (tol %.2e)%s\n", s->B,
               s->C, s->OC, s->bias, maxerr, atol, nb ? "  FAILED" : "");
        bad += nb;
        prob_free(&p);
    }
    assert_int_equal(bad, 0);
}

/* Against the reference with gradient buffers pre-filled with 0.5 (an overwriting
 * kernel fails), then with dx = db = NULL (must not be touched or crash). */
static void test_backward(void **state)
{
    (void)state;
    const float pre = 0.5f;
    long bad = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        prob p;
        prob_init(&p, s, 100u + (uint32_t)i);
        for (int with_null = 0; with_null < 2; with_null++) {
            for (long j = 0; j < nx(s); j++)
                p.dx[j] = p.wdx[j] = pre;
            for (long j = 0; j < nw(s); j++)
                p.dw[j] = p.wdw[j] = pre;
            for (int j = 0; j < s->OC; j++)
                p.db[j] = p.wdb[j] = pre;
            dr_cpu_linear_backward(tu_cpu(), with_null ? NULL : p.dx, p.dw,
                                   with_null ? NULL : p.db, p.dout, p.x, p.w, s->B, s->C, s->OC);
            ref_linear_backward(with_null ? NULL : p.wdx, p.wdw, with_null ? NULL : p.wdb, p.dout,
                                p.x, p.w, s->B, s->C, s->OC);
            double tdx = sum_tol(s->OC, pre), tdw = sum_tol(s->B, pre);
            long nb = tu_compare("dx", p.dx, p.wdx, nx(s), tdx, 0.0) +
                      tu_compare("dw", p.dw, p.wdw, nw(s), tdw, 0.0) +
                      tu_compare("db", p.db, p.wdb, s->OC, tdw, 0.0);
            printf("  backward B=%-3d C=%-3d OC=%-3d %s tol dx %.1e dw/db %.1e%s\n", s->B, s->C,
                   s->OC, with_null ? "dx=db=NULL" : "all grads ", tdx, tdw,
                   nb ? "  FAILED" : "");
            bad += nb;
        }
        prob_free(&p);
    }
    assert_int_equal(bad, 0);
}

static double linear_loss(void *ctx)
{
    prob *p = ctx;
    run_forward(p);
    return tu_dot(p->r, p->out, ny(&p->s));
}

/* The loss sum r * out is linear in each single entry of x, w and b, so the central
 * difference has no truncation error: a large step h = 0.25 (exact in fp32 next
 * to values in [-1, 1]) only shrinks the rounding part. That part: the M touched
 * outputs (M = OC for x, B for w and b, <= 64 here) each carry an fp32 error of
 * about sqrt(m) * u * |out| with m <= 257 terms and |out| <~ sqrt(m), i.e. about
 * m * u = 1.5e-5 each; summed with random signs over M outputs, sqrt(64) * 1.5e-5
 * = 1.2e-4, divided by 2h: 2.4e-4 absolute, against gradients of size ~sqrt(M).
 * We allow 2e-3 relative with a floor of 1 on the denominator (2e-3 absolute for
 * near-zero gradients): ~10x above the estimate, far below any wrong index. */
static void test_grad(void **state)
{
    (void)state;
    const double h = 0.25, tol = 2e-3, floor = 1.0;
    int fails = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        prob p;
        prob_init(&p, s, 200u + (uint32_t)i);
        printf("  grad check B=%d C=%d OC=%d bias=%d\n", s->B, s->C, s->OC, s->bias);
        memset(p.dx, 0, (size_t)nx(s) * sizeof(float));
        memset(p.dw, 0, (size_t)nw(s) * sizeof(float));
        memset(p.db, 0, (size_t)s->OC * sizeof(float));
        /* d(sum r * out)/d out = r */
        dr_cpu_linear_backward(tu_cpu(), p.dx, p.dw, p.db, p.r, p.x, p.w, s->B, s->C, s->OC);
        double ex = tu_grad_check("dx", p.x, nx(s), p.dx, linear_loss, &p, h, 200, floor);
        double ew = tu_grad_check("dw", p.w, nw(s), p.dw, linear_loss, &p, h, 200, floor);
        double eb = 0.0;
        if (s->bias)
            eb = tu_grad_check("db", p.b, s->OC, p.db, linear_loss, &p, h, 200, floor);
        if (!(ex <= tol && ew <= tol && eb <= tol)) {
            printf("  FAILED: tolerance %.1e\n", tol);
            fails++;
        }
        prob_free(&p);
    }
    assert_int_equal(fails, 0);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_backward),
        cmocka_unit_test(test_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
