/* Batch-norm kernel tests (kernels/cpu/batchnorm.c): training and eval forward
 * and the backward pass against plain double loops; the running statistics
 * (momentum, unbiased variance, and the single-value case B*L = 1, where the
 * running variance must stay unchanged instead of becoming 0/0); NaN-poisoned
 * outputs fully written; the += contract; dx = NULL; central finite
 * differences of loss = sum r * out for x, gamma and beta; and the eval
 * backward (running statistics) against its reference and finite differences
 * of the eval forward. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/batchnorm.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

#define U (FLT_EPSILON / 2.0)
#define BN_EPS 1e-5f
#define BN_MOM 0.1f

/* ---- the slow, obvious version, in double ----
 *   x [B, C, L]: channel c holds x[b, c, l] for all b, l (n = B L values) */
static double xat(const float *x, int b, int c, int l, int C, int L)
{
    return x[((long)b * C + c) * L + l];
}

static void ref_stats(const float *x, int B, int C, int L, int c, double *mu, double *var)
{
    long n = (long)B * L;
    double s = 0.0, ss = 0.0;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            s += xat(x, b, c, l, C, L);
    *mu = s / n;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            ss += (xat(x, b, c, l, C, L) - *mu) * (xat(x, b, c, l, C, L) - *mu);
    *var = ss / n;
}

/* dx (may be NULL), dgamma, dbeta += the gradient of sum dout * out in double,
 * from the batch statistics of x (not the saved float ones). */
static void ref_backward(float *dx, float *dg, float *dbt, const float *dout, const float *x,
                         const float *gamma, int B, int C, int L)
{
    long n = (long)B * L;
    for (int c = 0; c < C; c++) {
        double mu, var;
        ref_stats(x, B, C, L, c, &mu, &var);
        double rs = 1.0 / sqrt(var + BN_EPS), sdy = 0.0, sdyx = 0.0;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                double dy = xat(dout, b, c, l, C, L);
                sdy += dy;
                sdyx += dy * (xat(x, b, c, l, C, L) - mu) * rs;
            }
        dg[c] += (float)sdyx;
        dbt[c] += (float)sdy;
        for (int b = 0; dx && b < B; b++)
            for (int l = 0; l < L; l++) {
                double xh = (xat(x, b, c, l, C, L) - mu) * rs;
                dx[((long)b * C + c) * L + l] +=
                    (float)(gamma[c] * rs * (xat(dout, b, c, l, C, L) - sdy / n - xh * sdyx / n));
            }
    }
}

/* ---- one problem ---- */
typedef struct {
    int B, C, L;
    float *x, *gamma, *beta, *out, *mean, *rstd, *rm, *rv, *r;
    float *dx, *dgamma, *dbeta;
} prob;

static long nx(const prob *p) { return (long)p->B * p->C * p->L; }

/* x[b, c, l] = 3 k / n + 0.5 u + c / 4 with k the value's index within its
 * channel and u uniform in [-1, 1]: the ramp keeps every channel's spread
 * above ~0.25 even for n = 2 (two values at least 1.5 - 1 = 0.5 apart), so the
 * normalisation is smooth on the scale of the finite-difference step; the
 * channel offset c / 4 gives each channel its own mean. gamma in [0.5, 1.5],
 * beta in [-1, 1], running stats starting at (0.3, 1.7). */
static void prob_init(prob *p, int B, int C, int L, uint32_t stream)
{
    uint64_t seed = tu_seed();
    *p = (prob){.B = B, .C = C, .L = L};
    long n = nx(p);
    p->x = tu_alloc(n), p->out = tu_alloc(n), p->r = tu_alloc(n), p->dx = tu_alloc(n);
    p->gamma = tu_alloc(C), p->beta = tu_alloc(C), p->mean = tu_alloc(C), p->rstd = tu_alloc(C);
    p->rm = tu_alloc(C), p->rv = tu_alloc(C), p->dgamma = tu_alloc(C), p->dbeta = tu_alloc(C);
    tu_fill_uniform(p->x, n, -1.0f, 1.0f, seed, stream * 8);
    long per = (long)B * L;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int l = 0; l < L; l++) {
                long i = ((long)b * C + c) * L + l, k = (long)b * L + l;
                p->x[i] = 3.0f * (float)k / (float)per + 0.5f * p->x[i] + 0.25f * (float)c;
            }
    tu_fill_uniform(p->gamma, C, 0.5f, 1.5f, seed, stream * 8 + 1);
    tu_fill_uniform(p->beta, C, -1.0f, 1.0f, seed, stream * 8 + 2);
    tu_fill_uniform(p->r, n, -1.0f, 1.0f, seed, stream * 8 + 3);
    for (int c = 0; c < C; c++)
        p->rm[c] = 0.3f, p->rv[c] = 1.7f;
}

