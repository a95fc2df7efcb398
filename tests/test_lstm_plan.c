/* The persistent LSTM's plan arithmetic (kernels/cuda/lstm_plan.h), on the CPU:
 * the paper's shapes with an H100's numbers (227 KiB of shared memory per block,
 * 16 clusters of 8 resident), and the invariants the kernels of
 * kernels/cuda/lstm_persistent.cu rely on, for every H up to 600 and batches
 * around every tile edge: the cluster divides the units, the thread mapping
 * covers each tile with at most DR_LSTM_MAX_S samples per thread, the tiles
 * cover the batch in one wave where the tile size allows it, the padded tile
 * keeps the backward's float4 reads aligned, the final tile needs no more
 * shared memory than the largest one, whose size the card was asked about, and
 * the threads' samples (dr_lstm_live_samples, as the kernels call it) are the
 * batch, each once, in order. */
#include <stdio.h>

#include "kernels/cuda/lstm_plan.h"
#include "tests/testutil.h"

enum { H100_OPTIN = 232448 }; /* cudaDeviceProp.sharedMemPerBlockOptin on an H100 */

static dr_cuda_lstm_plan plan(int B, int H, int resident, int *fits)
{
    dr_cuda_lstm_plan p = {.B = B, .H = H};
    *fits = dr_lstm_plan_cluster(&p) && p.smem <= H100_OPTIN;
    if (*fits)
        dr_lstm_plan_spread(&p, resident);
    return p;
}

static void test_paper_shapes(void **state)
{
    (void)state;
    int fits;
    /* H = 128 at batch 256: 8 blocks of 16 units, 16 groups of samples; the
     * largest tile (64 samples) needs (128 x 65 + 2 x 128 x 64 + 64 x 64) floats */
    dr_cuda_lstm_plan p = {.B = 256, .H = 128};
    assert_true(dr_lstm_plan_cluster(&p));
    assert_int_equal(p.C, 8);
    assert_int_equal(p.Hc, 16);
    assert_int_equal(p.threads, 256);
    assert_int_equal(p.NB, 64);
    assert_int_equal(p.smem, (128 * 65 + 2 * 128 * 64 + 64 * 64) * 4);
    /* 16 clusters resident: one wave of 16-sample tiles, one sample per thread */
    dr_lstm_plan_spread(&p, 16);
    assert_true(p.ok);
    assert_int_equal(p.NB, 16);
    assert_int_equal(p.NBp, 16);
    assert_int_equal(p.S, 1);
    assert_int_equal(p.clusters, 16);
    assert_int_equal(p.smem, (128 * 65 + 2 * 128 * 16 + 64 * 16) * 4);
    printf("  B=256 H=128: %d clusters of %d blocks x %d threads, %d samples each, %zu bytes\n",
           p.clusters, p.C, p.threads, p.NB, p.smem);

    /* H = 256's largest tile (32 samples) fits an H100, 209 KiB of 227; H = 512's
     * slice of w_hh alone is 514 KiB */
    p = (dr_cuda_lstm_plan){.B = 256, .H = 256};
    assert_true(dr_lstm_plan_cluster(&p));
    assert_int_equal(p.smem, (256 * 129 + 2 * 256 * 32 + 128 * 32) * 4);
    assert_true(p.smem <= H100_OPTIN);
    p = plan(4, 512, 16, &fits);
    assert_false(fits);
    assert_true(p.smem > H100_OPTIN);
    /* an odd H: one block owns every unit */
    p = plan(37, 3, 16, &fits);
    assert_true(fits);
    assert_int_equal(p.C, 1);
    /* more than 256 units per block: refused */
    dr_cuda_lstm_plan big = {.B = 8, .H = 8 * 257};
    assert_false(dr_lstm_plan_cluster(&big));
}

