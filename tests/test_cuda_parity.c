/* CUDA against CPU, op by op: for every op of the op table, fresh random inputs
 * (seeded from tu_seed(), i.e. $DR_TEST_SEED), the CUDA kernel's result against
 * the CPU kernel's, forward and every backward output, on tiny and odd shapes.
 * Outputs start as NaN on both sides (a kernel that writes nothing cannot pass);
 * accumulated gradients start from the same random values on both sides (checks
 * the += contract). Every check prints what it measured.
 *
 * Tolerances, with u = 2^-24 (fp32 unit roundoff):
 *   - data movement, relu, dropout, maxpool, add, axpy: exact. The CUDA library
 *     is built with --fmad=false, so a single IEEE operation rounds as on the CPU
 *     (GCC does not contract in ISO C mode).
 *   - element-wise math through libm (sigmoid, loss, Adam): relative 1e-5
 *     (device expf / log1pf / powf are within 2 ulp of glibc's; a few of them
 *     composed stay far below 1e-5 = 168 ulp).
 *   - GEMM-shaped outputs (linear, conv1d): per element
 *       |cuda - cpu| <= 2 gamma(K) S,   gamma(K) = K u / (1 - K u)
 *     where S = the same op run on |inputs| (sum of |terms|, accumulator
 *     included) and K the number of terms: the classical bound on any order of
 *     summation, for each backend, hence the 2. Rigorous, and tight enough that a
 *     lost or doubled term (an error of order one term) fails.
 *   - compositions (batchnorm, LSTM, attention): normalised max error
 *     max|cuda - cpu| / max|cpu| against a bound stated at each check: the sum of
 *     the per-stage gamma(K) along the longest chain of sums, times 16 for the
 *     amplification through the nonlinearities (sigmoid' <= 1/4, tanh' <= 1) and
 *     the weights (PyTorch's initial scale U(-1/sqrt(H), 1/sqrt(H)): gains O(1)).
 * test_step_graphs and test_train_step_graphs run training steps replayed from
 * CUDA graphs against the same steps op by op on CUDA: epoch losses, weights,
 * Adam moments and batch-norm statistics to 1e-5 relative; also the device-side
 * step state (dropout counter, Adam t) after the replays, and the step a
 * non-finite loss is reported at. test_cpu_cuda_steps trains the same network
 * from the same seed on the CPU and on CUDA: every epoch's loss to 1e-4 relative.
 * conv1d has two implementations on CUDA (dr_cuda_backend_set_impl, the
 * experiment key cuda.conv1d): test_conv1d runs its cases with the custom
 * kernels, test_conv1d_cudnn the same cases with the same bounds through
 * cuDNN, and test_step_graphs_cudnn repeats test_step_graphs with cuDNN's
 * conv1d and LSTM inside the captured steps. Without cuDNN in the build those print
 * "SKIPPED: this build has no cuDNN" (a failure with DR_REQUIRE_CUDNN=1).
 * test_impl_choice_cuda checks the implementation lines, the refusals, and
 * that a cuDNN conv1d shape first seen inside a capture fails that capture.
 * The LSTM has three implementations on CUDA (cuda.lstm): test_lstm runs its
 * cases with the persistent cluster kernel ("custom", falling back per step
 * where a shape does not fit; on sm_90 and later it must fit the paper's
 * shapes) and step by step ("steps"), each also twice more
 * on the GPU to check that the results repeat bit for bit; test_lstm_cudnn the
 * same cases through cuDNN (h and the gradients; cuDNN writes no c or gates).
 * test_math runs linear, conv1d, LSTM and attention cases with cuBLAS on TF32
 * and bf16 tensor cores (cuda.math), with the tolerances stated at math_cases.
 * test_op_table checks that dr_cuda_ops names the CUDA function of every op, and
 * test_impl_choice_cpu the CPU's refusals; they need no GPU and run everywhere.
 * Without a usable GPU every other test prints "SKIPPED: no usable CUDA device: <why>"
 * and is skipped (exit 0), unless DR_REQUIRE_CUDA=1 (bench/gpu_check.sh), which
 * makes it a failure; a build without CUDA prints that and skips (or fails with
 * DR_REQUIRE_CUDA=1). DR_TEST_CUDA_DEVICE=N picks the GPU (default 0). */
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/op_table.h"
#include "experiments/train.h"
#include "models/hybrid.h"

/* The implementation choice on the CPU (needs no GPU, runs in every build):
 * only "custom", and anything else is refused with the reason. */
