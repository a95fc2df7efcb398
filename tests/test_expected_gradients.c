/* Expected gradients (experiments/expected_gradients.c) on small graph models:
 *   - logistic regression against one background row: the gradient is the
 *     constant weight vector, so phi_k = w_k (x_k - b_k) exactly and
 *     base + sum phi = f(x) to float rounding;
 *   - an MLP (batch norm, ReLU, dropout in eval mode) against one background
 *     row: integrated gradients, whose sum converges to f(x) - f(b) as the
 *     samples grow (the additivity error, of order 1 / sqrt(samples), falls
 *     at least 4 times from 8 to 2048 samples and ends under 5 % of
 *     |f(x) - f(b)|);
 *   - a background of many rows: the same seed gives the same values bit for
 *     bit, another seed other values;
 *   - bad sizes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/expected_gradients.h"
#include "kernels/backends.h"
#include "models/neural_baselines.h"
#include "tests/testutil.h"

enum { D = 6, N = 8, NB = 40 };

static float xs[N * D], bgx[NB * D], ys[NB];

static dr_backend *cpu_backend(void)
{
    static dr_backend *be;
    if (!be)
        assert_int_equal(dr_backend_create(&be, "cpu"), DR_OK);
    return be;
}

static dr_model_io build(int n_hidden)
{
    dr_mlp_config c = {.n_hidden = n_hidden, .hidden = {16, 8}, .dropout = 0.3f,
                       .loss = {.a = 1.0f, .w_pos = 1.0f, .w_neg = 1.0f}, .input_gradients = 1};
    dr_model_io io;
    assert_int_equal(dr_mlp_build(&io, cpu_backend(), &c, D, tu_seed(), 16), DR_OK);
    return io;
}

static dr_rows rows_of(const float *x, long n) { return (dr_rows){.n = n, .n_features = D, .x = x, .y = ys}; }

/* Mean |base + sum phi - f(x)| over the rows, and mean |f(x) - base|. */
static double additivity_gap(const dr_eg_result *r, double *spread)
{
    double gap = 0;
    *spread = 0;
    for (int i = 0; i < N; i++) {
        double sum = r->phi[i * (D + 1) + D];
        for (int k = 0; k < D; k++)
            sum += r->phi[i * (D + 1) + k];
        gap += fabs(sum - r->logit[i]) / N;
        *spread += fabs(r->logit[i] - r->phi[i * (D + 1) + D]) / N;
    }
    return gap;
}

static void fill(void)
{
    tu_fill_uniform(xs, N * D, -2, 2, tu_seed(), 1);
    tu_fill_uniform(bgx, NB * D, -2, 2, tu_seed(), 2);
}

static void test_linear_exact(void **state)
{
    (void)state;
    fill();
    dr_model_io io = build(0);
    dr_state_tensor w;
    float wh[D];
    for (int i = 0; i < dr_graph_state_count(io.g, DR_STATE_PARAM); i++) {
        assert_int_equal(dr_graph_state_get(io.g, DR_STATE_PARAM, i, &w), DR_OK);
        if (w.numel == D)
            assert_int_equal(dr_graph_state_read(io.g, &w, wh), DR_OK);
    }
    dr_rows x = rows_of(xs, N), bg = rows_of(bgx, 1);
    dr_eg_result r;
    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 1, 5, 3, &r), DR_OK);
    double worst = 0, spread;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) {
            double want = (double)wh[k] * ((double)xs[i * D + k] - bgx[k]);
            worst = fmax(worst, fabs(r.phi[i * (D + 1) + k] - want) / (fabs(want) + 1e-3));
        }
    double gap = additivity_gap(&r, &spread);
    printf("  logistic, one background row: phi against w (x - b) relative error %.2e; additivity %.2e\n", worst,
           gap);
    assert_true(worst < 1e-5);
    assert_true(gap < 1e-5 * (spread + 1));
    dr_eg_result_free(&r);
    dr_graph_free(io.g);
}

static void test_mlp_converges(void **state)
{
    (void)state;
    fill();
    dr_model_io io = build(2);
    dr_rows x = rows_of(xs, N), bg = rows_of(bgx, 1);
    double gap[2], spread;
    const long samples[2] = {8, 2048};
    for (int t = 0; t < 2; t++) {
        dr_eg_result r;
        assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 1, samples[t], 11, &r), DR_OK);
        gap[t] = additivity_gap(&r, &spread);
        printf("  mlp, one background row, %4ld samples: mean |base + sum - f(x)| %.4f (mean |f(x) - f(b)| %.4f)\n",
               samples[t], gap[t], spread);
        dr_eg_result_free(&r);
    }
    /* Monte Carlo error ~ 1 / sqrt(samples): 16 times smaller in expectation */
    assert_true(gap[1] < gap[0] / 4);
    assert_true(gap[1] < 0.05 * spread);
    dr_graph_free(io.g);
}

static void test_seeded(void **state)
{
    (void)state;
    fill();
    dr_model_io io = build(2);
    dr_rows x = rows_of(xs, N), bg = rows_of(bgx, NB);
    dr_eg_result a, b, c;
    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 20, 50, 5, &a), DR_OK);
    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 20, 50, 5, &b), DR_OK);
    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 20, 50, 6, &c), DR_OK);
    size_t bytes = (size_t)N * (D + 1) * sizeof(float);
    assert_int_equal(memcmp(a.phi, b.phi, bytes), 0);
    assert_int_not_equal(memcmp(a.phi, c.phi, bytes), 0);
    dr_eg_result_free(&a), dr_eg_result_free(&b), dr_eg_result_free(&c);

    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, NB + 1, 50, 5, &a), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_int_equal(dr_expected_gradients(&io, &x, N, &bg, 10, 0, 5, &a), DR_ERR_INVALID);
    dr_graph_free(io.g);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_exact),
        cmocka_unit_test(test_mlp_converges),
        cmocka_unit_test(test_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
