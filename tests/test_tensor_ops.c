/* Tensor-op kernel tests (kernels/cpu/tensor_ops.c): copy2d, add, axpy and
 * transpose against plain loops, in both overwrite and accumulate modes; entries
 * outside a strided copy left untouched; NaN-poisoned outputs fully written; and
 * central finite differences of loss = sum r * out through each op, with the
 * gradient computed the way the graph computes it (copy2d / transpose with
 * accumulate in the reverse direction, axpy for add and axpy).
 *
 * Tolerances. Copies are exact and an accumulate is one float addition, which
 * the reference performs identically, so those compare bit for bit (tolerance
 * 0). axpy is compared with a double reference at 2 u (|y| + |alpha x|): one
 * rounding of the product and one of the sum (u = 2^-24), whether or not the
 * compiler fuses them. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/tensor_ops.h"
#include "tests/testutil.h"
#include "kernels/cpu/ops.h"

#define U (FLT_EPSILON / 2.0)

/* The ops are linear, so a central difference has no truncation error; what is
 * left is the rounding of the float outputs, at most u |out| ~ 6e-8 per output
 * touched, divided by the step 2 eps = 2e-2: ~3e-6 absolute against gradients
 * of order 0.1 .. 1 (r in [-1, 1]). Relative tolerance 1e-4 with a floor of
 * 1e-2 leaves a margin of 30; a wrong index gives errors of order 1. */
#define GC_EPS 1e-2
#define GC_TOL 1e-4
#define GC_FLOOR 1e-2
/* every probe reruns the whole op: all entries on small shapes, 100 spread over
 * x on large ones (the OpenMP paths), to keep the suite to seconds */
#define GC_PROBES(n) ((n) > 5000 ? 100 : 5000)

static long count_nan(const float *a, long n)
{
    long k = 0;
    for (long i = 0; i < n; i++)
        k += isnan(a[i]);
    return k;
}

/* ---- copy2d ---- */
typedef struct {
    long rows, cols, ld_dst, ld_src;
} c2d_shape;

static const c2d_shape k_c2d[] = {
    {1, 1, 1, 1}, {1, 5, 7, 5}, {3, 1, 2, 4}, {7, 13, 13, 20}, {5, 9, 31, 9}, {300, 129, 200, 131},
};

typedef struct {
    c2d_shape s;
    float *src, *dst, *r;
} c2d_prob;

static double c2d_loss(void *ctx)
{
    c2d_prob *p = ctx;
    long nd = p->s.rows * p->s.ld_dst;
    memset(p->dst, 0, (size_t)nd * sizeof(float));
    dr_cpu_copy2d(tu_cpu(), p->dst, p->s.ld_dst, p->src, p->s.ld_src, p->s.rows, p->s.cols, 0);
    return tu_dot(p->r, p->dst, nd);
}

static void check_copy2d(const c2d_shape *s, uint32_t stream)
{
    uint64_t seed = tu_seed();
    long ns = s->rows * s->ld_src, nd = s->rows * s->ld_dst;
    printf("copy2d rows=%ld cols=%ld ld_dst=%ld ld_src=%ld\n", s->rows, s->cols, s->ld_dst, s->ld_src);
    float *src = tu_alloc(ns), *dst = tu_alloc(nd), *want = tu_alloc(nd);
    tu_fill_uniform(src, ns, -1.0f, 1.0f, seed, stream * 8);
    /* overwrite: the covered block starts NaN and must be fully written; the
     * gaps between rows (ld_dst > cols) carry a sentinel that must survive */
    for (long r = 0; r < s->rows; r++)
        for (long c = s->cols; c < s->ld_dst; c++)
            dst[r * s->ld_dst + c] = want[r * s->ld_dst + c] = 12345.0f;
    dr_cpu_copy2d(tu_cpu(), dst, s->ld_dst, src, s->ld_src, s->rows, s->cols, 0);
    for (long r = 0; r < s->rows; r++)
        for (long c = 0; c < s->cols; c++)
            want[r * s->ld_dst + c] = src[r * s->ld_src + c];
    long bad = count_nan(dst, nd);
    printf("  overwrite: NaN entries left %ld\n", bad);
    bad += tu_compare("copy", dst, want, nd, 0.0, 0.0);
    /* accumulate onto random values (bit-exact: one float add each) */
    tu_fill_uniform(dst, nd, -1.0f, 1.0f, seed, stream * 8 + 1);
    memcpy(want, dst, (size_t)nd * sizeof(float));
    dr_cpu_copy2d(tu_cpu(), dst, s->ld_dst, src, s->ld_src, s->rows, s->cols, 1);
    for (long r = 0; r < s->rows; r++)
        for (long c = 0; c < s->cols; c++)
            want[r * s->ld_dst + c] += src[r * s->ld_src + c];
    bad += tu_compare("copy+=", dst, want, nd, 0.0, 0.0);

    /* gradient: the graph's backward of a copy is copy2d the other way with
     * accumulate, into a zeroed gradient */
    c2d_prob p = {*s, src, dst, tu_alloc(nd)};
    tu_fill_uniform(p.r, nd, -1.0f, 1.0f, seed, stream * 8 + 2);
    float *dsrc = tu_alloc(ns);
    memset(dsrc, 0, (size_t)ns * sizeof(float));
    dr_cpu_copy2d(tu_cpu(), dsrc, s->ld_src, p.r, s->ld_dst, s->rows, s->cols, 1);
    double e = tu_grad_check("dsrc", src, ns, dsrc, c2d_loss, &p, GC_EPS, GC_PROBES(ns), GC_FLOOR);
    printf("  tolerance %.1e\n", GC_TOL);
    free(src), free(dst), free(want), free(p.r), free(dsrc);
    assert_int_equal(bad, 0);
    assert_true(e <= GC_TOL);
}

