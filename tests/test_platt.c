/* Platt scaling recovers the slope and offset of scores drawn from a known
 * logistic model, and refuses a single class. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/philox.h"
#include "models/platt.h"
#include "tests/testutil.h"

static void test_recovers_known_model(void **state)
{
    (void)state;
    enum { N = 20000 };
    float *s = malloc(N * sizeof *s), *y = malloc(N * sizeof *y);
    for (long i = 0; i < N; i++) {
        s[i] = 4.0f * dr_philox_uniform(tu_seed(), 1, 0, (uint64_t)i) - 2.0f;
        double p = 1 / (1 + exp(-(2.0 * s[i] - 1.0)));
        y[i] = dr_philox_uniform(tu_seed(), 2, 0, (uint64_t)i) < p;
    }
    double A, B;
    assert_int_equal(dr_platt_fit(s, y, N, &A, &B), DR_OK);
    /* the maximum-likelihood estimates have standard errors of about 0.04 here
     * (Fisher information of 20,000 draws), so 0.15 is beyond 3.5 sigma */
    printf("  A = %.4f (true 2), B = %.4f (true -1)\n", A, B);
    assert_true(fabs(A - 2.0) < 0.15 && fabs(B + 1.0) < 0.15);
    float one[3] = {1, 1, 1};
    assert_int_equal(dr_platt_fit(s, one, 3, &A, &B), DR_ERR_INVALID);
    free(s);
    free(y);
}

/* Scores that barely vary (an SVM that puts every loan just outside the margin)
 * once sent a plain Newton iteration to A ~ 1e15; with the line search the fit
 * stays finite and predicts about the base rate. */
static void test_nearly_constant_scores(void **state)
{
    (void)state;
    enum { N = 1000 };
    float s[N], y[N], p[N];
    for (long i = 0; i < N; i++) {
        s[i] = -1.0f + 0.02f * (dr_philox_uniform(tu_seed(), 3, 0, (uint64_t)i) - 0.5f);
        y[i] = i % 20 == 0; /* 5 % positive, unrelated to the score */
    }
    double A, B;
    assert_int_equal(dr_platt_fit(s, y, N, &A, &B), DR_OK);
    dr_platt_apply(p, s, N, A, B);
    double mean = 0;
    for (long i = 0; i < N; i++)
        mean += p[i] / N;
    printf("  A = %.4g, B = %.4g, mean probability %.4f (base rate 0.05)\n", A, B, mean);
    assert_true(isfinite(A) && isfinite(B) && fabs(A) < 1e3);
    assert_true(fabs(mean - 0.05) < 0.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_recovers_known_model),
                                       cmocka_unit_test(test_nearly_constant_scores)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
