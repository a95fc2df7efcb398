/* LIME (experiments/lime.h) on models whose answer is known:
 *   - a model that is exactly linear in "x0 is in the loan's quartile bin":
 *     the explanation's top input is x0, its weight the slope on lime's scaled
 *     view (0.4 x the bin indices' standard deviation, less the alpha = 1
 *     ridge shrinkage, stated below) and its R^2 1;
 *   - a logistic model of x0 (strong) and x1 (weak): x0 first, x1 second, in
 *     every one of 20 seeds (the stability the report gives);
 *   - the same seed gives the same explanation bit for bit; bad arguments fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/lime.h"
#include "tests/testutil.h"

enum { N = 2000, D = 6, SAMPLES = 5000 };

typedef struct model {
    const dr_lime_stats *s;
    const float *loan;
    int step; /* 1: the bin-indicator model, 0: the logistic one */
} model;

static int bin(const dr_lime_stats *s, int j, float x)
{
    const float *e = s->edges + j * 3;
    return (x > e[0]) + (x > e[1]) + (x > e[2]);
}

static dr_status predict(void *ctx, const float *x, long n, int d, float *prob)
{
    const model *m = ctx;
    for (long i = 0; i < n; i++) {
        const float *r = x + i * d;
        if (m->step)
            prob[i] = 0.3f + 0.4f * (bin(m->s, 0, r[0]) == bin(m->s, 0, m->loan[0]));
        else
            prob[i] = (float)(1 / (1 + exp(-(3.0 * r[0] + 0.8 * r[1]))));
    }
    return DR_OK;
}

static void make_data(float *x)
{
    tu_fill_uniform(x, N * D, -1, 1, tu_seed(), 31);
}

static void test_bin_indicator_model(void **state)
{
    (void)state;
    float *x = tu_alloc(N * D);
    make_data(x);
    dr_lime_stats s;
    assert_int_equal(dr_lime_fit(x, N, D, &s), DR_OK);
    const float loan[D] = {0.9f, 0.1f, -0.3f, 0.5f, -0.8f, 0.2f};
    model m = {&s, loan, 1};
    dr_lime_result r;
    assert_int_equal(dr_lime_explain(&s, loan, predict, &m, 3, SAMPLES, 7, &r), DR_OK);
    /* y = 0.3 + 0.4 b with b in {0, 1} and lime's z = (b - mean) / sd: the slope
     * on z is 0.4 sd, shrunk by the ridge to 0.4 sd S / (S + 1) with S the
     * weighted sum of squares of z (large: thousands of samples), so within
     * 1 % of 0.4 sd; the fit is exact but for that shrinkage (R^2 > 0.9999). */
    double want = 0.4 * s.bin_std[0];
    printf("  top input x%d, weight %.6f (0.4 sd = %.6f), R^2 %.8f, local prediction %.6f\n", r.feature[0],
           r.weight[0], want, r.score, r.local_prediction);
    assert_int_equal(r.feature[0], 0);
    assert_true(fabs(r.weight[0] - want) <= 0.01 * want);
    assert_true(r.score > 0.9999);
    assert_true(fabs(r.local_prediction - 0.7) < 0.01); /* the loan is in its own bin: 0.3 + 0.4 */
    for (int a = 1; a < 3; a++)
        assert_true(fabs(r.weight[a]) < 0.01 * want);
    dr_lime_stats_free(&s);
    free(x);
}

static void test_logistic_model_and_seeds(void **state)
{
    (void)state;
    float *x = tu_alloc(N * D);
    make_data(x);
    dr_lime_stats s;
    assert_int_equal(dr_lime_fit(x, N, D, &s), DR_OK);
    const float loan[D] = {0.8f, 0.7f, 0.0f, -0.5f, 0.3f, -0.9f};
    model m = {&s, loan, 0};
    dr_lime_result first, again;
    int agree = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dr_lime_result r;
        assert_int_equal(dr_lime_explain(&s, loan, predict, &m, 3, SAMPLES, seed, &r), DR_OK);
        if (seed == 1)
            first = r;
        agree += r.feature[0] == 0 && r.feature[1] == 1 && r.weight[0] > 0 && r.weight[1] > 0;
    }
    printf("  x0 then x1, both positive, in %d of 20 seeds (weights of seed 1: %.4f, %.4f)\n", agree,
           first.weight[0], first.weight[1]);
    assert_int_equal(agree, 20);
    assert_int_equal(dr_lime_explain(&s, loan, predict, &m, 3, SAMPLES, 1, &again), DR_OK);
    assert_memory_equal(&first, &again, sizeof first);
    dr_lime_result bad;
    assert_int_equal(dr_lime_explain(&s, loan, predict, &m, D + 1, SAMPLES, 1, &bad), DR_ERR_INVALID);
    assert_int_equal(dr_lime_explain(&s, loan, predict, &m, 3, 1, 1, &bad), DR_ERR_INVALID);
    dr_lime_stats_free(&s);
    assert_int_equal(dr_lime_fit(x, 1, D, &s), DR_ERR_INVALID);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_indicator_model),
        cmocka_unit_test(test_logistic_model_and_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
