/* Feature selection: VIF, mutual information, RFECV with an XGBoost forest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "data/select.h"
#include "tests/testutil.h"

/* Standard normal number j of stream s (Box-Muller on two Philox uniforms). */
static double gauss(uint64_t seed, uint32_t s, uint64_t j)
{
    double u1 = (dr_philox_uniform(seed, s, 0, 2 * j) * 16777216.0 + 0.5) / 16777216.0;
    double u2 = dr_philox_uniform(seed, s, 0, 2 * j + 1);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static void test_vif(void **state)
{
    (void)state;
    enum { N = 3000, D = 6 };
    const char *names[D] = {"a", "b", "c", "a_plus_2b", "e", "constant"};
    float *X = malloc(sizeof(float) * N * D);
    uint64_t seed = tu_seed();
    for (long i = 0; i < N; i++) {
        float a = (float)gauss(seed, 1, i), b = (float)gauss(seed, 2, i);
        X[i * D + 0] = a;
        X[i * D + 1] = b;
        X[i * D + 2] = (float)gauss(seed, 3, i);
        X[i * D + 3] = a + 2 * b; /* exact up to float rounding */
        X[i * D + 4] = (float)gauss(seed, 4, i);
        X[i * D + 5] = 3.0f;
    }
    int keep[D];
    double vif[D];
    assert_int_equal(dr_select_vif(X, N, D, names, 10, 0, keep, vif, stdout), DR_OK);
    for (int j = 0; j < D; j++)
        printf("  %-10s keep %d VIF %.4g\n", names[j], keep[j], vif[j]);
    /* Independent columns stay; one of the three dependent ones goes (which one
     * is decided by float rounding); the constant goes. */
    assert_true(keep[2] && keep[4]);
    assert_int_equal(keep[0] + keep[1] + keep[3], 2);
    assert_false(keep[5]);
    /* The dropped dependent column's VIF was huge (singular up to rounding): for
     * float data the smallest eigenvalue of C is ~1e-7^2 relative, so > 1e6. */
    for (int j = 0; j < 4; j++)
        if (!keep[j] && j != 2)
            assert_true(vif[j] > 1e6);
    /* The kept ones are nearly independent: sample correlations ~ 1/sqrt(N), so
     * VIF - 1 is ~ d/N ~ 0.002; 1.05 leaves room. */
    for (int j = 0; j < D; j++)
        if (keep[j])
            assert_true(vif[j] < 1.05);

    /* Known answer: two columns with sample correlation r have VIF 1/(1 - r^2). */
    float *Y = malloc(sizeof(float) * N * 2);
    double sx = 0, sy = 0;
    for (long i = 0; i < N; i++) {
        Y[2 * i] = (float)gauss(seed, 5, i);
        Y[2 * i + 1] = (float)(0.95 * Y[2 * i] + 0.3 * gauss(seed, 6, i));
        sx += Y[2 * i];
        sy += Y[2 * i + 1];
    }
    double mx = sx / N, my = sy / N, cxx = 0, cyy = 0, cxy = 0;
    for (long i = 0; i < N; i++) {
        double u = Y[2 * i] - mx, v = Y[2 * i + 1] - my;
        cxx += u * u;
        cyy += v * v;
        cxy += u * v;
    }
    double r = cxy / sqrt(cxx * cyy), want = 1 / (1 - r * r);
    /* threshold 1e9: nothing dropped */
    assert_int_equal(dr_select_vif(Y, N, 2, NULL, 1e9, 0, keep, vif, NULL), DR_OK);
    printf("vif known answer: r %.6f, want %.9g, got %.9g / %.9g\n", r, want, vif[0], vif[1]);
    /* Both in double from the same float data; the sums differ only in order:
     * relative 1e-9 covers the rounding of N = 3000 products amplified by the
     * condition number 1/(1-r^2) ~ 10. */
    assert_true(fabs(vif[0] - want) < 1e-9 * want && fabs(vif[1] - want) < 1e-9 * want);
    assert_true(keep[0] && keep[1]);
    /* The same pair at threshold 5 loses one column. */
    assert_int_equal(dr_select_vif(Y, N, 2, NULL, 5, 0, keep, vif, stdout), DR_OK);
    assert_int_equal(keep[0] + keep[1], 1);

    X[7] = NAN;
    assert_int_equal(dr_select_vif(X, N, D, names, 10, 0, keep, vif, NULL), DR_ERR_NUMERIC);
    printf("vif NaN: %s\n", dr_last_error());
    free(X);
    free(Y);
}

static void test_mi(void **state)
{
    (void)state;
    enum { N = 20000, D = 4 };
    float *X = malloc(sizeof(float) * N * D);
    float *y = malloc(sizeof(float) * N);
    uint64_t seed = tu_seed();
    long flips = 0;
    for (long i = 0; i < N; i++) {
        double z = gauss(seed, 10, i);
        y[i] = z + 0.7 * gauss(seed, 11, i) > 0.8 ? 1.0f : 0.0f;
        X[i * D + 0] = (float)z;                  /* informative, continuous */
        X[i * D + 1] = (float)gauss(seed, 12, i); /* noise, continuous */
        float b = dr_philox_uniform(seed, 13, 0, i) < 0.5f ? 1.0f : 0.0f;
        int flip = dr_philox_uniform(seed, 14, 0, i) < 0.1f;
        flips += flip;
        X[i * D + 2] = b;                         /* binary noise */
        X[i * D + 3] = (float)(flip ? 1 - b : b); /* for the known answer below */
    }
    double mi[D];
    assert_int_equal(dr_select_mi(X, N, D, y, 16, mi), DR_OK);
    int order[D];
    dr_select_rank(mi, D, order);
    printf("mi: informative %.5f, noise %.5f, binary noise %.5f (nats); order %d %d %d %d\n", mi[0],
           mi[1], mi[2], order[0], order[1], order[2], order[3]);
    assert_int_equal(order[0], 0);
    assert_true(mi[0] > 0.1);
    /* Independent: 2n * plug-in MI ~ chi^2 with (m_x - 1)(m_y - 1) = 15 dof, so
     * the corrected estimate has mean ~0 and sd sqrt(2 * 15) / (2n) = 1.4e-4;
     * 8e-4 is about 6 sd. */
    assert_true(fabs(mi[1]) < 8e-4);
    assert_true(fabs(mi[2]) < 8e-4);

    /* Known answer: x uniform on {0,1}, label = x flipped with probability 0.1:
     * I = ln 2 - H(0.1) = 0.6931 - 0.3251 = 0.3681 nats. */
    float *lab = malloc(sizeof(float) * N);
    for (long i = 0; i < N; i++)
        lab[i] = X[i * D + 3];
    double mi2[D];
    assert_int_equal(dr_select_mi(X, N, D, lab, 16, mi2), DR_OK);
    double h = -(0.1 * log(0.1) + 0.9 * log(0.9)), want = log(2.0) - h;
    printf("mi known answer: got %.5f, want %.5f (flip rate %.4f)\n", mi2[2], want,
           (double)flips / N);
    /* The flip rate's sd is sqrt(0.09/N) = 0.0021; dI/dp = ln(p/(1-p)) ~ 2.2, so
     * sd(I) ~ 0.005: 0.02 is 4 sd. */
    assert_true(fabs(mi2[2] - want) < 0.02);

    y[5] = 0.5f;
    assert_int_equal(dr_select_mi(X, N, D, y, 16, mi), DR_ERR_INVALID);
    free(X);
    free(y);
    free(lab);
}

/* 3 informative (one through a square: a forest sees it, a linear filter would
 * not) + 7 noise columns. */
static void make_rfecv_data(long n, float *X, float *y, uint64_t seed)
{
    for (long i = 0; i < n; i++) {
        double x0 = gauss(seed, 20, i), x1 = gauss(seed, 21, i), x2 = gauss(seed, 22, i);
        double s = 1.2 * x0 + (x1 * x1 - 1) + 0.9 * x2 + 0.6 * gauss(seed, 23, i);
        y[i] = s > 0.5 ? 1.0f : 0.0f;
        X[i * 10 + 0] = (float)x0;
        X[i * 10 + 1] = (float)x1;
        X[i * 10 + 2] = (float)x2;
        for (int j = 3; j < 10; j++)
            X[i * 10 + j] = (float)gauss(seed, 30 + (uint32_t)j, i);
    }
}

static void test_rfecv(void **state)
{
    (void)state;
    enum { N = 3000, D = 10 };
    const char *names[D] = {"inf0",   "inf1_sq", "inf2",   "noise3", "noise4",
                            "noise5", "noise6",  "noise7", "noise8", "noise9"};
    float *X = malloc(sizeof(float) * N * D), *y = malloc(sizeof(float) * N);
    make_rfecv_data(N, X, y, tu_seed());
    dr_rfecv_options o;
    dr_rfecv_options_default(&o);
    o.n_trees = 32;
    o.step = 1;
    o.max_depth = 6;
    /* One thread: on a shared, oversubscribed machine XGBoost's OpenMP threads
     * spin-wait and a 2-thread run can take 10x longer. */
    o.n_threads = 1;
    dr_rfecv_result r;
    assert_int_equal(dr_select_rfecv(X, N, D, names, y, NULL, &o, &r, stdout), DR_OK);
    int noise_kept = 0;
    for (int j = 0; j < D; j++) {
        printf("  %-8s selected %d rank %2d importance %.4f\n", names[j], r.selected[j], r.rank[j],
               r.importance[j]);
        if (j >= 3)
            noise_kept += r.selected[j];
    }
    printf("rfecv: best size %d, %d noise columns kept\n", r.best_size, noise_kept);
    /* Each informative feature alone moves the AUC by > 0.05 here (and the
     * forest with all three scores ~0.9 vs ~0.75 without x1), far above the
     * fold-to-fold sd of ~0.01, so every good subset contains all three. */
    assert_true(r.selected[0] && r.selected[1] && r.selected[2]);
    assert_int_equal(r.rank[0], 1);
    /* Among the selected, the informative ones carry most of the importance. */
    assert_true(r.importance[0] + r.importance[1] + r.importance[2] > 0.6);
    assert_int_equal(r.n_sizes, D);
    dr_rfecv_result_free(&r);

    o.folds = 1;
    assert_int_equal(dr_select_rfecv(X, N, D, names, y, NULL, &o, &r, NULL), DR_ERR_INVALID);
    free(X);
    free(y);
}

/* The whole pipeline on the same data plus a collinear copy: VIF removes the
 * copy, MI ranks, RFECV picks; prints Table 2. */
static void test_hybrid(void **state)
{
    (void)state;
    enum { N = 3000, D = 11 };
    const char *names[D] = {"inf0",   "inf1_sq", "inf2",   "noise3", "noise4",   "noise5",
                            "noise6", "noise7",  "noise8", "noise9", "inf0_copy"};
    float *X10 = malloc(sizeof(float) * N * 10), *y = malloc(sizeof(float) * N);
    make_rfecv_data(N, X10, y, tu_seed() + 1);
    float *X = malloc(sizeof(float) * N * D);
    for (long i = 0; i < N; i++) {
        memcpy(X + i * D, X10 + i * 10, 10 * sizeof(float));
        X[i * D + 10] =
            2 * X10[i * 10] + 0.01f * (float)gauss(tu_seed(), 99, (uint64_t)i); /* VIF ~ 4e4 */
    }
    dr_select_options o;
    dr_select_options_default(&o);
    o.rfecv.n_trees = 32;
    o.rfecv.max_depth = 6;
    o.rfecv.n_threads = 1;
    dr_select_result r;
    assert_int_equal(dr_select_hybrid(X, N, D, names, y, &o, &r, stdout), DR_OK);
    dr_select_table_print(stdout, &r, names);
    assert_int_equal(r.keep_vif[0] + r.keep_vif[10], 1);
    assert_true((r.selected[0] || r.selected[10]) && r.selected[1] && r.selected[2]);
    dr_select_result_free(&r);
    free(X);
    free(X10);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vif),
        cmocka_unit_test(test_mi),
        cmocka_unit_test(test_rfecv),
        cmocka_unit_test(test_hybrid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
