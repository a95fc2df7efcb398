/* conv1d kernel tests: the fast CPU kernel (kernels/cpu/conv1d.c: implicit GEMMs)
 * against the plain-loop reference below on odd shapes, central finite differences
 * of dx, dw and db, the += contract, NULL dx / db, and NaN-poisoned outputs and
 * scratch. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/conv1d.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* ---- the slow, obvious version (double accumulation) ----
 *   x [B, Cin, L], w [Cout, Cin, K], b [Cout] (may be NULL)  ->  out [B, Cout, L]
 *   out[n,o,t] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, t + k - (K-1)/2]  (0 outside) */
static void ref_conv1d_forward(float *out, const float *x, const float *w, const float *b, int B,
                               int Cin, int Cout, int L, int K)
{
    int pl = (K - 1) / 2;
    for (int n = 0; n < B; n++)
        for (int o = 0; o < Cout; o++)
            for (int t = 0; t < L; t++) {
                double s = b ? b[o] : 0.0;
                for (int c = 0; c < Cin; c++)
                    for (int k = 0; k < K; k++) {
                        int i = t + k - pl;
                        if (i >= 0 && i < L)
                            s += (double)w[((size_t)o * Cin + c) * K + k] *
                                 x[((size_t)n * Cin + c) * L + i];
                    }
                out[((size_t)n * Cout + o) * L + t] = (float)s;
            }
}

/* Adds into dx (may be NULL), dw, db (may be NULL), like the kernel:
 *   dx[n,c,i] += sum_{o,k: t = i - k + pl in [0,L)} w[o,c,k] dout[n,o,t]
 *   dw[o,c,k] += sum_{n,t} dout[n,o,t] x[n,c,t+k-pl]
 *   db[o]     += sum_{n,t} dout[n,o,t] */
static void ref_conv1d_backward(float *dx, float *dw, float *db, const float *dout,
                                const float *x, const float *w, int B, int Cin, int Cout, int L,
                                int K)
{
    int pl = (K - 1) / 2;
    for (int n = 0; dx && n < B; n++)
        for (int c = 0; c < Cin; c++)
            for (int i = 0; i < L; i++) {
                double s = 0.0;
                for (int o = 0; o < Cout; o++)
                    for (int k = 0; k < K; k++) {
                        int t = i - k + pl;
                        if (t >= 0 && t < L)
                            s += (double)w[((size_t)o * Cin + c) * K + k] *
                                 dout[((size_t)n * Cout + o) * L + t];
                    }
                dx[((size_t)n * Cin + c) * L + i] += (float)s;
            }
    for (int o = 0; o < Cout; o++) {
        for (int c = 0; c < Cin; c++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int n = 0; n < B; n++)
                    for (int t = 0; t < L; t++) {
                        int i = t + k - pl;
                        if (i >= 0 && i < L)
                            s += (double)dout[((size_t)n * Cout + o) * L + t] *
                                 x[((size_t)n * Cin + c) * L + i];
                    }
                dw[((size_t)o * Cin + c) * K + k] += (float)s;
            }
        double s = 0.0;
        for (int n = 0; n < B; n++)
            for (int t = 0; t < L; t++)
                s += dout[((size_t)n * Cout + o) * L + t];
        if (db)
            db[o] += (float)s;
    }
}

/* ---- one problem ---- */
typedef struct {
    int B, Cin, Cout, L, K, bias;
} shape;

/* Odd sizes, B = 1, L = 1, K = 1, even K (2, 4: asymmetric padding), K = 5,
 * K > L (every window reaches into the padding), Cin = 1, one paper-like layer,
 * B = 77 (462 positions: dw's chunks of 256 positions start inside a sample, and
 * blocks of 16 span up to three samples), K = 7 over L = 1 (padding wider than the
 * sequence), and the kernel's blocking: Cin*K = 300 > 256 (a panel in two parts),
 * Cout = 520 and Cin = 520 (more than the 86 panels of 6 rows staged at once, in
 * the forward and in dx). */