static void test_impl_choice_cpu(void **state)
{
    (void)state;
    dr_backend *cpu = tu_cpu();
    assert_string_equal(dr_backend_get_impl(cpu, "conv1d"), "custom");
    assert_null(dr_backend_get_impl(cpu, "maxpool1d"));
    assert_int_equal(dr_backend_set_impl(cpu, "conv1d", "custom"), DR_OK);
    dr_status s = dr_backend_set_impl(cpu, "conv1d", "cudnn");
    printf("  cpu: set_impl(conv1d, cudnn) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "only \"custom\""));
    s = dr_backend_set_impl(cpu, "conv2d", "custom");
    printf("  cpu: set_impl(conv2d, custom) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    assert_string_equal(dr_backend_get_impl(cpu, "conv1d"), "custom");
    assert_int_equal(dr_backend_set_impl(cpu, "lstm", "custom"), DR_OK);
    s = dr_backend_set_impl(cpu, "lstm", "steps");
    printf("  cpu: set_impl(lstm, steps) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    assert_string_equal(dr_backend_get_impl(cpu, "lstm"), "custom");
    assert_string_equal(dr_backend_get_math(cpu), "fp32");
    s = dr_backend_set_math(cpu, "tf32");
    printf("  cpu: set_math(tf32) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
}

#ifndef DR_HAVE_CUDA

static void test_no_cuda_backend(void **state)
{
    (void)state;
    const char *req = getenv("DR_REQUIRE_CUDA");
    if (req && *req && strcmp(req, "0") != 0) {
        printf("FAILED: DR_REQUIRE_CUDA is set but this build has no CUDA backend\n");
        fail();
    }
    printf("SKIPPED: this build has no CUDA backend (nvcc not found at configure time, or "
           "-DDR_CUDA=OFF)\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_impl_choice_cpu),
                                       cmocka_unit_test(test_no_cuda_backend)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* DR_HAVE_CUDA */

#include "kernels/cuda_backend.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops.h"

static dr_backend g_gpu = {.iface = &dr_cuda_backend, .ops = &dr_cuda_ops};
static int g_ready, g_required;
static char g_why[600];
static uint32_t g_stream = 1000; /* a fresh Philox stream for every random array */

static const double U = 1.0 / 16777216.0; /* 2^-24 */

static double gamma_k(double k) { return k * U / (1.0 - k * U); }

static int group_setup(void **state)
{
    (void)state;
    tu_seed();
    const char *dev = getenv("DR_TEST_CUDA_DEVICE");
    int idx = dev && *dev ? atoi(dev) : 0;
    if (dr_cuda_backend_init(&g_gpu, idx) != DR_OK) {
        const char *why = dr_last_error();
        const char *prefix = "no usable CUDA device: ";
        if (strncmp(why, prefix, strlen(prefix)) == 0)
            why += strlen(prefix);
        snprintf(g_why, sizeof g_why, "%s", why);
        /* bench/gpu_check.sh sets DR_REQUIRE_CUDA=1: there a missing GPU is a
         * failure, not a skip */
        const char *req = getenv("DR_REQUIRE_CUDA");
        g_required = req && *req && strcmp(req, "0") != 0;
        printf("%s: no usable CUDA device: %s\n", g_required ? "FAILED" : "SKIPPED", g_why);
        return 0; /* the tests skip one by one, so CI stays green */
    }
    g_ready = 1;
    printf("device: %s\n", dr_cuda_backend_describe(&g_gpu));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_ready)
        dr_cuda_backend_release(&g_gpu);
    return 0;
}

#define NEED_GPU()                                                          \
    do {                                                                    \
        if (!g_ready && g_required) {                                       \
            printf("FAILED: DR_REQUIRE_CUDA is set but there is no usable "  \
                   "CUDA device: %s\n", g_why);                              \
            fail();                                                         \
        }                                                                   \
        if (!g_ready) {                                                     \
            printf("SKIPPED: no usable CUDA device: %s\n", g_why);          \
            skip();                                                         \
            return;                                                         \
        }                                                                   \
    } while (0)

/* --- buffers: a host copy (the CPU's) and a device copy (the GPU's) ------- */

typedef struct pair {
    float *h, *d;
    long n;
} pair;

static float *host_rnd(long n, float lo, float hi)
{
    float *p = tu_alloc(n);
    tu_fill_uniform(p, n, lo, hi, tu_seed(), g_stream++);
    return p;
}

static float *dev_from(const float *h, long n)
{
    float *d = dr_cuda_alloc(&g_gpu, (size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!d)
        printf("  alloc failed: %s\n", dr_last_error());
    assert_non_null(d);
    dr_cuda_to_device(&g_gpu, d, h, (size_t)n * sizeof(float));
    return d;
}

/* The mantissa bits p_rnd rounds its values to (0: none; test_math sets it). */
static int g_round_bits;

/* x rounded to nearest (ties to even) with `bits` explicit mantissa bits */
static float round_mantissa(float x, int bits)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    int drop = 23 - bits;
    u = (u + (1u << (drop - 1)) - 1 + ((u >> drop) & 1)) & ~((1u << drop) - 1);
    memcpy(&x, &u, sizeof x);
    return x;
}

/* same random values on both sides */
static pair p_rnd(long n, float lo, float hi)
{
    pair p = {host_rnd(n, lo, hi), NULL, n};
    for (long i = 0; g_round_bits && i < n; i++)
        p.h[i] = round_mantissa(p.h[i], g_round_bits);
    p.d = dev_from(p.h, n);
    return p;
}

/* NaN on both sides: an output */
static pair p_nan(long n)
{
    pair p = {tu_alloc(n), NULL, n};
    p.d = dev_from(p.h, n);
    return p;
}

/* the device side, copied back (after a checked sync) */
static float *p_get(const pair *p)
{
    dr_status s = dr_cuda_backend_sync(&g_gpu);
    if (s != DR_OK)
        printf("  device error: %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    float *h = tu_alloc(p->n);
    dr_cuda_to_host(&g_gpu, h, p->d, (size_t)p->n * sizeof(float));
    assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
    return h;
}

static void p_free(pair *p)
{
    free(p->h);
    dr_cuda_free(&g_gpu, p->d);
    p->h = NULL;
    p->d = NULL;
}

static float *abs_copy(const float *x, long n)
{
    float *a = tu_alloc(n);
    for (long i = 0; i < n; i++)
        a[i] = fabsf(x[i]);
    return a;
}

/* --- comparisons: each prints its measurement and returns the bad count --- */

static long cmp_exact(const char *what, const pair *p)
{
    float *got = p_get(p);
    long bad = 0;
    for (long i = 0; i < p->n; i++)
        if (memcmp(&got[i], &p->h[i], sizeof(float)) != 0 && !(got[i] == p->h[i])) {
            if (bad < 5)
                printf("  %s[%ld]: cuda %.9g cpu %.9g\n", what, i, got[i], p->h[i]);
            bad++;
        }
    printf("  %-26s n=%-7ld exact: %ld mismatches\n", what, p->n, bad);
    free(got);
    return bad;
}

/* |cuda - cpu| <= rtol |cpu| + atol per element */
static long cmp_elem(const char *what, const pair *p, double rtol, double atol)
{
    float *got = p_get(p);
    double worst = 0.0;
    for (long i = 0; i < p->n; i++) {
        double d = fabs((double)got[i] - p->h[i]);
        double r = d / fmax(fabs((double)p->h[i]), 1e-30);
        if (d > atol && r > worst)
            worst = r;
    }
    long bad = tu_compare(what, got, p->h, p->n, atol, rtol);
    printf("  %-26s n=%-7ld max rel err %.3e (rtol %.1e, atol %.1e)\n", what, p->n, worst, rtol,
           atol);
    free(got);
    return bad;
}

/* The GEMMs' math under test: the explicit mantissa bits b the tensor cores
 * keep of each operand (TF32 10, bf16 7; 0 for fp32, test_math sets it). */
static int g_math_bits;

/* The relative error b-bit operands add to each product: both rounded (or
 * truncated) to b bits, 2 x 2^-b and its square, bounded by 1.01 x 2^(1-b). */
static double math_term(void) { return g_math_bits ? 1.01 * ldexp(1.0, 1 - g_math_bits) : 0.0; }

/* The normalised error a chain of n GEMM stages adds: a working tolerance, not
 * a proof: 16 u sqrt(n) with u = 2^-(b+1), about ten times the rounding-error
 * model's estimate (each stage ~u relative, as the rounding of independent
 * operands adds in quadrature). */
static double math_chain(double n)
{
    return g_math_bits ? 16.0 * ldexp(1.0, -g_math_bits - 1) * sqrt(n) : 0.0;
}

/* |cuda - cpu| <= (2 gamma(K) + math_term()) S[i] (see the top of the file) */

static long cmp_bound(const char *what, const pair *p, const float *S, double K)
{
    float *got = p_get(p);
    double g2 = 2.0 * gamma_k(K) + math_term(), worst = 0.0;
    long bad = 0;
    for (long i = 0; i < p->n; i++) {
        double d = fabs((double)got[i] - p->h[i]);
        double tol = g2 * S[i] + 1e-37;
        if (!(d <= tol)) {
            if (bad < 5)
                printf("  %s[%ld]: cuda %.9g cpu %.9g (diff %.3g > bound %.3g)\n", what, i, got[i],
                       p->h[i], d, tol);
            bad++;
        }
        if (d / tol > worst)
            worst = d / tol;
    }
    char term[32] = "";
    if (g_math_bits)
        snprintf(term, sizeof term, " + 1.01 x 2^%d", 1 - g_math_bits);
    printf("  %-26s n=%-7ld max err = %.3f of the bound (2 gamma(%g)%s) S; %ld outside\n", what,
           p->n, worst, K, term, bad);
    free(got);
    return bad;
}

/* max|cuda - cpu| / max|cpu| <= tol */
static long cmp_norm(const char *what, const pair *p, double tol)
{
    float *got = p_get(p);
    double dmax = 0.0, ref = 0.0;
    long nan = 0, at = -1;
    for (long i = 0; i < p->n; i++) {
        if (isnan(got[i]) != isnan(p->h[i]))
            nan++;
        double d = fabs((double)got[i] - p->h[i]);
        if (d > dmax) {
            dmax = d;
            at = i;
        }
        ref = fmax(ref, fabs((double)p->h[i]));
    }
    double e = dmax / fmax(ref, 1e-30);
    long bad = nan + (e <= tol ? 0 : 1);
    printf("  %-26s n=%-7ld normalised max err %.3e (tol %.3e)%s\n", what, p->n, e, tol,
           bad ? "  FAIL" : "");
    if (bad && at >= 0)
        printf("    worst at %ld: cuda %.9g cpu %.9g; %ld NaN mismatches\n", at, got[at], p->h[at],
               nan);
    free(got);
    return bad;
}

/* --- the op table (needs no GPU) --------------------------------------------- */

/* Every entry of dr_cuda_ops is the CUDA function of that op: a field left out
 * of the designated initialiser would be NULL, a wrong one a CPU function. */
static void test_op_table(void **state)
{
    (void)state;
    const dr_op_table *t = &dr_cuda_ops;
    int bad = 0;
#define OP(field, fn)                                                          \
    if (t->field != fn) {                                                      \
        printf("  dr_cuda_ops.%s is not %s\n", #field, #fn);                   \
        bad++;                                                                 \
    }
    OP(alloc, dr_cuda_alloc) OP(free, dr_cuda_free) OP(zero, dr_cuda_zero)
    OP(to_device, dr_cuda_to_device) OP(to_host, dr_cuda_to_host) OP(copy, dr_cuda_copy)
    OP(linear_forward, dr_cuda_linear_forward) OP(linear_backward, dr_cuda_linear_backward)
    OP(conv1d_scratch, dr_cuda_conv1d_scratch)
    OP(conv1d_forward, dr_cuda_conv1d_forward) OP(conv1d_backward, dr_cuda_conv1d_backward)
    OP(maxpool1d_forward, dr_cuda_maxpool1d_forward)
    OP(maxpool1d_backward, dr_cuda_maxpool1d_backward)
    OP(batchnorm_forward_train, dr_cuda_batchnorm_forward_train)
    OP(batchnorm_forward_eval, dr_cuda_batchnorm_forward_eval)
    OP(batchnorm_backward, dr_cuda_batchnorm_backward)
    OP(batchnorm_backward_eval, dr_cuda_batchnorm_backward_eval)
    OP(relu_forward, dr_cuda_relu_forward) OP(relu_backward, dr_cuda_relu_backward)
    OP(sigmoid_forward, dr_cuda_sigmoid_forward) OP(dropout_forward, dr_cuda_dropout_forward)
    OP(dropout_backward, dr_cuda_dropout_backward) OP(copy2d, dr_cuda_copy2d)
    OP(add, dr_cuda_add) OP(axpy, dr_cuda_axpy) OP(transpose, dr_cuda_transpose)
    OP(lstm_forward, dr_cuda_lstm_forward) OP(lstm_backward, dr_cuda_lstm_backward)
    OP(attention_forward, dr_cuda_attention_forward)
    OP(attention_backward, dr_cuda_attention_backward)
    OP(loss_forward, dr_cuda_loss_forward) OP(loss_backward, dr_cuda_loss_backward)
    OP(adam_update, dr_cuda_adam_update) OP(step, &dr_cuda_step_ops)
    OP(step->to_device_async, dr_cuda_to_device_async)
    OP(step->metrics_add, dr_cuda_step_metrics_add)
    OP(step->capture_begin, dr_cuda_step_capture_begin)
    OP(step->capture_end, dr_cuda_step_capture_end) OP(step->replay, dr_cuda_step_replay)
    OP(step->graph_free, dr_cuda_step_graph_free)
#undef OP
    printf("  dr_cuda_ops \"%s\": 39 entries checked, %d wrong\n", t->name, bad);
    assert_string_equal(t->name, "cuda");
    assert_int_equal(bad, 0);
}

/* --- memory ----------------------------------------------------------------- */

static void test_memory(void **state)
{
    (void)state;
    NEED_GPU();
    const long n = 1001;
    pair a = p_rnd(n, -3.0f, 3.0f), b = p_nan(n);
    dr_cuda_copy(&g_gpu, b.d, a.d, (size_t)n * sizeof(float));
    memcpy(b.h, a.h, (size_t)n * sizeof(float));
    long bad = cmp_exact("to_device/copy/to_host", &b);
    dr_cuda_zero(&g_gpu, b.d, (size_t)n * sizeof(float));
    memset(b.h, 0, (size_t)n * sizeof(float));
    bad += cmp_exact("zero", &b);
    /* an impossible allocation: NULL with a message, and not a device error */
    dr_error_clear();
    void *huge = dr_cuda_alloc(&g_gpu, (size_t)1 << 52);
    printf("  alloc of 4 PiB: %s (%s)\n", huge ? "succeeded?!" : "NULL", dr_last_error());
    assert_null(huge);
    assert_non_null(strstr(dr_last_error(), "cudaMalloc"));
    assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
    p_free(&a);
    p_free(&b);
    assert_int_equal(bad, 0);
}

/* --- linear ------------------------------------------------------------------ */

static long linear_case(int B, int C, int OC, int bias, int want_dx)
{
    dr_backend *cpu = tu_cpu();
    printf(" linear B=%d C=%d OC=%d bias=%d dx=%d\n", B, C, OC, bias, want_dx);
    pair x = p_rnd((long)B * C, -1, 1), w = p_rnd((long)OC * C, -1, 1), b = p_rnd(OC, -1, 1);
    pair out = p_nan((long)B * OC);
    dr_cpu_linear_forward(cpu, out.h, x.h, w.h, bias ? b.h : NULL, B, C, OC);
    dr_cuda_linear_forward(&g_gpu, out.d, x.d, w.d, bias ? b.d : NULL, B, C, OC);
    float *ax = abs_copy(x.h, x.n), *aw = abs_copy(w.h, w.n), *ab = abs_copy(b.h, b.n);
    float *S = tu_alloc(out.n);
    dr_cpu_linear_forward(cpu, S, ax, aw, bias ? ab : NULL, B, C, OC);
    long bad = cmp_bound("linear out", &out, S, C + 2);
    free(S);

    pair dout = p_rnd(out.n, -1, 1);
    pair dx = p_rnd(x.n, -1, 1), dw = p_rnd(w.n, -1, 1), db = p_rnd(OC, -1, 1);
    float *Sdx = abs_copy(dx.h, dx.n), *Sdw = abs_copy(dw.h, dw.n), *Sdb = abs_copy(db.h, db.n);
    float *adout = abs_copy(dout.h, dout.n);
    dr_cpu_linear_backward(cpu, want_dx ? dx.h : NULL, dw.h, bias ? db.h : NULL, dout.h, x.h, w.h,
                           B, C, OC);
    dr_cuda_linear_backward(&g_gpu, want_dx ? dx.d : NULL, dw.d, bias ? db.d : NULL, dout.d, x.d,
                            w.d, B, C, OC);
    dr_cpu_linear_backward(cpu, Sdx, Sdw, Sdb, adout, ax, aw, B, C, OC);
    /* without dx / db the accumulators must come back untouched */
    bad += want_dx ? cmp_bound("linear dx", &dx, Sdx, OC + 2) : cmp_exact("linear dx (NULL)", &dx);
    bad += cmp_bound("linear dw", &dw, Sdw, B + 2);
    bad += bias ? cmp_bound("linear db", &db, Sdb, B + 2) : cmp_exact("linear db (NULL)", &db);
    free(Sdx), free(Sdw), free(Sdb), free(adout), free(ax), free(aw), free(ab);
    p_free(&x), p_free(&w), p_free(&b), p_free(&out), p_free(&dout), p_free(&dx), p_free(&dw),
        p_free(&db);
    return bad;
}

static void test_linear(void **state)
{
    (void)state;
    NEED_GPU();
    long bad = linear_case(5, 7, 3, 1, 1);
    bad += linear_case(1, 1, 1, 1, 1);
    bad += linear_case(64, 130, 33, 0, 0);
    bad += linear_case(256, 256, 128, 1, 1);
    assert_int_equal(bad, 0);
}

/* --- conv1d ------------------------------------------------------------------ */

static long conv_case(int B, int Cin, int Cout, int L, int K, int bias, int want_dx)
{
    dr_backend *cpu = tu_cpu();
    printf(" conv1d B=%d Cin=%d Cout=%d L=%d K=%d bias=%d dx=%d\n", B, Cin, Cout, L, K, bias,
           want_dx);
    long nx = (long)B * Cin * L, nw = (long)Cout * Cin * K, no = (long)B * Cout * L;
    size_t ns_cpu = dr_cpu_conv1d_scratch(B, Cin, Cout, L, K);
    size_t ns_cuda = dr_cuda_conv1d_scratch(B, Cin, Cout, L, K);
    long ns = (long)(ns_cpu > ns_cuda ? ns_cpu : ns_cuda); /* one pair serves both */
    pair x = p_rnd(nx, -1, 1), w = p_rnd(nw, -1, 1), b = p_rnd(Cout, -1, 1), out = p_nan(no);
    pair scr = p_nan(ns);
    dr_cpu_conv1d_forward(cpu, out.h, scr.h, x.h, w.h, bias ? b.h : NULL, B, Cin, Cout, L, K);
    dr_cuda_conv1d_forward(&g_gpu, out.d, scr.d, x.d, w.d, bias ? b.d : NULL, B, Cin, Cout, L, K);
    float *ax = abs_copy(x.h, nx), *aw = abs_copy(w.h, nw), *ab = abs_copy(b.h, Cout);
    float *S = tu_alloc(no);
    dr_cpu_conv1d_forward(cpu, S, scr.h, ax, aw, bias ? ab : NULL, B, Cin, Cout, L, K);
    long bad = cmp_bound("conv1d out", &out, S, (double)Cin * K + 2);
    free(S);

    pair dout = p_rnd(no, -1, 1);
    pair dx = p_rnd(nx, -1, 1), dw = p_rnd(nw, -1, 1), db = p_rnd(Cout, -1, 1);
    float *Sdx = abs_copy(dx.h, nx), *Sdw = abs_copy(dw.h, nw), *Sdb = abs_copy(db.h, Cout);
    float *adout = abs_copy(dout.h, no);
    dr_cpu_conv1d_backward(cpu, want_dx ? dx.h : NULL, dw.h, bias ? db.h : NULL, scr.h, dout.h,
                           x.h, w.h, B, Cin, Cout, L, K);
    dr_cuda_conv1d_backward(&g_gpu, want_dx ? dx.d : NULL, dw.d, bias ? db.d : NULL, scr.d, dout.d,
                            x.d, w.d, B, Cin, Cout, L, K);
    dr_cpu_conv1d_backward(cpu, Sdx, Sdw, Sdb, scr.h, adout, ax, aw, B, Cin, Cout, L, K);
    bad += want_dx ? cmp_bound("conv1d dx", &dx, Sdx, (double)Cout * K + 2)
                   : cmp_exact("conv1d dx (NULL)", &dx);
    bad += cmp_bound("conv1d dw", &dw, Sdw, (double)B * L + 2);
    bad += bias ? cmp_bound("conv1d db", &db, Sdb, (double)B * L + 2)
                : cmp_exact("conv1d db (NULL)", &db);
    free(Sdx), free(Sdw), free(Sdb), free(adout), free(ax), free(aw), free(ab);
    p_free(&x), p_free(&w), p_free(&b), p_free(&out), p_free(&scr), p_free(&dout), p_free(&dx),
        p_free(&dw), p_free(&db);
    return bad;
}

/* The conv1d cases with the backend's conv1d implementation set to impl (the
 * kernels are the same op-table entries); the choice is restored after. */
static long conv_cases(const char *impl)
{
    const char *was = dr_cuda_backend_get_impl(&g_gpu, "conv1d");
    dr_status s = dr_cuda_backend_set_impl(&g_gpu, "conv1d", impl);
    if (s != DR_OK)
        printf("  set_impl(conv1d, %s): %s\n", impl, dr_last_error());
    assert_int_equal(s, DR_OK);
    printf(" conv1d implementation \"%s\"\n", dr_cuda_backend_get_impl(&g_gpu, "conv1d"));
    long bad = conv_case(3, 4, 5, 7, 3, 1, 1);
    bad += conv_case(3, 4, 5, 7, 3, 0, 0); /* the same shape again (cuDNN: its cached plan) */
    bad += conv_case(2, 3, 4, 6, 4, 0, 1); /* even K: asymmetric padding */
    bad += conv_case(3, 5, 6, 9, 2, 1, 1); /* even K = 2: right pad only */
    bad += conv_case(2, 2, 3, 1, 2, 1, 1); /* even K, L = 1 */
    bad += conv_case(2, 3, 2, 2, 6, 1, 1); /* even K wider than the input */
    bad += conv_case(2, 3, 2, 3, 7, 1, 1); /* odd K wider than the input */
    bad += conv_case(4, 2, 3, 1, 3, 1, 0); /* L = 1 */
    bad += conv_case(2, 1, 1, 5, 1, 1, 1); /* K = 1 */
    bad += conv_case(16, 64, 128, 20, 3, 1, 1);
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "conv1d", was), DR_OK);
    return bad;
}

static void test_conv1d(void **state)
{
    (void)state;
    NEED_GPU();
    assert_int_equal(conv_cases("custom"), 0);
}

/* cuDNN's conv1d against the CPU, with the same cases and bounds. A build
 * without cuDNN skips, unless DR_REQUIRE_CUDNN=1. */
#define NEED_CUDNN()                                                                    \
    do {                                                                                \
        if (!dr_cuda_have_cudnn()) {                                                    \
            const char *r_ = getenv("DR_REQUIRE_CUDNN");                                \
            int req_ = r_ && *r_ && strcmp(r_, "0") != 0;                               \
            printf("%s: this build has no cuDNN (CMake found no libcudnn; see "        \
                   "CUDNN_ROOT in CMakeLists.txt)\n", req_ ? "FAILED" : "SKIPPED");    \
            if (req_)                                                                   \
                fail();                                                                 \
            skip();                                                                     \
            return;                                                                     \
        }                                                                               \
    } while (0)

static void test_conv1d_cudnn(void **state)
{
    (void)state;
    NEED_GPU();
    NEED_CUDNN();
    assert_int_equal(conv_cases("cudnn"), 0);
}

/* --- maxpool1d --------------------------------------------------------------- */

static long pool_case(int B, int C, int L, int K)
{
    dr_backend *cpu = tu_cpu();
    printf(" maxpool1d B=%d C=%d L=%d K=%d\n", B, C, L, K);
    int Lo = dr_maxpool1d_out_len(L, K);
    long nx = (long)B * C * L, no = (long)B * C * Lo;
    pair x = p_rnd(nx, -1, 1), out = p_nan(no);
    int32_t *am_c = malloc((size_t)no * sizeof *am_c), *am_g = malloc((size_t)no * sizeof *am_g);
    assert_true(am_c && am_g);
    int32_t *am_d = dr_cuda_alloc(&g_gpu, (size_t)no * sizeof *am_d);
    assert_non_null(am_d);
    dr_cpu_maxpool1d_forward(cpu, out.h, am_c, x.h, B, C, L, K);
    dr_cuda_maxpool1d_forward(&g_gpu, out.d, am_d, x.d, B, C, L, K);
    long bad = cmp_exact("maxpool out", &out);
    dr_cuda_to_host(&g_gpu, am_g, am_d, (size_t)no * sizeof *am_g);
    assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
    long abad = 0;
    for (long i = 0; i < no; i++)
        abad += am_c[i] != am_g[i];
    printf("  %-26s n=%-7ld exact: %ld mismatches\n", "maxpool argmax", no, abad);
    bad += abad;

    pair dout = p_rnd(no, -1, 1), dx = p_rnd(nx, -1, 1);
    dr_cpu_maxpool1d_backward(cpu, dx.h, dout.h, am_c, B, C, L, K);
    dr_cuda_maxpool1d_backward(&g_gpu, dx.d, dout.d, am_d, B, C, L, K);
    bad += cmp_exact("maxpool dx", &dx); /* one add per position: exact */
    dr_cuda_free(&g_gpu, am_d);
    free(am_c), free(am_g);
    p_free(&x), p_free(&out), p_free(&dout), p_free(&dx);
    return bad;
}

static void test_maxpool1d(void **state)
{
    (void)state;
    NEED_GPU();
    long bad = pool_case(3, 4, 7, 2); /* ragged last window */
    bad += pool_case(2, 3, 1, 3);     /* L = 1 */
    bad += pool_case(2, 5, 9, 3);
    bad += pool_case(8, 64, 20, 2);
    assert_int_equal(bad, 0);
}

/* --- batchnorm --------------------------------------------------------------- */

static long bn_case(int B, int C, int L)
{
    dr_backend *cpu = tu_cpu();
    printf(" batchnorm B=%d C=%d L=%d\n", B, C, L);
    const float eps = 1e-5f, mom = 0.1f;
    long n = (long)B * C * L;
    /* an offset of 3 makes the mean dominate the spread: tests the two-pass sums */
    pair x = p_rnd(n, 2.0f, 4.0f), g = p_rnd(C, 0.5f, 1.5f), be = p_rnd(C, -1, 1);
    pair out = p_nan(n), mean = p_nan(C), rstd = p_nan(C);
    pair rm = p_rnd(C, -1, 1), rv = p_rnd(C, 0.5f, 2.0f);
    dr_cpu_batchnorm_forward_train(cpu, out.h, mean.h, rstd.h, rm.h, rv.h, x.h, g.h, be.h, B, C,
                                   L, eps, mom);
    dr_cuda_batchnorm_forward_train(&g_gpu, out.d, mean.d, rstd.d, rm.d, rv.d, x.d, g.d, be.d, B,
                                    C, L, eps, mom);
    /* Both backends sum in double and round once: the floats agree to about an ulp.
     * 1e-5 (the element-wise bound) leaves room for a last-place difference in
     * rstd being amplified by |x - mean| / std (at most sqrt(n) ~ 10 here). */
    long bad = cmp_norm("bn out", &out, 1e-5);
    bad += cmp_norm("bn mean", &mean, 1e-5);
    bad += cmp_norm("bn rstd", &rstd, 1e-5);
    bad += cmp_norm("bn running_mean", &rm, 1e-5);
    bad += cmp_norm("bn running_var", &rv, 1e-5);

    pair ev = p_nan(n);
    dr_cpu_batchnorm_forward_eval(cpu, ev.h, x.h, g.h, be.h, rm.h, rv.h, B, C, L, eps);
    dr_cuda_batchnorm_forward_eval(&g_gpu, ev.d, x.d, g.d, be.d, rm.d, rv.d, B, C, L, eps);
    /* the running statistics fed to eval differ by the last check's error */
    bad += cmp_norm("bn eval out", &ev, 1e-5);

    pair dout = p_rnd(n, -1, 1), dx = p_rnd(n, -1, 1), dg = p_rnd(C, -1, 1), db = p_rnd(C, -1, 1);
    dr_cpu_batchnorm_backward(cpu, dx.h, dg.h, db.h, dout.h, x.h, mean.h, rstd.h, g.h, B, C, L);
    dr_cuda_batchnorm_backward(&g_gpu, dx.d, dg.d, db.d, dout.d, x.d, mean.d, rstd.d, g.d, B, C, L);
    /* the saved mean / rstd may differ in the last place between the two sides
     * (each uses its own); sums in double: 1e-5 normalised */
    bad += cmp_norm("bn dx", &dx, 1e-5);
    bad += cmp_norm("bn dgamma", &dg, 1e-5);
    bad += cmp_norm("bn dbeta", &db, 1e-5);
    pair edx = p_rnd(n, -1, 1);
    dr_cpu_batchnorm_backward_eval(cpu, edx.h, dout.h, g.h, rv.h, B, C, L, eps);
    dr_cuda_batchnorm_backward_eval(&g_gpu, edx.d, dout.d, g.d, rv.d, B, C, L, eps);
    /* one product and one sum per element; the running variance fed in differs by the
     * forward check's error */
    bad += cmp_norm("bn eval dx", &edx, 1e-5);
    p_free(&edx);
    p_free(&x), p_free(&g), p_free(&be), p_free(&out), p_free(&mean), p_free(&rstd), p_free(&rm),
        p_free(&rv), p_free(&ev), p_free(&dout), p_free(&dx), p_free(&dg), p_free(&db);
    return bad;
}

static void test_batchnorm(void **state)
{
    (void)state;
    NEED_GPU();
    long bad = bn_case(4, 5, 7);
    bad += bn_case(16, 3, 1); /* fully connected: L = 1 */
    bad += bn_case(1, 2, 1);  /* one value per channel */
    bad += bn_case(32, 64, 20);
    assert_int_equal(bad, 0);
}

/* --- activations and dropout ---------------------------------------------------- */

static void test_activation(void **state)
{
    (void)state;
    NEED_GPU();
    dr_backend *cpu = tu_cpu();
    const long n = 10007; /* not a multiple of 4: the last Philox block is partial */
    pair x = p_rnd(n, -6, 6), out = p_nan(n);
    dr_cpu_relu_forward(cpu, out.h, x.h, n);
    dr_cuda_relu_forward(&g_gpu, out.d, x.d, n);
    long bad = cmp_exact("relu out", &out);
    pair dout = p_rnd(n, -1, 1), dx = p_rnd(n, -1, 1);
    dr_cpu_relu_backward(cpu, dx.h, dout.h, out.h, n);
    dr_cuda_relu_backward(&g_gpu, dx.d, dout.d, out.d, n);
    bad += cmp_exact("relu dx", &dx);

    pair sg = p_nan(n);
    dr_cpu_sigmoid_forward(cpu, sg.h, x.h, n);
    dr_cuda_sigmoid_forward(&g_gpu, sg.d, x.d, n);
    bad += cmp_elem("sigmoid out", &sg, 1e-5, 0.0);

    const float ps[] = {0.5f, 0.3f, 0.0f, 1.0f};
    for (int k = 0; k < 4; k++) {
        uint64_t seed = tu_seed() + 17;
        uint32_t stream = 5 + k;
        uint64_t counter = 123456789012ull + k; /* high word in use too */
        pair dm = p_nan(n), dmask = p_nan(n), ddx = p_rnd(n, -1, 1);
        printf(" dropout p=%.1f\n", ps[k]);
        dr_cpu_dropout_forward(cpu, dm.h, dmask.h, x.h, n, ps[k], seed, stream, counter);
        dr_cuda_dropout_forward(&g_gpu, dm.d, dmask.d, x.d, n, ps[k], seed, stream, counter);
        /* same Philox numbers, exact 24-bit uniforms, one IEEE multiply: bitwise */
        bad += cmp_exact("dropout mask", &dmask);
        bad += cmp_exact("dropout out", &dm);
        dr_cpu_dropout_backward(cpu, ddx.h, dout.h, dmask.h, n);
        dr_cuda_dropout_backward(&g_gpu, ddx.d, dout.d, dmask.d, n);
        bad += cmp_exact("dropout dx", &ddx);
        p_free(&dm), p_free(&dmask), p_free(&ddx);
    }
    p_free(&x), p_free(&out), p_free(&dout), p_free(&dx), p_free(&sg);
    assert_int_equal(bad, 0);
}

/* --- tensor ops -------------------------------------------------------------------- */

static void test_tensor_ops(void **state)
{
    (void)state;
    NEED_GPU();
    dr_backend *cpu = tu_cpu();
    long bad = 0;
    /* copy2d: 7 x 5 block from a [7, 9] into a [7, 6] matrix, = and += */
    for (int acc = 0; acc < 2; acc++) {
        pair src = p_rnd(7 * 9, -1, 1), dst = p_rnd(7 * 6, -1, 1);
        dr_cpu_copy2d(cpu, dst.h, 6, src.h, 9, 7, 5, acc);
        dr_cuda_copy2d(&g_gpu, dst.d, 6, src.d, 9, 7, 5, acc);
        bad += cmp_exact(acc ? "copy2d +=" : "copy2d =", &dst);
        p_free(&src), p_free(&dst);
    }
    const long n = 1001;
    pair a = p_rnd(n, -1, 1), b = p_rnd(n, -1, 1), o = p_nan(n);
    dr_cpu_add(cpu, o.h, a.h, b.h, n);
    dr_cuda_add(&g_gpu, o.d, a.d, b.d, n);
    bad += cmp_exact("add", &o);
    dr_cpu_axpy(cpu, a.h, -0.37f, b.h, n);
    dr_cuda_axpy(&g_gpu, a.d, -0.37f, b.d, n);
    bad += cmp_exact("axpy", &a);
    p_free(&a), p_free(&b), p_free(&o);
    /* transpose [3, 37, 45] -> [3, 45, 37] (tiles with ragged edges), = and += */
    for (int acc = 0; acc < 2; acc++) {
        pair x = p_rnd(3L * 37 * 45, -1, 1), y = acc ? p_rnd(3L * 37 * 45, -1, 1)
                                                     : p_nan(3L * 37 * 45);
        dr_cpu_transpose(cpu, y.h, x.h, 3, 37, 45, acc);
        dr_cuda_transpose(&g_gpu, y.d, x.d, 3, 37, 45, acc);
        bad += cmp_exact(acc ? "transpose +=" : "transpose =", &y);
        p_free(&x), p_free(&y);
    }
    assert_int_equal(bad, 0);
}

/* --- LSTM ------------------------------------------------------------------------ */

/* Two more runs of forward and backward on the GPU from the same inputs must
 * give the same h and dw_hh bit for bit (fixed summation orders, no atomics). */
static long lstm_repeats(const float *x, const float *wih, const float *whh, const float *b,
                         const float *dh, int B, int T, int In, int H)
{
    const int G = 4 * H;
    long nh = (long)B * T * H, ng = (long)B * T * G;
    long ns = (long)dr_lstm_scratch_floats(B, T, In, H);
    size_t nbuf = (size_t)2 * nh + ng + ns + (size_t)G * H + (size_t)G * In + G;
    long bad = 0;
    float *out[2];
    for (int r = 0; r < 2; r++) {
        float *d = dr_cuda_alloc(&g_gpu, nbuf * sizeof(float));
        assert_non_null(d);
        float *h = d, *c = h + nh, *gates = c + nh, *scr = gates + ng, *dwhh = scr + ns;
        float *dwih = dwhh + (size_t)G * H, *db = dwih + (size_t)G * In;
        dr_cuda_zero(&g_gpu, dwhh, ((size_t)G * H + (size_t)G * In + G) * sizeof(float));
        dr_cuda_lstm_forward(&g_gpu, h, c, gates, x, wih, whh, b, B, T, In, H);
        dr_cuda_lstm_backward(&g_gpu, NULL, dwih, dwhh, db, scr, dh, x, h, c, gates, wih, whh, B,
                              T, In, H);
        out[r] = malloc(((size_t)nh + (size_t)G * H) * sizeof(float));
        assert_non_null(out[r]);
        dr_cuda_to_host(&g_gpu, out[r], h, (size_t)nh * sizeof(float));
        dr_cuda_to_host(&g_gpu, out[r] + nh, dwhh, (size_t)G * H * sizeof(float));
        assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
        dr_cuda_free(&g_gpu, d);
    }
    if (memcmp(out[0], out[1], ((size_t)nh + (size_t)G * H) * sizeof(float)) != 0) {
        printf("  lstm: two runs on the GPU differ (h or dw_hh)\n");
        bad = 1;
    }
    free(out[0]), free(out[1]);
    return bad;
}

static long lstm_case(int B, int T, int In, int H, int want_dx)
{
    dr_backend *cpu = tu_cpu();
    printf(" lstm B=%d T=%d In=%d H=%d dx=%d\n", B, T, In, H, want_dx);
    const int G = 4 * H;
    long nx = (long)B * T * In, nh = (long)B * T * H, ng = (long)B * T * G;
    /* weights ~ U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's initialisation) */
    float r = 1.0f / sqrtf((float)H);
    pair x = p_rnd(nx, -1, 1), wih = p_rnd((long)G * In, -r, r), whh = p_rnd((long)G * H, -r, r);
    pair b = p_rnd(G, -r, r);
    pair h = p_nan(nh), c = p_nan(nh), gates = p_nan(ng);
    dr_cpu_lstm_forward(cpu, h.h, c.h, gates.h, x.h, wih.h, whh.h, b.h, B, T, In, H);
    dr_cuda_lstm_forward(&g_gpu, h.d, c.d, gates.d, x.d, wih.d, whh.d, b.d, B, T, In, H);
    /* per step a sum of In + H + 1 terms; the error carried through T steps.
     * Under tf32 / bf16 the inputs are already rounded (g_round_bits), so the
     * input products are exact; per-step launches ("steps", or "custom" where
     * its plan falls back) round h for each step's recurrent GEMM */
    const char *impl = dr_cuda_backend_get_impl(&g_gpu, "lstm");
    int steps = strcmp(impl, "steps") == 0 ||
                (strcmp(impl, "custom") == 0 &&
                 strncmp(dr_cuda_lstm_plan_text(&g_gpu, B, H), "one launch", 10) != 0);
    double tf = 16.0 * T * gamma_k(In + H + 2) + (steps ? math_chain(T) : 0.0);
    long bad = cmp_norm("lstm h", &h, tf);
    /* cuDNN keeps its own saved state: c and gates are not written there */
    int cudnn = strcmp(impl, "cudnn") == 0;
    if (!cudnn) {
        bad += cmp_norm("lstm c", &c, tf);
        bad += cmp_norm("lstm gates", &gates, tf);
    }

    long ns = (long)dr_lstm_scratch_floats(B, T, In, H);
    pair dh = p_rnd(nh, -1, 1), scr = p_nan(ns);
    pair dx = p_rnd(nx, -1, 1), dwih = p_rnd((long)G * In, -1, 1), dwhh = p_rnd((long)G * H, -1, 1);
    pair db = p_rnd(G, -1, 1);
    /* each side backpropagates through its own forward results (as in training) */
    dr_cpu_lstm_backward(cpu, want_dx ? dx.h : NULL, dwih.h, dwhh.h, db.h, scr.h, dh.h, x.h, h.h,
                         c.h, gates.h, wih.h, whh.h, B, T, In, H);
    dr_cuda_lstm_backward(&g_gpu, want_dx ? dx.d : NULL, dwih.d, dwhh.d, db.d, scr.d, dh.d, x.d,
                          h.d, c.d, gates.d, wih.d, whh.d, B, T, In, H);
    /* the forward's error, then T steps of 4H-term sums back, then the weight
     * gradients' sums over B*T rows */
    double tb = tf + 16.0 * (T * gamma_k(G + 2) + gamma_k((double)B * T + 2)) +
                math_chain(T + 3.0); /* the rounded dgates: recurrence and weight GEMMs */
    bad += want_dx ? cmp_norm("lstm dx", &dx, tb) : cmp_exact("lstm dx (NULL)", &dx);
    bad += cmp_norm("lstm dw_ih", &dwih, tb);
    bad += cmp_norm("lstm dw_hh", &dwhh, tb);
    bad += cmp_norm("lstm db", &db, tb);
    if (!cudnn) /* cuDNN promises no fixed summation order */
        bad += lstm_repeats(x.d, wih.d, whh.d, b.d, dh.d, B, T, In, H);
    p_free(&x), p_free(&wih), p_free(&whh), p_free(&b), p_free(&h), p_free(&c), p_free(&gates),
        p_free(&dh), p_free(&scr), p_free(&dx), p_free(&dwih), p_free(&dwhh), p_free(&db);
    return bad;
}

/* The LSTM cases with the backend's lstm implementation set to impl (restored
 * after): "custom" runs the persistent cluster kernel where the plan fits (the
 * paper's H = 128, H = 256 with a partial last tile) and falls back to per-step
 * launches where it does not (H = 512 needs more shared memory than a block
 * has); "steps" runs every case step by step. */
static long lstm_cases(const char *impl)
{
    const char *was = dr_cuda_backend_get_impl(&g_gpu, "lstm");
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", impl), DR_OK);
    printf(" lstm implementation \"%s\"\n", impl);
    long bad = lstm_case(3, 5, 4, 8, 1);
    bad += lstm_case(2, 1, 3, 5, 1); /* one step: no recurrence */
    bad += lstm_case(5, 7, 6, 3, 0);
    bad += lstm_case(32, 12, 16, 128, 1); /* the paper's 128 units */
    bad += lstm_case(37, 12, 2, 128, 1);  /* a batch that leaves a partial tile */
    bad += lstm_case(24, 6, 3, 256, 1);
    bad += lstm_case(4, 3, 2, 512, 1);    /* custom: too large for the cluster, per step */
    /* the paper's batch: several 8-sample groups per cluster in the backward;
     * and a batch large enough for 4 samples per thread with a partial last tile */
    bad += lstm_case(256, 4, 3, 128, 1);
    bad += lstm_case(1030, 3, 2, 128, 0);
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", was), DR_OK);
    return bad;
}

/* Which shapes the "custom" LSTM runs in one launch: the paper's H = 128 on
 * cards with clusters (sm_90 and later), never H = 512 (its slice of w_hh alone
 * is 512 KiB per block), so that a plan that silently fell back everywhere
 * cannot pass for the persistent kernel. H = 256 needs ~200 KiB per block and
 * is only printed (it depends on the card's shared memory). */
static void check_lstm_plans(void)
{
    const char *card = dr_cuda_backend_describe(&g_gpu);
    int clusters = strstr(card, "sm_9") || strstr(card, "sm_1");
    /* B, H, whether one launch is required (1), ruled out (0) or either (-1) */
    static const int shapes[][3] = {{32, 128, 1},  {37, 128, 1},   {256, 128, 1},
                                    {1030, 128, 1}, {24, 256, -1}, {4, 512, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const char *plan = dr_cuda_lstm_plan_text(&g_gpu, shapes[i][0], shapes[i][1]);
        printf("  lstm plan B=%d H=%d: %s\n", shapes[i][0], shapes[i][1], plan);
        int one = strncmp(plan, "one launch", 10) == 0;
        if (shapes[i][2] >= 0)
            assert_int_equal(one, clusters && shapes[i][2]);
    }
}

static void test_lstm(void **state)
{
    (void)state;
    NEED_GPU();
    check_lstm_plans();
    assert_int_equal(lstm_cases("custom"), 0);
    assert_int_equal(lstm_cases("steps"), 0);
}

/* cuDNN's LSTM against the CPU, h and the gradients with the same bounds. */
static void test_lstm_cudnn(void **state)
{
    (void)state;
    NEED_GPU();
    NEED_CUDNN();
    assert_int_equal(lstm_cases("cudnn"), 0);
}

/* --- attention ----------------------------------------------------------------- */

static long att_case(int B, int T, int H, int A, int want_dh)
{
    dr_backend *cpu = tu_cpu();
    printf(" attention B=%d T=%d H=%d A=%d dh=%d\n", B, T, H, A, want_dh);
    long nh = (long)B * T * H;
    float r = 1.0f / sqrtf((float)H);
    pair h = p_rnd(nh, -1, 1), w = p_rnd((long)A * H, -r, r), b = p_rnd(A, -r, r);
    pair v = p_rnd(A, -1, 1);
    pair ctx = p_nan((long)B * H), alpha = p_nan((long)B * T), u = p_nan((long)B * T * A);
    dr_cpu_attention_forward(cpu, ctx.h, alpha.h, u.h, h.h, w.h, b.h, v.h, B, T, H, A);
    dr_cuda_attention_forward(&g_gpu, ctx.d, alpha.d, u.d, h.d, w.d, b.d, v.d, B, T, H, A);
    /* chain: H-term projection, A-term score, T-term softmax and context sums */
    double tf = 16.0 * (gamma_k(H + 2) + gamma_k(A + 1) + 2.0 * gamma_k(T + 1));
    long bad = cmp_norm("attention u", &u, tf);
    bad += cmp_norm("attention alpha", &alpha, tf);
    bad += cmp_norm("attention ctx", &ctx, tf);

    long ns = (long)dr_attention_scratch_floats(B, T, H, A);
    pair dctx = p_rnd((long)B * H, -1, 1), scr = p_nan(ns);
    pair dh = p_rnd(nh, -1, 1), dw = p_rnd((long)A * H, -1, 1), db = p_rnd(A, -1, 1);
    pair dv = p_rnd(A, -1, 1);
    dr_cpu_attention_backward(cpu, want_dh ? dh.h : NULL, dw.h, db.h, dv.h, scr.h, dctx.h, h.h, w.h,
                              v.h, u.h, alpha.h, B, T, H, A);
    dr_cuda_attention_backward(&g_gpu, want_dh ? dh.d : NULL, dw.d, db.d, dv.d, scr.d, dctx.d, h.d,
                               w.d, v.d, u.d, alpha.d, B, T, H, A);
    /* plus the H-term and T-term sums of the softmax backward and the B*T-row
     * weight-gradient sums */
    double tb = tf + 16.0 * (gamma_k(H + 1) + gamma_k(T + 1) + gamma_k((double)B * T + 2) +
                             gamma_k(A + 2)) +
                math_chain(4); /* under tf32 / bf16: the GEMMs of rounded dpre, ds */
    bad += want_dh ? cmp_norm("attention dh", &dh, tb) : cmp_exact("attention dh (NULL)", &dh);
    bad += cmp_norm("attention dw", &dw, tb);
    bad += cmp_norm("attention db", &db, tb);
    bad += cmp_norm("attention dv", &dv, tb);
    p_free(&h), p_free(&w), p_free(&b), p_free(&v), p_free(&ctx), p_free(&alpha), p_free(&u),
        p_free(&dctx), p_free(&scr), p_free(&dh), p_free(&dw), p_free(&db), p_free(&dv);
    return bad;
}

static void test_attention(void **state)
{
    (void)state;
    NEED_GPU();
    long bad = att_case(3, 5, 8, 6, 1);
    bad += att_case(2, 1, 4, 3, 1); /* one step: alpha = 1 */
    bad += att_case(4, 7, 5, 9, 0);
    bad += att_case(64, 12, 128, 64, 1);
    assert_int_equal(bad, 0);
}

/* The GEMMs on tensor cores (cuda.math = "tf32", "bf16"). linear and the custom
 * conv1d, whose results are cuBLAS products, on unrounded random inputs with the
 * rigorous bound widened by math_term() per term. The LSTM (custom and steps)
 * and attention on inputs already rounded to the mode's mantissa: their forward
 * GEMMs read only inputs, so the forwards keep the fp32 bounds ("steps" adds
 * its recurrence's rounded h), and the backwards, whose GEMMs read rounded
 * intermediate gradients, add math_chain's working tolerance. */
static long math_cases(const char *math, int bits)
{
    printf(" math \"%s\"\n", math);
    assert_int_equal(dr_cuda_backend_set_math(&g_gpu, math), DR_OK);
    char line[48];
    snprintf(line, sizeof line, "math       %s", math);
    assert_non_null(strstr(dr_cuda_backend_kernels(&g_gpu), line));
    g_math_bits = bits;
    long bad = linear_case(5, 7, 3, 1, 1);
    bad += linear_case(256, 256, 128, 1, 1);
    bad += conv_cases("custom");
    g_round_bits = bits;
    const char *was = dr_cuda_backend_get_impl(&g_gpu, "lstm");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", i ? "steps" : "custom"), DR_OK);
        printf(" lstm implementation \"%s\"\n", i ? "steps" : "custom");
        bad += lstm_case(3, 5, 4, 8, 1);
        bad += lstm_case(32, 12, 16, 128, 1);
    }
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", was), DR_OK);
    bad += att_case(3, 5, 8, 6, 1);
    bad += att_case(64, 12, 128, 64, 1);
    g_round_bits = g_math_bits = 0;
    assert_int_equal(dr_cuda_backend_set_math(&g_gpu, "fp32"), DR_OK);
    return bad;
}

static void test_math(void **state)
{
    (void)state;
    NEED_GPU();
    long bad = math_cases("tf32", 10);
    bad += math_cases("bf16", 7);
    dr_status s = dr_cuda_backend_set_math(&g_gpu, "fp16");
    printf("  set_math(fp16) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    assert_int_equal(bad, 0);
}

/* --- loss ------------------------------------------------------------------------ */

static void test_loss(void **state)
{
    (void)state;
    NEED_GPU();
    dr_backend *cpu = tu_cpu();
    const dr_loss_params ps[] = {{0.7f, 2.0f, 1.0f, 1.0f, 0}, {0.3f, 0.5f, 4.3f, 0.8f, 0}};
    long bad = 0;
    for (int k = 0; k < 2; k++) {
        const int B = 257 + 300 * k; /* above one block of threads in the second case */
        printf(" loss B=%d a=%.1f gamma=%.1f w=%.1f/%.1f\n", B, ps[k].a, ps[k].gamma, ps[k].w_pos,
               ps[k].w_neg);
        pair z = p_rnd(B, -9, 9), y = p_rnd(B, 0, 1);
        for (int i = 0; i < B; i++)
            y.h[i] = y.h[i] < 0.2f ? 1.0f : 0.0f;
        dr_cuda_to_device(&g_gpu, y.d, y.h, (size_t)B * sizeof(float));
        pair loss = p_nan(1), per = p_nan(B);
        dr_cpu_loss_forward(cpu, loss.h, per.h, z.h, y.h, B, ps[k]);
        dr_cuda_loss_forward(&g_gpu, loss.d, per.d, z.d, y.d, B, ps[k]);
        /* libm differences only (sums in double on both sides): 1e-5 relative */
        bad += cmp_elem("loss per_sample", &per, 1e-5, 0.0);
        bad += cmp_elem("loss mean", &loss, 1e-5, 0.0);
        pair dz0 = p_nan(B), dz = p_rnd(B, -1, 1);
        for (int i = 0; i < B; i++)
            dz0.h[i] = 0.0f;
        dr_cuda_zero(&g_gpu, dz0.d, (size_t)B * sizeof(float));
        dr_cpu_loss_backward(cpu, dz0.h, z.h, y.h, B, ps[k], 1.0f);
        dr_cuda_loss_backward(&g_gpu, dz0.d, z.d, y.d, B, ps[k], 1.0f);
        bad += cmp_elem("loss dz (from 0)", &dz0, 1e-5, 0.0);
        /* accumulating into random values: the add can cancel, so the tolerance is
         * 1e-5 of the increment's size (max |dz from 0| bounds it) plus an ulp */
        double inc = 0.0;
        for (int i = 0; i < B; i++)
            inc = fmax(inc, fabs((double)dz0.h[i]) * 0.7);
        dr_cpu_loss_backward(cpu, dz.h, z.h, y.h, B, ps[k], 0.7f);
        dr_cuda_loss_backward(&g_gpu, dz.d, z.d, y.d, B, ps[k], 0.7f);
        bad += cmp_elem("loss dz (+=, scale 0.7)", &dz, 1e-5, 1e-5 * inc + U);
        p_free(&z), p_free(&y), p_free(&loss), p_free(&per), p_free(&dz0), p_free(&dz);
    }
    assert_int_equal(bad, 0);
}

/* --- Adam ------------------------------------------------------------------------ */

static void adam_hp(dr_adam_params *hp, long step)
{
    hp->lr = 1e-3f * (float)step; /* changes every step, as a schedule would */
    hp->beta1 = 0.9f;
    hp->beta2 = 0.999f;
    hp->eps = 1e-8f;
    hp->weight_decay = 0.01f;
    hp->step = step;
}

/* parameters move by about lr per step; m, v and p agree element-wise to 1e-5
 * relative (the same IEEE operations; pow for the bias correction in double on
 * both), the absolute floor 1e-7 covers m and v entries near zero */
static long adam_compare(pair *p, pair *m, pair *v)
{
    long bad = cmp_elem("adam p", p, 1e-5, 1e-7);
    bad += cmp_elem("adam m", m, 1e-5, 1e-7);
    bad += cmp_elem("adam v", v, 1e-5, 1e-7);
    return bad;
}

static void test_adam(void **state)
{
    (void)state;
    NEED_GPU();
    dr_backend *cpu = tu_cpu();
    const long n = 10007;
    pair p = p_rnd(n, -1, 1), g = p_rnd(n, -1, 1), m = p_nan(n), v = p_nan(n);
    memset(m.h, 0, (size_t)n * sizeof(float));
    memset(v.h, 0, (size_t)n * sizeof(float));
    dr_cuda_zero(&g_gpu, m.d, (size_t)n * sizeof(float));
    dr_cuda_zero(&g_gpu, v.d, (size_t)n * sizeof(float));
    long bad = 0;
    for (long step = 1; step <= 3; step++) {
        dr_adam_params hp;
        adam_hp(&hp, step);
        printf(" adam eager step %ld lr %.0e\n", step, hp.lr);
        dr_cpu_adam_update(cpu, p.h, g.h, m.h, v.h, n, &hp);
        dr_cuda_adam_update(&g_gpu, p.d, g.d, m.d, v.d, n, &hp);
        bad += adam_compare(&p, &m, &v);
    }
    p_free(&p), p_free(&g), p_free(&m), p_free(&v);
    assert_int_equal(bad, 0);
}

/* --- whole training steps: replayed CUDA graphs against op by op ------------ */

/* A small hybrid network with every node kind (conv, batch norm, ReLU, pooling,
 * LSTM over a history sequence, attention, dropout, loss), built twice with the
 * same seed: A runs its steps op by op, B from CUDA graphs. Rows in order in
 * batches 8, 8, 8, 5: B's full batch is captured at its second step, its short
 * batch in the second epoch. lr changes every epoch and dropout is on, so the
 * replays agree with A only if they read lr, t and the dropout counter at replay. */
enum { GS_N = 29, GS_F = 9, GS_T = 6, GS_C = 3, GS_B = 8, GS_EPOCHS = 3 };

static const dr_hybrid_config gs_cfg = {
    .n_groups = 2, .group_size = {5, 4}, .filters = {4, 6, 8}, .kernel = {3, 3, 3}, .pool = 2,
    .lstm_units = 6, .attention_dim = 5, .seq_len = GS_T, .seq_channels = GS_C, .n_fc = 1,
    .fc = {8}, .dropout = 0.5f, .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1, .w_neg = 1}};

/* random rows; y from the sign of the first feature */
static void gs_fill(float *x, float *seq, float *y, long n)
{
    tu_fill_uniform(x, n * GS_F, -1, 1, tu_seed(), g_stream++);
    tu_fill_uniform(seq, n * GS_T * GS_C, -1, 1, tu_seed(), g_stream++);
    for (long i = 0; i < n; i++)
        y[i] = x[i * GS_F] > 0.2f ? 1.0f : 0.0f;
}

static float *gs_pinned(long n)
{
    float *p = dr_backend_host_alloc(&g_gpu, (size_t)n * sizeof(float));
    assert_non_null(p);
    return p;
}

/* One epoch of training steps over the rows in order; returns its metrics. */
static dr_step_metrics gs_epoch(dr_hybrid *m, const float *x, const float *seq, const float *y,
                                int epoch, long *t)
{
    assert_int_equal(dr_graph_step_metrics_reset(m->g), DR_OK);
    for (int start = 0; start < GS_N; start += GS_B) {
        int n = GS_N - start < GS_B ? GS_N - start : GS_B;
        assert_int_equal(dr_graph_set_input_async(m->g, m->x, x + start * GS_F, n), DR_OK);
        assert_int_equal(dr_graph_set_input_async(m->g, m->y, y + start, n), DR_OK);
        assert_int_equal(dr_graph_set_input_async(m->g, m->seq, seq + start * GS_T * GS_C, n),
                         DR_OK);
        dr_adam_params hp = {.lr = 1e-2f / (float)(epoch + 1), .beta1 = 0.9f, .beta2 = 0.999f,
                             .eps = 1e-8f, .weight_decay = 1e-4f, .step = ++*t};
        assert_int_equal(dr_graph_train_step(m->g, m->loss, &hp), DR_OK);
    }
    dr_step_metrics sm;
    dr_status s = dr_graph_step_metrics(m->g, &sm);
    if (s != DR_OK)
        printf("  device error: %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    return sm;
}

/* Every state tensor of a kind, flattened to the host. */
static float *gs_state(dr_graph *g, dr_state_kind kind, long *n_out)
{
    long n = 0;
    dr_state_tensor t;
    for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
        assert_int_equal(dr_graph_state_get(g, kind, i, &t), DR_OK);
        n += t.numel;
    }
    float *h = tu_alloc(n > 0 ? n : 1);
    long off = 0;
    for (int i = 0; i < dr_graph_state_count(g, kind); i++) {
        assert_int_equal(dr_graph_state_get(g, kind, i, &t), DR_OK);
        assert_int_equal(dr_graph_state_read(g, &t, h + off), DR_OK);
        off += t.numel;
    }
    *n_out = n;
    return h;
}

/* |got - want| <= 1e-5 |want| + 1e-8 max|want| per element */
static long gs_compare(const char *what, dr_graph *got_g, dr_graph *want_g, dr_state_kind kind)
{
    long n, n2;
    float *got = gs_state(got_g, kind, &n), *want = gs_state(want_g, kind, &n2);
    assert_int_equal(n, n2);
    double big = 0.0, worst = 0.0;
    for (long i = 0; i < n; i++)
        big = fmax(big, fabs((double)want[i]));
    long bad = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= 1e-5 * fabs((double)want[i]) + 1e-8 * big)) {
            if (bad < 5)
                printf("  %s[%ld]: graph %.9g op by op %.9g\n", what, i, got[i], want[i]);
            bad++;
        }
        if (d > 0.0)
            worst = fmax(worst, d / fmax(fabs((double)want[i]), 1e-30));
    }
    printf("  %-26s n=%-7ld max rel diff %.3e; %ld outside 1e-5 relative\n", what, n, worst, bad);
    free(got);
    free(want);
    return bad;
}