static void prob_free(prob *p)
{
    float *ptrs[] = {p->x,  p->gamma, p->beta, p->out, p->mean,   p->rstd,
                     p->rm, p->rv,    p->r,    p->dx,  p->dgamma, p->dbeta};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
}

static void fwd_train(prob *p)
{
    dr_cpu_batchnorm_forward_train(tu_cpu(), p->out, p->mean, p->rstd, p->rm, p->rv, p->x, p->gamma,
                                   p->beta, p->B, p->C, p->L, BN_EPS, BN_MOM);
}

static double loss_of(void *ctx)
{
    prob *p = ctx;
    fwd_train(p);
    return tu_dot(p->r, p->out, nx(p));
}

static float max_abs(const float *a, long n)
{
    float m = 0.0f;
    for (long i = 0; i < n; i++)
        m = fmaxf(m, fabsf(a[i]));
    return m;
}

static long count_nan(const float *a, long n)
{
    long k = 0;
    for (long i = 0; i < n; i++)
        k += isnan(a[i]);
    return k;
}

typedef struct {
    int B, C, L;
} shape;

/* n = 1 (B = L = 1, several channels), B = 1 with L > 1, FC layout L = 1, odd
 * sizes, and the paper's conv size [256, 64, 12] (OpenMP over channels). */
static const shape k_shapes[] = {{1, 1, 1}, {1, 3, 1}, {2, 1, 1}, {1, 4, 5}, {3, 5, 7},
                                 {7, 6, 1}, {33, 3, 13}, {256, 64, 12}};

static void random_shape(shape *s, uint32_t salt)
{
    float u[3];
    tu_fill_uniform(u, 3, 0.0f, 1.0f, tu_seed(), 9100 + salt);
    s->B = 1 + (int)(u[0] * 6);
    s->C = 1 + (int)(u[1] * 5);
    s->L = 1 + (int)(u[2] * 6);
}

/* Training forward. The kernel and the reference both work in double, so out
 * differs by its final rounding, u |out|, and the rounding of the saved mean
 * and rstd by u relative: compared at 2 u |want| + 2 u max|out| (the second
 * term covers cancellation in gamma xhat + beta). The running statistics are
 * two float products and a sum: 4 u (|r| + |stat|). */
static void check_forward_train(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->C, s->L, stream);
    long n = nx(&p), per = (long)s->B * s->L;
    printf("train forward B=%d C=%d L=%d (n per channel %ld)\n", s->B, s->C, s->L, per);
    float *rm0 = tu_alloc(s->C), *rv0 = tu_alloc(s->C);
    memcpy(rm0, p.rm, (size_t)s->C * sizeof(float));
    memcpy(rv0, p.rv, (size_t)s->C * sizeof(float));
    fwd_train(&p);
    long bad = count_nan(p.out, n) + count_nan(p.mean, s->C) + count_nan(p.rstd, s->C);
    printf("  NaN entries left in out, mean, rstd: %ld\n", bad);
    float *out = tu_alloc(n), *mean = tu_alloc(s->C), *rstd = tu_alloc(s->C);
    float *rm = tu_alloc(s->C), *rv = tu_alloc(s->C);
    long rs_bad = 0;
    for (int c = 0; c < s->C; c++) {
        double mu, var;
        ref_stats(p.x, s->B, s->C, s->L, c, &mu, &var);
        double rs = 1.0 / sqrt(var + BN_EPS);
        mean[c] = (float)mu;
        rstd[c] = (float)rs;
        for (int b = 0; b < s->B; b++)
            for (int l = 0; l < s->L; l++)
                out[((long)b * s->C + c) * s->L + l] =
                    (float)((xat(p.x, b, c, l, s->C, s->L) - mu) * rs * p.gamma[c] + p.beta[c]);
        rm[c] = (float)(0.9 * rm0[c] + 0.1 * mu);
        /* n = 1: the unbiased variance is 0/0; the kernel keeps the old value */
        rv[c] = per > 1 ? (float)(0.9 * rv0[c] + 0.1 * var * per / (per - 1)) : rv0[c];
        double tm = 4.0 * U * (fabs(rm0[c]) + fabs(mu)), tv = 4.0 * U * (fabs(rv0[c]) + 2 * var);
        rs_bad += !(fabs(p.rm[c] - rm[c]) <= tm) + !(fabs(p.rv[c] - rv[c]) <= tv);
    }
    double scale = max_abs(out, n);
    bad += tu_compare("out", p.out, out, n, 2.0 * U * scale, 2.0 * U);
    bad += tu_compare("mean", p.mean, mean, s->C, 0.0, 2.0 * U);
    bad += tu_compare("rstd", p.rstd, rstd, s->C, 0.0, 2.0 * U);
    printf("  running stats outside 4u(|old| + |stat|): %ld\n", rs_bad);
    bad += rs_bad;
    if (per == 1) {
        /* one value per channel: x - mean = 0, so out = beta exactly, and the
         * running variance is the old one, bit for bit */
        long kb = 0;
        for (int c = 0; c < s->C; c++) {
            kb += p.rv[c] != rv0[c];
            for (int b = 0; b < s->B; b++)
                kb += p.out[(long)b * s->C + c] != p.beta[c];
        }
        printf("  n = 1: out != beta or running_var changed in %ld places\n", kb);
        bad += kb;
    }
    free(rm0), free(rv0), free(out), free(mean), free(rstd), free(rm), free(rv);
    prob_free(&p);
    assert_int_equal(bad, 0);
}

