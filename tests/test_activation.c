/* Activation kernel tests (kernels/cpu/activation.c): relu, sigmoid and dropout
 * against plain loops; NaN-poisoned outputs fully written; out aliasing x; the
 * += contract of the backward passes; NaN propagation; and central finite
 * differences of loss = sum r * out for relu and dropout. (The Philox side of
 * dropout, masks and their statistics, is in tests/test_philox.c.)
 *
 * Tolerances. relu, dropout and their backward passes are a select, one product
 * and one addition, which the float reference performs identically: compared
 * bit for bit. sigmoid is compared with a double reference at 8 u relative
 * (expf within 1 ulp, then one addition and one division, each u; 8 u leaves a
 * margin of 2) plus 1e-44 absolute for results in the subnormal range, where
 * the spacing of floats is 1.4e-45. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "core/ops/activation.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

#define U (FLT_EPSILON / 2.0)

/* relu and dropout are piecewise linear in x: with x kept at least 0.05 from
 * the kink at 0 and a step eps = 1e-2, the central difference has no truncation
 * error; what is left is the rounding of the outputs, u |out| ~ 6e-8, over
 * 2 eps: ~3e-6 (x 2 for dropout's scale) against gradients of order 0.1 .. 2.
 * Relative tolerance 1e-4, floor 1e-2 (margin > 10); a wrong mask gives 1. */
#define GC_EPS 1e-2
#define GC_TOL 1e-4
#define GC_FLOOR 1e-2

static const long k_sizes[] = {1, 2, 3, 5, 7, 64, 1001, 40001}; /* 40001: OpenMP path */

static long count_nan(const float *a, long n)
{
    long k = 0;
    for (long i = 0; i < n; i++)
        k += isnan(a[i]);
    return k;
}

/* x uniform in +-[0.05, 1.05]: away from relu's kink at 0 (see GC_EPS) */
static void fill_away_from_zero(float *x, long n, uint32_t stream)
{
    tu_fill_uniform(x, n, -1.0f, 1.0f, tu_seed(), stream);
    for (long i = 0; i < n; i++)
        x[i] = x[i] < 0.0f ? x[i] - 0.05f : x[i] + 0.05f;
}

typedef struct {
    long n;
    float *x, *out, *mask, *r, p;
    int dropout;
} act_prob;

static double act_loss(void *ctx)
{
    act_prob *q = ctx;
    if (q->dropout)
        dr_cpu_dropout_forward(tu_cpu(), q->out, q->mask, q->x, q->n, q->p, 77, 3, 9);
    else
        dr_cpu_relu_forward(tu_cpu(), q->out, q->x, q->n);
    return tu_dot(q->r, q->out, q->n);
}

static void test_relu(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++) {
        long n = k_sizes[k];
        uint32_t st = 10 + 4 * (uint32_t)k;
        act_prob q = {n, tu_alloc(n), tu_alloc(n), NULL, tu_alloc(n), 0.0f, 0};
        float *want = tu_alloc(n), *dx = tu_alloc(n), *tmp = tu_alloc(n);
        fill_away_from_zero(q.x, n, st);
        tu_fill_uniform(q.r, n, -1.0f, 1.0f, tu_seed(), st + 1);
        printf("relu n=%ld\n", n);
        dr_cpu_relu_forward(tu_cpu(), q.out, q.x, n);
        for (long i = 0; i < n; i++)
            want[i] = q.x[i] > 0.0f ? q.x[i] : 0.0f;
        long bad = count_nan(q.out, n);
        printf("  NaN entries left after forward: %ld\n", bad);
        bad += tu_compare("relu", q.out, want, n, 0.0, 0.0);
        memcpy(tmp, q.x, (size_t)n * sizeof(float)); /* in place: out == x */
        dr_cpu_relu_forward(tu_cpu(), tmp, tmp, n);
        bad += tu_compare("relu-alias", tmp, want, n, 0.0, 0.0);
        /* backward onto random values: dx = pre + dout * (out > 0) */
        tu_fill_uniform(dx, n, -1.0f, 1.0f, tu_seed(), st + 2);
        for (long i = 0; i < n; i++)
            want[i] = dx[i] + (q.out[i] > 0.0f ? q.r[i] : 0.0f);
        dr_cpu_relu_backward(tu_cpu(), dx, q.r, q.out, n);
        bad += tu_compare("relu dx+=", dx, want, n, 0.0, 0.0);
        memset(dx, 0, (size_t)n * sizeof(float));
        dr_cpu_relu_backward(tu_cpu(), dx, q.r, q.out, n);
        double e = tu_grad_check("relu dx", q.x, n, dx, act_loss, &q, GC_EPS,
                                 n > 5000 ? 200 : 5000, GC_FLOOR);
        printf("  tolerance %.1e\n", GC_TOL);
        free(q.x), free(q.out), free(q.r), free(want), free(dx), free(tmp);
        assert_int_equal(bad, 0);
        assert_true(e <= GC_TOL);
    }
}

/* NaN passes through relu and sigmoid (as in PyTorch), so a NaN upstream is not
 * hidden; relu keeps the sign of -0 irrelevant (0 either way), and its backward
 * sends no gradient through a NaN or a zero output. */