static long gs_compare_all(dr_graph *got, dr_graph *want)
{
    return gs_compare("params", got, want, DR_STATE_PARAM) +
           gs_compare("adam m", got, want, DR_STATE_ADAM_M) +
           gs_compare("adam v", got, want, DR_STATE_ADAM_V) +
           gs_compare("buffers (bn running)", got, want, DR_STATE_BUFFER);
}

/* The body of test_step_graphs, with conv1d and the LSTM implemented by impl
 * ("custom" or "cudnn"; restored after). */
static void step_graphs_check(const char *impl)
{
    const char *was_conv = dr_cuda_backend_get_impl(&g_gpu, "conv1d");
    const char *was_lstm = dr_cuda_backend_get_impl(&g_gpu, "lstm");
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "conv1d", impl), DR_OK);
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", impl), DR_OK);
    printf(" conv1d and lstm implementation \"%s\"\n", impl);
    float *x = gs_pinned(GS_N * GS_F), *seq = gs_pinned(GS_N * GS_T * GS_C), *y = gs_pinned(GS_N);
    gs_fill(x, seq, y, GS_N);
    dr_hybrid a, b;
    assert_int_equal(dr_hybrid_build(&a, &g_gpu, &gs_cfg, 5, GS_B), DR_OK);
    assert_int_equal(dr_hybrid_build(&b, &g_gpu, &gs_cfg, 5, GS_B), DR_OK);
    dr_graph_use_step_graphs(b.g, 1);
    long ta = 0, tb = 0, bad = 0;
    for (int e = 0; e < GS_EPOCHS; e++) {
        dr_step_metrics ma = gs_epoch(&a, x, seq, y, e, &ta);
        dr_step_metrics mb = gs_epoch(&b, x, seq, y, e, &tb);
        double rel = fabs(mb.loss_sum - ma.loss_sum) / fmax(fabs(ma.loss_sum), 1e-30);
        printf(" epoch %d: loss sum op by op %.9g, from graphs %.9g (rel diff %.3e)\n", e + 1,
               ma.loss_sum, mb.loss_sum, rel);
        bad += !(rel <= 1e-5) + (ma.bad_step != 0) + (mb.bad_step != 0);
    }
    bad += gs_compare_all(b.g, a.g);

    const dr_step_stats *sa = dr_graph_step_stats(a.g), *sb = dr_graph_step_stats(b.g);
    printf("  op by op: %ld steps eager, %ld replayed; graphs: %ld eager, %d captures, %ld "
           "replayed%s%s\n", sa->eager, sa->replayed, sb->eager, sb->captured, sb->replayed,
           sb->failure[0] ? "; " : "", sb->failure);
    assert_int_equal(sa->replayed, 0);
    assert_int_equal(sb->eager, 2);     /* the warm-up of each batch size */
    assert_int_equal(sb->captured, 2);  /* 8 rows and 5 rows */
    assert_int_equal(sb->replayed, GS_EPOCHS * 4 - 2);

    /* the last step was a replay: its advance left the next step's values */
    uint64_t counter;
    long t;
    assert_int_equal(dr_cuda_backend_step_state(&g_gpu, &counter, &t), DR_OK);
    printf("  device step state: dropout counter %llu (graph step %llu), Adam t %ld (next %ld)\n",
           (unsigned long long)counter, (unsigned long long)dr_graph_step(b.g), t, tb + 1);
    assert_true(counter == dr_graph_step(b.g));
    assert_int_equal(t, tb + 1);

    /* a NaN in the third batch of the next epoch (a replay): the device names its step */
    x[(2 * GS_B + 1) * GS_F + 3] = NAN;
    long t_nan = tb + 3;
    dr_step_metrics mn = gs_epoch(&b, x, seq, y, GS_EPOCHS, &tb);
    printf("  NaN input at step %ld: first non-finite loss %g at step %lld\n", t_nan,
           (double)mn.bad_loss, (long long)mn.bad_step);
    assert_int_equal(mn.bad_step, t_nan);
    assert_true(!isfinite(mn.bad_loss));

    dr_hybrid_free(&a);
    dr_hybrid_free(&b);
    dr_backend_host_free(&g_gpu, x);
    dr_backend_host_free(&g_gpu, seq);
    dr_backend_host_free(&g_gpu, y);
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "conv1d", was_conv), DR_OK);
    assert_int_equal(dr_cuda_backend_set_impl(&g_gpu, "lstm", was_lstm), DR_OK);
    assert_int_equal(bad, 0);
}

