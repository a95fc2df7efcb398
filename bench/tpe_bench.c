/* The TPE sampler alone (experiments/tpe.h), for bench/tpe_compare.sh, which runs
 * Optuna's TPESampler on the same problems in the same run:
 *
 *   ./tpe_bench quality branin|hartmann6 SEEDS TRIALS [independent]
 *       one line per seed (1 .. SEEDS): the best value after TRIALS trials of a
 *       sequential minimisation;
 *   ./tpe_bench overhead TRIALS REPEATS [independent]
 *       sampler time (suggest + tell) per trial over a study of TRIALS trials on a
 *       space like exp/search_quickstart.toml's (log float, float, two categorical,
 *       stepped int), with a cheap objective; one line per repeat (seed 1 ..
 *       REPEATS): mean ms per trial over the whole study and over its last tenth.
 *
 * "independent" runs the univariate TPE (search.multivariate = false). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "experiments/tpe.h"

static double branin(const double *x)
{
    const double pi = 3.14159265358979323846, b = 5.1 / (4.0 * pi * pi), c = 5.0 / pi, t = 1.0 / (8.0 * pi);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - 6.0;
    return u * u + 10.0 * (1.0 - t) * cos(x[0]) + 10.0;
}

static double hartmann6(const double *x)
{
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double f = 0.0;
    for (int i = 0; i < 4; i++) {
        double e = 0.0;
        for (int j = 0; j < 6; j++)
            e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
        f -= alpha[i] * exp(-e);
    }
    return f;
}

/* the objective of the overhead study: its value only steers the sampler */
static double quickstart_like(const double *x)
{
    double lr = log10(x[0]) + 3.0;
    return lr * lr + (x[1] - 0.5) * (x[1] - 0.5) + 0.1 * x[2] + 0.05 * fabs(x[3] - 1.0) + 0.01 * (x[4] - 2.0) * (x[4] - 2.0);
}

static void check(dr_status s)
{
    if (s != DR_OK) {
        fprintf(stderr, "tpe_bench: %s\n", dr_last_error());
        exit(1);
    }
}

static dr_tpe *make_sampler(const dr_tpe_space *sp, uint64_t seed, int independent)
{
    dr_tpe_options o;
    dr_tpe_options_default(&o);
    o.multivariate = !independent;
    dr_tpe *t;
    check(dr_tpe_create(&t, sp, seed, &o));
    return t;
}

/* A study of n trials; returns the best value, and the sampler's seconds over all
 * trials and over the last tenth in *all and *tail. */
static double run_study(const dr_tpe_space *sp, double (*f)(const double *), uint64_t seed, int n, int independent,
                        double *all, double *tail)
{
    dr_tpe *t = make_sampler(sp, seed, independent);
    double best = INFINITY, spent = 0.0, spent_tail = 0.0;
    for (int k = 0; k < n; k++) {
        dr_tpe_trial tr;
        double t0 = dr_now();
        check(dr_tpe_suggest(t, &tr));
        double t1 = dr_now();
        double y = f(tr.v);
        double t2 = dr_now();
        check(dr_tpe_tell(t, &tr, DR_TPE_COMPLETE, y));
        double dt = (t1 - t0) + (dr_now() - t2);
        spent += dt;
        if (k >= n - n / 10)
            spent_tail += dt;
        best = fmin(best, y);
    }
    dr_tpe_free(t);
    if (all)
        *all = spent;
    if (tail)
        *tail = spent_tail;
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tpe_bench quality branin|hartmann6 SEEDS TRIALS [independent]\n"
                        "       tpe_bench overhead TRIALS REPEATS [independent]\n");
        return 2;
    }
    int independent = strcmp(argv[argc - 1], "independent") == 0;
    dr_tpe_space sp = {0};
    if (strcmp(argv[1], "quality") == 0 && argc >= 5) {
        int seeds = atoi(argv[3]), trials = atoi(argv[4]);
        double (*f)(const double *) = NULL;
        if (strcmp(argv[2], "branin") == 0) {
            check(dr_tpe_space_add_float(&sp, "x1", -5.0, 10.0, 0));
            check(dr_tpe_space_add_float(&sp, "x2", 0.0, 15.0, 0));
            f = branin;
        } else if (strcmp(argv[2], "hartmann6") == 0) {
            for (int j = 0; j < 6; j++) {
                char name[8];
                snprintf(name, sizeof name, "x%d", j + 1);
                check(dr_tpe_space_add_float(&sp, name, 0.0, 1.0, 0));
            }
            f = hartmann6;
        } else {
            fprintf(stderr, "tpe_bench: unknown function %s\n", argv[2]);
            return 2;
        }
        for (int seed = 1; seed <= seeds; seed++)
            printf("%s,%d,%.10g\n", argv[2], seed, run_study(&sp, f, (uint64_t)seed, trials, independent, NULL, NULL));
        return 0;
    }
    if (strcmp(argv[1], "overhead") == 0) {
        int trials = atoi(argv[2]), repeats = atoi(argv[3]);
        if (trials < 10 || repeats < 1) {
            fprintf(stderr, "tpe_bench: overhead needs TRIALS >= 10 and REPEATS >= 1\n");
            return 2;
        }
        check(dr_tpe_space_add_float(&sp, "train.lr", 1e-4, 1e-2, 1));
        check(dr_tpe_space_add_float(&sp, "model.dropout", 0.3, 0.7, 0));
        check(dr_tpe_space_add_categorical(&sp, "model.filters", 2));
        check(dr_tpe_space_add_categorical(&sp, "model.lstm_units", 3));
        check(dr_tpe_space_add_int(&sp, "train.batch_size", 0, 3, 0));
        for (int seed = 1; seed <= repeats; seed++) {
            double all, tail;
            run_study(&sp, quickstart_like, (uint64_t)seed, trials, independent, &all, &tail);
            printf("%d,%d,%.4f,%.4f\n", trials, seed, 1e3 * all / trials, 1e3 * tail / (trials / 10));
        }
        return 0;
    }
    fprintf(stderr, "tpe_bench: unknown mode %s, or too few arguments\n", argv[1]);
    return 2;
}