static void test_forward_train(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        check_forward_train(&k_shapes[i], (uint32_t)i);
    shape rs;
    random_shape(&rs, 1);
    check_forward_train(&rs, 90);
}

/* A problem with random running statistics (streams salt and salt + 100). */
static void prob_init_eval(prob *p, const shape *s, uint32_t stream, uint32_t salt)
{
    prob_init(p, s->B, s->C, s->L, stream);
    tu_fill_uniform(p->rm, s->C, -1.0f, 1.0f, tu_seed(), salt);
    tu_fill_uniform(p->rv, s->C, 0.1f, 3.0f, tu_seed(), salt + 100);
}

/* Eval forward against (x - rm) / sqrt(rv + eps) gamma + beta in double. The
 * kernel's float chain (sqrt, division, product, subtraction, product, sum) is
 * six roundings: 8 u (|(x - rm) scale| + |beta|) per element. */
static void test_forward_eval(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
        const shape *s = &k_shapes[i];
        prob p;
        prob_init_eval(&p, s, 20 + (uint32_t)i, 300 + (uint32_t)i);
        long n = nx(&p);
        dr_cpu_batchnorm_forward_eval(tu_cpu(), p.out, p.x, p.gamma, p.beta, p.rm, p.rv, s->B, s->C,
                                      s->L, BN_EPS);
        long bad = count_nan(p.out, n);
        double worst = 0.0;
        for (long k = 0; k < n; k++) {
            int c = (int)((k / s->L) % s->C);
            double sc = p.gamma[c] / sqrt((double)p.rv[c] + BN_EPS);
            double t = (p.x[k] - (double)p.rm[c]) * sc, w = t + p.beta[c];
            double err = fabs(p.out[k] - w), tol = 8.0 * U * (fabs(t) + fabs(p.beta[c]));
            worst = fmax(worst, err / tol);
            bad += !(err <= tol);
        }
        printf("eval forward B=%d C=%d L=%d: NaN or out of tolerance %ld, worst err / tol %.3f\n",
               s->B, s->C, s->L, bad, worst);
        prob_free(&p);
        assert_int_equal(bad, 0);
    }
}

/* Backward against the double reference, onto random prefilled gradients (+=).
 * The kernel sums in double too; it recomputes xhat from the saved float mean
 * and rstd (relative error u each), so dx, dgamma differ from the reference by
 * a few u times the size of the terms: dx at 8 u (max|dx| + max|gamma rstd
 * dout|), dgamma and dbeta per channel at 8 u (|prefill| + sum|dout|(1 +
 * |xhat|)), i.e. normalised by the magnitudes the sums pass through. A missing
 * term is O(1) off. */
