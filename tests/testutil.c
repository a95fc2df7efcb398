#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/philox.h"
#include "kernels/cpu/ops.h"

uint64_t tu_seed(void)
{
    static int printed;
    const char *s = getenv("DR_TEST_SEED");
    uint64_t seed = (s && *s) ? strtoull(s, NULL, 0) : 20241127u;
    if (!printed) {
        printf("test seed %llu (set DR_TEST_SEED to change)\n", (unsigned long long)seed);
        printed = 1;
    }
    return seed;
}

dr_backend *tu_cpu(void)
{
    static dr_backend be = {.iface = &dr_cpu_backend, .ops = &dr_cpu_ops};
    return &be;
}

void tu_fill_uniform(float *x, long n, float lo, float hi, uint64_t seed, uint32_t stream)
{
    for (long i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * dr_philox_uniform(seed, stream, 0, (uint64_t)i);
}

void tu_fill_nan(float *x, long n)
{
    for (long i = 0; i < n; i++)
        x[i] = NAN;
}

float *tu_alloc(long n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    tu_fill_nan(p, n);
    return p;
}

long tu_compare(const char *what, const float *got, const float *want, long n, double atol,
                double rtol)
{
    long bad = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (bad < 5)
                printf("  %s[%ld]: got %.9g want %.9g (diff %.3g)\n", what, i, got[i], want[i], d);
            bad++;
        }
    }
    if (bad)
        printf("  %s: %ld of %ld entries outside atol %.1e + rtol %.1e\n", what, bad, n, atol, rtol);
    return bad;
}

double tu_dot(const float *r, const float *out, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += (double)r[i] * (double)out[i];
    return s;
}

double tu_grad_check(const char *what, float *x, long n, const float *analytic,
                     double (*loss)(void *ctx), void *ctx, double eps, long max_checks,
                     double floor)
{
    double worst = 0.0;
    long worst_i = -1;
    double worst_a = 0, worst_fd = 0;
    long stride = n <= max_checks ? 1 : (n + max_checks - 1) / max_checks;
    for (long i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + (float)eps;
        double lp = loss(ctx);
        x[i] = keep - (float)eps;
        double lm = loss(ctx);
        x[i] = keep;
        /* the step actually taken in float, not the nominal eps */
        double h = (double)(keep + (float)eps) - (double)(keep - (float)eps);
        double fd = (lp - lm) / h;
        double a = analytic[i];
        double denom = fabs(a) + fabs(fd);
        if (denom < floor)
            denom = floor;
        double err = fabs(a - fd) / denom;
        if (!(err <= worst) || isnan(err)) {
            worst = isnan(err) ? INFINITY : err;
            worst_i = i;
            worst_a = a;
            worst_fd = fd;
        }
    }
    loss(ctx); /* leave the outputs as for the unperturbed x */
    printf("  grad %-12s n=%-7ld max rel err %.3e (at %ld: analytic %.6g, fd %.6g)\n", what, n,
           worst, worst_i, worst_a, worst_fd);
    return worst;
}

double tu_pairwise_auc(const double *score, const float *label, long n)
{
    double wins = 0, pairs = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; label[i] == 1.0f && j < n; j++)
            if (label[j] == 0.0f) {
                wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
                pairs++;
            }
    return wins / pairs;
}

double tu_grad_check_kinks(float *x, const float *analytic, long n, double (*f)(void *), void *ctx, double floor,
                           long *checked, long *skipped)
{
    double worst = 0, l0 = f(ctx); /* x is restored after each point: f(x) once */
    for (long j = 0; j < n; j++) {
        float keep = x[j];
        float h = 1e-2f;
        x[j] = keep + h;
        double lp = f(ctx);
        double hp_ = (double)(keep + h) - (double)keep;
        x[j] = keep - h;
        double lm = f(ctx);
        double hm_ = (double)keep - (double)(keep - h);
        x[j] = keep;
        double right = (lp - l0) / hp_, left = (l0 - lm) / hm_;
        if (fabs(right - left) > 0.02 * (fabs(right) + fabs(left)) + 1e-4) {
            (*skipped)++;
            continue;
        }
        double fd1 = (lp - lm) / (hp_ + hm_);
        double a = analytic[j], den = fabs(a) + fabs(fd1);
        double err = fabs(a - fd1) / (den > floor ? den : floor);
        if (!(err <= worst))
            worst = isnan(err) ? INFINITY : err;
        (*checked)++;
    }
    return worst;
}

double tu_logit_sum(dr_graph *g, dr_value x, dr_value logit, const float *inputs, int batch)
{
    assert_int_equal(dr_graph_set_input(g, x, inputs, batch), DR_OK);
    assert_int_equal(dr_graph_forward(g, DR_MODE_EVAL), DR_OK);
    float *z = malloc((size_t)batch * sizeof *z);
    assert_non_null(z);
    assert_int_equal(dr_graph_read(g, logit, z), DR_OK);
    double sum = 0;
    for (int b = 0; b < batch; b++)
        sum += z[b];
    free(z);
    return sum;
}
