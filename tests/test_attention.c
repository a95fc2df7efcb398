/* Additive attention kernel tests: the CPU kernel (kernels/cpu/attention.c) against
 * the plain-loop reference below, known answers (alpha sums to 1; v = 0 gives
 * uniform weights and the mean of h), central finite differences of every
 * gradient, the += contract and NaN-poisoned outputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/attention.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

/* ---- the slow, obvious version (double accumulation) ----
 *   h [B, T, H], w [A, H], b [A], v [A]
 *   u [B, T, A] = tanh(h w^T + b),  s [B, T] = u v,  alpha = softmax_t(s),
 *   ctx [B, H] = sum_t alpha h */
static void ref_attention_forward(float *ctx, float *alpha, float *u, const float *h,
                                  const float *w, const float *b, const float *v, int B, int T,
                                  int H, int A)
{
    double *s = malloc((size_t)T * sizeof *s);
    assert_non_null(s);
    for (int n = 0; n < B; n++) {
        double smax = -INFINITY;
        for (int t = 0; t < T; t++) {
            const float *ht = h + ((size_t)n * T + t) * H;
            s[t] = 0.0;
            for (int a = 0; a < A; a++) {
                double z = b[a];
                for (int k = 0; k < H; k++)
                    z += (double)w[(size_t)a * H + k] * ht[k];
                double ua = tanh(z);
                u[((size_t)n * T + t) * A + a] = (float)ua;
                s[t] += v[a] * ua;
            }
            smax = fmax(smax, s[t]);
        }
        double sum = 0.0;
        for (int t = 0; t < T; t++)
            sum += exp(s[t] - smax);
        for (int k = 0; k < H; k++) {
            double cv = 0.0;
            for (int t = 0; t < T; t++)
                cv += exp(s[t] - smax) / sum * h[((size_t)n * T + t) * H + k];
            ctx[(size_t)n * H + k] = (float)cv;
        }
        for (int t = 0; t < T; t++)
            alpha[(size_t)n * T + t] = (float)(exp(s[t] - smax) / sum);
    }
    free(s);
}

/* Adds into dh (may be NULL), dw, db, dv like the kernel; uses the saved u and
 * alpha, as the kernel does. */
static void ref_attention_backward(float *dh, float *dw, float *db, float *dv, const float *dctx,
                                   const float *h, const float *w, const float *v, const float *u,
                                   const float *alpha, int B, int T, int H, int A)
{
    double *gw = calloc((size_t)A * H, sizeof(double)), *gb = calloc(A, sizeof(double));
    double *gv = calloc(A, sizeof(double)), *ds = calloc(T, sizeof(double));
    double *dpre = calloc(A, sizeof(double));
    assert_true(gw && gb && gv && ds && dpre);
    for (int n = 0; n < B; n++) {
        const float *dc = dctx + (size_t)n * H;
        const float *al = alpha + (size_t)n * T;
        double dot = 0.0;
        for (int t = 0; t < T; t++) {
            double da = 0.0; /* d loss / d alpha_t = dctx . h_t */
            for (int k = 0; k < H; k++)
                da += (double)dc[k] * h[((size_t)n * T + t) * H + k];
            ds[t] = da;
            dot += al[t] * da;
        }
        for (int t = 0; t < T; t++) {
            size_t row = (size_t)n * T + t;
            ds[t] = al[t] * (ds[t] - dot); /* softmax backward */
            for (int a = 0; a < A; a++) {
                double ua = u[row * A + a];
                gv[a] += ds[t] * ua;
                dpre[a] = ds[t] * v[a] * (1.0 - ua * ua);
                gb[a] += dpre[a];
                for (int k = 0; k < H; k++)
                    gw[(size_t)a * H + k] += dpre[a] * h[row * H + k];
            }
            for (int k = 0; dh && k < H; k++) {
                double g = (double)al[t] * dc[k];
                for (int a = 0; a < A; a++)
                    g += dpre[a] * w[(size_t)a * H + k];
                dh[row * H + k] += (float)g;
            }
        }
    }
    for (size_t i = 0; i < (size_t)A * H; i++)
        dw[i] += (float)gw[i];
    for (int a = 0; a < A; a++) {
        db[a] += (float)gb[a];
        dv[a] += (float)gv[a];
    }
    free(gw), free(gb), free(gv), free(ds), free(dpre);
}

/* ---- one problem ---- */
typedef struct {
    int B, T, H, A;
    float *h, *w, *b, *v;    /* inputs */
    float *ctx, *alpha, *u;  /* outputs */
    float *r;                /* loss = sum r * ctx */
    float *dh, *dw, *db, *dv, *scratch;
} prob;

