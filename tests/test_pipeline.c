/* The whole pipeline as ./run_experiment runs it, on the bundled Lending Club
 * sample at a small size: every model trains, the report files appear,
 * prediction from the run folder reproduces the run's own test predictions, and
 * bad experiment files fail with the file, line and column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include "core/h5.h"
#include "experiments/experiment.h"
#include "tests/testutil.h"

static const char *const small[] = {
    "output.dir=\"/tmp/defrisk_test_pipeline\"", "train.epochs=3", "train.progress=false",
    "model.filters=[4, 8, 8]", "model.lstm_units=8", "model.attention_dim=8", "model.fc=[16]",
    "features.rfecv_trees=8", "baselines.logistic_epochs=3", "baselines.mlp_epochs=3",
    "baselines.xgboost_estimators=30", "baselines.lightgbm_estimators=30", "baselines.random_forest_estimators=20",
    "ensemble.trials=20", "data.cache=false"};

static int newest_run(char *dir, size_t cap)
{
    FILE *p = popen("ls -td /tmp/defrisk_test_pipeline/quickstart-* 2>/dev/null | head -1", "r");
    int ok = p && fgets(dir, (int)cap, p) != NULL;
    if (p)
        pclose(p);
    if (ok)
        dir[strcspn(dir, "\n")] = '\0';
    return ok;
}

static void test_quickstart_small(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf /tmp/defrisk_test_pipeline"), 0);
    dr_status s = dr_experiment_run("exp/quickstart.toml", small, (int)(sizeof small / sizeof *small), NULL);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    char dir[512], path[700];
    assert_true(newest_run(dir, sizeof dir));
    const char *files[] = {"config.toml", "log", "metrics.jsonl", "checkpoint.h5", "predictions.h5", "results.csv",
                           "results.h5", "features.txt", "xgboost.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        printf("  %-15s %s\n", files[i], access(path, F_OK) == 0 ? "present" : "MISSING");
        assert_int_equal(access(path, F_OK), 0);
    }

    /* predict from the run folder on the bundled file, compare with the run's
     * own test predictions for the same rows */
    char out[700];
    snprintf(out, sizeof out, "%s/pred.csv", dir);
    s = dr_experiment_predict(dir, "data/lending_club.csv", out);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[128];
    assert_non_null(fgets(line, sizeof line, f));
    float *all = malloc(sizeof(float) * 9857);
    long n = 0, row;
    float p;
    while (fscanf(f, "%ld,%f", &row, &p) == 2 && n < 9857)
        all[n++] = p;
    fclose(f);
    assert_int_equal(n, 9857);
    dr_h5 *h;
    snprintf(path, sizeof path, "%s/predictions.h5", dir);
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    float *test;
    int32_t *rows;
    int rank;
    int64_t dims[8];
    assert_int_equal(dr_h5_read_f32(h, "test/hybrid", &test, &rank, dims), DR_OK);
    assert_int_equal(dr_h5_read_i32(h, "test/row", &rows, &rank, dims), DR_OK);
    dr_h5_close(h);
    long diff = 0;
    double worst = 0;
    for (long i = 0; i < dims[0]; i++) {
        double d = fabsf(all[rows[i]] - test[i]);
        worst = d > worst ? d : worst;
        diff += d > 1e-6;
    }
    /* same weights, same transform, same kernels: only the batch composition
     * differs, and eval mode makes every row independent of its batch */
    printf("  predict vs run: %ld of %lld test rows differ by > 1e-6 (largest %.2e)\n", diff, (long long)dims[0], worst);
    assert_int_equal(diff, 0);
    free(all);
    free(test);
    free(rows);
}

static void expect_failure(const char *toml, const char *const *overrides, int n, const char *needle)
{
    FILE *f = fopen("/tmp/defrisk_bad.toml", "w");
    fputs(toml, f);
    fclose(f);
    dr_status s = dr_experiment_run("/tmp/defrisk_bad.toml", overrides, n, NULL);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), needle));
}

static void test_bad_experiment_files(void **state)
{
    (void)state;
    const char *const out[] = {"output.dir=\"/tmp/defrisk_test_pipeline_bad\"", "train.progress=false"};
    expect_failure("[train]\nepochs = 3\nepohcs = 4\n", out, 2, "/tmp/defrisk_bad.toml:3:1");
    expect_failure("[train]\nepochs = \"many\"\n", out, 2, "/tmp/defrisk_bad.toml:2");
    expect_failure("[train]\nepochs = -1\n", out, 2, "train.epochs");
    expect_failure("[data]\npath = \"data/lending_club.csv\"\n[features.groups]\na = [\"no_such_column\"]\n", out, 2,
                   "no_such_column");
    expect_failure("[data]\ntarget = \"nope\"\n", out, 2, "nope");
    expect_failure("[baselines]\nmodels = [\"hybrid\", \"boosted_unicorn\"]\n", out, 2, "boosted_unicorn");
    expect_failure("[data\n", out, 2, "/tmp/defrisk_bad.toml:1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_experiment_files),
        cmocka_unit_test(test_quickstart_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
