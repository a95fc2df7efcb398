/* Kernel SHAP (experiments/kernel_shap.c) against answers known by construction:
 *   - a linear model, the closed form phi_j = w_j (x_j - E_b b_j) of
 *     independent inputs, to 1e-9 relative with coalitions drawn at random
 *     (the regression is exact for an additive game whatever the sample);
 *   - a nonlinear model of 7 inputs with every coalition enumerated: the exact
 *     Shapley values by the subset formula, to 1e-9;
 *   - 30 inputs drawn at random: base + sum phi = f(x) to 1e-9, the same seed
 *     the same values bit for bit, another seed other values, and more
 *     coalitions closer to the exact values of an enumerated 12-input game;
 *   - an input equal to every background point's gets exactly 0;
 *   - the coalition weights sum to 1 and an enumeration lists each of the
 *     2^M - 2 coalitions once;
 *   - k-means on two separated clusters finds their shares, each value one
 *     that its input takes; too few coalitions for the regression, an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "experiments/kernel_shap.h"
#include "tests/testutil.h"

enum { NB = 400, MAXP = 32 };

typedef struct model {
    int d;
    const float *loan;
    const dr_kshap_background *bg;
    double w[MAXP], c;
    int nonlinear;
} model;

static double model_at(const model *m, const double *v)
{
    double s = m->c;
    for (int j = 0; j < m->d; j++)
        s += m->w[j] * v[j];
    if (m->nonlinear) /* interactions and a saturation */
        s += 0.7 * v[0] * v[1] - 0.4 * v[2] * v[3] * v[4] + tanh(v[5] + 0.5 * v[6]);
    return s;
}

/* Outputs: the model and twice the model (to check that outputs stay apart). */
static dr_status model_fn(void *ctx, const uint8_t *take, const long *point, long n, double *out)
{
    const model *m = ctx;
    double v[MAXP];
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < m->d; j++)
            v[j] = take[i * m->d + j] ? m->loan[j] : m->bg->x[point[i] * m->d + j];
        out[2 * i] = model_at(m, v);
        out[2 * i + 1] = 2 * out[2 * i];
    }
    return DR_OK;
}

static float train_x[NB * MAXP];

static dr_kshap_background background(int d, long k)
{
    tu_fill_uniform(train_x, NB * d, -1.5f, 1.5f, tu_seed(), 71);
    dr_kshap_background bg;
    assert_int_equal(dr_kshap_kmeans(train_x, NB, d, k, tu_seed(), &bg), DR_OK);
    return bg;
}

static void explain(model *m, long samples, uint64_t seed, double *phi, double *fx)
{
    uint8_t varying[MAXP];
    for (int j = 0; j < m->d; j++) {
        varying[j] = 0;
        for (long b = 0; b < m->bg->k; b++)
            varying[j] |= m->bg->x[b * m->d + j] != m->loan[j];
    }
    dr_kshap_game g = {.players = m->d, .n_out = 2, .varying = varying, .bg = m->bg, .f = model_fn, .ctx = m};
    assert_int_equal(dr_kernel_shap(&g, samples, seed, phi, fx), DR_OK);
}

static void weights(model *m, uint64_t seed)
{
    for (int j = 0; j < m->d; j++)
        m->w[j] = dr_philox_uniform(seed, 72, 0, (uint64_t)j) * 2 - 1;
    m->c = 0.3;
}

/* A d-input game: a background of k points, a random loan (stream), the model
 * with weights of seed tu_seed() + stream. */
static model game(int d, long k, uint32_t stream, int nonlinear, dr_kshap_background *bg, float *loan)
{
    *bg = background(d, k);
    tu_fill_uniform(loan, d, -2, 2, tu_seed(), stream);
    model m = {.d = d, .loan = loan, .bg = bg, .nonlinear = nonlinear};
    weights(&m, tu_seed() + stream);
    return m;
}