static long nh(const prob *p) { return (long)p->B * p->T * p->H; }
static long nw(const prob *p) { return (long)p->A * p->H; }
static long nu(const prob *p) { return (long)p->B * p->T * p->A; }
static long nc(const prob *p) { return (long)p->B * p->H; }

/* h in [-1, 1] like LSTM outputs; w, b U(-k, k) with k = 1/sqrt(H); v in [-1, 1] so
 * the scores spread over a few units and alpha is far from uniform. */
static void prob_init(prob *p, int B, int T, int H, int A, uint32_t stream)
{
    uint64_t seed = tu_seed();
    float k = 1.0f / sqrtf((float)H);
    *p = (prob){.B = B, .T = T, .H = H, .A = A};
    p->h = tu_alloc(nh(p));
    p->w = tu_alloc(nw(p));
    p->b = tu_alloc(A);
    p->v = tu_alloc(A);
    p->ctx = tu_alloc(nc(p));
    p->alpha = tu_alloc((long)B * T);
    p->u = tu_alloc(nu(p));
    p->r = tu_alloc(nc(p));
    p->dh = tu_alloc(nh(p));
    p->dw = tu_alloc(nw(p));
    p->db = tu_alloc(A);
    p->dv = tu_alloc(A);
    p->scratch = tu_alloc((long)dr_attention_scratch_floats(B, T, H, A));
    tu_fill_uniform(p->h, nh(p), -1.0f, 1.0f, seed, stream * 16 + 0);
    tu_fill_uniform(p->w, nw(p), -k, k, seed, stream * 16 + 1);
    tu_fill_uniform(p->b, A, -k, k, seed, stream * 16 + 2);
    tu_fill_uniform(p->v, A, -1.0f, 1.0f, seed, stream * 16 + 3);
    tu_fill_uniform(p->r, nc(p), -1.0f, 1.0f, seed, stream * 16 + 4);
}

static void prob_free(prob *p)
{
    float *ptrs[] = {p->h, p->w,  p->b,  p->v,  p->ctx, p->alpha,  p->u,
                     p->r, p->dh, p->dw, p->db, p->dv,  p->scratch};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
}

static void fwd(prob *p)
{
    dr_cpu_attention_forward(tu_cpu(), p->ctx, p->alpha, p->u, p->h, p->w, p->b, p->v, p->B, p->T,
                             p->H, p->A);
}

static void bwd(prob *p, float *dh)
{
    dr_cpu_attention_backward(tu_cpu(), dh, p->dw, p->db, p->dv, p->scratch, p->r, p->h, p->w,
                              p->v, p->u, p->alpha, p->B, p->T, p->H, p->A);
}

static double loss_of(void *ctx)
{
    prob *p = ctx;
    fwd(p);
    return tu_dot(p->r, p->ctx, nc(p));
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

/* Whole-tensor normalised error |got - want| <= tol * max|want| against the
 * double reference. A K-term fp32 accumulation is off by at most about K u
 * sum|terms| (Higham's gamma_K); with these inputs sum|terms| is within a small
 * factor of the largest output, so tol = 4 K u plus 16 u for the exp/tanh
 * approximations (a few ulp each). K is the longest accumulation chain, given
 * by the caller. A wrong index or sign gives errors of order max|want|. */
static long cmp_norm(const char *what, const float *got, const float *want, long n, double K)
{
    double u = FLT_EPSILON / 2.0;
    double tol = 4.0 * K * u + 16.0 * u;
    double scale = max_abs(want, n);
    double worst = 0.0;
    for (long i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)got[i] - want[i]));
    printf("  %-6s n=%-8ld max|diff| %.3e  max|want| %.3e  normalised %.3e  (tol %.3e, K=%.0f)\n",
           what, n, worst, scale, scale > 0 ? worst / scale : worst, tol, K);
    return tu_compare(what, got, want, n, tol * (scale > 0 ? scale : 1.0), 0.0);
}

typedef struct {
    int B, T, H, A;
} shape;

/* Odd sizes, B = 1, T = 1, H and A not multiples of 4 or 8, and the paper's
 * size (B 256, T 12, LSTM H 128, attention A 128). */
static const shape k_shapes[] = {
    {1, 1, 1, 1}, {1, 5, 7, 3}, {3, 1, 6, 5}, {2, 7, 5, 9}, {5, 4, 13, 11}, {33, 12, 37, 21},
    {256, 12, 128, 128},
};

static void random_shape(shape *s, uint32_t salt)
{
    float u[4];
    tu_fill_uniform(u, 4, 0.0f, 1.0f, tu_seed(), 9000 + salt);
    s->B = 1 + (int)(u[0] * 6);
    s->T = 1 + (int)(u[1] * 8);
    s->H = 1 + (int)(u[2] * 10);
    s->A = 1 + (int)(u[3] * 9);
}