static void test_copy2d(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_c2d / sizeof k_c2d[0]; i++)
        check_copy2d(&k_c2d[i], (uint32_t)i);
    /* a random shape */
    float u[4];
    tu_fill_uniform(u, 4, 0.0f, 1.0f, tu_seed(), 9001);
    c2d_shape rs = {1 + (long)(u[0] * 9), 1 + (long)(u[1] * 11), 0, 0};
    rs.ld_dst = rs.cols + (long)(u[2] * 4);
    rs.ld_src = rs.cols + (long)(u[3] * 4);
    check_copy2d(&rs, 50);
}

/* ---- add and axpy ---- */
static const long k_sizes[] = {1, 2, 3, 7, 64, 1001, 40001}; /* 40001: the OpenMP path */

typedef struct {
    long n;
    float *a, *b, *out, *r, alpha;
} ew_prob;

static double add_loss(void *ctx)
{
    ew_prob *p = ctx;
    dr_cpu_add(tu_cpu(), p->out, p->a, p->b, p->n);
    return tu_dot(p->r, p->out, p->n);
}

/* out = b (a copy of the fixed y), then y += alpha x with x = a */
static double axpy_loss(void *ctx)
{
    ew_prob *p = ctx;
    memcpy(p->out, p->b, (size_t)p->n * sizeof(float));
    dr_cpu_axpy(tu_cpu(), p->out, p->alpha, p->a, p->n);
    return tu_dot(p->r, p->out, p->n);
}

static void test_add_axpy(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++) {
        long n = k_sizes[k];
        ew_prob p = {n, tu_alloc(n), tu_alloc(n), tu_alloc(n), tu_alloc(n), -0.75f};
        tu_fill_uniform(p.a, n, -1.0f, 1.0f, seed, 100 + (uint32_t)k * 4);
        tu_fill_uniform(p.b, n, -1.0f, 1.0f, seed, 101 + (uint32_t)k * 4);
        tu_fill_uniform(p.r, n, -1.0f, 1.0f, seed, 102 + (uint32_t)k * 4);
        float *want = tu_alloc(n), *tmp = tu_alloc(n);
        printf("add / axpy n=%ld\n", n);
        /* add: exact (one rounding, same as the reference); out starts NaN */
        dr_cpu_add(tu_cpu(), p.out, p.a, p.b, n);
        for (long i = 0; i < n; i++)
            want[i] = p.a[i] + p.b[i];
        long bad = count_nan(p.out, n);
        bad += tu_compare("add", p.out, want, n, 0.0, 0.0);
        /* add with out aliasing a (a residual connection written in place) */
        memcpy(tmp, p.a, (size_t)n * sizeof(float));
        dr_cpu_add(tu_cpu(), tmp, tmp, p.b, n);
        bad += tu_compare("add-alias", tmp, want, n, 0.0, 0.0);
        /* axpy: y = b, += alpha a; against double at 2 u (|y| + |alpha x|) */
        memcpy(tmp, p.b, (size_t)n * sizeof(float));
        dr_cpu_axpy(tu_cpu(), tmp, p.alpha, p.a, n);
        long axbad = 0;
        double worst = 0.0;
        for (long i = 0; i < n; i++) {
            double ax = (double)p.alpha * p.a[i];
            double w = p.b[i] + ax, tol = 2.0 * U * (fabs(p.b[i]) + fabs(ax));
            worst = fmax(worst, fabs(tmp[i] - w));
            axbad += !(fabs(tmp[i] - w) <= tol);
        }
        printf("  axpy: max |diff| vs double %.3e, %ld outside 2u(|y| + |alpha x|)\n", worst, axbad);
        bad += axbad;
        /* gradients: the graph backpropagates add with axpy(da, 1, dout) and
         * axpy(db, 1, dout), and axpy with axpy(dx, alpha, dy) */
        float *g = tu_alloc(n);
        memset(g, 0, (size_t)n * sizeof(float));
        dr_cpu_axpy(tu_cpu(), g, 1.0f, p.r, n);
        double e1 = tu_grad_check("add da", p.a, n, g, add_loss, &p, GC_EPS, GC_PROBES(n), GC_FLOOR);
        double e2 = tu_grad_check("add db", p.b, n, g, add_loss, &p, GC_EPS, GC_PROBES(n), GC_FLOOR);
        memset(g, 0, (size_t)n * sizeof(float));
        dr_cpu_axpy(tu_cpu(), g, p.alpha, p.r, n);
        double e3 = tu_grad_check("axpy dx", p.a, n, g, axpy_loss, &p, GC_EPS, GC_PROBES(n), GC_FLOOR);
        printf("  tolerance %.1e\n", GC_TOL);
        free(p.a), free(p.b), free(p.out), free(p.r), free(want), free(tmp), free(g);
        assert_int_equal(bad, 0);
        assert_true(e1 <= GC_TOL && e2 <= GC_TOL && e3 <= GC_TOL);
    }
}

