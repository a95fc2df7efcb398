/* LSTM kernel tests: the fast CPU kernel (kernels/cpu/lstm.c, OpenBLAS) against the
 * plain-loop reference below, central finite differences of every gradient, the
 * += contract and NaN-poisoned outputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/lstm.h"
#include "kernels/math.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* ---- the slow, obvious version (double accumulation) ----
 *   x [B, T, I], w_ih [4H, I], w_hh [4H, H], b [4H]
 *   -> h [B, T, H], c [B, T, H], gates [B, T, 4H] (activated i, f, g, o) */
static double sigm(double z) { return 1.0 / (1.0 + exp(-z)); }

static void ref_lstm_forward(float *h, float *c, float *gates, const float *x, const float *w_ih,
                             const float *w_hh, const float *b, int B, int T, int I, int H)
{
    for (int n = 0; n < B; n++)
        for (int t = 0; t < T; t++) {
            const float *xt = x + ((size_t)n * T + t) * I;
            const float *hp = t > 0 ? h + ((size_t)n * T + t - 1) * H : NULL;
            const float *cp = t > 0 ? c + ((size_t)n * T + t - 1) * H : NULL;
            float *g = gates + ((size_t)n * T + t) * 4 * H;
            for (int k = 0; k < 4 * H; k++) {
                double s = b[k];
                for (int i = 0; i < I; i++)
                    s += (double)xt[i] * w_ih[(size_t)k * I + i];
                for (int j = 0; hp && j < H; j++)
                    s += (double)hp[j] * w_hh[(size_t)k * H + j];
                g[k] = (float)(k >= 2 * H && k < 3 * H ? tanh(s) : sigm(s));
            }
            for (int j = 0; j < H; j++) {
                double cv = (double)g[j] * g[2 * H + j] + (cp ? (double)g[H + j] * cp[j] : 0.0);
                c[((size_t)n * T + t) * H + j] = (float)cv;
                h[((size_t)n * T + t) * H + j] = (float)(g[3 * H + j] * tanh(cv));
            }
        }
}

/* Backpropagation through time, one sample and one step at a time; adds into the
 * gradients like the kernel. dh [B, T, H] -> dx [B, T, I] (may be NULL), dw_ih,
 * dw_hh, db. */
static void ref_lstm_backward(float *dx, float *dw_ih, float *dw_hh, float *db, const float *dh,
                              const float *x, const float *h, const float *c, const float *gates,
                              const float *w_ih, const float *w_hh, int B, int T, int I, int H)
{
    size_t nw_ih = (size_t)4 * H * I, nw_hh = (size_t)4 * H * H;
    double *gw_ih = calloc(nw_ih + 1, sizeof(double)), *gw_hh = calloc(nw_hh + 1, sizeof(double));
    double *gb = calloc((size_t)4 * H, sizeof(double));
    double *dhn = calloc(H, sizeof(double)), *dcn = calloc(H, sizeof(double));
    double *dg = calloc((size_t)4 * H, sizeof(double));
    assert_true(gw_ih && gw_hh && gb && dhn && dcn && dg);
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < H; j++)
            dhn[j] = dcn[j] = 0.0;
        for (int t = T - 1; t >= 0; t--) {
            size_t row = (size_t)n * T + t;
            const float *g = gates + row * 4 * H;
            for (int j = 0; j < H; j++) {
                double ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
                double tc = tanh((double)c[row * H + j]);
                double dht = dh[row * H + j] + dhn[j];
                double dc = dcn[j] + dht * og * (1.0 - tc * tc);
                double cp = t > 0 ? c[(row - 1) * H + j] : 0.0;
                dg[j] = dc * gg * ig * (1.0 - ig);
                dg[H + j] = dc * cp * fg * (1.0 - fg);
                dg[2 * H + j] = dc * ig * (1.0 - gg * gg);
                dg[3 * H + j] = dht * tc * og * (1.0 - og);
                dcn[j] = dc * fg;
            }
            const float *xt = x + row * I;
            for (int k = 0; k < 4 * H; k++) {
                gb[k] += dg[k];
                for (int i = 0; i < I; i++)
                    gw_ih[(size_t)k * I + i] += dg[k] * xt[i];
                for (int j = 0; t > 0 && j < H; j++)
                    gw_hh[(size_t)k * H + j] += dg[k] * h[(row - 1) * H + j];
            }
            for (int i = 0; dx && i < I; i++) {
                double s = 0.0;
                for (int k = 0; k < 4 * H; k++)
                    s += dg[k] * w_ih[(size_t)k * I + i];
                dx[row * I + i] += (float)s;
            }
            for (int j = 0; j < H; j++) {
                double s = 0.0;
                for (int k = 0; k < 4 * H; k++)
                    s += dg[k] * w_hh[(size_t)k * H + j];
                dhn[j] = s;
            }
        }
    }
    for (size_t k = 0; k < nw_ih; k++)
        dw_ih[k] += (float)gw_ih[k];
    for (size_t k = 0; k < nw_hh; k++)
        dw_hh[k] += (float)gw_hh[k];
    for (int k = 0; k < 4 * H; k++)
        db[k] += (float)gb[k];
    free(gw_ih), free(gw_hh), free(gb), free(dhn), free(dcn), free(dg);
}

