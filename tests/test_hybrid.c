/* The hybrid network's gradient of its logit with respect to its inputs (what
 * expected gradients and the explanations rest on) against central differences
 * of its own forward pass, in eval mode after a few training steps: every input
 * of every group, through the slices into the branches, the one-channel first
 * convolutions and their projections, the LSTM over the branches' positions,
 * attention and the FC blocks. */
#include <stdio.h>

#include "kernels/backends.h"
#include "models/hybrid.h"
#include "tests/testutil.h"

enum { HB = 6, HF = 4 + 7 + 3 };

static float inputs[HB * HF];

static double logit_sum(void *ctx)
{
    dr_hybrid *m = ctx;
    return tu_logit_sum(m->g, m->x, m->logit, inputs, HB);
}

static void test_input_gradients(void **state)
{
    (void)state;
    dr_backend *be;
    assert_int_equal(dr_backend_create(&be, "cpu"), DR_OK);
    dr_hybrid_config c = {.n_groups = 3, .group_size = {4, 7, 3}, .filters = {4, 6, 8}, .kernel = {3, 3, 3},
                          .pool = 2, .lstm_units = 5, .attention_dim = 4, .n_fc = 2, .fc = {8, 6}, .dropout = 0.3f,
                          .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f}, .input_gradients = 1};
    dr_hybrid m;
    assert_int_equal(dr_hybrid_build(&m, be, &c, tu_seed(), HB), DR_OK);
    float y[HB] = {1, 0, 0, 1, 0, 0};
    tu_fill_uniform(inputs, HB * HF, -2, 2, tu_seed(), 3);
    assert_int_equal(dr_graph_set_input(m.g, m.x, inputs, HB), DR_OK);
    assert_int_equal(dr_graph_set_input(m.g, m.y, y, HB), DR_OK);
    dr_adam_params hp = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    for (int k = 1; k <= 3; k++) { /* running statistics and weights away from their start */
        hp.step = k;
        assert_int_equal(dr_graph_train_step(m.g, m.loss, &hp), DR_OK);
    }

    logit_sum(&m);
    assert_int_equal(dr_graph_backward_output(m.g, m.logit), DR_OK);
    float dx[HB * HF];
    assert_int_equal(dr_graph_read_grad(m.g, m.x, dx), DR_OK);

    /* The error must stay under 3e-2, as in test_graph.c, but with a floor of
     * 1e-2 on the denominator: the float32 forward's rounding over a step of 1e-2
     * leaves about 5e-5 of absolute noise in the differences, which over seeds
     * 1-6 reached 4e-2 relative on gradients under 1e-3 with test_graph's 1e-3
     * (typical gradients here are 1e-2 to 1e-1). A gradient that lands on a
     * neighbouring input gives errors of order 1. */
    long checked = 0, skipped = 0;
    double worst = tu_grad_check_kinks(inputs, dx, HB * HF, logit_sum, &m, 1e-2, &checked, &skipped);
    printf("  d logit / d x of the hybrid network: largest relative error %.3e (tolerance 3e-2); %ld inputs checked, "
           "%ld skipped at kinks\n", worst, checked, skipped);
    assert_true(worst < 3e-2);
    assert_true(skipped * 5 <= checked + skipped);
    dr_hybrid_free(&m);
    dr_backend_free(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_input_gradients)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