/* ---- transpose ---- */
typedef struct {
    int B, M, N;
    float *x, *out, *r;
} tr_prob;

static double tr_loss(void *ctx)
{
    tr_prob *p = ctx;
    dr_cpu_transpose(tu_cpu(), p->out, p->x, p->B, p->M, p->N, 0);
    return tu_dot(p->r, p->out, (long)p->B * p->M * p->N);
}

static void check_transpose(int B, int M, int N, uint32_t stream)
{
    uint64_t seed = tu_seed();
    long n = (long)B * M * N;
    printf("transpose B=%d M=%d N=%d\n", B, M, N);
    tr_prob p = {B, M, N, tu_alloc(n), tu_alloc(n), tu_alloc(n)};
    float *want = tu_alloc(n);
    tu_fill_uniform(p.x, n, -1.0f, 1.0f, seed, 200 + stream * 4);
    tu_fill_uniform(p.r, n, -1.0f, 1.0f, seed, 201 + stream * 4);
    dr_cpu_transpose(tu_cpu(), p.out, p.x, B, M, N, 0);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                want[((long)b * N + j) * M + i] = p.x[((long)b * M + i) * N + j];
    long bad = count_nan(p.out, n);
    printf("  NaN entries left %ld\n", bad);
    bad += tu_compare("transpose", p.out, want, n, 0.0, 0.0);
    tu_fill_uniform(p.out, n, -1.0f, 1.0f, seed, 202 + stream * 4);
    for (long i = 0; i < n; i++)
        want[i] += p.out[i];
    dr_cpu_transpose(tu_cpu(), p.out, p.x, B, M, N, 1);
    bad += tu_compare("transpose+=", p.out, want, n, 0.0, 0.0);
    /* gradient as the graph takes it: transpose of dout [B, N, M] back to
     * [B, M, N] with accumulate */
    float *dx = tu_alloc(n);
    memset(dx, 0, (size_t)n * sizeof(float));
    dr_cpu_transpose(tu_cpu(), dx, p.r, B, N, M, 1);
    double e = tu_grad_check("dx", p.x, n, dx, tr_loss, &p, GC_EPS, GC_PROBES(n), GC_FLOOR);
    printf("  tolerance %.1e\n", GC_TOL);
    free(p.x), free(p.out), free(p.r), free(want), free(dx);
    assert_int_equal(bad, 0);
    assert_true(e <= GC_TOL);
}

static void test_transpose(void **state)
{
    (void)state;
    /* size 1, odd, non-square, tile edges (31, 33), and [256, 12, 128] (OpenMP) */
    static const int shapes[][3] = {{1, 1, 1}, {1, 1, 7}, {2, 5, 1}, {3, 7, 5},
                                    {2, 33, 31}, {4, 64, 65}, {256, 12, 128}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_transpose(shapes[i][0], shapes[i][1], shapes[i][2], (uint32_t)i);
    float u[3];
    tu_fill_uniform(u, 3, 0.0f, 1.0f, tu_seed(), 9002);
    check_transpose(1 + (int)(u[0] * 5), 1 + (int)(u[1] * 40), 1 + (int)(u[2] * 40), 40);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy2d),
        cmocka_unit_test(test_add_axpy),
        cmocka_unit_test(test_transpose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
