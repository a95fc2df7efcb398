/* Composite-loss kernel tests (kernels/cpu/loss.c, math in kernels/math.h):
 * closed forms (a = 1 is BCE = softplus(-s z); a = 0 with gamma = 0 is the same
 * BCE; gamma = 2 focal at hand-computed points), extreme logits giving finite
 * loss and gradient, class weights, the batch mean, the forward and the
 * gradient against a double reference, the += contract with its scale, NaN-
 * poisoned outputs fully written, and central finite differences of the loss
 * with respect to every logit. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/loss.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

#define U (FLT_EPSILON / 2.0)

static dr_loss_params params(float a, float gamma, float w_pos, float w_neg)
{
    dr_loss_params p = {.a = a, .gamma = gamma, .w_pos = w_pos, .w_neg = w_neg};
    return p;
}

/* ---- reference in double ----
 * s = +1 (y = 1) or -1 (y = 0); nll = -log p_t = softplus(-s z); q = 1 - p_t =
 * sigmoid(-s z); L = a nll + (1 - a) q^gamma nll;
 * dL/dz = -s [a q + (1 - a) q^gamma (gamma p_t nll + q)] */
static double ref_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
static double ref_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

static double ref_loss(double z, float y, dr_loss_params p)
{
    double s = y > 0.5f ? 1.0 : -1.0, nll = ref_softplus(-s * z), q = ref_sigmoid(-s * z);
    double w = y > 0.5f ? p.w_pos : p.w_neg;
    return w * (p.a * nll + (1.0 - p.a) * pow(q, p.gamma) * nll);
}

static double ref_grad(double z, float y, dr_loss_params p)
{
    double s = y > 0.5f ? 1.0 : -1.0, nll = ref_softplus(-s * z), q = ref_sigmoid(-s * z);
    double pt = ref_sigmoid(s * z), w = y > 0.5f ? p.w_pos : p.w_neg;
    return -s * w * (p.a * q + (1.0 - p.a) * pow(q, p.gamma) * (p.gamma * pt * nll + q));
}

/* the kernel on one sample */
static float one_loss(float z, float y, dr_loss_params p)
{
    float loss = NAN, per = NAN;
    dr_cpu_loss_forward(tu_cpu(), &loss, &per, &z, &y, 1, p);
    return per;
}

static float one_grad(float z, float y, dr_loss_params p)
{
    float dz = 0.0f;
    dr_cpu_loss_backward(tu_cpu(), &dz, &z, &y, 1, p, 1.0f);
    return dz;
}

/* a = 1 is plain BCE: L = log(1 + exp(-z)) for y = 1 and log(1 + exp(z)) for
 * y = 0, here computed in double as log1p(exp(..)) (no large |z|, so no
 * overflow). The kernel's softplus is expf, log1pf and a sum of two
 * non-negative terms: within 4 u relative (each libm call 1 ulp, the sum u);
 * checked at 6 u. And a = 0 with gamma = 0 is the same BCE: the focal weight
 * q^0 is exactly 1, so the two must agree bit for bit. */
static void test_bce_closed_form(void **state)
{
    (void)state;
    const float zs[] = {-8.0f, -2.5f, -1.0f, -0.1f, 0.0f, 0.3f, 1.0f, 4.0f, 12.0f};
    long bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
        for (int y = 0; y <= 1; y++) {
            double z = zs[i];
            double want = y ? log1p(exp(-z)) : log1p(exp(z));
            float got = one_loss(zs[i], (float)y, params(1.0f, 2.0f, 1.0f, 1.0f));
            float got0 = one_loss(zs[i], (float)y, params(0.0f, 0.0f, 1.0f, 1.0f));
            double rel = fabs(got - want) / want;
            worst = fmax(worst, rel);
            bad += !(rel <= 6.0 * U) + (got0 != got);
            if (!(rel <= 6.0 * U) || got0 != got)
                printf("  z=%g y=%d: a=1 %.9g, a=0 gamma=0 %.9g, want %.17g\n", z, y, got, got0, want);
        }
    printf("BCE closed form: max rel err %.2f u (tol 6 u); a=0,gamma=0 == a=1 bit for bit; %ld bad\n",
           worst / U, bad);
    assert_int_equal(bad, 0);
}