static void test_step_graphs(void **state)
{
    (void)state;
    NEED_GPU();
    step_graphs_check("custom");
}

/* The same with cuDNN's conv1d: its calls are captured and replayed with the
 * rest of the step (its plans were made by the eager first steps). */
static void test_step_graphs_cudnn(void **state)
{
    (void)state;
    NEED_GPU();
    NEED_CUDNN();
    step_graphs_check("cudnn");
}

/* The training loop itself (pinned staging, queued inputs, metrics read per
 * epoch, lr halved on a plateau) with train.cuda_graphs on and off. */
/* The same network from the same seed trained on both backends, the same rows,
 * dropout on (the same Philox numbers): every epoch's loss agrees to 1e-4
 * relative (the criterion: the rounding of two summation orders,
 * carried through Adam's steps, stays far below it). The weights are printed,
 * not compared: Adam's m / sqrt(v) can turn a rounding-sized gradient of either
 * sign into a full lr step. */
static void test_cpu_cuda_steps(void **state)
{
    (void)state;
    NEED_GPU();
    float *x = gs_pinned(GS_N * GS_F), *seq = gs_pinned(GS_N * GS_T * GS_C), *y = gs_pinned(GS_N);
    gs_fill(x, seq, y, GS_N);
    dr_hybrid m[2]; /* CPU, CUDA */
    assert_int_equal(dr_hybrid_build(&m[0], tu_cpu(), &gs_cfg, 5, GS_B), DR_OK);
    assert_int_equal(dr_hybrid_build(&m[1], &g_gpu, &gs_cfg, 5, GS_B), DR_OK);
    long t[2] = {0, 0}, bad = 0;
    for (int e = 0; e < GS_EPOCHS; e++) {
        dr_step_metrics sm[2];
        for (int k = 0; k < 2; k++)
            sm[k] = gs_epoch(&m[k], x, seq, y, e, &t[k]);
        double rel = fabs(sm[1].loss_sum - sm[0].loss_sum) / fmax(fabs(sm[0].loss_sum), 1e-30);
        printf(" epoch %d: loss sum cpu %.9g, cuda %.9g (rel diff %.3e, tol 1e-4)\n", e + 1,
               sm[0].loss_sum, sm[1].loss_sum, rel);
        bad += !(rel <= 1e-4) + (sm[0].bad_step != 0) + (sm[1].bad_step != 0);
    }
    long n, n2;
    float *want = gs_state(m[0].g, DR_STATE_PARAM, &n), *got = gs_state(m[1].g, DR_STATE_PARAM, &n2);
    assert_int_equal(n, n2);
    double dmax = 0.0, big = 0.0;
    for (long i = 0; i < n; i++) {
        dmax = fmax(dmax, fabs((double)got[i] - want[i]));
        big = fmax(big, fabs((double)want[i]));
    }
    printf("  params after %ld steps: max |cuda - cpu| %.3e, max |cpu| %.3e\n", t[0], dmax, big);
    free(want), free(got);
    for (int k = 0; k < 2; k++)
        dr_hybrid_free(&m[k]);
    dr_backend_host_free(&g_gpu, x);
    dr_backend_host_free(&g_gpu, seq);
    dr_backend_host_free(&g_gpu, y);
    assert_int_equal(bad, 0);
}

