/* Adam kernel tests (kernels/cpu/adam.c, per-element math dr_adam_element in
 * kernels/math.h): one and two steps of a single parameter against values
 * worked out by hand (PyTorch's torch.optim.Adam), with and without weight
 * decay; then whole vectors (sizes 1, odd, and one large enough for the OpenMP
 * path) at several step numbers against a double reference, the gradient left
 * untouched, and a zero gradient leaving the parameter exactly where it is. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/adam.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

#define U (FLT_EPSILON / 2.0)

static dr_adam_params hp_of(float lr, float wd, long step)
{
    dr_adam_params hp = {.lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = wd,
                         .step = step};
    return hp;
}

/* Worked by hand, lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, p0 = 1,
 * m0 = v0 = 0; gradient 0.5 at step 1, -0.25 at step 2.
 *
 * weight_decay = 0:
 *  step 1: m1 = 0.1 * 0.5 = 0.05;  v1 = 0.001 * 0.25 = 0.00025
 *          mhat = 0.05 / (1 - 0.9) = 0.5;  vhat = 0.00025 / (1 - 0.999) = 0.25
 *          p1 = 1 - 0.1 * 0.5 / (sqrt(0.25) + 1e-8) = 1 - 0.05 / 0.50000001
 *             = 0.900000002  (Adam's first step is lr * sign(g))
 *  step 2: m2 = 0.9 * 0.05 + 0.1 * (-0.25) = 0.045 - 0.025 = 0.02
 *          v2 = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00024975 + 0.0000625 = 0.00031225
 *          mhat = 0.02 / (1 - 0.81) = 0.02 / 0.19 = 0.105263157894737
 *          vhat = 0.00031225 / (1 - 0.998001) = 0.00031225 / 0.001999 = 0.156203101550776
 *          sqrt(vhat) = 0.395225380701667
 *          p2 = 0.900000002 - 0.1 * 0.105263157894737 / 0.395225390701667
 *             = 0.900000002 - 0.026633703292 = 0.873366298708
 *
 * weight_decay = 0.01 (added to the gradient, g' = g + 0.01 p):
 *  step 1: g' = 0.5 + 0.01 * 1 = 0.51;  m1 = 0.051;  v1 = 0.001 * 0.2601 = 0.0002601
 *          mhat = 0.51;  vhat = 0.2601;  sqrt = 0.51
 *          p1 = 1 - 0.1 * 0.51 / 0.51000001 = 0.9000000019608
 *  step 2: g' = -0.25 + 0.01 * 0.9000000019608 = -0.240999999980392
 *          m2 = 0.9 * 0.051 + 0.1 * g' = 0.0459 - 0.0240999999980 = 0.0218000000020
 *          v2 = 0.999 * 0.0002601 + 0.001 * g'^2 = 0.0002598399 + 0.0000580809999906
 *             = 0.000317920899991
 *          mhat = 0.0218000000020 / 0.19 = 0.114736842115583
 *          vhat = 0.000317920899991 / 0.001999 = 0.159039969980267
 *          sqrt(vhat) = 0.398798156941913
 *          p2 = 0.9000000019608 - 0.1 * 0.114736842115583 / 0.398798166941913
 *             = 0.9000000019608 - 0.0287706543376 = 0.871229347623
 *
 * Tolerances: the kernel runs in float with float hyperparameters. 0.9 and
 * 0.999 are not exact in float, but with m0 = v0 = 0 their error cancels
 * between the moments and the bias corrections up to ~1 u at step 2; the
 * update itself is ~10 roundings. So p to u |p| (its own rounding, per step)
 * plus 16 u |p0 - p| (the update's chain, per step). The moments themselves
 * do carry the representation error: 1 - fl(0.999) = 0.00099998713 is 1.3e-5
 * relative off 0.001 (1 - fl(0.9) only 2.4e-7), so m and v are checked at 2e-5
 * times the sum of the magnitudes of their terms (m2 = 0.045 - 0.025 cancels);
 * that still catches a wrong beta or a missing weight decay (>= 1e-3 off). A
 * wrong bias correction moves p by >= 1e-3 relative. */