/* Focal with gamma = 2 at hand-computed points (a = 0: the focal term alone).
 *  z = 0, y = 1 or 0:   p_t = 1/2, q = 1/2, nll = ln 2
 *     L = q^2 nll = 0.25 ln 2 = 0.17328679513998632
 *     dL/dz = -s q^2 (2 p_t nll + q) = -s 0.25 (ln 2 + 0.5) = -s 0.29828679513998635
 *  z = ln 3, y = 1 (and z = -ln 3, y = 0):  p_t = 3/4, q = 1/4, nll = ln(4/3)
 *     = 0.28768207245178085;  L = nll / 16 = 0.017980129528236303
 *     dL/dz = -s (1/16)(2 (3/4) ln(4/3) + 1/4) = -s 0.042595194292354456
 *  composite a = 0.7 at z = 0, y = 1:
 *     L = 0.7 ln 2 + 0.3 (0.25 ln 2) = 0.775 ln 2 = 0.53718906493395757
 *     dL/dz = 0.7 (-0.5) + 0.3 (-0.29828679513998635) = -0.43948603854199586
 * Tolerance 32 u relative: expf, log1pf, powf, a few products (~10 u) plus, at
 * z = ln 3, the rounding of z to float (6e-8 relative; |dL/dz| |z| / L ~ 2.6,
 * i.e. ~4 u more). A wrong exponent or sign is off by tens of percent. */
static void test_focal_hand_points(void **state)
{
    (void)state;
    const float ln3 = 1.0986122886681098f;
    const struct {
        float z, y, a;
        double L, dL;
    } pts[] = {
        {0.0f, 1.0f, 0.0f, 0.17328679513998632, -0.29828679513998635},
        {0.0f, 0.0f, 0.0f, 0.17328679513998632, 0.29828679513998635},
        {ln3, 1.0f, 0.0f, 0.017980129528236303, -0.042595194292354456},
        {-ln3, 0.0f, 0.0f, 0.017980129528236303, 0.042595194292354456},
        {0.0f, 1.0f, 0.7f, 0.53718906493395757, -0.43948603854199586},
    };
    long bad = 0;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        dr_loss_params p = params(pts[i].a, 2.0f, 1.0f, 1.0f);
        float L = one_loss(pts[i].z, pts[i].y, p), g = one_grad(pts[i].z, pts[i].y, p);
        double eL = fabs(L - pts[i].L) / fabs(pts[i].L), eg = fabs(g - pts[i].dL) / fabs(pts[i].dL);
        int ok = eL <= 32.0 * U && eg <= 32.0 * U;
        printf("  z=%+.7f y=%.0f a=%.1f gamma=2: L %.9g (want %.9g, %.1f u)  dL/dz %.9g (want %.9g, "
               "%.1f u)%s\n",
               (double)pts[i].z, (double)pts[i].y, (double)pts[i].a, L, pts[i].L, eL / U, g,
               pts[i].dL, eg / U, ok ? "" : "  BAD");
        bad += !ok;
    }
    printf("focal hand points: %ld bad (tol 32 u)\n", bad);
    assert_int_equal(bad, 0);
}

/* Extreme logits: loss and gradient finite for every label, a and gamma
 * (gamma = 0.5 < 1 is where q^(gamma - 1) would be inf at q = 0). Confidently
 * wrong (s z = -|z|): nll = |z| + log1p(e^-|z|) = |z| in float, q = 1, so
 * L = |z| and dL/dz = -s (a + (1 - a)(gamma p_t nll + 1)) = -s to within p_t |z|
 * (<= 4e-42): checked at 2 u relative. Confidently right: L in [0, 1e-40] and
 * |dL/dz| <= 1e-40 (e^-100 = 3.7e-44 times O(1)). */
static void test_extreme_logits(void **state)
{
    (void)state;
    const float zs[] = {100.0f, 1e4f};
    const float as[] = {1.0f, 0.7f, 0.0f}, gs[] = {0.0f, 0.5f, 2.0f};
    long bad = 0, cases = 0;
    for (size_t i = 0; i < 2; i++)
        for (int sign = -1; sign <= 1; sign += 2)
            for (int y = 0; y <= 1; y++)
                for (size_t ia = 0; ia < 3; ia++)
                    for (size_t ig = 0; ig < 3; ig++) {
                        float z = (float)sign * zs[i];
                        dr_loss_params p = params(as[ia], gs[ig], 1.0f, 1.0f);
                        float L = one_loss(z, (float)y, p), g = one_grad(z, (float)y, p);
                        double s = y ? 1.0 : -1.0;
                        int wrong = s * z < 0, ok = isfinite(L) && isfinite(g);
                        if (wrong)
                            ok = ok && fabs(L - zs[i]) <= 2.0 * U * zs[i] && fabs(g + s) <= 2.0 * U;
                        else
                            ok = ok && L >= 0.0f && L <= 1e-40f && fabs(g) <= 1e-40f;
                        if (!ok)
                            printf("  z=%g y=%d a=%g gamma=%g: L %.9g dL/dz %.9g BAD\n", (double)z, y,
                                   (double)p.a, (double)p.gamma, L, g);
                        bad += !ok;
                        cases++;
                    }
    printf("extreme logits +-100, +-1e4 x labels x a x gamma: %ld of %ld cases bad\n", bad, cases);
    assert_int_equal(bad, 0);
}

