/* Philox 4x32-10 (core/philox.h): the published known-answer vectors, the
 * project's (seed, stream, counter) mapping, the [0, 1) uniforms, and the
 * dropout masks drawn from them (kernels/cpu/activation.c): reproducible for
 * the same (seed, stream, counter), different for another counter or stream,
 * and keeping a binomial fraction 1 - p of the elements. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "core/ops/activation.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* Random123 (D. E. Shaw Research), tests/kat_vectors, the three "philox4x32 10"
 * lines; columns: counter (4 words), key (2 words), expected output (4 words).
 *   philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
 *   philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
 *   philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
 * (the last one's inputs are the hex digits of pi). Looked up in copies of that
 * file in public repositories, several of which agree, not from memory. */
static const struct {
    const char *name;
    uint32_t ctr[4], key[2], want[4];
} k_kat[] = {
    {"zeros", {0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {"ones",
     {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {"pi",
     {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

static void test_known_answers(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t t = 0; t < sizeof k_kat / sizeof k_kat[0]; t++) {
        dr_philox_u4 c;
        memcpy(c.v, k_kat[t].ctr, sizeof c.v);
        dr_philox_u4 r = dr_philox4x32_10(c, k_kat[t].key[0], k_kat[t].key[1]);
        int ok = memcmp(r.v, k_kat[t].want, sizeof r.v) == 0;
        printf("KAT %-5s got %08x %08x %08x %08x want %08x %08x %08x %08x  %s\n", k_kat[t].name,
               r.v[0], r.v[1], r.v[2], r.v[3], k_kat[t].want[0], k_kat[t].want[1], k_kat[t].want[2],
               k_kat[t].want[3], ok ? "ok" : "MISMATCH");
        bad += !ok;
    }
    assert_int_equal(bad, 0);
}

/* The project's convention (core/philox.h): key = seed split low/high, counter =
 * {block, counter low, counter high, stream}; element j of a stream is word j & 3
 * of block j >> 2. Checked against a direct call with the words laid out by hand,
 * with values that use every word's high bits. */
static void test_stream_mapping(void **state)
{
    (void)state;
    const uint64_t seed = 0x0123456789abcdefull, counter = 0xfedcba9876543210ull;
    const uint32_t stream = 0x5eedu;
    int bad = 0;
    for (uint32_t i = 0; i < 5; i++) {
        uint32_t blk = i == 4 ? 0xfffffffeu : i;
        dr_philox_u4 c = {{blk, 0x76543210u, 0xfedcba98u, stream}};
        dr_philox_u4 want = dr_philox4x32_10(c, 0x89abcdefu, 0x01234567u);
        dr_philox_u4 got = dr_philox_block(seed, stream, counter, blk);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        for (uint32_t k = 0; k < 4; k++) {
            uint64_t j = 4ull * blk + k;
            bad += dr_philox_uniform(seed, stream, counter, j) != dr_uniform01(want.v[k]);
        }
    }
    printf("stream mapping (block words and element j -> word j & 3 of block j >> 2): %d mismatches\n",
           bad);
    assert_int_equal(bad, 0);
}

/* dr_uniform01 takes the top 24 bits: 0 -> 0, all ones -> 1 - 2^-24 (< 1), the
 * lowest 8 bits ignored, one step of bit 8 = 2^-24. Then 2^20 draws: all in
 * [0, 1), mean within 5 sigma of 1/2 (sigma = sqrt(1/12 / N) = 2.8e-4). */
static void test_uniform_range(void **state)
{
    (void)state;
    int bad = 0;
    bad += dr_uniform01(0u) != 0.0f;
    bad += dr_uniform01(0xffu) != 0.0f;
    bad += dr_uniform01(0x100u) != 0x1p-24f;
    bad += dr_uniform01(0xffffffffu) != 1.0f - 0x1p-24f;
    bad += !(dr_uniform01(0xffffffffu) < 1.0f);
    printf("uniform01 edge values: %d wrong\n", bad);
    const long N = 1L << 20;
    double sum = 0.0, lo = 1.0, hi = 0.0;
    long out_of_range = 0;
    for (long j = 0; j < N; j++) {
        float u = dr_philox_uniform(tu_seed(), 7, 3, (uint64_t)j);
        out_of_range += !(u >= 0.0f && u < 1.0f);
        sum += u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    double mean = sum / N, sigma = sqrt(1.0 / 12.0 / N);
    printf("2^20 uniforms: min %.3g max %.9g mean %.6f (|mean - 0.5| = %.2f sigma, limit 5), "
           "%ld outside [0, 1)\n",
           lo, hi, mean, fabs(mean - 0.5) / sigma, out_of_range);
    assert_int_equal(bad, 0);
    assert_int_equal(out_of_range, 0);
    assert_true(fabs(mean - 0.5) <= 5.0 * sigma);
}

static long count_diff(const float *a, const float *b, long n)
{
    long d = 0;
    for (long i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

/* Dropout masks: each entry is 0 or 1/(1 - p) and equals the element-wise
 * definition (u_j >= p) / (1 - p) with u_j = dr_philox_uniform(seed, stream,
 * counter, j) (the kernel draws whole blocks of four); the same (seed, stream,
 * counter) gives the same mask bit for bit; another counter or stream a
 * different one: two independent masks differ in a fraction 2 p (1 - p) of the
 * entries, and we require that within 5 sigma too. The kept count is
 * Binomial(n, 1 - p): within 5 sqrt(n p (1 - p)) of n (1 - p). n is odd (not a
 * multiple of the block of 4) and large enough for the band to be tight. */
static void check_dropout_masks(long n, float p)
{
    const uint64_t seed = tu_seed();
    float *x = tu_alloc(n), *out = tu_alloc(n), *m1 = tu_alloc(n), *m2 = tu_alloc(n);
    float *m3 = tu_alloc(n), *m4 = tu_alloc(n);
    tu_fill_uniform(x, n, -1.0f, 1.0f, seed, 1);
    dr_cpu_dropout_forward(tu_cpu(), out, m1, x, n, p, seed, 11, 5);
    dr_cpu_dropout_forward(tu_cpu(), out, m2, x, n, p, seed, 11, 5);
    dr_cpu_dropout_forward(tu_cpu(), out, m3, x, n, p, seed, 11, 6); /* next counter */
    dr_cpu_dropout_forward(tu_cpu(), out, m4, x, n, p, seed, 12, 5); /* next stream */
    const float scale = 1.0f / (1.0f - p);
    long kept = 0, wrong = 0;
    for (long j = 0; j < n; j++) {
        float want = dr_philox_uniform(seed, 11, 5, (uint64_t)j) >= p ? scale : 0.0f;
        wrong += m1[j] != want;
        kept += m1[j] != 0.0f;
    }
    long same_diff = count_diff(m1, m2, n);
    long ctr_diff = count_diff(m1, m3, n), str_diff = count_diff(m1, m4, n);
    double q = 1.0 - p;
    double kept_sigma = sqrt(n * (double)p * q);
    double pd = 2.0 * p * q, diff_sigma = sqrt(n * pd * (1.0 - pd));
    printf("dropout n=%ld p=%.2f: kept %ld, expected %.1f +- 5 * %.1f; %ld entries differ from the "
           "definition; same key: %ld differ; counter+1: %ld differ, stream+1: %ld differ "
           "(expected %.1f +- 5 * %.1f)\n",
           n, (double)p, kept, n * q, kept_sigma, wrong, same_diff, ctr_diff, str_diff, n * pd,
           diff_sigma);
    assert_int_equal(wrong, 0);
    assert_int_equal(same_diff, 0);
    assert_true(fabs(kept - n * q) <= 5.0 * kept_sigma);
    assert_true(fabs(ctr_diff - n * pd) <= 5.0 * diff_sigma);
    assert_true(fabs(str_diff - n * pd) <= 5.0 * diff_sigma);
    free(x), free(out), free(m1), free(m2), free(m3), free(m4);
}

static void test_dropout_masks(void **state)
{
    (void)state;
    check_dropout_masks(100003, 0.5f);
    check_dropout_masks(100003, 0.3f);
    check_dropout_masks(100003, 0.7f);
    check_dropout_masks(4099, 0.1f);
}

/* Edge probabilities: p = 0 keeps everything with mask exactly 1; p = 1 drops
 * everything with mask 0 and no NaN (1 / (1 - p) would be inf). n = 1 and 3
 * cover a partial last block. */
static void test_dropout_edge_p(void **state)
{
    (void)state;
    long sizes[] = {1, 3, 1001};
    long bad = 0;
    for (size_t s = 0; s < 3; s++) {
        long n = sizes[s];
        float *x = tu_alloc(n), *out = tu_alloc(n), *mask = tu_alloc(n);
        tu_fill_uniform(x, n, -1.0f, 1.0f, tu_seed(), 2);
        dr_cpu_dropout_forward(tu_cpu(), out, mask, x, n, 0.0f, 1, 2, 3);
        for (long j = 0; j < n; j++)
            bad += mask[j] != 1.0f || out[j] != x[j];
        dr_cpu_dropout_forward(tu_cpu(), out, mask, x, n, 1.0f, 1, 2, 3);
        for (long j = 0; j < n; j++)
            bad += mask[j] != 0.0f || out[j] != 0.0f;
        free(x), free(out), free(mask);
    }
    printf("dropout p = 0 and p = 1 on n = 1, 3, 1001: %ld wrong entries\n", bad);
    assert_int_equal(bad, 0);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),  cmocka_unit_test(test_stream_mapping),
        cmocka_unit_test(test_uniform_range),  cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_dropout_edge_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
