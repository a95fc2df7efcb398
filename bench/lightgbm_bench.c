/* The framework's LightGBM model (models/trees.h, kind lightgbm, its defaults) on
 * a synthetic credit-like problem, written out so that the Python lightgbm
 * package can be run on exactly the same rows and parameters
 * (bench/lightgbm_python.py, driven by bench/lightgbm_compare.sh and by
 * tests/interop/run.sh):
 *
 *   ./lightgbm_bench DIR N_TRAIN THREADS REPEATS [SEED]
 *
 * DIR gets {train,val,test}_{x,y}.f32 (row-major float32, F = 20 features, NaN =
 * missing), model.txt (LightGBM's text format), test_prob.f32 (our
 * probabilities) and ours.json (test AUC, rounds, median training seconds of
 * REPEATS). Validation and test sets have N_TRAIN / 5 rows each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "core/philox.h"
#include "data/auc.h"
#include "models/trees.h"

enum { F = 20 };

/* Default by a logistic model with interactions, thresholds and a hump, so that
 * trees have something to find: a few features carry signal, the rest are noise;
 * feature 3 is missing in 8 % of rows, feature 7 is a 6-level category code. */
static void make_rows(float *x, float *y, long n, uint64_t seed, uint32_t stream)
{
    for (long i = 0; i < n; i++) {
        float *r = x + i * F;
        for (int j = 0; j < F; j++)
            r[j] = 2.0f * dr_philox_uniform(seed, stream, (uint64_t)i, (uint64_t)j) - 1.0f;
        r[7] = floorf((r[7] + 1.0f) * 3.0f);
        double z = -2.5 + 1.2 * r[0] - 0.8 * r[1] * r[2] + (r[4] > 0.3 ? 0.9 : 0.0) +
                   0.7 * exp(-8.0 * r[5] * r[5]) + (r[7] == 2.0f || r[7] == 5.0f ? 0.6 : -0.2) + 0.5 * r[3];
        if (dr_philox_uniform(seed, stream, (uint64_t)i, F) < 0.08f)
            r[3] = NAN;
        double p = 1.0 / (1.0 + exp(-z));
        y[i] = dr_philox_uniform(seed, stream, (uint64_t)i, F + 1) < p ? 1.0f : 0.0f;
    }
}

static int write_f32(const char *dir, const char *name, const float *v, long n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(v, sizeof *v, (size_t)n, f) == (size_t)n;
    if (f)
        ok &= fclose(f) == 0;
    if (!ok)
        fprintf(stderr, "lightgbm_bench: cannot write %s\n", path);
    return ok;
}

static void check(dr_status s)
{
    if (s != DR_OK) {
        fprintf(stderr, "lightgbm_bench: %s\n", dr_last_error());
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR N_TRAIN THREADS REPEATS [SEED]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    long n = atol(argv[2]), nv = n / 5;
    int threads = atoi(argv[3]), repeats = atoi(argv[4]);
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
    if (n < 100 || threads < 0 || repeats < 1) {
        fprintf(stderr, "lightgbm_bench: N_TRAIN >= 100, THREADS >= 0, REPEATS >= 1\n");
        return 2;
    }
    float *x[3], *y[3];
    long rows[3] = {n, nv, nv};
    static const char *part[3] = {"train", "val", "test"};
    for (int k = 0; k < 3; k++) {
        x[k] = malloc((size_t)rows[k] * F * sizeof(float));
        y[k] = malloc((size_t)rows[k] * sizeof(float));
        if (!x[k] || !y[k]) {
            fprintf(stderr, "lightgbm_bench: out of memory\n");
            return 1;
        }
        make_rows(x[k], y[k], rows[k], seed, 0x4C47u + (uint32_t)k);
        char name[64];
        snprintf(name, sizeof name, "%s_x.f32", part[k]);
        if (!write_f32(dir, name, x[k], rows[k] * F))
            return 1;
        snprintf(name, sizeof name, "%s_y.f32", part[k]);
        if (!write_f32(dir, name, y[k], rows[k]))
            return 1;
    }
    dr_tree_params p;
    dr_tree_params_default(&p, DR_TREE_LIGHTGBM);
    p.nthread = threads;
    p.seed = seed;
    double *secs = malloc((size_t)repeats * sizeof *secs);
    dr_tree_model *m = NULL;
    for (int r = 0; r < repeats; r++) {
        dr_tree_free(m);
        double t0 = dr_now();
        check(dr_tree_train(&m, &p, x[0], y[0], n, F, x[1], y[1], nv));
        secs[r] = dr_now() - t0;
    }
    float *prob = malloc((size_t)nv * sizeof *prob);
    double auc;
    dr_tree_info info;
    check(dr_tree_predict(m, x[2], nv, F, prob));
    check(dr_auc(prob, y[2], nv, &auc));
    check(dr_tree_get_info(m, &info));
    char path[1024], lib[64];
    snprintf(path, sizeof path, "%s/model.txt", dir);
    check(dr_tree_save(m, path));
    if (!write_f32(dir, "test_prob.f32", prob, nv))
        return 1;
    dr_tree_library(DR_TREE_LIGHTGBM, lib, sizeof lib);
    snprintf(path, sizeof path, "%s/ours.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lightgbm_bench: cannot write %s\n", path);
        return 1;
    }
    fprintf(f,
            "{\"library\": \"%s\", \"features\": %d, \"rows\": [%ld, %ld, %ld], \"threads\": %d, \"seed\": %llu,\n"
            " \"n_estimators\": %d, \"early_stopping_rounds\": %d, \"rounds_trained\": %d, \"best_iteration\": %d,\n"
            " \"best_val_auc\": %.17g, \"test_auc\": %.17g, \"train_seconds_median\": %.6f, \"repeats\": %d}\n",
            lib, F, n, nv, nv, threads, (unsigned long long)seed, p.n_estimators, p.early_stopping_rounds,
            info.rounds_trained, info.best_iteration, info.best_val_auc, auc, bench_median(secs, repeats), repeats);
    fclose(f);
    printf("defrisk %s: test AUC %.6f, %d rounds (kept %d), median training %.3f s of %d\n", lib, auc,
           info.rounds_trained, info.best_iteration + 1, secs[repeats / 2], repeats);
    dr_tree_free(m);
    for (int k = 0; k < 3; k++) {
        free(x[k]);
        free(y[k]);
    }
    free(prob);
    free(secs);
    return 0;
}
