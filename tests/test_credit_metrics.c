/* Credit-risk measures against answers obtained another way: PSI, reliability,
 * isotonic fits and scorecard points on hand cases written out below; EMP in
 * closed form for a perfect and an uninformative classifier, and on random
 * tied scores against a brute-force integral (every ROC point, not the hull,
 * maximised on a fine grid of lambda). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/philox.h"
#include "experiments/credit_metrics.h"
#include "tests/testutil.h"

static void check_close(const char *what, double got, double want, double tol)
{
    double d = fabs(got - want);
    printf("  %-40s got %.15g want %.15g |diff| %.3g (tol %.3g)\n", what, got, want, d, tol);
    if (!(d <= tol))
        fail_msg("%s: got %.17g want %.17g", what, got, want);
}

/* Reference 0 .. 9: its deciles are 0 .. 8, ten bins of one value each (10 %).
 * Actual: five 0s and five 9s, so bins 0 and 9 hold 50 % and the other eight
 * are empty (floored at 1e-4):
 *   PSI = 2 (0.5 - 0.1) ln 5 + 8 (1e-4 - 0.1) ln(1e-4 / 0.1). */
static void test_psi(void **state)
{
    (void)state;
    const float ref[10] = {3, 1, 4, 0, 5, 9, 2, 6, 8, 7};
    const float act[10] = {0, 9, 0, 9, 0, 9, 0, 9, 0, 9};
    double psi;
    assert_int_equal(dr_psi(ref, 10, ref, 10, &psi), DR_OK);
    check_close("psi of a sample with itself", psi, 0.0, 0.0);
    assert_int_equal(dr_psi(ref, 10, act, 10, &psi), DR_OK);
    check_close("psi, hand case", psi, 0.8 * log(5.0) + 8 * (1e-4 - 0.1) * log(1e-3), 1e-12);
    /* a 0/1 feature: 70 % zeros in the reference, 40 % in the actual; the cuts
     * are {0, 1}, so the bins are <= 0, (0, 1] and an empty one above 1 */
    float r01[10] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, a01[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    assert_int_equal(dr_psi(r01, 10, a01, 10, &psi), DR_OK);
    check_close("psi, 0/1 feature", psi, (0.4 - 0.7) * log(0.4 / 0.7) + (0.6 - 0.3) * log(0.6 / 0.3), 1e-12);
    float bad[3] = {0, NAN, 1};
    assert_int_equal(dr_psi(ref, 10, bad, 3, &psi), DR_ERR_NUMERIC);
    assert_int_equal(dr_psi(ref, 0, act, 10, &psi), DR_ERR_INVALID);
}

/* 20 rows, two per decile bin (sorted by probability): bin b holds
 * p = (b + 0.25) / 10 and (b + 0.75) / 10, mean (b + 0.5) / 10; the labels put
 * 0, 1 or 2 defaults in a bin as listed. ECE and Hosmer-Lemeshow by hand:
 * ECE = sum_b (2/20) |mean_b - d_b / 2|, HL = sum_b (d_b - 2 m_b)^2 / (2 m_b (1 - m_b)). */
static void test_reliability(void **state)
{
    (void)state;
    const int d[10] = {0, 0, 1, 0, 1, 1, 2, 1, 2, 2};
    float p[20], y[20];
    for (int b = 0; b < 10; b++) { /* stored high to low, so the sort matters */
        p[19 - 2 * b] = (float)((b + 0.25) / 10);
        p[18 - 2 * b] = (float)((b + 0.75) / 10);
        y[19 - 2 * b] = d[b] >= 1;
        y[18 - 2 * b] = d[b] == 2;
    }
    dr_reliability r;
    assert_int_equal(dr_reliability_table(p, y, 20, &r), DR_OK);
    assert_int_equal(r.n_bins, 10);
    double ece = 0, hl = 0;
    for (int b = 0; b < 10; b++) {
        double m = (b + 0.5) / 10;
        assert_int_equal(r.count[b], 2);
        check_close("bin mean prediction", r.mean_predicted[b], m, 1e-7); /* float inputs */
        check_close("bin default rate", r.observed_rate[b], d[b] / 2.0, 0.0);
        ece += 0.1 * fabs(m - d[b] / 2.0);
        hl += (d[b] - 2 * m) * (d[b] - 2 * m) / (2 * m * (1 - m));
    }
    check_close("ece", r.ece, ece, 1e-7);
    check_close("hosmer-lemeshow", r.hosmer_lemeshow, hl, 1e-6);
    assert_int_equal(dr_reliability_table(p, y, 3, &r), DR_OK);
    assert_int_equal(r.n_bins, 3);
}

static void test_isotonic(void **state)
{
    (void)state;
    /* labels 1 0 1 0 1 at scores 1 .. 5: PAV pools the first four to 0.5 */
    const float s[5] = {5, 2, 3, 1, 4}, y[5] = {1, 0, 1, 1, 0};
    dr_isotonic m;
    assert_int_equal(dr_isotonic_fit(s, y, 5, &m), DR_OK);
    assert_int_equal(m.k, 5);
    const double want[5] = {0.5, 0.5, 0.5, 0.5, 1.0};
    for (int i = 0; i < 5; i++) {
        check_close("fitted x", m.x[i], i + 1, 0.0);
        check_close("fitted y", m.y[i], want[i], 1e-15);
    }
    const float q[4] = {0, 4.5f, 4.25f, 9};
    float out[4];
    dr_isotonic_apply(&m, q, 4, out);
    check_close("below the first point: clipped", out[0], 0.5, 0.0);
    check_close("between 4 and 5: interpolated", out[1], 0.75, 1e-7);
    check_close("a quarter of the way", out[2], 0.625, 1e-7);
    check_close("above the last point: clipped", out[3], 1.0, 0.0);
    dr_isotonic_free(&m);
    /* ties: scores 1, 1, 2 with labels 1, 0, 0 -> points (1, 0.5), (2, 0) -> pooled to 1/3 */
    const float ts[3] = {1, 2, 1}, ty[3] = {1, 0, 0};
    assert_int_equal(dr_isotonic_fit(ts, ty, 3, &m), DR_OK);
    assert_int_equal(m.k, 2);
    check_close("tied scores pooled", m.y[0], 1.0 / 3.0, 1e-15);
    check_close("tied scores pooled", m.y[1], 1.0 / 3.0, 1e-15);
    dr_isotonic_free(&m);
    /* random rows: the fit is non-decreasing and keeps the labels' sum */
    enum { N = 2000 };
    float *rs = tu_alloc(N), *ry = tu_alloc(N);
    tu_fill_uniform(rs, N, 0, 1, tu_seed(), 11);
    tu_fill_uniform(ry, N, 0, 1, tu_seed(), 12);
    double ysum = 0;
    for (long i = 0; i < N; i++) {
        rs[i] = floorf(rs[i] * 200) / 200; /* ties */
        ry[i] = ry[i] < 0.2 + 0.6 * rs[i];
        ysum += ry[i];
    }
    assert_int_equal(dr_isotonic_fit(rs, ry, N, &m), DR_OK);
    double fsum = 0;
    for (long j = 0; j < m.k; j++) {
        if (j > 0 && m.y[j] < m.y[j - 1])
            fail_msg("isotonic fit falls at point %ld", j);
        long c = 0;
        for (long i = 0; i < N; i++)
            c += (double)rs[i] == m.x[j];
        fsum += (double)c * m.y[j];
    }
    check_close("fitted values keep the labels' sum", fsum, ysum, 1e-9 * N);
    dr_isotonic_free(&m);
    rs[7] = INFINITY;
    assert_int_equal(dr_isotonic_fit(rs, ry, N, &m), DR_ERR_NUMERIC);
    free(rs);
    free(ry);
}

/* EMP by brute force: the best of every ROC point (not only the hull's), on the
 * midpoints of a grid of lambda, plus the point mass at lambda = 1. The profit's
 * maximum is piecewise linear in lambda, so the midpoint rule errs only at its
 * kinks, by O(h^2) each. */
static void emp_brute(const float *p, const float *y, long n, double p0, double p1, double roi, double *emp)
{
    double pos = 0;
    for (long i = 0; i < n; i++)
        pos += y[i];
    double pi0 = pos / n, pi1 = 1 - pi0;
    /* ROC points: reject every loan with p >= t, for each distinct t, and none */
    long k = 0;
    double *fx = malloc((size_t)(n + 1) * sizeof *fx), *fy = malloc((size_t)(n + 1) * sizeof *fy);
    fx[k] = 0, fy[k] = 0, k++;
    for (long j = 0; j < n; j++) {
        double tp = 0, fp = 0;
        for (long i = 0; i < n; i++)
            if (p[i] >= p[j]) {
                tp += y[i];
                fp += 1 - y[i];
            }
        fx[k] = fp / (n - pos), fy[k] = tp / pos, k++;
    }
    enum { G = 20000 };
    double sum = 0, at1 = -INFINITY;
    for (int g = 0; g <= G; g++) {
        double lam = g < G ? (g + 0.5) / G : 1.0, best = -INFINITY;
        for (long i = 0; i < k; i++)
            best = fmax(best, lam * pi0 * fy[i] - roi * pi1 * fx[i]);
        if (g < G)
            sum += best / G;
        else
            at1 = best;
    }
    free(fx);
    free(fy);
    *emp = (1 - p0 - p1) * sum + p1 * at1;
}

static void test_emp(void **state)
{
    (void)state;
    const double p0 = 0.55, p1 = 0.1, roi = 0.2644, dens = 1 - p0 - p1;
    double emp, rej;
    /* perfect: every defaulter above every good loan. Rejecting exactly the
     * defaulters is best for any lambda > 0: profit lambda pi0 */
    const float pp[8] = {0.9f, 0.1f, 0.8f, 0.2f, 0.3f, 0.7f, 0.2f, 0.1f}, py[8] = {1, 0, 1, 0, 0, 1, 0, 0};
    const double pi0 = 3.0 / 8;
    assert_int_equal(dr_emp(pp, py, 8, p0, p1, roi, &emp, &rej), DR_OK);
    check_close("emp, perfect", emp, dens * pi0 / 2 + p1 * pi0, 1e-15);
    check_close("reject, perfect", rej, (dens + p1) * pi0, 1e-15);
    /* uninformative (all tied): reject everyone once lambda > roi pi1 / pi0 */
    float tp[8];
    for (int i = 0; i < 8; i++)
        tp[i] = 0.5f;
    double l1 = roi * (1 - pi0) / pi0;
    assert_int_equal(dr_emp(tp, py, 8, p0, p1, roi, &emp, &rej), DR_OK);
    check_close("emp, all tied", emp,
                dens * (pi0 * (1 - l1 * l1) / 2 - roi * (1 - pi0) * (1 - l1)) + p1 * (pi0 - roi * (1 - pi0)),
                1e-15);
    check_close("reject, all tied", rej, dens * (1 - l1) + p1, 1e-15);
    /* random, tied scores, 400 rows */
    enum { N = 400 };
    float *s = tu_alloc(N), *y = tu_alloc(N);
    tu_fill_uniform(s, N, 0, 1, tu_seed(), 21);
    tu_fill_uniform(y, N, 0, 1, tu_seed(), 22);
    for (long i = 0; i < N; i++) {
        s[i] = floorf(s[i] * 64) / 64;
        y[i] = y[i] < 0.05 + 0.4 * s[i] * s[i];
    }
    for (int c = 0; c < 3; c++) {
        const double cp0[3] = {0.55, 0.0, 0.2}, cp1[3] = {0.1, 0.0, 0.5}, croi[3] = {0.2644, 0.1, 0.6};
        double want;
        assert_int_equal(dr_emp(s, y, N, cp0[c], cp1[c], croi[c], &emp, &rej), DR_OK);
        emp_brute(s, y, N, cp0[c], cp1[c], croi[c], &want);
        check_close("emp against the brute-force integral", emp, want, 1e-7);
        assert_true(rej >= 0 && rej <= 1);
    }
    assert_int_equal(dr_emp(s, y, N, 0.7, 0.4, roi, &emp, &rej), DR_ERR_INVALID);
    assert_int_equal(dr_emp(tp, tp, 8, p0, p1, roi, &emp, &rej), DR_ERR_INVALID); /* labels 0.5: no class */
    float none[8] = {0};
    assert_int_equal(dr_emp(pp, none, 8, p0, p1, roi, &emp, &rej), DR_ERR_INVALID);
    free(s);
    free(y);
}

/* base odds 50:1 score 600, 20 points double them: p = 1/51 -> 600,
 * p = 1/101 -> 620, p = 1/26 -> 580, p = 1/2 -> 600 - 20 log2(50). */
static void test_scorecard(void **state)
{
    (void)state;
    const float p[5] = {1.0f / 51, 1.0f / 101, 1.0f / 26, 0.5f, 1.0f};
    float pts[5];
    dr_scorecard_points(p, 5, 20, 600, 50, pts);
    check_close("odds 50:1", pts[0], 600, 1e-3);
    check_close("odds 100:1", pts[1], 620, 1e-3);
    check_close("odds 25:1", pts[2], 580, 1e-3);
    check_close("even odds", pts[3], 600 - 20 * log2(50.0), 1e-3);
    assert_true(isfinite(pts[4]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi), cmocka_unit_test(test_reliability), cmocka_unit_test(test_isotonic),
        cmocka_unit_test(test_emp), cmocka_unit_test(test_scorecard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