static void test_train_step_graphs(void **state)
{
    (void)state;
    NEED_GPU();
    enum { NT = 45, NV = 20 };
    float *x = tu_alloc(NT * GS_F), *seq = tu_alloc(NT * GS_T * GS_C), *y = tu_alloc(NT);
    float *vx = tu_alloc(NV * GS_F), *vseq = tu_alloc(NV * GS_T * GS_C), *vy = tu_alloc(NV);
    gs_fill(x, seq, y, NT);
    gs_fill(vx, vseq, vy, NV);
    dr_rows tr = {.n = NT, .n_features = GS_F, .x = x, .seq_len = GS_T, .seq_channels = GS_C,
                  .seq = seq, .y = y};
    dr_rows va = {.n = NV, .n_features = GS_F, .x = vx, .seq_len = GS_T, .seq_channels = GS_C,
                  .seq = vseq, .y = vy};
    dr_train_config tc = {.epochs = 4, .batch_size = GS_B, .lr = 1e-2, .beta1 = 0.9,
                          .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4,
                          .plateau_patience = 0, .plateau_factor = 0.5,
                          .early_stop_patience = 100, .seed = 3};
    dr_hybrid m[2];
    dr_train_state st[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(dr_hybrid_build(&m[k], &g_gpu, &gs_cfg, 11, GS_B), DR_OK);
        dr_model_io io = {.g = m[k].g, .x = m[k].x, .seq = m[k].seq, .y = m[k].y, .logit = m[k].logit,
                          .prob = m[k].prob, .loss = m[k].loss};
        tc.cuda_graphs = k;
        dr_status s = dr_train(&io, &tc, &tr, &va, NULL, 0, &st[k]);
        if (s != DR_OK)
            printf("  dr_train (cuda_graphs %d): %s\n", k, dr_last_error());
        assert_int_equal(s, DR_OK);
    }
    long bad = 0;
    for (int e = 0; e < st[0].epoch; e++) {
        double rt = fabs(st[1].train_loss[e] - st[0].train_loss[e]) / fabs(st[0].train_loss[e]);
        double rv = fabs(st[1].val_loss[e] - st[0].val_loss[e]) / fabs(st[0].val_loss[e]);
        printf(" epoch %d lr %.1e: train loss %.9g / %.9g, val loss %.9g / %.9g (op by op / "
               "graphs)\n", e + 1, st[0].hist_lr[e], st[0].train_loss[e], st[1].train_loss[e],
               st[0].val_loss[e], st[1].val_loss[e]);
        bad += !(rt <= 1e-5) + !(rv <= 1e-5) + (st[0].hist_lr[e] != st[1].hist_lr[e]);
    }
    bad += st[0].epoch != st[1].epoch;
    bad += gs_compare_all(m[1].g, m[0].g);
    const dr_step_stats *ss = dr_graph_step_stats(m[1].g);
    printf("  graphs: %ld steps eager, %ld replayed%s%s\n", ss->eager, ss->replayed,
           ss->failure[0] ? "; " : "", ss->failure);
    assert_int_equal(dr_graph_step_stats(m[0].g)->replayed, 0);
    assert_true(ss->replayed > 0);
    for (int k = 0; k < 2; k++) {
        dr_train_state_free(&st[k]);
        dr_hybrid_free(&m[k]);
    }
    free(x), free(seq), free(y), free(vx), free(vseq), free(vy);
    assert_int_equal(bad, 0);
}