/* ---- one problem: inputs, outputs, gradients ---- */
typedef struct {
    int B, T, I, H;
    float *x, *w_ih, *w_hh, *b;   /* inputs */
    float *h, *c, *gates;         /* forward outputs */
    float *r;                     /* loss weights: loss = sum r * h */
    float *dx, *dw_ih, *dw_hh, *db, *scratch;
} prob;

static long nx(const prob *p) { return (long)p->B * p->T * p->I; }
static long nh(const prob *p) { return (long)p->B * p->T * p->H; }
static long nih(const prob *p) { return 4L * p->H * p->I; }
static long nhh(const prob *p) { return 4L * p->H * p->H; }

/* Inputs in [-1, 1]; weights and bias U(-k, k) with k = 1/sqrt(H), PyTorch's init,
 * so the gates neither saturate nor stay linear. */
static void prob_init(prob *p, int B, int T, int I, int H, uint32_t stream)
{
    uint64_t seed = tu_seed();
    float k = 1.0f / sqrtf((float)H);
    *p = (prob){.B = B, .T = T, .I = I, .H = H};
    p->x = tu_alloc(nx(p));
    p->w_ih = tu_alloc(nih(p));
    p->w_hh = tu_alloc(nhh(p));
    p->b = tu_alloc(4L * H);
    p->h = tu_alloc(nh(p));
    p->c = tu_alloc(nh(p));
    p->gates = tu_alloc(4 * nh(p));
    p->r = tu_alloc(nh(p));
    p->dx = tu_alloc(nx(p));
    p->dw_ih = tu_alloc(nih(p));
    p->dw_hh = tu_alloc(nhh(p));
    p->db = tu_alloc(4L * H);
    p->scratch = tu_alloc((long)dr_lstm_scratch_floats(B, T, I, H));
    tu_fill_uniform(p->x, nx(p), -1.0f, 1.0f, seed, stream * 16 + 0);
    tu_fill_uniform(p->w_ih, nih(p), -k, k, seed, stream * 16 + 1);
    tu_fill_uniform(p->w_hh, nhh(p), -k, k, seed, stream * 16 + 2);
    tu_fill_uniform(p->b, 4L * H, -k, k, seed, stream * 16 + 3);
    tu_fill_uniform(p->r, nh(p), -1.0f, 1.0f, seed, stream * 16 + 4);
}

static void prob_free(prob *p)
{
    float *ptrs[] = {p->x,  p->w_ih,  p->w_hh,  p->b,  p->h,       p->c, p->gates,
                     p->r, p->dx, p->dw_ih, p->dw_hh, p->db, p->scratch};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
}

static void fwd(prob *p)
{
    dr_cpu_lstm_forward(tu_cpu(), p->h, p->c, p->gates, p->x, p->w_ih, p->w_hh, p->b, p->B, p->T,
                        p->I, p->H);
}

/* Backward of loss = sum r * h: dh = r. */
static void bwd(prob *p, float *dx)
{
    dr_cpu_lstm_backward(tu_cpu(), dx, p->dw_ih, p->dw_hh, p->db, p->scratch, p->r, p->x, p->h,
                         p->c, p->gates, p->w_ih, p->w_hh, p->B, p->T, p->I, p->H);
}

static double loss_of(void *ctx)
{
    prob *p = ctx;
    fwd(p);
    return tu_dot(p->r, p->h, nh(p));
}

