/* Backends as tables: creation by device name from the build's list, the
 * fallbacks of an interface's empty entries, and supports_op: an op a backend's
 * table lacks is refused when the graph node is added, with the reason, never
 * an abort. (Every node op is known to the list: test_graph.c builds a graph of
 * every node through dr_g_node, which asks supports_op.) */
#include <stdio.h>
#include <string.h>

#include "core/graph.h"
#include "core/op_table.h"
#include "kernels/backends.h"
#include "kernels/cpu/ops.h"
#include "tests/testutil.h"

static void test_create_by_name(void **state)
{
    (void)state;
    assert_string_equal(dr_backends[0]->name, "cpu");
    dr_backend *be;
    assert_int_equal(dr_backend_create(&be, "cpu"), DR_OK);
    assert_ptr_equal(be->iface, &dr_cpu_backend);
    assert_ptr_equal(be->ops, &dr_cpu_ops);
    assert_true(dr_backend_threads(be) >= 1);
    assert_int_equal(dr_backend_async_copies(be), 0);
    assert_non_null(strstr(dr_backend_describe(be), "OpenBLAS"));
    assert_string_equal(dr_backend_get_math(be), "fp32");
    assert_int_equal(dr_backend_set_impl(be, "lstm", "cudnn"), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "only \"custom\""));
    dr_backend_free(be);

    assert_int_equal(dr_backend_create(&be, "tpu"), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "this build has \"cpu\""));
    assert_null(be);
    const char *bad[] = {"cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cuda:4096"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dr_backend_create(&be, bad[i]), DR_ERR_INVALID);
        assert_non_null(strstr(dr_last_error(), "cuda:N"));
    }
}

static void test_supports_op(void **state)
{
    (void)state;
    dr_backend *cpu;
    assert_int_equal(dr_backend_create(&cpu, "cpu"), DR_OK);
    const char *why = NULL;
    assert_int_equal(dr_backend_supports_op(cpu, "lstm", &why), 1);
    assert_int_equal(dr_backend_supports_op(cpu, "reshape", &why), 1);
    assert_int_equal(dr_backend_supports_op(cpu, "conv2d", &why), 0);
    assert_string_equal(why, "no graph op is named \"conv2d\"");

    /* a backend whose table has no LSTM */
    dr_op_table ops = dr_cpu_ops;
    ops.lstm_backward = NULL;
    dr_backend_iface iface = {.name = "partial", .ops = &ops};
    dr_backend *be;
    assert_int_equal(dr_backend_open(&be, &iface, 0), DR_OK);
    assert_int_equal(dr_backend_supports_op(be, "lstm", &why), 0);
    assert_string_equal(why, "the partial backend has no lstm_backward kernel");
    assert_int_equal(dr_backend_supports_op(be, "linear", &why), 1);
    assert_string_equal(dr_backend_describe(be), "partial"); /* the fallbacks of empty entries */
    assert_string_equal(dr_backend_kernels(be), dr_cpu_ops.impl);
    assert_int_equal(dr_backend_threads(be), 1);
    assert_int_equal(dr_backend_sync(be), DR_OK);

    dr_graph *g;
    assert_int_equal(dr_graph_create(&g, be, 1), DR_OK);
    dr_value x, h;
    assert_int_equal(dr_graph_input(g, &x, "x", 2, (int[]){4, 3}), DR_OK);
    assert_int_equal(dr_graph_linear(g, &h, x, 2, "fc"), DR_OK);
    assert_int_not_equal(dr_graph_lstm(g, &h, x, 5, "rnn"), DR_OK);
    printf("  %s\n", dr_last_error());
    assert_string_equal(dr_last_error(), "lstm: the partial backend has no lstm_backward kernel");
    dr_graph_free(g);
    dr_backend_free(be);
    dr_backend_free(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_by_name),
        cmocka_unit_test(test_supports_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