static void test_nan_and_edges(void **state)
{
    (void)state;
    float x[5] = {NAN, -0.0f, 0.0f, -INFINITY, INFINITY}, out[5], dx[5] = {0, 0, 0, 0, 0};
    float dout[5] = {1, 1, 1, 1, 1};
    dr_cpu_relu_forward(tu_cpu(), out, x, 5);
    int bad = !isnan(out[0]) + (out[1] != 0.0f) + (out[2] != 0.0f) + (out[3] != 0.0f) +
              (out[4] != INFINITY);
    dr_cpu_relu_backward(tu_cpu(), dx, dout, out, 5);
    bad += (dx[0] != 0.0f) + (dx[1] != 0.0f) + (dx[2] != 0.0f) + (dx[3] != 0.0f) + (dx[4] != 1.0f);
    dr_cpu_sigmoid_forward(tu_cpu(), out, x, 5);
    bad += !isnan(out[0]) + (out[1] != 0.5f) + (out[2] != 0.5f) + (out[3] != 0.0f) +
           (out[4] != 1.0f);
    printf("relu / sigmoid on NaN, -0, 0, -inf, inf: %d wrong\n", bad);
    assert_int_equal(bad, 0);
}

static void test_sigmoid(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++) {
        long n = k_sizes[k];
        float *x = tu_alloc(n), *out = tu_alloc(n), *want = tu_alloc(n);
        tu_fill_uniform(x, n, -20.0f, 20.0f, tu_seed(), 60 + (uint32_t)k);
        /* extreme logits in the first entries */
        const float ext[] = {-1e4f, 1e4f, -100.0f, 100.0f, -88.0f, 17.0f, -17.0f};
        for (long i = 0; i < n && i < 7; i++)
            x[i] = ext[i];
        dr_cpu_sigmoid_forward(tu_cpu(), out, x, n);
        for (long i = 0; i < n; i++)
            want[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
        long bad = count_nan(out, n);
        double worst = 0.0;
        for (long i = 0; i < n; i++) {
            double w = 1.0 / (1.0 + exp(-(double)x[i]));
            if (w > 1e-37) /* relative error outside the subnormal range */
                worst = fmax(worst, fabs(out[i] - w) / w);
        }
        printf("sigmoid n=%ld: NaN entries left %ld, max rel err vs double %.3e u (tol 8 u)\n", n,
               bad, worst / U);
        bad += tu_compare("sigmoid", out, want, n, 1e-44, 8.0 * U);
        memcpy(out, x, (size_t)n * sizeof(float)); /* in place */
        dr_cpu_sigmoid_forward(tu_cpu(), out, out, n);
        bad += tu_compare("sigmoid-alias", out, want, n, 1e-44, 8.0 * U);
        free(x), free(out), free(want);
        assert_int_equal(bad, 0);
    }
}

/* Dropout forward: mask as defined in core/ops/activation.h (checked element by
 * element in test_philox.c; here the kernel's out and backward against it),
 * out = x * mask bit for bit, in place too; backward dx += dout * mask; the
 * gradient by finite differences with the same (seed, stream, counter) on each
 * probe, so the mask is fixed and the op linear. */
static void test_dropout(void **state)
{
    (void)state;
    const float ps[] = {0.5f, 0.3f, 0.7f};
    for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++) {
        long n = k_sizes[k];
        float p = ps[k % 3];
        uint32_t st = 100 + 4 * (uint32_t)k;
        act_prob q = {n, tu_alloc(n), tu_alloc(n), tu_alloc(n), tu_alloc(n), p, 1};
        float *want = tu_alloc(n), *dx = tu_alloc(n), *tmp = tu_alloc(n), *m2 = tu_alloc(n);
        tu_fill_uniform(q.x, n, -1.0f, 1.0f, tu_seed(), st);
        tu_fill_uniform(q.r, n, -1.0f, 1.0f, tu_seed(), st + 1);
        printf("dropout n=%ld p=%.1f\n", n, (double)p);
        dr_cpu_dropout_forward(tu_cpu(), q.out, q.mask, q.x, n, p, 77, 3, 9);
        long bad = count_nan(q.out, n) + count_nan(q.mask, n);
        printf("  NaN entries left in out and mask: %ld\n", bad);
        const float scale = 1.0f / (1.0f - p);
        for (long i = 0; i < n; i++)
            want[i] = dr_philox_uniform(77, 3, 9, (uint64_t)i) >= p ? scale : 0.0f;
        bad += tu_compare("mask", q.mask, want, n, 0.0, 0.0);
        for (long i = 0; i < n; i++)
            want[i] = q.x[i] * q.mask[i];
        bad += tu_compare("out", q.out, want, n, 0.0, 0.0);
        memcpy(tmp, q.x, (size_t)n * sizeof(float));
        dr_cpu_dropout_forward(tu_cpu(), tmp, m2, tmp, n, p, 77, 3, 9);
        bad += tu_compare("out-alias", tmp, want, n, 0.0, 0.0);
        tu_fill_uniform(dx, n, -1.0f, 1.0f, tu_seed(), st + 2);
        for (long i = 0; i < n; i++)
            want[i] = dx[i] + q.r[i] * q.mask[i];
        dr_cpu_dropout_backward(tu_cpu(), dx, q.r, q.mask, n);
        bad += tu_compare("dx+=", dx, want, n, 0.0, 0.0);
        memset(dx, 0, (size_t)n * sizeof(float));
        dr_cpu_dropout_backward(tu_cpu(), dx, q.r, q.mask, n);
        double e = tu_grad_check("dropout dx", q.x, n, dx, act_loss, &q, GC_EPS,
                                 n > 5000 ? 200 : 5000, GC_FLOOR);
        printf("  tolerance %.1e\n", GC_TOL);
        free(q.x), free(q.out), free(q.mask), free(q.r), free(want), free(dx), free(tmp), free(m2);
        assert_int_equal(bad, 0);
        assert_true(e <= GC_TOL);
    }
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_nan_and_edges),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_dropout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