/* --- error reporting ----------------------------------------------------------- */

/* Kernels are void: a failure is recorded with the call as text and reported by
 * the next sync, which clears it. Last, in case a device error were sticky. */
static void test_error_recording(void **state)
{
    (void)state;
    NEED_GPU();
    float *d = dr_cuda_alloc(&g_gpu, 64);
    assert_non_null(d);
    /* a shape the op rejects */
    dr_cuda_maxpool1d_forward(&g_gpu, d, (int32_t *)(d + 8), d, 1, 1, 4, 0);
    dr_status s = dr_cuda_backend_sync(&g_gpu);
    printf("  maxpool K=0 -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_SHAPE);
    assert_non_null(strstr(dr_last_error(), "maxpool1d"));
    assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK); /* cleared */

    /* a failed CUDA call: freeing a pointer cudaMalloc never returned (not sticky) */
    dr_cuda_free(&g_gpu, d + 1);
    s = dr_cuda_backend_sync(&g_gpu);
    printf("  cudaFree(p + 1) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_DEVICE);
    assert_non_null(strstr(dr_last_error(), "cudaFree"));
    assert_non_null(strstr(dr_last_error(), "memory.cu"));
    dr_cuda_free(&g_gpu, d);
    assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
}

/* The implementation choice on the GPU: the lines a run prints follow it, a bad
 * choice is refused, and (with cuDNN) a conv1d shape first seen inside a step
 * capture is an error of that capture, not an allocation inside it. */
static void test_impl_choice_cuda(void **state)
{
    (void)state;
    NEED_GPU();
    const char *was = dr_cuda_backend_get_impl(&g_gpu, "conv1d");
    dr_backend *be = &g_gpu;
    assert_int_equal(dr_backend_set_impl(be, "conv1d", "custom"), DR_OK);
    printf("  kernels with conv1d = custom:\n%s", dr_backend_kernels(be));
    assert_non_null(strstr(dr_backend_kernels(be), "conv1d     custom"));
    dr_status s = dr_backend_set_impl(be, "conv1d", "cuDNN");
    printf("  set_impl(conv1d, cuDNN) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    /* lstm also takes "steps" (conv1d does not), and no other name */
    s = dr_backend_set_impl(be, "lstm", "persistent");
    printf("  set_impl(lstm, persistent) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    s = dr_backend_set_impl(be, "conv1d", "steps");
    printf("  set_impl(conv1d, steps) -> %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_INVALID);
    const char *lstm_was = dr_backend_get_impl(be, "lstm");
    assert_int_equal(dr_backend_set_impl(be, "lstm", "steps"), DR_OK);
    assert_non_null(strstr(dr_backend_kernels(be), "lstm       steps"));
    assert_int_equal(dr_backend_set_impl(be, "lstm", "custom"), DR_OK);
    assert_non_null(strstr(dr_backend_kernels(be), "lstm       custom"));
    assert_int_equal(dr_backend_set_impl(be, "lstm", lstm_was), DR_OK);
    s = dr_backend_set_impl(be, "conv1d", "cudnn");
    printf("  set_impl(conv1d, cudnn) -> %s%s%s\n", dr_status_name(s), s ? ": " : "",
           s ? dr_last_error() : "");
    if (!dr_cuda_have_cudnn()) {
        /* refused, saying why, and the choice stays */
        assert_int_equal(s, DR_ERR_UNSUPPORTED);
        assert_non_null(strstr(dr_last_error(), "no cuDNN"));
        assert_string_equal(dr_backend_get_impl(be, "conv1d"), "custom");
    } else {
        assert_int_equal(s, DR_OK);
        printf("  kernels with conv1d = cudnn:\n%s", dr_backend_kernels(be));
        assert_non_null(strstr(dr_backend_kernels(be), "conv1d     cudnn"));
        /* a new shape inside a capture: refused there, reported by capture_end */
        float *d = dr_cuda_alloc(&g_gpu, 4096);
        assert_non_null(d);
        assert_int_equal(dr_cuda_step_capture_begin(&g_gpu), DR_OK);
        dr_cuda_conv1d_forward(&g_gpu, d, d + 512, d + 256, d + 384, NULL, 1, 2, 3, 11, 3);
        dr_step_graph *sg = NULL;
        s = dr_cuda_step_capture_end(&g_gpu, &sg);
        printf("  conv1d (cudnn) of a new shape inside a capture -> %s: %s\n", dr_status_name(s),
               dr_last_error());
        assert_int_equal(s, DR_ERR_UNSUPPORTED);
        assert_null(sg);
        assert_non_null(strstr(dr_last_error(), "inside a step capture"));
        dr_cuda_free(&g_gpu, d);
        assert_int_equal(dr_cuda_backend_sync(&g_gpu), DR_OK);
    }
    assert_int_equal(dr_backend_set_impl(be, "conv1d", was), DR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_table),        cmocka_unit_test(test_impl_choice_cpu),
        cmocka_unit_test(test_impl_choice_cuda),
        cmocka_unit_test(test_memory),         cmocka_unit_test(test_linear),
        cmocka_unit_test(test_conv1d),         cmocka_unit_test(test_conv1d_cudnn),
        cmocka_unit_test(test_maxpool1d),
        cmocka_unit_test(test_batchnorm),      cmocka_unit_test(test_activation),
        cmocka_unit_test(test_tensor_ops),     cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_lstm_cudnn),     cmocka_unit_test(test_math),
        cmocka_unit_test(test_attention),      cmocka_unit_test(test_loss),
        cmocka_unit_test(test_adam),           cmocka_unit_test(test_step_graphs),
        cmocka_unit_test(test_step_graphs_cudnn),
        cmocka_unit_test(test_train_step_graphs), cmocka_unit_test(test_cpu_cuda_steps),
        cmocka_unit_test(test_error_recording),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#endif /* DR_HAVE_CUDA */