/* ---- batches ---- */
typedef struct {
    int B;
    float *z, *y, *per, *loss, *dz, *r;
    dr_loss_params p;
    float scale;
} prob;

static void prob_init(prob *q, int B, dr_loss_params p, float scale, uint32_t stream)
{
    uint64_t seed = tu_seed();
    *q = (prob){.B = B, .p = p, .scale = scale};
    q->z = tu_alloc(B), q->y = tu_alloc(B), q->per = tu_alloc(B), q->loss = tu_alloc(1);
    q->dz = tu_alloc(B), q->r = tu_alloc(B);
    tu_fill_uniform(q->z, B, -6.0f, 6.0f, seed, stream * 4);
    tu_fill_uniform(q->y, B, 0.0f, 1.0f, seed, stream * 4 + 1);
    for (int i = 0; i < B; i++) {
        q->y[i] = q->y[i] < 0.3f ? 1.0f : 0.0f; /* ~30 % positives */
        q->r[i] = scale / (float)B;              /* loss[0] * scale = sum r * per_sample */
    }
    if (B >= 2) /* both classes present */
        q->y[0] = 1.0f, q->y[1] = 0.0f;
}

static void prob_free(prob *q) { free(q->z), free(q->y), free(q->per), free(q->loss), free(q->dz), free(q->r); }

/* scale * loss[0] computed as sum_i (scale / B) per_sample[i] in double: the
 * same function without rounding the batch mean to float, so the difference
 * quotient sees only the rounding of the perturbed sample's loss. */
static double loss_of(void *ctx)
{
    prob *q = ctx;
    dr_cpu_loss_forward(tu_cpu(), q->loss, q->per, q->z, q->y, q->B, q->p);
    return tu_dot(q->r, q->per, q->B);
}

typedef struct {
    float a, gamma, w_pos, w_neg;
} pset;

static const pset k_psets[] = {
    {1.0f, 0.0f, 1.0f, 1.0f}, {0.7f, 2.0f, 1.0f, 1.0f}, {0.0f, 2.0f, 1.0f, 1.0f},
    {0.7f, 0.5f, 1.0f, 1.0f}, {0.7f, 2.0f, 4.35f, 1.0f}, {0.3f, 1.0f, 0.8f, 2.5f},
};
static const int k_batches[] = {1, 2, 3, 7, 37, 256};

/* Forward against the double reference: per-sample relative (16 + 4 gamma) u
 * (softplus ~3 u, sigmoid ~3 u, powf 1 u plus gamma times q's error, products
 * and the sum of two non-negative terms ~4 u); the batch mean rounds a double
 * sum of the kernel's own per_sample values once: u relative to it. Class
 * weights: per_sample = w_y * (unweighted per_sample) bit for bit, because the
 * kernel multiplies the same float by w. NaN-poisoned outputs fully written. */