static float max_abs(const float *a, long n)
{
    float m = 0.0f;
    for (long i = 0; i < n; i++)
        m = fmaxf(m, fabsf(a[i]));
    return m;
}

static long count_nonfinite(const float *a, long n)
{
    long k = 0;
    for (long i = 0; i < n; i++)
        k += !isfinite(a[i]);
    return k;
}

/* Compares a whole tensor by normalised error: |got - want| <= tol * max|want|.
 * The reference accumulates in double, so the difference is the fast kernel's fp32
 * rounding. A K-term fp32 dot product is off by at most about K u sum|a_k b_k|
 * (Higham's gamma_K), and with the inputs here sum|a_k b_k| is within a small
 * factor of the largest output; the callers pass K (the longest accumulation
 * chain) and we allow tol = 4 K u (u = FLT_EPSILON / 2) plus 16 u for libm's
 * expf/tanhf (< 2 ulp each, a few in a chain). A wrong index, gate or sign gives
 * errors of order max|want| itself, far above tol for every K used here. */
static long cmp_norm(const char *what, const float *got, const float *want, long n, double K)
{
    double u = FLT_EPSILON / 2.0;
    double tol = 4.0 * K * u + 16.0 * u;
    double scale = max_abs(want, n);
    double worst = 0.0;
    for (long i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)got[i] - want[i]));
    printf("  %-8s n=%-8ld max|diff| %.3e  max|want| %.3e  normalised %.3e  (tol %.3e, K=%.0f)\n",
           what, n, worst, scale, scale > 0 ? worst / scale : worst, tol, K);
    return tu_compare(what, got, want, n, tol * (scale > 0 ? scale : 1.0), 0.0);
}

typedef struct {
    int B, T, I, H;
} shape;

/* Odd sizes, B = 1, T = 1, H not a multiple of 4 or 8, and the paper's size
 * (B 256, T 12, I 256, H 128), which exercises OpenBLAS's blocked paths. */
static const shape k_shapes[] = {
    {1, 1, 1, 1}, {1, 5, 3, 7}, {3, 1, 5, 6}, {2, 7, 9, 5}, {5, 4, 11, 13}, {33, 12, 64, 37},
    {256, 12, 256, 128},
};

static void random_shape(shape *s, uint32_t salt)
{
    uint64_t seed = tu_seed();
    float u[4];
    tu_fill_uniform(u, 4, 0.0f, 1.0f, seed, 9000 + salt);
    s->B = 1 + (int)(u[0] * 6);
    s->T = 1 + (int)(u[1] * 6);
    s->I = 1 + (int)(u[2] * 10);
    s->H = 1 + (int)(u[3] * 9);
}

static void check_forward(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->T, s->I, s->H, stream);
    printf("forward B=%d T=%d I=%d H=%d\n", s->B, s->T, s->I, s->H);
    fwd(&p); /* outputs start NaN (tu_alloc): every entry must be written */
    long bad = count_nonfinite(p.h, nh(&p)) + count_nonfinite(p.c, nh(&p)) +
               count_nonfinite(p.gates, 4 * nh(&p));
    printf("  non-finite outputs after a NaN-poisoned start: %ld\n", bad);
    float *h = tu_alloc(nh(&p)), *c = tu_alloc(nh(&p)), *g = tu_alloc(4 * nh(&p));
    ref_lstm_forward(h, c, g, p.x, p.w_ih, p.w_hh, p.b, p.B, p.T, p.I, p.H);
    /* one step's pre-activation sums I + H + 1 terms; errors carried by h and c add
     * at most that once per step (the gate nonlinearities are 1-Lipschitz), so the
     * chain is K = T (I + H + 1) */
    double K = (double)p.T * (p.I + p.H + 1);
    bad += cmp_norm("h", p.h, h, nh(&p), K);
    bad += cmp_norm("c", p.c, c, nh(&p), K);
    bad += cmp_norm("gates", p.gates, g, 4 * nh(&p), K);
    free(h), free(c), free(g);
    prob_free(&p);
    assert_int_equal(bad, 0);
}

static void test_forward_vs_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        check_forward(&k_shapes[i], (uint32_t)i);
    shape rs;
    random_shape(&rs, 1);
    check_forward(&rs, 99);
}