static const shape shapes[] = {
    {1, 1, 1, 1, 1, 1}, {3, 1, 5, 7, 3, 1}, {2, 3, 4, 1, 3, 1},  {4, 2, 3, 9, 2, 0},
    {5, 3, 7, 11, 5, 1}, {2, 4, 6, 3, 5, 1}, {1, 5, 3, 8, 4, 0}, {3, 2, 2, 6, 1, 1},
    {1, 1, 4, 5, 2, 1},  {7, 16, 8, 20, 3, 1}, {77, 3, 5, 6, 3, 1}, {3, 2, 3, 1, 7, 1},
    {2, 100, 7, 5, 3, 1}, {1, 3, 520, 4, 3, 1}, {1, 520, 3, 4, 3, 0},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

typedef struct {
    shape s;
    float *x, *w, *b, *out, *r, *scratch;
    float *dout, *dx, *dw, *db;
    float *want, *wdx, *wdw, *wdb;
} prob;

static long nx(const shape *s) { return (long)s->B * s->Cin * s->L; }
static long nw(const shape *s) { return (long)s->Cout * s->Cin * s->K; }
static long ny(const shape *s) { return (long)s->B * s->Cout * s->L; }
static long nscratch(const shape *s)
{
    return (long)dr_cpu_conv1d_scratch(s->B, s->Cin, s->Cout, s->L, s->K);
}

/* Inputs, weights, bias, upstream gradient and loss weights all in [-1, 1], so
 * every |term| of a sum is <= 1 (used by the tolerances). */
static void prob_init(prob *p, const shape *s, uint32_t stream)
{
    uint64_t seed = tu_seed();
    memset(p, 0, sizeof *p);
    p->s = *s;
    p->x = tu_alloc(nx(s)), p->w = tu_alloc(nw(s)), p->b = tu_alloc(s->Cout);
    p->out = tu_alloc(ny(s)), p->r = tu_alloc(ny(s)), p->scratch = tu_alloc(nscratch(s));
    p->dout = tu_alloc(ny(s)), p->dx = tu_alloc(nx(s)), p->dw = tu_alloc(nw(s));
    p->db = tu_alloc(s->Cout), p->want = tu_alloc(ny(s)), p->wdx = tu_alloc(nx(s));
    p->wdw = tu_alloc(nw(s)), p->wdb = tu_alloc(s->Cout);
    tu_fill_uniform(p->x, nx(s), -1.0f, 1.0f, seed, stream * 16 + 0);
    tu_fill_uniform(p->w, nw(s), -1.0f, 1.0f, seed, stream * 16 + 1);
    tu_fill_uniform(p->b, s->Cout, -1.0f, 1.0f, seed, stream * 16 + 2);
    tu_fill_uniform(p->r, ny(s), -1.0f, 1.0f, seed, stream * 16 + 3);
    tu_fill_uniform(p->dout, ny(s), -1.0f, 1.0f, seed, stream * 16 + 4);
}

static void prob_free(prob *p)
{
    float *ptrs[] = {p->x,  p->w,  p->b,  p->out, p->r,    p->scratch, p->dout,
                     p->dx, p->dw, p->db, p->want, p->wdx, p->wdw,     p->wdb};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
}

static void run_forward(prob *p)
{
    const shape *s = &p->s;
    tu_fill_nan(p->out, ny(s));
    tu_fill_nan(p->scratch, nscratch(s));
    dr_cpu_conv1d_forward(tu_cpu(), p->out, p->scratch, p->x, p->w, s->bias ? p->b : NULL, s->B,
                          s->Cin, s->Cout, s->L, s->K);
}

static void shape_str(char *buf, size_t n, const shape *s)
{
    snprintf(buf, n, "B=%d Cin=%d Cout=%d L=%d K=%d bias=%d", s->B, s->Cin, s->Cout, s->L, s->K,
             s->bias);
}

/* fp32 error bound for a sum of m terms, each |term| <= 1, computed in any order
 * (BLAS blocking, FMA): |err| <= m * u * sum|terms| <= m^2 * u with u = 2^-24,
 * plus one rounding for each later += (the pre-filled value, col2im's K partial
 * sums). We allow (m + extra)^2 * FLT_EPSILON (= 2u): a factor 2 above the bound. */
static double sum_tol(long m, long extra, double prefill)
{
    double t = (double)(m + extra);
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
        ref_conv1d_forward(p.want, p.x, p.w, s->bias ? p.b : NULL, s->B, s->Cin, s->Cout, s->L,
                           s->K);
        /* Cin*K products plus the bias */
        double atol = sum_tol((long)s->Cin * s->K + 1, 1, 0.0);
        long nb = tu_compare("out", p.out, p.want, ny(s), atol, 0.0);
        double maxerr = 0.0;
        for (long j = 0; j < ny(s); j++)
            maxerr = fmax(maxerr, fabs((double)p.out[j] - p.want[j]));
        char buf[96];
        shape_str(buf, sizeof buf, s);
        printf("  forward %-40s max |err| %.2e (tol %.2e)%s\n", buf, maxerr, atol,
               nb ? "  FAILED" : "");
        bad += nb;
        prob_free(&p);
    }
    assert_int_equal(bad, 0);
}

/* Backward against the reference with the gradient buffers pre-filled with a known
 * value (0.5), so an overwriting kernel fails; then again with dx = db = NULL. */