static void test_linear_closed_form(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[30];
    model m = game(30, 10, 73, 0, &bg, loan);
    double phi[2 * 31], fx[2], worst = 0;
    explain(&m, 2 * 30 + 2048, tu_seed(), phi, fx);
    for (int j = 0; j < 30; j++) {
        double mean = 0;
        for (long b = 0; b < bg.k; b++)
            mean += bg.w[b] * bg.x[b * 30 + j];
        double want = m.w[j] * (loan[j] - mean);
        worst = fmax(worst, fabs(phi[j] - want) / fmax(1, fabs(want)));
        assert_true(fabs(phi[31 + j] - 2 * phi[j]) <= 1e-9 * fmax(1, fabs(phi[j])));
    }
    printf("linear model, 30 inputs, 2108 coalitions drawn: largest error against w_j (x_j - E b_j) %.2e\n", worst);
    assert_true(worst <= 1e-9);
    dr_kshap_background_free(&bg);
}

/* v(S) = E_b f(x_S, b), S a bit set. */
static double game_value(const model *m, unsigned S)
{
    double v[MAXP], sum = 0;
    for (long b = 0; b < m->bg->k; b++) {
        for (int j = 0; j < m->d; j++)
            v[j] = S >> j & 1 ? m->loan[j] : m->bg->x[b * m->d + j];
        sum += m->bg->w[b] * model_at(m, v);
    }
    return sum;
}

static void exact_shapley(const model *m, double *out)
{
    int d = m->d;
    double fact[MAXP + 1] = {1};
    for (int i = 1; i <= d; i++)
        fact[i] = fact[i - 1] * i;
    for (int j = 0; j < d; j++) {
        out[j] = 0;
        for (unsigned S = 0; S < 1u << d; S++) {
            if (S >> j & 1)
                continue;
            int s = __builtin_popcount(S);
            out[j] += fact[s] * fact[d - s - 1] / fact[d] * (game_value(m, S | 1u << j) - game_value(m, S));
        }
    }
}

static void test_enumerated_is_exact(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[7];
    model m = game(7, 8, 74, 1, &bg, loan);
    double phi[2 * 8], fx[2], want[7], worst = 0;
    explain(&m, 2048, tu_seed(), phi, fx);
    exact_shapley(&m, want);
    for (int j = 0; j < 7; j++)
        worst = fmax(worst, fabs(phi[j] - want[j]));
    printf("nonlinear model, 7 inputs, all 126 coalitions: largest error against the Shapley formula %.2e\n", worst);
    assert_true(worst <= 1e-9);
    dr_kshap_background_free(&bg);
}

static void test_sampled_additive_and_seeded(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[30];
    model m = game(30, 10, 75, 1, &bg, loan);
    double a[2 * 31], b[2 * 31], c[2 * 31], fx[2];
    explain(&m, 500, 11, a, fx);
    explain(&m, 500, 11, b, fx);
    explain(&m, 500, 12, c, fx);
    double sum = a[30];
    for (int j = 0; j < 30; j++)
        sum += a[j];
    printf("30 inputs, 500 coalitions: |base + sum - f(x)| %.2e\n", fabs(sum - fx[0]));
    assert_true(fabs(sum - fx[0]) <= 1e-9 * fmax(1, fabs(fx[0])));
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    dr_kshap_background_free(&bg);
}

static void test_converges_to_exact(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[12];
    model m = game(12, 6, 76, 1, &bg, loan);
    double exact[2 * 13], phi[2 * 13], fx[2], err[2];
    explain(&m, 4094, 1, exact, fx);
    const long samples[2] = {100, 2000};
    for (int t = 0; t < 2; t++) {
        err[t] = 0;
        for (uint64_t seed = 1; seed <= 8; seed++) { /* mean over seeds: one draw can be lucky */
            explain(&m, samples[t], 100 + seed, phi, fx);
            for (int j = 0; j < 12; j++)
                err[t] += fabs(phi[j] - exact[j]) / 96;
        }
    }
    printf("12 inputs: mean error against the enumeration %.2e with 100 coalitions, %.2e with 2000\n", err[0],
           err[1]);
    assert_true(err[1] < err[0]);
    dr_kshap_background_free(&bg);
}