static int check(int B, int H, int resident)
{
    dr_cuda_lstm_plan p = {.B = B, .H = H};
    int lowbit = H & -H, largest = lowbit < DR_LSTM_MAX_CLUSTER ? lowbit : DR_LSTM_MAX_CLUSTER;
    int refuse = H / largest > DR_LSTM_MAX_THREADS; /* a block would own too many units */
    int planned = dr_lstm_plan_cluster(&p);
    if (planned == refuse) {
        printf("  B=%d H=%d: planned %d, expected %d\n", B, H, planned, !refuse);
        return 1;
    }
    if (!planned)
        return 0;
    const int C = p.C, Hc = p.Hc, NG = p.threads / Hc, NB_max = p.NB;
    const size_t smem_max = p.smem;
    int bad = 0;
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (bad++ == 0)                                                                        \
                printf("  B=%d H=%d resident=%d: %s fails\n", B, H, resident, #cond);              \
        }                                                                                          \
    } while (0)
    /* the largest power of two up to 8 dividing H */
    REQUIRE(C == 1 || C == 2 || C == 4 || C == 8);
    REQUIRE(H % C == 0 && (C == DR_LSTM_MAX_CLUSTER || H % (2 * C) != 0));
    REQUIRE(Hc * C == H && Hc <= DR_LSTM_MAX_THREADS);
    /* as many sample groups as a block's threads allow */
    REQUIRE(p.threads % Hc == 0 && p.threads <= DR_LSTM_MAX_THREADS &&
            p.threads + Hc > DR_LSTM_MAX_THREADS);
    REQUIRE(NB_max == (B < NG * DR_LSTM_MAX_S ? B : NG * DR_LSTM_MAX_S));

    dr_lstm_plan_spread(&p, resident);
    REQUIRE(p.ok && p.C == C && p.Hc == Hc);
    REQUIRE(p.NB >= 1 && p.NB <= NB_max);
    /* every sample of a tile has a thread: NG groups of S, S within the registers */
    REQUIRE(p.S >= 1 && p.S <= DR_LSTM_MAX_S && NG * p.S >= p.NB && NG * (p.S - 1) < p.NB);
    /* the tiles cover the batch, none empty, in one wave where the tile allows */
    REQUIRE((long)p.clusters * p.NB >= B && (long)(p.clusters - 1) * p.NB < B);
    REQUIRE((B + resident - 1) / resident > NB_max || p.clusters <= resident);
    /* the padded tile: the backward reads dgs as float4 pairs, DR_LSTM_SB wide */
    REQUIRE(p.NBp % DR_LSTM_SB == 0 && p.NBp >= p.NB && p.NBp < p.NB + DR_LSTM_SB);
    size_t ws = dr_lstm_ws_floats(H, 4 * Hc);
    REQUIRE(ws % 4 == 0 && ws >= (size_t)H * (4 * Hc + 1) && ws < (size_t)H * (4 * Hc + 1) + 4);
    REQUIRE(p.smem == (ws + 2 * (size_t)H * p.NBp + (size_t)4 * Hc * p.NBp) * sizeof(float));
    /* the card was asked about the largest tile's shared memory */
    REQUIRE(p.smem <= smem_max);
    /* the kernels' threads (cluster, group ng) with their live samples handle
     * every sample of the batch once, and none beyond it */
    long seen = 0;
    int in_order = 1;
    for (int k = 0; k < p.clusters; k++) {
        long n0 = (long)k * p.NB;
        for (int ng = 0; ng < NG; ng++) {
            int live = dr_lstm_live_samples(ng, p.S, p.NB, n0, B);
            REQUIRE(live >= 0 && live <= p.S);
            for (int s = 0; s < live; s++) {
                in_order &= n0 + (long)ng * p.S + s == seen;
                seen++;
            }
        }
    }
    REQUIRE(seen == B && in_order);
#undef REQUIRE
    return bad;
}

static void test_invariants(void **state)
{
    (void)state;
    static const int batches[] = {1,  2,   3,   7,   8,   9,    31,   32,   33,  63,
                                  64, 65,  100, 255, 256, 257,  1000, 1024, 1030, 4097};
    static const int residents[] = {1, 2, 3, 5, 16, 33, 132};
    long plans = 0, bad = 0;
    for (int H = 1; H <= 600; H++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
            for (size_t r = 0; r < sizeof residents / sizeof residents[0]; r++) {
                bad += check(batches[b], H, residents[r]);
                plans++;
            }
    /* beyond 8 x 256 units a block would own too many: refused, not planned */
    bad += check(256, 8 * 256, 16) + check(256, 8 * 257, 16);
    printf("  %ld plans checked, %ld with a failed invariant\n", plans, bad);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_shapes),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