static void check_forward(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->T, s->H, s->A, stream);
    printf("forward B=%d T=%d H=%d A=%d\n", s->B, s->T, s->H, s->A);
    fwd(&p); /* outputs start NaN (tu_alloc): every entry must be written */
    long bad = count_nonfinite(p.ctx, nc(&p)) + count_nonfinite(p.alpha, (long)p.B * p.T) +
               count_nonfinite(p.u, nu(&p));
    printf("  non-finite outputs after a NaN-poisoned start: %ld\n", bad);
    float *ctx = tu_alloc(nc(&p)), *alpha = tu_alloc((long)p.B * p.T), *u = tu_alloc(nu(&p));
    ref_attention_forward(ctx, alpha, u, p.h, p.w, p.b, p.v, p.B, p.T, p.H, p.A);
    /* u: H + 1 terms; scores add A; the softmax sum T; ctx another T */
    bad += cmp_norm("u", p.u, u, nu(&p), p.H + 1.0);
    bad += cmp_norm("alpha", p.alpha, alpha, (long)p.B * p.T, p.H + p.A + 2.0 * p.T);
    bad += cmp_norm("ctx", p.ctx, ctx, nc(&p), p.H + p.A + 3.0 * p.T);

    /* alpha is a distribution per sample: alpha >= 0 and sum_t alpha = 1. The sum
     * (taken here in double) is off by the kernel's rounding only: (T - 1) u from
     * summing the exponentials, u from 1/sum, u from each product, so
     * |sum - 1| <= (T + 1) u; we allow 2 (T + 2) u. */
    double worst = 0.0;
    long negative = 0;
    for (int n = 0; n < p.B; n++) {
        double sum = 0.0;
        for (int t = 0; t < p.T; t++) {
            sum += p.alpha[(size_t)n * p.T + t];
            negative += p.alpha[(size_t)n * p.T + t] < 0.0f;
        }
        worst = fmax(worst, fabs(sum - 1.0));
    }
    double tol = 2.0 * (p.T + 2) * (FLT_EPSILON / 2.0);
    printf("  alpha: max |sum_t alpha - 1| %.3e (tol %.3e), negative entries %ld\n", worst, tol,
           negative);
    bad += !(worst <= tol) + negative;
    free(ctx), free(alpha), free(u);
    prob_free(&p);
    assert_int_equal(bad, 0);
}

static void test_forward_vs_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        check_forward(&k_shapes[i], (uint32_t)i);
    shape rs;
    random_shape(&rs, 11);
    check_forward(&rs, 99);
}

/* Known answer: with v = 0 every score is 0, so alpha = 1/T for every step and
 * ctx is the plain mean of h over time, whatever w and b are. The kernel's alpha
 * is exp(0) * fl(1/T) = fl(1/T) exactly; ctx sums T products, each off by u, so
 * |ctx - mean| <= (T + 1) u max|h|; we allow 2 (T + 1) u max|h|. */
static void test_uniform_when_v_is_zero(void **state)
{
    (void)state;
    static const shape cases[] = {{3, 7, 5, 4}, {1, 1, 3, 2}, {4, 12, 128, 33}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const shape *s = &cases[c];
        prob p;
        prob_init(&p, s->B, s->T, s->H, s->A, 60 + (uint32_t)c);
        memset(p.v, 0, (size_t)p.A * sizeof(float));
        fwd(&p);
        float inv_t = 1.0f / (float)p.T;
        long bad = 0;
        for (long i = 0; i < (long)p.B * p.T; i++)
            bad += p.alpha[i] != inv_t;
        float *mean = tu_alloc(nc(&p));
        for (int n = 0; n < p.B; n++)
            for (int k = 0; k < p.H; k++) {
                double m = 0.0;
                for (int t = 0; t < p.T; t++)
                    m += p.h[((size_t)n * p.T + t) * p.H + k];
                mean[(size_t)n * p.H + k] = (float)(m / p.T);
            }
        double atol = 2.0 * (p.T + 1) * (FLT_EPSILON / 2.0) * max_abs(p.h, nh(&p));
        printf("v = 0, B=%d T=%d H=%d A=%d: alpha != 1/T in %ld entries; ctx vs mean of h (atol %.2e)\n",
               p.B, p.T, p.H, p.A, bad, atol);
        bad += tu_compare("ctx", p.ctx, mean, nc(&p), atol, 0.0);
        free(mean);
        prob_free(&p);
        assert_int_equal(bad, 0);
    }
}

/* Backward against the reference with gradient buffers pre-filled with random
 * values (+= contract: result = prefill + gradient) and NaN-poisoned scratch.
 * with_dh = 0 passes dh = NULL, which must leave the dh buffer untouched. */