static void test_forward_batches(void **state)
{
    (void)state;
    long bad = 0;
    for (size_t k = 0; k < sizeof k_psets / sizeof k_psets[0]; k++)
        for (size_t b = 0; b < sizeof k_batches / sizeof k_batches[0]; b++) {
            const pset *ps = &k_psets[k];
            dr_loss_params p = params(ps->a, ps->gamma, ps->w_pos, ps->w_neg);
            prob q;
            prob_init(&q, k_batches[b], p, 1.0f, 10 * (uint32_t)k + (uint32_t)b);
            dr_cpu_loss_forward(tu_cpu(), q.loss, q.per, q.z, q.y, q.B, p);
            long nan = isnan(q.loss[0]);
            for (int i = 0; i < q.B; i++)
                nan += isnan(q.per[i]);
            double worst = 0.0, sum = 0.0;
            long pb = 0;
            for (int i = 0; i < q.B; i++) {
                double w = ref_loss(q.z[i], q.y[i], p), e = fabs(q.per[i] - w) / w;
                worst = fmax(worst, e);
                pb += !(e <= (16.0 + 4.0 * p.gamma) * U);
                sum += q.per[i];
            }
            double mean = sum / q.B, em = fabs(q.loss[0] - mean) / mean;
            /* class weights: the same batch unweighted, times w_y */
            float *per1 = tu_alloc(q.B), l1;
            dr_cpu_loss_forward(tu_cpu(), &l1, per1, q.z, q.y, q.B, params(p.a, p.gamma, 1.0f, 1.0f));
            long wb = 0;
            for (int i = 0; i < q.B; i++)
                wb += q.per[i] != (q.y[i] > 0.5f ? p.w_pos : p.w_neg) * per1[i];
            printf("forward a=%.1f gamma=%.1f w=(%.2f, %.2f) B=%-3d: NaN %ld, per-sample max rel err "
                   "%.2f u (tol %.0f u, %ld bad), mean rel err %.2f u (tol 1 u), weights %ld bad\n",
                   (double)p.a, (double)p.gamma, (double)p.w_pos, (double)p.w_neg, q.B, nan,
                   worst / U, 16.0 + 4.0 * p.gamma, pb, em / U, wb);
            bad += nan + pb + !(em <= U) + wb;
            free(per1);
            prob_free(&q);
        }
    assert_int_equal(bad, 0);
}

/* Backward: against the double reference (scale / B) w dL/dz at relative
 * (24 + 4 gamma) u (the forward's terms plus p_t and the products of the
 * gradient formula; both terms have the sign -s, so no cancellation); the +=
 * contract: onto a random prefill the result is prefill + (the result from 0)
 * bit for bit, since the kernel adds one float to each entry. */
static void test_backward_vs_reference(void **state)
{
    (void)state;
    long bad = 0;
    for (size_t k = 0; k < sizeof k_psets / sizeof k_psets[0]; k++)
        for (size_t b = 0; b < sizeof k_batches / sizeof k_batches[0]; b++) {
            const pset *ps = &k_psets[k];
            dr_loss_params p = params(ps->a, ps->gamma, ps->w_pos, ps->w_neg);
            prob q;
            float scale = b % 2 ? 0.5f : 1.0f;
            prob_init(&q, k_batches[b], p, scale, 100 + 10 * (uint32_t)k + (uint32_t)b);
            memset(q.dz, 0, (size_t)q.B * sizeof(float));
            dr_cpu_loss_backward(tu_cpu(), q.dz, q.z, q.y, q.B, p, scale);
            double worst = 0.0;
            long gb = 0;
            for (int i = 0; i < q.B; i++) {
                double w = (double)scale / q.B * ref_grad(q.z[i], q.y[i], p);
                double e = fabs(q.dz[i] - w) / fabs(w);
                worst = fmax(worst, e);
                gb += !(e <= (24.0 + 4.0 * p.gamma) * U);
            }
            float *pre = tu_alloc(q.B), *acc = tu_alloc(q.B);
            tu_fill_uniform(pre, q.B, -1.0f, 1.0f, tu_seed(), 200 + (uint32_t)(10 * k + b));
            memcpy(acc, pre, (size_t)q.B * sizeof(float));
            dr_cpu_loss_backward(tu_cpu(), acc, q.z, q.y, q.B, p, scale);
            long ab = 0;
            for (int i = 0; i < q.B; i++)
                ab += acc[i] != pre[i] + q.dz[i];
            printf("backward a=%.1f gamma=%.1f w=(%.2f, %.2f) B=%-3d scale=%.1f: max rel err %.2f u "
                   "(tol %.0f u, %ld bad), += %ld bad\n",
                   (double)p.a, (double)p.gamma, (double)p.w_pos, (double)p.w_neg, q.B,
                   (double)scale, worst / U, 24.0 + 4.0 * p.gamma, gb, ab);
            bad += gb + ab;
            free(pre), free(acc);
            prob_free(&q);
        }
    assert_int_equal(bad, 0);
}

/* Central differences of scale * loss (loss_of) in each logit, z in [-6, 6].
 * With eps = 1e-2: truncation eps^2 / 6 |L'''| <= 2e-5 (scale / B) (L''' of
 * softplus and of the focal term is O(1) at most); rounding of the perturbed
 * sample's float loss, u |L_i| / (2 eps) (scale / B) <= 6e-8 * 7 / 2e-2 ~ 2e-5
 * (scale / B). Against gradients of 0.05 (scale / B) and more that is <= 1e-3
 * relative; tolerance 5e-3, floor 1e-2 (scale / B) for gradients near zero
 * (confidently right samples). A wrong sign or factor is off by O(1). */