/* Backward against the reference, with gradient buffers pre-filled with random
 * values (the += contract: the result must be prefill + gradient) and a NaN-
 * poisoned scratch (it must be written before it is read). with_dx = 0 passes
 * dx = NULL. */
static void check_backward(const shape *s, uint32_t stream, int with_dx)
{
    prob p;
    prob_init(&p, s->B, s->T, s->I, s->H, stream);
    printf("backward B=%d T=%d I=%d H=%d dx=%s\n", s->B, s->T, s->I, s->H, with_dx ? "yes" : "NULL");
    fwd(&p);
    uint64_t seed = tu_seed();
    float *pre[4] = {p.dx, p.dw_ih, p.dw_hh, p.db};
    long len[4] = {nx(&p), nih(&p), nhh(&p), 4L * p.H};
    float *want[4];
    for (int k = 0; k < 4; k++) {
        tu_fill_uniform(pre[k], len[k], -1.0f, 1.0f, seed, 500 + stream * 8 + k);
        want[k] = tu_alloc(len[k]);
        memcpy(want[k], pre[k], (size_t)len[k] * sizeof(float));
    }
    bwd(&p, with_dx ? p.dx : NULL);
    ref_lstm_backward(with_dx ? want[0] : NULL, want[1], want[2], want[3], p.r, p.x, p.h, p.c,
                      p.gates, p.w_ih, p.w_hh, p.B, p.T, p.I, p.H);
    /* Chains: a weight gradient sums over all B*T (sample, step) pairs; each dgates
     * entry itself comes through up to T steps of 4H-term products (dh_{t-1} =
     * dgates_t w_hh) and dx adds one more 4H-term product. */
    double chain = (double)p.T * (4.0 * p.H + 1);
    long bad = 0;
    if (with_dx)
        bad += cmp_norm("dx", p.dx, want[0], len[0], chain + 4.0 * p.H);
    bad += cmp_norm("dw_ih", p.dw_ih, want[1], len[1], chain + (double)p.B * p.T);
    bad += cmp_norm("dw_hh", p.dw_hh, want[2], len[2], chain + (double)p.B * p.T);
    bad += cmp_norm("db", p.db, want[3], len[3], chain + (double)p.B * p.T);
    if (!with_dx) { /* untouched: still the prefill, bit for bit */
        float *keep = tu_alloc(len[0]);
        tu_fill_uniform(keep, len[0], -1.0f, 1.0f, seed, 500 + stream * 8 + 0);
        long changed = memcmp(keep, p.dx, (size_t)len[0] * sizeof(float)) != 0;
        printf("  dx buffer untouched with dx = NULL: %s\n", changed ? "NO" : "yes");
        bad += changed;
        free(keep);
    }
    for (int k = 0; k < 4; k++)
        free(want[k]);
    prob_free(&p);
    assert_int_equal(bad, 0);
}

static void test_backward_vs_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        check_backward(&k_shapes[i], (uint32_t)i, 1);
    check_backward(&k_shapes[3], 3, 0);
    shape rs;
    random_shape(&rs, 2);
    check_backward(&rs, 98, 1);
}

/* Central finite differences of loss = sum r * h (in double) against the fast
 * kernel's gradients, every entry of every gradient.
 *
 * Step eps = 1e-2: the truncation error is eps^2 / 6 |L'''| ~ 2e-5 |L'''|, and
 * L''' is O(1) here (inputs, weights, r all O(1) or below, smooth gates). The
 * rounding error of the difference is about u sqrt(N) max|h| / eps ~ 6e-8 * 25
 * / 1e-2 ~ 2e-4 for N = B T H <= 650 outputs, relative to gradients that are
 * O(0.1..1). So the relative error |a - fd| / (|a| + |fd|) should stay near
 * 1e-3; we allow 1e-2, with a floor of 1e-2 on the denominator so that gradients
 * near zero are judged by an absolute error of 1e-4. A missing term or wrong
 * sign gives relative errors of order 1. */
#define GC_EPS 1e-2
#define GC_TOL 1e-2
#define GC_FLOOR 1e-2