static void check_backward(const shape *s, uint32_t stream, int with_dx)
{
    prob p;
    prob_init(&p, s->B, s->C, s->L, stream);
    long n = nx(&p);
    printf("backward B=%d C=%d L=%d dx=%s\n", s->B, s->C, s->L, with_dx ? "yes" : "NULL");
    fwd_train(&p);
    float *wdx = tu_alloc(n), *wdg = tu_alloc(s->C), *wdb = tu_alloc(s->C);
    tu_fill_uniform(p.dx, n, -1.0f, 1.0f, tu_seed(), 500 + stream);
    tu_fill_uniform(p.dgamma, s->C, -1.0f, 1.0f, tu_seed(), 600 + stream);
    tu_fill_uniform(p.dbeta, s->C, -1.0f, 1.0f, tu_seed(), 700 + stream);
    memcpy(wdx, p.dx, (size_t)n * sizeof(float));
    memcpy(wdg, p.dgamma, (size_t)s->C * sizeof(float));
    memcpy(wdb, p.dbeta, (size_t)s->C * sizeof(float));
    float *dx_keep = tu_alloc(n);
    memcpy(dx_keep, p.dx, (size_t)n * sizeof(float));
    dr_cpu_batchnorm_backward(tu_cpu(), with_dx ? p.dx : NULL, p.dgamma, p.dbeta, p.r, p.x, p.mean,
                              p.rstd, p.gamma, s->B, s->C, s->L);
    ref_backward(with_dx ? wdx : NULL, wdg, wdb, p.r, p.x, p.gamma, s->B, s->C, s->L);
    double gmax = 0.0;
    for (int c = 0; c < s->C; c++)
        gmax = fmax(gmax, fabs(p.gamma[c] * p.rstd[c]));
    long bad = 0;
    if (with_dx) {
        double t = 8.0 * U * (max_abs(wdx, n) + gmax * max_abs(p.r, n));
        double wd = 0.0;
        for (long k = 0; k < n; k++)
            wd = fmax(wd, fabs((double)p.dx[k] - wdx[k]));
        printf("  dx max |diff| %.3e, tolerance %.3e\n", wd, t);
        bad += tu_compare("dx", p.dx, wdx, n, t, 0.0);
    } else {
        long changed = memcmp(dx_keep, p.dx, (size_t)n * sizeof(float)) != 0;
        printf("  dx buffer untouched with dx = NULL: %s\n", changed ? "NO" : "yes");
        bad += changed;
    }
    /* per channel: 8 u (|prefill| + sum |dout| (1 + |xhat|)) */
    double worst = 0.0;
    long gb = 0;
    for (int c = 0; c < s->C; c++) {
        double mass = 0.0;
        for (int b = 0; b < s->B; b++)
            for (int l = 0; l < s->L; l++) {
                double xh = (xat(p.x, b, c, l, s->C, s->L) - p.mean[c]) * p.rstd[c];
                mass += fabs(xat(p.r, b, c, l, s->C, s->L)) * (1.0 + fabs(xh));
            }
        double t = 8.0 * U * (1.0 + mass);
        double e = fmax(fabs(p.dgamma[c] - wdg[c]), fabs(p.dbeta[c] - wdb[c]));
        worst = fmax(worst, e / t);
        gb += !(e <= t);
    }
    printf("  dgamma/dbeta: worst err / tol %.3f, %ld channels outside\n", worst, gb);
    bad += gb;
    free(wdx), free(wdg), free(wdb), free(dx_keep);
    prob_free(&p);
    assert_int_equal(bad, 0);
}

static void test_backward(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        check_backward(&k_shapes[i], 30 + (uint32_t)i, 1);
    check_backward(&k_shapes[4], 40, 0);
    shape rs;
    random_shape(&rs, 2);
    check_backward(&rs, 91, 1);
}

/* Central differences of loss = sum r * out (double), every entry of x, gamma
 * and beta. With the spread kept above ~0.25 (prob_init), rstd <= ~4 and the
 * third derivative of the loss in x is at most of order rstd^3 ~ 64 times
 * O(1) sums: truncation eps^2 / 6 * 64 ~ 1e-3 at eps = 1e-2, against dx of
 * order gamma rstd ~ 1. Rounding of the float outputs, u |out| sqrt(n) / (2
 * eps) ~ 6e-8 * 3 * 8 / 2e-2 ~ 1e-4. Relative tolerance 1e-2 with a floor of
 * 1e-2 (gradients near 0, e.g. dx when n = 2 where xhat = +-1 whatever x is),
 * as in the other gradient checks; a missing term gives errors of order 1. */