static void test_gradcheck(void **state)
{
    (void)state;
    int worst_ok = 1;
    for (size_t k = 0; k < sizeof k_psets / sizeof k_psets[0]; k++)
        for (size_t b = 0; b < sizeof k_batches / sizeof k_batches[0]; b++) {
            const pset *ps = &k_psets[k];
            dr_loss_params p = params(ps->a, ps->gamma, ps->w_pos, ps->w_neg);
            prob q;
            float scale = b % 2 ? 2.0f : 1.0f;
            prob_init(&q, k_batches[b], p, scale, 300 + 10 * (uint32_t)k + (uint32_t)b);
            memset(q.dz, 0, (size_t)q.B * sizeof(float));
            dr_cpu_loss_backward(tu_cpu(), q.dz, q.z, q.y, q.B, p, scale);
            printf("gradcheck a=%.1f gamma=%.1f w=(%.2f, %.2f) B=%d scale=%.0f (tol 5e-3)\n",
                   (double)p.a, (double)p.gamma, (double)p.w_pos, (double)p.w_neg, q.B, (double)scale);
            double e = tu_grad_check("dz", q.z, q.B, q.dz, loss_of, &q, 1e-2, 100000,
                                     1e-2 * scale / q.B);
            worst_ok &= e <= 5e-3;
            prob_free(&q);
        }
    assert_true(worst_ok);
}

/* Hinge loss (the SVM baseline): closed-form values, the class weights and the
 * batch mean, and the subgradient both by hand and by central differences at
 * points at least 0.05 away from the kink s z = 1 (step 1e-3: the loss is linear
 * there, so the difference is exact up to float rounding of the values, ~1e-6). */
static void test_hinge(void **state)
{
    (void)state;
    const float z[6] = {0.3f, 2.0f, -0.5f, -3.0f, 0.9f, 1.5f};
    const float y[6] = {1, 1, 0, 0, 0, 1};
    /* s z = 0.3, 2, 0.5, 3, -0.9, 1.5 -> losses 0.7, 0, 0.5, 0, 1.9, 0 */
    const double want[6] = {0.7, 0.0, 0.5, 0.0, 1.9, 0.0};
    const float gwant[6] = {-1, 0, 1, 0, 1, 0};
    dr_loss_params p = {.w_pos = 2.0f, .w_neg = 1.0f, .hinge = 1};
    float per[6], loss, dz[6] = {0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f};
    dr_cpu_loss_forward(tu_cpu(), &loss, per, z, y, 6, p);
    double mean = 0;
    for (int i = 0; i < 6; i++) {
        double w = y[i] > 0.5f ? 2.0 : 1.0;
        printf("  hinge z=%5.2f y=%.0f: %.7f (want %.7f)\n", z[i], y[i], per[i], w * want[i]);
        assert_true(fabs(per[i] - w * want[i]) <= 1e-6);
        mean += w * want[i] / 6.0;
    }
    assert_true(fabs(loss - mean) <= 1e-6);
    dr_cpu_loss_backward(tu_cpu(), dz, z, y, 6, p, 1.0f);
    for (int i = 0; i < 6; i++) {
        double w = y[i] > 0.5f ? 2.0 : 1.0;
        assert_true(fabs(dz[i] - (0.25 + w * gwant[i] / 6.0)) <= 1e-6);
        float zp[6], zm[6], lp, lm, tmp[6];
        memcpy(zp, z, sizeof zp);
        memcpy(zm, z, sizeof zm);
        zp[i] += 1e-3f;
        zm[i] -= 1e-3f;
        dr_cpu_loss_forward(tu_cpu(), &lp, tmp, zp, y, 6, p);
        dr_cpu_loss_forward(tu_cpu(), &lm, tmp, zm, y, 6, p);
        double fd = ((double)lp - lm) / ((double)zp[i] - zm[i]);
        assert_true(fabs(fd - w * gwant[i] / 6.0) <= 1e-3);
    }
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bce_closed_form),      cmocka_unit_test(test_focal_hand_points),
        cmocka_unit_test(test_extreme_logits),       cmocka_unit_test(test_forward_batches),
        cmocka_unit_test(test_backward_vs_reference), cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_hinge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