static void check_backward(const shape *s, uint32_t stream, int with_dh)
{
    prob p;
    prob_init(&p, s->B, s->T, s->H, s->A, stream);
    printf("backward B=%d T=%d H=%d A=%d dh=%s\n", s->B, s->T, s->H, s->A, with_dh ? "yes" : "NULL");
    fwd(&p);
    uint64_t seed = tu_seed();
    float *pre[4] = {p.dh, p.dw, p.db, p.dv};
    long len[4] = {nh(&p), nw(&p), p.A, p.A};
    float *want[4];
    for (int k = 0; k < 4; k++) {
        tu_fill_uniform(pre[k], len[k], -1.0f, 1.0f, seed, 700 + stream * 8 + k);
        want[k] = tu_alloc(len[k]);
        memcpy(want[k], pre[k], (size_t)len[k] * sizeof(float));
    }
    bwd(&p, with_dh ? p.dh : NULL);
    ref_attention_backward(with_dh ? want[0] : NULL, want[1], want[2], want[3], p.r, p.h, p.w, p.v,
                           p.u, p.alpha, p.B, p.T, p.H, p.A);
    /* chains: ds needs H (dalpha) + T (the dot) terms; the weight, bias and v
     * gradients then sum over all B*T rows; dh adds an A-term product */
    double chain = (double)p.H + p.T;
    long bad = 0;
    if (with_dh)
        bad += cmp_norm("dh", p.dh, want[0], len[0], chain + p.A);
    bad += cmp_norm("dw", p.dw, want[1], len[1], chain + (double)p.B * p.T);
    bad += cmp_norm("db", p.db, want[2], len[2], chain + (double)p.B * p.T);
    bad += cmp_norm("dv", p.dv, want[3], len[3], chain + (double)p.B * p.T);
    if (!with_dh) {
        long changed = memcmp(want[0], p.dh, (size_t)len[0] * sizeof(float)) != 0;
        printf("  dh buffer untouched with dh = NULL: %s\n", changed ? "NO" : "yes");
        bad += changed;
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
    random_shape(&rs, 12);
    check_backward(&rs, 98, 1);
}

/* Central finite differences of loss = sum r * ctx (in double), every entry of
 * dh, dw, db and dv. eps = 1e-2: truncation eps^2 / 6 |L'''| ~ 2e-5 with L'''
 * O(1) (tanh and softmax are smooth, inputs O(1)); rounding of the difference
 * about u sqrt(N) / eps ~ 6e-8 * 10 / 1e-2 ~ 6e-5 for N = B H <= 100 outputs.
 * Gradients are O(0.01..1), so the relative error |a - fd| / (|a| + |fd|) should
 * stay well under 1e-3; we allow 1e-2 with a denominator floor of 1e-2 (absolute
 * error 1e-4 for gradients near zero). A missing term gives errors of order 1. */
#define GC_EPS 1e-2
#define GC_TOL 1e-2
#define GC_FLOOR 1e-2

static void check_grads(const shape *s, uint32_t stream)
{
    prob p;
    prob_init(&p, s->B, s->T, s->H, s->A, stream);
    printf("gradcheck B=%d T=%d H=%d A=%d\n", s->B, s->T, s->H, s->A);
    fwd(&p);
    memset(p.dh, 0, (size_t)nh(&p) * sizeof(float));
    memset(p.dw, 0, (size_t)nw(&p) * sizeof(float));
    memset(p.db, 0, (size_t)p.A * sizeof(float));
    memset(p.dv, 0, (size_t)p.A * sizeof(float));
    bwd(&p, p.dh);
    double e[4];
    e[0] = tu_grad_check("dh", p.h, nh(&p), p.dh, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[1] = tu_grad_check("dw", p.w, nw(&p), p.dw, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[2] = tu_grad_check("db", p.b, p.A, p.db, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    e[3] = tu_grad_check("dv", p.v, p.A, p.dv, loss_of, &p, GC_EPS, 100000, GC_FLOOR);
    printf("  tolerance %.1e\n", GC_TOL);
    prob_free(&p);
    for (int k = 0; k < 4; k++)
        assert_true(e[k] <= GC_TOL);
}

static void test_gradcheck(void **state)
{
    (void)state;
    static const shape small[] = {{1, 1, 1, 1}, {1, 5, 7, 3}, {3, 1, 6, 5}, {2, 7, 5, 9},
                                  {5, 4, 13, 11}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        check_grads(&small[i], 40 + (uint32_t)i);
    shape rs;
    random_shape(&rs, 13);
    check_grads(&rs, 97);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_vs_reference),
        cmocka_unit_test(test_uniform_when_v_is_zero),
        cmocka_unit_test(test_backward_vs_reference),
        cmocka_unit_test(test_gradcheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