static void test_two_steps_by_hand(void **state)
{
    (void)state;
    const struct {
        float wd;
        double p1, m1, v1, p2, m2, v2, mterms2, vterms2;
    } cases[] = {
        {0.0f, 0.900000002, 0.05, 0.00025, 0.873366298708, 0.02, 0.00031225, 0.07, 0.00031225},
        {0.01f, 0.9000000019608, 0.051, 0.0002601, 0.871229347623, 0.0218000000020,
         0.000317920899991, 0.0700, 0.000317920899991},
    };
    long bad = 0;
    for (size_t c = 0; c < 2; c++) {
        float p = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
        dr_adam_params hp = hp_of(0.1f, cases[c].wd, 1);
        dr_cpu_adam_update(tu_cpu(), &p, &g, &m, &v, 1, &hp);
        double tp1 = U * fabs(cases[c].p1) + 16.0 * U * fabs(1.0 - cases[c].p1);
        int ok1 = fabs(p - cases[c].p1) <= tp1 && fabs(m - cases[c].m1) <= 2e-5 * cases[c].m1 &&
                  fabs(v - cases[c].v1) <= 2e-5 * cases[c].v1 && g == 0.5f;
        printf("wd=%.2f step 1: p %.9g (want %.9g, tol %.2e) m %.9g (want %.9g) v %.9g (want %.9g)%s\n",
               (double)cases[c].wd, p, cases[c].p1, tp1, m, cases[c].m1, v, cases[c].v1,
               ok1 ? "" : "  BAD");
        g = -0.25f;
        hp.step = 2;
        dr_cpu_adam_update(tu_cpu(), &p, &g, &m, &v, 1, &hp);
        double tp2 = 2.0 * U * fabs(cases[c].p2) + 16.0 * U * (1.0 - cases[c].p2) * 2.0;
        int ok2 = fabs(p - cases[c].p2) <= tp2 &&
                  fabs(m - cases[c].m2) <= 2e-5 * cases[c].mterms2 &&
                  fabs(v - cases[c].v2) <= 2e-5 * cases[c].vterms2;
        printf("wd=%.2f step 2: p %.9g (want %.12g, err %.2e, tol %.2e) m %.9g (want %.12g) v %.9g "
               "(want %.12g)%s\n",
               (double)cases[c].wd, p, cases[c].p2, fabs(p - cases[c].p2), tp2, m, cases[c].m2, v,
               cases[c].v2, ok2 ? "" : "  BAD");
        bad += !ok1 + !ok2;
    }
    assert_int_equal(bad, 0);
}

/* Vectors: random p in [-1, 1], g in [-1, 1] (a few exactly 0), m in
 * [-0.1, 0.1], v in [0, 0.05], at steps 1, 2, 10 and 1000, weight decay 0 and
 * 0.01, against the same formula in double from the same float inputs and
 * hyperparameters. Tolerance per element, from the roundings of the float
 * chain: g' = g + wd p and m' = b1 m + (1 - b1) g' may cancel, so their error
 * is ~4 u (|b1 m| + |1 - b1| (|g| + |wd p|)), carried into p by lr / bc1 /
 * (sqrt(vhat) + eps); the rest of the update (v has no cancellation, sqrt,
 * division, product) is ~8 u |update|; and p's own rounding, at most u |p|,
 * a bound that is attained just above powers of two, so 2 u |p|. */