static void check_grads(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->T, s->I, s->H, stream);
    printf("gradcheck B=%d T=%d I=%d H=%d\n", s->B, s->T, s->I, s->H);
    fwd(&p);
    /* zeroed buffers: += leaves exactly the gradient */
    memset(p.dx, 0, (size_t)nx(&p) * sizeof(float));
    memset(p.dw_ih, 0, (size_t)nih(&p) * sizeof(float));
    memset(p.dw_hh, 0, (size_t)nhh(&p) * sizeof(float));
    memset(p.db, 0, (size_t)4 * p.H * sizeof(float));
    bwd(&p, p.dx);
    double e[4];
    e[0] = tu_grad_check("dx", p.x, nx(&p), p.dx, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[1] = tu_grad_check("dw_ih", p.w_ih, nih(&p), p.dw_ih, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[2] = tu_grad_check("dw_hh", p.w_hh, nhh(&p), p.dw_hh, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[3] = tu_grad_check("db", p.b, 4L * p.H, p.db, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    printf("  tolerance %.1e\n", GC_TOL);
    prob_free(&p);
    for (int k = 0; k < 4; k++)
        assert_true(e[k] <= GC_TOL);
}

static void test_gradcheck(void **state)
{
    (void)state;
    static const shape small[] = {{1, 1, 1, 1}, {1, 5, 3, 7}, {3, 1, 5, 6}, {2, 7, 9, 5},
                                  {5, 4, 11, 13}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        check_grads(&small[i], 40 + (uint32_t)i);
    shape rs;
    random_shape(&rs, 3);
    check_grads(&rs, 97);
}

/* The branch-free exp, sigmoid and tanh of kernels/math.h that the gates use,
 * against double precision over a dense sweep. Bounds (u = FLT_EPSILON / 2):
 * exp relative <= 4 u on [-87, 88] (range reduction ~1 u, polynomial ~1 u,
 * scaling exact); sigmoid relative <= 6 u on [-80, 80] (exp plus an add and a
 * division); tanh absolute <= 6 u everywhere and relative <= 8 u (Cephes'
 * polynomial near 0, 1 - 2 / (e^2x + 1) elsewhere, whose cancellation costs up
 * to a few u relative just above |x| = 0.625). Measured maxima are printed.
 * Beyond the clamp exp saturates at exp(88) / exp(-87), so sigmoid and tanh of
 * +-inf are exact limits; NaN must come out as NaN. */
static void test_fast_math(void **state)
{
    (void)state;
    const double u = FLT_EPSILON / 2.0;
    double we = 0, wsr = 0, wta = 0, wtr = 0;
    const long N = 2000000;
    for (long i = 0; i <= N; i++) {
        float x = -100.0f + 200.0f * (float)i / (float)N;
        if (x >= -87.0f && x <= 88.0f) {
            double r = exp((double)x);
            we = fmax(we, fabs(dr_fast_expf(x) - r) / r);
        }
        if (x >= -80.0f && x <= 80.0f) {
            double sg = 1.0 / (1.0 + exp(-(double)x));
            wsr = fmax(wsr, fabs(dr_fast_sigmoidf(x) - sg) / sg);
        }
        double th = tanh((double)x);
        double e = fabs(dr_fast_tanhf(x) - th);
        wta = fmax(wta, e);
        if (th != 0.0)
            wtr = fmax(wtr, e / fabs(th));
    }
    printf("fast exp: max rel err %.2f u (bound 4); sigmoid: rel %.2f u (6); tanh: abs %.2f u (6), "
           "rel %.2f u (8)\n",
           we / u, wsr / u, wta / u, wtr / u);
    assert_true(we <= 4 * u);
    assert_true(wsr <= 6 * u);
    assert_true(wta <= 6 * u);
    assert_true(wtr <= 8 * u);
    assert_true(isnan(dr_fast_expf(NAN)) && isnan(dr_fast_sigmoidf(NAN)) && isnan(dr_fast_tanhf(NAN)));
    assert_true(dr_fast_sigmoidf(INFINITY) == 1.0f && dr_fast_sigmoidf(-INFINITY) >= 0.0f &&
                dr_fast_sigmoidf(-INFINITY) < 1e-37f);
    assert_true(dr_fast_tanhf(INFINITY) == 1.0f && dr_fast_tanhf(-INFINITY) == -1.0f);
    assert_true(dr_fast_tanhf(1e-30f) == 1e-30f && dr_fast_tanhf(-0.0f) == 0.0f);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_math),
        cmocka_unit_test(test_forward_vs_reference),
        cmocka_unit_test(test_backward_vs_reference),
        cmocka_unit_test(test_gradcheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