static void test_backward(void **state)
{
    (void)state;
    const float pre = 0.5f;
    long bad = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        prob p;
        prob_init(&p, s, 100u + (uint32_t)i);
        char buf[96];
        shape_str(buf, sizeof buf, s);
        for (int with_null = 0; with_null < 2; with_null++) {
            float *dx = with_null ? NULL : p.dx, *db = with_null ? NULL : p.db;
            for (long j = 0; j < nx(s); j++)
                p.dx[j] = p.wdx[j] = pre;
            for (long j = 0; j < nw(s); j++)
                p.dw[j] = p.wdw[j] = pre;
            for (int j = 0; j < s->Cout; j++)
                p.db[j] = p.wdb[j] = pre;
            tu_fill_nan(p.scratch, nscratch(s));
            dr_cpu_conv1d_backward(tu_cpu(), dx, p.dw, db, p.scratch, p.dout, p.x, p.w, s->B,
                                   s->Cin, s->Cout, s->L, s->K);
            ref_conv1d_backward(with_null ? NULL : p.wdx, p.wdw, with_null ? NULL : p.wdb,
                                p.dout, p.x, p.w, s->B, s->Cin, s->Cout, s->L, s->K);
            /* dx: Cout*K terms; dw, db: B*L terms; col2im adds K partial sums */
            double tdx = sum_tol((long)s->Cout * s->K, s->K + 1, pre);
            double tdw = sum_tol((long)s->B * s->L, 1, pre);
            long nb = tu_compare("dx", p.dx, p.wdx, nx(s), tdx, 0.0) +
                      tu_compare("dw", p.dw, p.wdw, nw(s), tdw, 0.0) +
                      tu_compare("db", p.db, p.wdb, s->Cout, tdw, 0.0);
            /* with NULL dx / db the buffers must keep exactly the pre-filled value,
             * which the reference (also given NULL) left there too */
            printf("  backward %-40s %s tol dx %.1e dw/db %.1e%s\n", buf,
                   with_null ? "dx=db=NULL" : "all grads ", tdx, tdw, nb ? "  FAILED" : "");
            bad += nb;
        }
        prob_free(&p);
    }
    assert_int_equal(bad, 0);
}

/* ---- finite differences: loss = sum r * out, in double ---- */
static double conv_loss(void *ctx)
{
    prob *p = ctx;
    run_forward(p);
    return tu_dot(p->r, p->out, ny(&p->s));
}

/* The loss is linear in each single entry of x, w and b (the conv is bilinear), so
 * the central difference has no truncation error for any step: we take a large
 * step h = 0.25 (exact in fp32 next to values in [-1, 1]) to shrink the rounding
 * part. That part: the touched outputs (M of them, M <= B*L for w and b,
 * <= Cout*K for x) each carry an fp32 error of about sqrt(m) * u * |out| with
 * m <= 16*3+1 terms and |out| <~ sqrt(m), so the loss difference is off by about
 * sqrt(M) * m * u ~ 20 * 50 * 6e-8 = 6e-5, i.e. 2.4e-4 after dividing by 2h,
 * against gradients of size ~sqrt(M) >= 1. We allow a relative error of 2e-3
 * with a floor of 1 on the denominator (so near-zero gradients are held to
 * 2e-3 absolute): ~10x above that estimate and far below a wrong index or sign. */
static void test_grad(void **state)
{
    (void)state;
    const double h = 0.25, tol = 2e-3, floor = 1.0;
    int fails = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        prob p;
        prob_init(&p, s, 200u + (uint32_t)i);
        char buf[96];
        shape_str(buf, sizeof buf, s);
        printf("  grad check %s\n", buf);
        /* analytic gradients from zero: dout = r, since d(sum r*out)/d out = r */
        memset(p.dx, 0, (size_t)nx(s) * sizeof(float));
        memset(p.dw, 0, (size_t)nw(s) * sizeof(float));
        memset(p.db, 0, (size_t)s->Cout * sizeof(float));
        tu_fill_nan(p.scratch, nscratch(s));
        dr_cpu_conv1d_backward(tu_cpu(), p.dx, p.dw, p.db, p.scratch, p.r, p.x, p.w, s->B, s->Cin,
                               s->Cout, s->L, s->K);
        double ex = tu_grad_check("dx", p.x, nx(s), p.dx, conv_loss, &p, h, 200, floor);
        double ew = tu_grad_check("dw", p.w, nw(s), p.dw, conv_loss, &p, h, 200, floor);
        double eb = 0.0;
        if (s->bias)
            eb = tu_grad_check("db", p.b, s->Cout, p.db, conv_loss, &p, h, 200, floor);
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