#define GC_EPS 1e-2
#define GC_TOL 1e-2
#define GC_FLOOR 1e-2

static void check_grads(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->C, s->L, stream);
    long n = nx(&p);
    printf("gradcheck B=%d C=%d L=%d\n", s->B, s->C, s->L);
    fwd_train(&p);
    memset(p.dx, 0, (size_t)n * sizeof(float));
    memset(p.dgamma, 0, (size_t)s->C * sizeof(float));
    memset(p.dbeta, 0, (size_t)s->C * sizeof(float));
    dr_cpu_batchnorm_backward(tu_cpu(), p.dx, p.dgamma, p.dbeta, p.r, p.x, p.mean, p.rstd, p.gamma,
                              s->B, s->C, s->L);
    double e[3];
    e[0] = tu_grad_check("dx", p.x, n, p.dx, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[1] = tu_grad_check("dgamma", p.gamma, s->C, p.dgamma, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[2] = tu_grad_check("dbeta", p.beta, s->C, p.dbeta, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    printf("  tolerance %.1e\n", GC_TOL);
    prob_free(&p);
    for (int k = 0; k < 3; k++)
        assert_true(e[k] <= GC_TOL);
}

static void test_gradcheck(void **state)
{
    (void)state;
    static const shape small[] = {{1, 1, 1}, {1, 3, 1}, {2, 1, 1}, {2, 3, 1}, {1, 4, 5},
                                  {3, 5, 7}, {7, 6, 1}, {5, 3, 2}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        check_grads(&small[i], 50 + (uint32_t)i);
    shape rs;
    random_shape(&rs, 3);
    check_grads(&rs, 92);
}

/* ---- eval backward: dx += dout gamma / sqrt(running_var + eps) ---- */

static void fwd_eval(prob *p)
{
    dr_cpu_batchnorm_forward_eval(tu_cpu(), p->out, p->x, p->gamma, p->beta, p->rm, p->rv, p->B, p->C, p->L,
                                  BN_EPS);
}

static double eval_loss_of(void *ctx)
{
    prob *p = ctx;
    fwd_eval(p);
    return tu_dot(p->r, p->out, nx(p));
}

/* Onto a random prefill (+=): one product and one sum in float, each within
 * u of the double value, so 4 u (|prefill| + |term|) bounds the error. The
 * finite differences of the eval forward, which is affine in x, are exact up
 * to the forward's rounding. */
static void test_backward_eval(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
        const shape *s = &k_shapes[i];
        prob p;
        prob_init_eval(&p, s, 60 + (uint32_t)i, 500 + (uint32_t)i);
        long n = nx(&p), bad = 0;
        float *pre = tu_alloc(n);
        tu_fill_uniform(pre, n, -1.0f, 1.0f, tu_seed(), 700 + (uint32_t)i);
        memcpy(p.dx, pre, (size_t)n * sizeof(float));
        dr_cpu_batchnorm_backward_eval(tu_cpu(), p.dx, p.r, p.gamma, p.rv, s->B, s->C, s->L, BN_EPS);
        double worst = 0.0;
        for (long k = 0; k < n; k++) {
            int c = (int)((k / s->L) % s->C);
            double term = p.r[k] * (double)p.gamma[c] / sqrt((double)p.rv[c] + BN_EPS);
            double err = fabs(p.dx[k] - (pre[k] + term)), tol = 4.0 * U * (fabs(pre[k]) + fabs(term));
            worst = fmax(worst, err / tol);
            bad += !(err <= tol);
        }
        printf("eval backward B=%d C=%d L=%d: out of tolerance %ld, worst err / tol %.3f\n", s->B, s->C, s->L,
               bad, worst);
        memset(p.dx, 0, (size_t)n * sizeof(float));
        dr_cpu_batchnorm_backward_eval(tu_cpu(), p.dx, p.r, p.gamma, p.rv, s->B, s->C, s->L, BN_EPS);
        double e = tu_grad_check("eval dx", p.x, n, p.dx, eval_loss_of, &p, GC_EPS, 100000, GC_FLOOR);
        free(pre);
        prob_free(&p);
        assert_int_equal(bad, 0);
        assert_true(e <= GC_TOL);
    }
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_train),
        cmocka_unit_test(test_forward_eval),
        cmocka_unit_test(test_backward),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_backward_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