static void test_vectors(void **state)
{
    (void)state;
    const long sizes[] = {1, 3, 7, 1001, 40001};
    const long steps[] = {1, 2, 10, 1000};
    long bad = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
            for (int w = 0; w < 2; w++) {
                long n = sizes[k];
                uint32_t st = (uint32_t)(100 * k + 10 * s + w) * 4;
                float *p = tu_alloc(n), *g = tu_alloc(n), *m = tu_alloc(n), *v = tu_alloc(n);
                float *p0 = tu_alloc(n), *g0 = tu_alloc(n), *m0 = tu_alloc(n), *v0 = tu_alloc(n);
                tu_fill_uniform(p, n, -1.0f, 1.0f, tu_seed(), st);
                tu_fill_uniform(g, n, -1.0f, 1.0f, tu_seed(), st + 1);
                tu_fill_uniform(m, n, -0.1f, 0.1f, tu_seed(), st + 2);
                tu_fill_uniform(v, n, 0.0f, 0.05f, tu_seed(), st + 3);
                for (long i = 0; i < n; i += 5)
                    g[i] = 0.0f;
                memcpy(p0, p, (size_t)n * sizeof(float)), memcpy(g0, g, (size_t)n * sizeof(float));
                memcpy(m0, m, (size_t)n * sizeof(float)), memcpy(v0, v, (size_t)n * sizeof(float));
                dr_adam_params hp = hp_of(1e-3f, w ? 0.01f : 0.0f, steps[s]);
                dr_cpu_adam_update(tu_cpu(), p, g, m, v, n, &hp);
                double b1 = hp.beta1, b2 = hp.beta2, lr = hp.lr, eps = hp.eps, wd = hp.weight_decay;
                double bc1 = 1.0 - pow(b1, (double)hp.step), bc2 = 1.0 - pow(b2, (double)hp.step);
                long eb = 0;
                double worst = 0.0;
                for (long i = 0; i < n; i++) {
                    double ge = g0[i] + wd * p0[i];
                    double mm = b1 * m0[i] + (1.0 - b1) * ge, vv = b2 * v0[i] + (1.0 - b2) * ge * ge;
                    double den = sqrt(vv / bc2) + eps, upd = lr * (mm / bc1) / den;
                    double pw = p0[i] - upd;
                    double mterms = fabs(b1 * m0[i]) + (1.0 - b1) * (fabs(g0[i]) + fabs(wd * p0[i]));
                    double tol = 2.0 * U * fabs(pw) + 4.0 * U * mterms * lr / bc1 / den + 8.0 * U * fabs(upd);
                    double tm = 4.0 * U * mterms, tv = 4.0 * U * vv;
                    double e = fabs(p[i] - pw);
                    worst = fmax(worst, e / tol);
                    eb += !(e <= tol) + !(fabs(m[i] - mm) <= tm) + !(fabs(v[i] - vv) <= tv);
                }
                long gchanged = memcmp(g, g0, (size_t)n * sizeof(float)) != 0;
                printf("n=%-6ld step=%-5ld wd=%.2f: worst |p - ref| / tol %.3f, %ld entries of p, m, "
                       "v outside, gradient changed: %s\n",
                       n, hp.step, wd, worst, eb, gchanged ? "YES" : "no");
                bad += eb + gchanged;
                free(p), free(g), free(m), free(v), free(p0), free(g0), free(m0), free(v0);
            }
    assert_int_equal(bad, 0);
}

/* With g = 0, m = v = 0 and no weight decay the update is 0 / (0 + eps) = 0:
 * the parameter must not move at all (and not become NaN). */
static void test_zero_gradient(void **state)
{
    (void)state;
    float p[3] = {0.5f, -2.0f, 0.0f}, g[3] = {0, 0, 0}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
    dr_adam_params hp = hp_of(0.1f, 0.0f, 1);
    dr_cpu_adam_update(tu_cpu(), p, g, m, v, 3, &hp);
    int bad = (p[0] != 0.5f) + (p[1] != -2.0f) + (p[2] != 0.0f) + (m[0] != 0.0f) + (v[0] != 0.0f);
    printf("zero gradient: %d entries moved\n", bad);
    assert_int_equal(bad, 0);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_steps_by_hand),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_zero_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