static void test_constant_input_gets_zero(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[8];
    model m = game(8, 5, 77, 1, &bg, loan);
    for (long b = 0; b < bg.k; b++)
        bg.x[b * 8 + 3] = 0.25f;
    loan[3] = 0.25f;
    double phi[2 * 9], fx[2];
    explain(&m, 40, 5, phi, fx);
    assert_true(phi[3] == 0.0);
    dr_kshap_background_free(&bg);
}

static void test_design(void **state)
{
    (void)state;
    uint8_t *z;
    double *w;
    long n;
    assert_int_equal(dr_kshap_design(10, 5000, 1, &z, &w, &n), DR_OK);
    assert_int_equal(n, 1022);
    unsigned char seen[1024] = {0};
    double total = 0;
    for (long i = 0; i < n; i++) {
        unsigned code = 0;
        for (int j = 0; j < 10; j++)
            code |= (unsigned)z[i * 10 + j] << j;
        assert_true(code != 0 && code != 1023 && !seen[code]);
        seen[code] = 1;
        total += w[i];
    }
    assert_true(fabs(total - 1) < 1e-12);
    free(z), free(w);
    assert_int_equal(dr_kshap_design(40, 300, 1, &z, &w, &n), DR_OK);
    total = 0;
    for (long i = 0; i < n; i++)
        total += w[i];
    assert_true(n <= 300 && fabs(total - 1) < 1e-12);
    free(z), free(w);
}

static void test_kmeans_two_clusters(void **state)
{
    (void)state;
    enum { N = 300, D = 3 };
    float x[N * D];
    tu_fill_uniform(x, N * D, -0.1f, 0.1f, tu_seed(), 78);
    for (long r = 0; r < 100; r++) /* a third of the rows far away */
        for (int j = 0; j < D; j++)
            x[r * D + j] += 10;
    dr_kshap_background bg;
    assert_int_equal(dr_kshap_kmeans(x, N, D, 2, tu_seed(), &bg), DR_OK);
    assert_int_equal(bg.k, 2);
    double far = bg.x[0] > 5 ? bg.w[0] : bg.w[1];
    assert_true(fabs(far - 1.0 / 3) < 1e-12 && fabs(bg.w[0] + bg.w[1] - 1) < 1e-12);
    for (long i = 0; i < 2; i++)
        for (int j = 0; j < D; j++) {
            int found = 0;
            for (long r = 0; r < N; r++)
                found |= x[r * D + j] == bg.x[i * D + j];
            assert_true(found);
        }
    dr_kshap_background_free(&bg);
    assert_int_equal(dr_kshap_kmeans(x, N, D, N + 1, 1, &bg), DR_ERR_INVALID);
}

static void test_too_few_coalitions(void **state)
{
    (void)state;
    dr_kshap_background bg;
    float loan[20];
    model m = game(20, 5, 79, 1, &bg, loan);
    uint8_t varying[20];
    memset(varying, 1, sizeof varying);
    double phi[2 * 21], fx[2];
    dr_kshap_game g = {.players = 20, .n_out = 2, .varying = varying, .bg = &bg, .f = model_fn, .ctx = &m};
    assert_int_equal(dr_kernel_shap(&g, 5, 1, phi, fx), DR_ERR_NUMERIC);
    printf("5 coalitions for 20 inputs: %s\n", dr_last_error());
    dr_kshap_background_free(&bg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_closed_form),   cmocka_unit_test(test_enumerated_is_exact),
        cmocka_unit_test(test_sampled_additive_and_seeded), cmocka_unit_test(test_converges_to_exact),
        cmocka_unit_test(test_constant_input_gets_zero), cmocka_unit_test(test_design),
        cmocka_unit_test(test_kmeans_two_clusters),  cmocka_unit_test(test_too_few_coalitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
