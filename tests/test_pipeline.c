/* The whole pipeline as ./run_experiment runs it, on the bundled Lending Club
 * sample at a small size: every model trains, the report files appear,
 * prediction from the run folder reproduces the run's own test predictions, the
 * ensemble stage run alone over the run folder reproduces the run's ensemble, and
 * bad experiment files and overrides fail with the file, line and column or the
 * override, leaving no run folder behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include "core/h5.h"
#include "data/csv.h"
#include "data/synth.h"
#include "experiments/experiment.h"
#include "kernels/backends.h"
#include "tests/testutil.h"

static const char *const small[] = {
    "output.dir=\"/tmp/defrisk_test_pipeline\"", "train.epochs=3", "train.progress=false",
    "model.filters=[4, 8, 8]", "model.lstm_units=8", "model.attention_dim=8", "model.fc=[16]",
    "features.rfecv_trees=8", "baselines.logistic_epochs=3", "baselines.mlp_epochs=3",
    "baselines.xgboost_estimators=30", "baselines.lightgbm_estimators=30", "baselines.random_forest_estimators=20",
    "ensemble.trials=20", "data.cache=false"};

/* The newest folder matching glob (a shell pattern) into dir. */
static int newest_run(const char *glob, char *dir, size_t cap)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -td %s 2>/dev/null | head -1", glob);
    FILE *p = popen(cmd, "r");
    int ok = p && fgets(dir, (int)cap, p) != NULL;
    if (p)
        pclose(p);
    if (ok)
        dir[strcspn(dir, "\n")] = '\0';
    return ok;
}

/* Runs the experiment, which must succeed, and finds its run folder (the newest
 * matching glob) in dir. */
static void run_ok(const char *exp, const char *const *overrides, int n, const char *glob, char *dir, size_t cap)
{
    dr_status s = dr_experiment_run(exp, overrides, n, NULL);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    assert_true(newest_run(glob, dir, cap));
}

/* Test AUC of `model` in dir/results.csv, NAN when absent. */
static double result_auc(const char *dir, const char *model)
{
    char path[700], line[1024];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    double auc = NAN;
    size_t n = strlen(model);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, model, n) == 0 && line[n] == ',')
            auc = atof(line + n + 1);
    if (f)
        fclose(f);
    return auc;
}

/* The test AUC that results.csv reports for model, recounted pair by pair (ties
 * half) from the run's stored test predictions. results.csv has 6 decimals. */
static void check_auc_recounted(const char *dir, const char *model)
{
    char path[700], name[64];
    snprintf(path, sizeof path, "%s/predictions.h5", dir);
    dr_h5 *h;
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    float *score, *label;
    int rank;
    int64_t dims[8], n;
    snprintf(name, sizeof name, "test/%s", model);
    assert_int_equal(dr_h5_read_f32(h, name, &score, &rank, dims), DR_OK);
    n = dims[0];
    assert_int_equal(dr_h5_read_f32(h, "test/label", &label, &rank, dims), DR_OK);
    assert_true(dims[0] == n);
    dr_h5_close(h);
    double *wide = malloc((size_t)n * sizeof *wide);
    for (int64_t i = 0; i < n; i++)
        wide[i] = score[i];
    double recounted = tu_pairwise_auc(wide, label, n), reported = result_auc(dir, model);
    printf("  %s test AUC: reported %.6f, recounted %.6f\n", model, reported, recounted);
    assert_true(fabs(recounted - reported) <= 5e-7 + 1e-12);
    free(wide);
    free(score);
    free(label);
}

/* Prediction from the run folder on csv (n_rows loans, the file the run read)
 * reproduces the run's own test predictions of the network for the same rows. */
static void check_predict_matches(const char *dir, const char *csv, long n_rows)
{
    char out[700], path[700];
    snprintf(out, sizeof out, "%s/pred.csv", dir);
    dr_status s = dr_experiment_predict(dir, csv, out);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[128];
    assert_non_null(fgets(line, sizeof line, f));
    float *all = malloc(sizeof(float) * (size_t)n_rows);
    long n = 0, row;
    float p;
    while (fscanf(f, "%ld,%f", &row, &p) == 2 && n < n_rows)
        all[n++] = p;
    fclose(f);
    assert_int_equal(n, n_rows);
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

/* `run_experiment ensemble RUN_DIR` with the run's own settings gives the run's
 * ensemble; a run folder of another split and a mistyped key are refused. */
static void check_ensemble_alone(const char *dir)
{
    const char *const dirs[] = {dir}, *const ov[] = {"output.dir=\"/tmp/defrisk_test_pipeline/ens\""};
    dr_status s = dr_experiment_ensemble(dirs, 1, ov, 1);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    char ens[512];
    assert_true(newest_run("/tmp/defrisk_test_pipeline/ens/ensemble-*", ens, sizeof ens));
    double run = result_auc(dir, "ensemble"), alone = result_auc(ens, "ensemble");
    printf("  ensemble test AUC: in the run %.6f, alone %.6f\n", run, alone);
    assert_true(run == alone);

    /* a predictions.h5 of another split: 3 validation rows */
    assert_int_equal(system("mkdir -p /tmp/defrisk_test_pipeline/other"), 0);
    dr_h5 *h;
    assert_int_equal(dr_h5_create(&h, "/tmp/defrisk_test_pipeline/other/predictions.h5"), DR_OK);
    float y[3] = {0, 1, 0};
    int32_t r[3] = {0, 1, 2};
    int64_t n3 = 3;
    assert_int_equal(dr_h5_write_f32(h, "val/label", y, 1, &n3), DR_OK);
    assert_int_equal(dr_h5_write_i32(h, "val/row", r, 1, &n3), DR_OK);
    assert_int_equal(dr_h5_write_f32(h, "test/label", y, 1, &n3), DR_OK);
    assert_int_equal(dr_h5_write_i32(h, "test/row", r, 1, &n3), DR_OK);
    assert_int_equal(dr_h5_commit(h), DR_OK);
    const char *const two[] = {dir, "/tmp/defrisk_test_pipeline/other"};
    s = dr_experiment_ensemble(two, 2, ov, 1);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), "not the same split"));
    const char *const twice[] = {ov[0], "ensemble.members=[\"xgboost\", \"hybrid\", \"xgboost\"]"};
    s = dr_experiment_ensemble(dirs, 1, twice, 2);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), "twice"));
    const char *const typo[] = {ov[0], "ensemble.trails=5"};
    s = dr_experiment_ensemble(dirs, 1, typo, 2);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), "trails"));
    /* the refused runs left no folder behind: only the first one is there */
    FILE *p = popen("ls -d /tmp/defrisk_test_pipeline/ens/ensemble-* | wc -l", "r");
    assert_non_null(p);
    int folders = 0;
    assert_int_equal(fscanf(p, "%d", &folders), 1);
    pclose(p);
    assert_int_equal(folders, 1);
}

static void test_quickstart_small(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf /tmp/defrisk_test_pipeline"), 0);
    char dir[512], path[700];
    run_ok("exp/quickstart.toml", small, (int)(sizeof small / sizeof *small), "/tmp/defrisk_test_pipeline/quickstart-*",
           dir, sizeof dir);
    const char *files[] = {"config.toml", "log", "metrics.jsonl", "checkpoint.h5", "predictions.h5", "results.csv",
                           "results.h5", "features.txt", "xgboost.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        printf("  %-15s %s\n", files[i], access(path, F_OK) == 0 ? "present" : "MISSING");
        assert_int_equal(access(path, F_OK), 0);
    }

    /* the quickstart's guarded selection: both validation AUCs in the log, and
     * the decision follows them */
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *lf = fopen(path, "r");
    assert_non_null(lf);
    char line[512];
    double subset = NAN, all = NAN, net = NAN, lr = NAN;
    int kept = -1, note = 0;
    while (fgets(line, sizeof line, lf)) {
        if (sscanf(line, "selection guard: XGBoost validation AUC %lf on the subset, %lf", &subset, &all) == 2)
            kept = strstr(line, "the subset is kept") != NULL;
        sscanf(line, "hybrid: best validation AUC %lf", &net);
        sscanf(line, "logistic: best validation AUC %lf", &lr);
        note |= strncmp(line, "note: the network's validation AUC", 34) == 0;
    }
    fclose(lf);
    printf("  selection guard: subset %.4f, all %.4f, subset kept %d\n", subset, all, kept);
    assert_true(kept == (subset >= all));
    /* the note on a network below logistic regression comes exactly when it is
     * (the logged AUCs are rounded to 4 places: a tie there decides nothing) */
    printf("  validation AUC: network %.4f, logistic %.4f, note %d\n", net, lr, note);
    assert_true(isfinite(net) && isfinite(lr));
    if (fabs(net - lr) > 1e-4)
        assert_int_equal(note, net < lr);

    snprintf(path, sizeof path, "%s/results.h5", dir);
    dr_h5 *h;
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    const char *const sets[] = {"reliability/hybrid/observed_rate", "reliability/ensemble/count", "psi/value",
                                "psi/feature"};
    for (int i = 0; i < 4; i++)
        assert_true(dr_h5_exists(h, sets[i]));
    assert_false(dr_h5_exists(h, "calibrated/table"));
    dr_h5_close(h);
    check_auc_recounted(dir, "hybrid");
    check_auc_recounted(dir, "ensemble");
    check_predict_matches(dir, "data/lending_club.csv", 9857);
    check_ensemble_alone(dir);
}

/* Column `name` of `model`'s row in dir/file (a results table), NAN when absent. */
static double result_value(const char *dir, const char *file, const char *model, const char *name)
{
    char path[700], header[2048], line[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(header, sizeof header, f)) {
        if (f)
            fclose(f);
        return NAN;
    }
    int col = -1, k = 0;
    for (char *tok = strtok(header, ",\n"); tok; tok = strtok(NULL, ",\n"), k++)
        if (strcmp(tok, name) == 0)
            col = k;
    double v = NAN;
    size_t n = strlen(model);
    while (col > 0 && fgets(line, sizeof line, f))
        if (strncmp(line, model, n) == 0 && line[n] == ',') {
            char *tok = strtok(line, ",");
            for (k = 0; tok && k < col; k++)
                tok = strtok(NULL, ",");
            v = tok ? atof(tok) : NAN;
        }
    fclose(f);
    return v;
}

static const char *dir_file(const char *dir, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* `run_experiment explain RUN_DIR`: the saved XGBoost model explained again
 * with the run's settings gives the run's SHAP values bit for bit, in a new
 * folder; a model the run folder does not hold, a mistyped key and a key
 * outside [explain] are refused and leave no folder. */
static void check_explain_again(const char *dir)
{
    char glob[600], again[600], path[700];
    snprintf(glob, sizeof glob, "%s/explain-*", dir);
    const char *const same[] = {"explain.models=[\"xgboost\"]", "explain.lime_rows=0"};
    assert_int_equal(dr_experiment_explain(dir, same, 2), DR_OK);
    assert_true(newest_run(glob, again, sizeof again));
    dr_h5 *h;
    float *a, *b;
    int rank;
    int64_t da[2], db[2];
    assert_int_equal(dr_h5_open(&h, dir_file(dir, "explain.h5", path, sizeof path)), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "xgboost/shap", &a, &rank, da), DR_OK);
    dr_h5_close(h);
    assert_int_equal(dr_h5_open(&h, dir_file(again, "explain.h5", path, sizeof path)), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "xgboost/shap", &b, &rank, db), DR_OK);
    dr_h5_close(h);
    assert_true(da[0] == db[0] && da[1] == db[1]);
    assert_memory_equal(a, b, (size_t)(da[0] * da[1]) * sizeof *a);
    free(a), free(b);
    printf("  explain RUN_DIR: xgboost/shap %lld x %lld, as the run's\n", (long long)db[0], (long long)db[1]);
    const char *const logistic[] = {"explain.models=[\"logistic\"]", "explain.interaction_rows=0"},
                      *const typo[] = {"explain.rowz=3"}, *const other[] = {"train.epochs=3"};
    assert_int_equal(dr_experiment_explain(dir, logistic, 2), DR_ERR_UNSUPPORTED);
    assert_non_null(strstr(dr_last_error(), "\"logistic\" is not saved in a run folder"));
    assert_int_equal(dr_experiment_explain(dir, typo, 1), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "unknown key explain.rowz"));
    assert_int_equal(dr_experiment_explain(dir, other, 1), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "changes explain.* keys only"));
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -d %s/explain-* | wc -l", dir);
    FILE *pf = popen(cmd, "r");
    int folders = 0;
    assert_non_null(pf);
    assert_int_equal(fscanf(pf, "%d", &folders), 1);
    pclose(pf);
    assert_int_equal(folders, 1);
}

/* [evaluation] with LGD as a constant and EAD from the loan amount column:
 * the table's expected loss is the sum of p x 0.8 x funded_amnt over the test
 * loans (checked from predictions.h5), Platt-calibrated copies are written,
 * and scorecard points come with every model's test predictions. */
static void test_credit_evaluation(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf /tmp/defrisk_test_eval"), 0);
    const char *const ov[] = {"output.dir=\"/tmp/defrisk_test_eval\"", "features.select=false", "data.cache=false",
                              "baselines.models=[\"logistic\", \"xgboost\"]", "ensemble.members=[]",
                              "baselines.logistic_epochs=3", "baselines.xgboost_estimators=30",
                              "evaluation.calibration=\"platt\"", "evaluation.lgd=0.8",
                              "evaluation.ead_column=\"funded_amnt\"", "explain.models=[\"xgboost\", \"logistic\"]",
                              "explain.rows=200", "explain.lime_rows=2", "explain.lime_seeds=3",
                              "explain.lime_samples=1000", "explain.interaction_rows=20"};
    char dir[512], path[700];
    run_ok("exp/quickstart.toml", ov, (int)(sizeof ov / sizeof *ov), "/tmp/defrisk_test_eval/quickstart-*", dir,
           sizeof dir);
    snprintf(path, sizeof path, "%s/predictions.h5", dir);
    dr_h5 *h;
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    float *p, *ex, *pts, *cal;
    int32_t *rows;
    int rank;
    int64_t n, m;
    assert_int_equal(dr_h5_read_f32(h, "test/xgboost", &p, &rank, &n), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test/exposure", &ex, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test_points/xgboost", &pts, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test_calibrated/xgboost", &cal, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_i32(h, "test/row", &rows, &rank, &m), DR_OK);
    dr_h5_close(h);
    /* explain.h5: 200 test loans, their SHAP values and margins (the margin's
     * sigmoid is the model's probability; additivity is in test_trees) */
    snprintf(path, sizeof path, "%s/explain.h5", dir);
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    float *shap, *margin;
    int64_t sd[2];
    assert_int_equal(dr_h5_read_f32(h, "xgboost/shap", &shap, &rank, sd), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "xgboost/margin", &margin, &rank, &m), DR_OK);
    int32_t *lime;
    int64_t ld[2];
    assert_int_equal(dr_h5_read_i32(h, "xgboost/lime/feature", &lime, &rank, ld), DR_OK);
    /* interaction values of the first 20 loans: each input's row sums to its SHAP value */
    float *inter;
    int64_t id[3];
    assert_int_equal(dr_h5_read_f32(h, "xgboost/shap_interaction", &inter, &rank, id), DR_OK);
    assert_false(dr_h5_exists(h, "logistic/shap_interaction"));
    assert_true(rank == 3 && id[0] == 20 && id[1] == sd[1] && id[2] == sd[1]);
    double inter_gap = 0;
    for (int64_t i = 0; i < id[0]; i++)
        for (int64_t a = 0; a < id[1]; a++) {
            double sum = 0;
            for (int64_t b = 0; b < id[2]; b++)
                sum += inter[(i * id[1] + a) * id[2] + b];
            inter_gap = fmax(inter_gap, fabs(sum - shap[i * sd[1] + a]));
        }
    printf("  explain.h5: xgboost/shap_interaction 20 x %lld x %lld, largest |row sum - SHAP| %.2e\n",
           (long long)id[1], (long long)id[2], inter_gap);
    assert_true(inter_gap < 1e-5);
    free(inter);
    /* logistic regression by expected gradients: its margin is its logit */
    float *lr_margin, *lr_p;
    int64_t lm;
    assert_int_equal(dr_h5_read_f32(h, "logistic/margin", &lr_margin, &rank, &lm), DR_OK);
    dr_h5_close(h);
    assert_int_equal(dr_h5_open(&h, dir_file(dir, "predictions.h5", path, sizeof path)), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test/logistic", &lr_p, &rank, &lm), DR_OK);
    dr_h5_close(h);
    for (int i = 0; i < 200; i++)
        assert_true(fabs(1 / (1 + exp(-(double)lr_margin[i])) - lr_p[i]) < 1e-6);
    free(lr_margin), free(lr_p);
    /* shap_summary.csv: the top 20 of each explained model, ranked */
    FILE *sf = fopen(dir_file(dir, "shap_summary.csv", path, sizeof path), "r");
    assert_non_null(sf);
    char line[512];
    int lines = 0, firsts = 0;
    while (fgets(line, sizeof line, sf)) {
        lines++;
        firsts += strstr(line, "xgboost,TreeSHAP,1,") == line || strstr(line, "logistic,expected gradients,1,") == line;
    }
    fclose(sf);
    printf("  shap_summary.csv: %d lines\n", lines);
    assert_int_equal(lines, 1 + 2 * 20);
    assert_int_equal(firsts, 2);
    /* reasons.csv: up to 4 per loan and model, each raising the risk, largest first */
    sf = fopen(dir_file(dir, "reasons.csv", path, sizeof path), "r");
    assert_non_null(sf);
    assert_non_null(fgets(line, sizeof line, sf));
    assert_string_equal(line, "model,row,probability,rank,reason,value,contribution,scale\n");
    int reasons = 0, bad = 0;
    double prev = INFINITY;
    while (fgets(line, sizeof line, sf)) {
        const char *last = strrchr(line, ','), *before = last;
        while (before > line && before[-1] != ',')
            before--;
        int rank = atoi(strchr(strchr(strchr(line, ',') + 1, ',') + 1, ',') + 1);
        double v = atof(before);
        bad += !(v > 0) || rank < 1 || rank > 4 || (rank > 1 && v > prev);
        prev = v;
        reasons++;
    }
    fclose(sf);
    printf("  reasons.csv: %d reasons, %d out of order or not positive\n", reasons, bad);
    assert_true(reasons > 200 && reasons <= 2 * 200 * 4 && bad == 0);
    int lime_files = 0;
    for (int i = 0; i < 2; i++) { /* lime_<row>.csv: both models' 10 inputs */
        char name[64];
        snprintf(name, sizeof name, "lime_%d.csv", rows[i] + 1);
        FILE *lf = fopen(dir_file(dir, name, path, sizeof path), "r");
        assert_non_null(lf);
        lines = 0;
        while (fgets(line, sizeof line, lf))
            lines++;
        fclose(lf);
        lime_files += lines == 1 + 2 * 10;
    }
    assert_int_equal(lime_files, 2);
    printf("  explain.h5: xgboost/lime/feature %lld x %lld\n", (long long)ld[0], (long long)ld[1]);
    assert_true(ld[0] == 2 && ld[1] == 10);
    for (int i = 0; i < 20; i++)
        assert_true(lime[i] >= 0 && lime[i] < sd[1]);
    free(lime);
    printf("  explain.h5: xgboost/shap %lld x %lld\n", (long long)sd[0], (long long)sd[1]);
    assert_true(sd[0] == 200 && m == 200);
    for (int i = 0; i < 200; i++)
        assert_true(fabs(1 / (1 + exp(-(double)margin[i])) - p[i]) < 1e-6);
    free(shap), free(margin);
    dr_table t;
    assert_int_equal(dr_csv_read(&t, "data/lending_club.csv", NULL), DR_OK);
    int amt = dr_table_find(&t, "funded_amnt");
    assert_true(amt >= 0);
    double el = 0;
    long off = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = (float)(0.8 * t.cols[amt].num[rows[i]]);
        off += ex[i] != want;
        el += (double)p[i] * ex[i];
        /* points fall as the calibrated probability rises: 600 at 50:1, 20 per doubling */
        double odds = (1.0 - cal[i]) / cal[i];
        off += fabs(pts[i] - (600 + 20 / log(2.0) * log(odds / 50))) > 1e-2;
    }
    dr_table_free(&t);
    double table_el = result_value(dir, "results.csv", "xgboost", "expected_loss");
    printf("  exposures or points off: %ld; expected loss %.2f, in the table %.2f\n", off, el, table_el);
    assert_int_equal(off, 0);
    assert_true(fabs(table_el - el) <= 1e-6 * el);
    double ece = result_value(dir, "results.csv", "logistic", "ece"),
           ece_cal = result_value(dir, "results_calibrated.csv", "logistic", "ece");
    printf("  logistic ECE %.4f, after Platt scaling %.4f\n", ece, ece_cal);
    assert_true(isfinite(ece) && isfinite(ece_cal));
    assert_true(isfinite(result_value(dir, "results.csv", "xgboost", "emp")));
    free(p), free(ex), free(pts), free(cal), free(rows);
    check_explain_again(dir);
}

/* A fresh folder root with n synthetic loans (repayment histories included) in csv. */
static void synth_csv(const char *root, const char *csv, long n)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", root, root);
    assert_int_equal(system(cmd), 0);
    dr_synth_options o;
    dr_synth_options_default(&o);
    dr_table t;
    double *p_true = NULL;
    dr_synth_stats st;
    assert_int_equal(dr_synth_generate(7, n, &o, &t, &p_true, &st), DR_OK);
    assert_int_equal(dr_csv_write(&t, csv), DR_OK);
    dr_table_free(&t);
    free(p_true);
}

/* Synthetic loans with repayment histories, written as CSV and read back: the run
 * makes the history summaries and the LSTM's sequences, stores both in the
 * transform, and prediction from the run folder, which recomputes them from the
 * CSV, reproduces the run's own test predictions. */
static void test_synthetic_history_predict(void **state)
{
    (void)state;
    const char *root = "/tmp/defrisk_test_pipeline_synth", *csv = "/tmp/defrisk_test_pipeline_synth/loans.csv";
    const long n = 1500;
    synth_csv(root, csv, n);
    FILE *f = fopen("/tmp/defrisk_test_pipeline_synth/exp.toml", "w");
    assert_non_null(f);
    fprintf(f, "[data]\nsource = \"csv\"\npath = \"%s\"\ntarget = \"default\"\npositive = \"yes\"\n"
               "date_column = \"issue_date\"\ncache = false\n[features]\nselect = false\n"
               "[model]\nfilters = [4, 8, 8]\nlstm_units = 8\nattention_dim = 8\nfc = [16]\n"
               "[train]\nepochs = 2\nprogress = false\n[baselines]\nmodels = [\"hybrid\"]\n"
               "[ensemble]\nmembers = []\n[explain]\nmodels = [\"hybrid\"]\nrows = 20\nsamples = 400\n"
               "lime_rows = 1\nlime_seeds = 2\nlime_samples = 500\n[output]\ndir = \"%s\"\n", csv, root);
    fclose(f);
    char dir[512], path[700];
    run_ok("/tmp/defrisk_test_pipeline_synth/exp.toml", NULL, 0, "/tmp/defrisk_test_pipeline_synth/exp-*", dir,
           sizeof dir);
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    dr_h5 *h;
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    int32_t *flag;
    int rank;
    int64_t len;
    assert_int_equal(dr_h5_read_i32(h, "transform/history_summaries", &flag, &rank, &len), DR_OK);
    int has_seq = dr_h5_exists(h, "transform/seq");
    dr_h5_close(h);
    printf("  transform: history_summaries %d, sequences %d\n", flag[0], has_seq);
    assert_int_equal(flag[0], 1);
    assert_true(has_seq);
    free(flag);
    /* expected gradients over the flat inputs and the history: base + sum of
     * both near the margin (Monte Carlo error, a few hundredths at 400 samples) */
    snprintf(path, sizeof path, "%s/explain.h5", dir);
    assert_int_equal(dr_h5_open(&h, path), DR_OK);
    float *shap, *hist, *base, *margin;
    int64_t sd[2], hd[2], m;
    assert_int_equal(dr_h5_read_f32(h, "hybrid/shap", &shap, &rank, sd), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "hybrid/shap_history", &hist, &rank, hd), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "hybrid/base", &base, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "hybrid/margin", &margin, &rank, &m), DR_OK);
    dr_h5_close(h);
    double gap = 0, spread = 0, hist_abs = 0;
    for (int64_t i = 0; i < sd[0]; i++) {
        double sum = base[i];
        for (int64_t j = 0; j < sd[1]; j++)
            sum += shap[i * sd[1] + j];
        for (int64_t c = 0; c < hd[1]; c++)
            sum += hist[i * hd[1] + c], hist_abs += fabs(hist[i * hd[1] + c]);
        gap += fabs(sum - margin[i]) / (double)sd[0];
        spread += fabs(margin[i] - base[i]) / (double)sd[0];
    }
    printf("  explain.h5: hybrid/shap %lld x %lld, shap_history %lld x %lld (sum |.| %.4f); mean |base + sum - "
           "margin| %.4f against mean |margin - base| %.4f\n", (long long)sd[0], (long long)sd[1],
           (long long)hd[0], (long long)hd[1], hist_abs, gap, spread);
    assert_true(sd[0] == 20 && hd[0] == 20 && hd[1] >= 1);
    assert_true(hist_abs > 0);
    assert_true(gap < 0.25 * spread);
    free(shap), free(hist), free(base), free(margin);
    check_predict_matches(dir, csv, n);
}

/* Kernel SHAP on synthetic loans with histories, explain.method = "kernel":
 *   - the ensemble of the network (which reads the history) and XGBoost: its
 *     values, the members' weighted, add up to its probability in
 *     predictions.h5 (to float rounding), the history as one input, which the
 *     network's own values give weight;
 *   - logistic regression, linear in its inputs: each value is the closed
 *     form w_j (x_j - E_b b_j) over the stored background, so value / (x_j -
 *     E_b b_j) is one number per input across the loans;
 *   - LIME of the ensemble (its members' predictions on the same samples,
 *     blended) is written like any model's. */
static void test_kernel_shap_ensemble(void **state)
{
    (void)state;
    const char *root = "/tmp/defrisk_test_pipeline_kshap", *csv = "/tmp/defrisk_test_pipeline_kshap/loans.csv";
    synth_csv(root, csv, 1200);
    FILE *f = fopen("/tmp/defrisk_test_pipeline_kshap/exp.toml", "w");
    assert_non_null(f);
    fprintf(f, "[data]\nsource = \"csv\"\npath = \"%s\"\ntarget = \"default\"\npositive = \"yes\"\n"
               "date_column = \"issue_date\"\nid = [\"loan_id\"]\ncache = false\n[features]\nselect = false\n"
               "[model]\nfilters = [4, 8, 8]\nlstm_units = 8\nattention_dim = 8\nfc = [16]\n"
               "[train]\nepochs = 2\nprogress = false\n[baselines]\nmodels = [\"hybrid\", \"xgboost\", \"logistic\"]\n"
               "logistic_epochs = 5\nxgboost_estimators = 40\n[ensemble]\nmembers = [\"hybrid\", \"xgboost\"]\n"
               "trials = 10\n[explain]\nmethod = \"kernel\"\nmodels = [\"ensemble\", \"logistic\", \"hybrid\"]\nkernel_rows = 4\n"
               "kernel_background = 5\n"
               "lime_rows = 1\nlime_seeds = 2\nlime_samples = 500\n[output]\nfeatures = true\ndir = \"%s\"\n",
            csv, root);
    fclose(f);
    char path[700], dir[512];
    run_ok("/tmp/defrisk_test_pipeline_kshap/exp.toml", NULL, 0, "/tmp/defrisk_test_pipeline_kshap/exp-*", dir,
           sizeof dir);
    dr_h5 *h;
    int rank;
    assert_int_equal(dr_h5_open(&h, dir_file(dir, "explain.h5", path, sizeof path)), DR_OK);
    float *shap, *hist, *base, *margin, *lr, *lr_base, *bg;
    double *bw;
    int64_t sd[2], hd[2], m, ld[2], bd[2], k;
    assert_int_equal(dr_h5_read_f32(h, "ensemble/shap", &shap, &rank, sd), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "ensemble/shap_history", &hist, &rank, hd), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "ensemble/base", &base, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "ensemble/margin", &margin, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "logistic/shap", &lr, &rank, ld), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "logistic/base", &lr_base, &rank, &m), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "kernel_background/x", &bg, &rank, bd), DR_OK);
    float *net_hist; /* the network alone: its history matters (the ensemble may weigh it 0) */
    int64_t nh[2];
    assert_int_equal(dr_h5_read_f32(h, "hybrid/shap_history", &net_hist, &rank, nh), DR_OK);
    double net_hist_abs = 0;
    for (int64_t i = 0; i < nh[0]; i++)
        net_hist_abs += fabs(net_hist[i]);
    free(net_hist);
    assert_int_equal(dr_h5_read_f64(h, "kernel_background/weight", &bw, &rank, &k), DR_OK);
    char **channel;
    long n_channel;
    assert_int_equal(dr_h5_read_strings(h, "ensemble/history_channel", &channel, &n_channel), DR_OK);
    /* LIME of the ensemble, from its members' predictions on the same samples, blended */
    int32_t *lime;
    int64_t lime_d[2];
    assert_int_equal(dr_h5_read_i32(h, "ensemble/lime/feature", &lime, &rank, lime_d), DR_OK);
    assert_true(lime_d[0] == 1 && lime_d[1] == 10 && lime[0] >= 0 && lime[0] < sd[1]);
    free(lime);
    dr_h5_close(h);
    assert_true(sd[0] == 4 && hd[0] == 4 && hd[1] == 1 && n_channel == 1 && strcmp(channel[0], "history") == 0);
    assert_true(ld[0] == 4 && bd[0] == k && k == 5 && bd[1] == sd[1]);
    float *p, *x;
    int64_t pn, xd[2];
    assert_int_equal(dr_h5_open(&h, dir_file(dir, "predictions.h5", path, sizeof path)), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test/ensemble", &p, &rank, &pn), DR_OK);
    dr_h5_close(h);
    assert_int_equal(dr_h5_open(&h, dir_file(dir, "features.h5", path, sizeof path)), DR_OK);
    assert_int_equal(dr_h5_read_f32(h, "test/x", &x, &rank, xd), DR_OK);
    dr_h5_close(h);
    double gap = 0, off = 0, hist_abs = 0;
    for (int64_t i = 0; i < sd[0]; i++) {
        double sum = base[i] + hist[i];
        for (int64_t j = 0; j < sd[1]; j++)
            sum += shap[i * sd[1] + j];
        gap = fmax(gap, fabs(sum - margin[i]));
        off = fmax(off, fabs(margin[i] - p[i]));
        hist_abs += fabs(hist[i]);
    }
    int d = (int)ld[1];
    double worst = 0;
    for (int j = 0; j < d; j++) { /* the logistic model's w_j, from its loan of largest |x_j - E b_j| */
        double mu = 0, w = 0, far = 0;
        for (int64_t b = 0; b < k; b++)
            mu += bw[b] * bg[b * d + j];
        for (int64_t i = 0; i < ld[0]; i++)
            if (fabs(x[i * d + j] - mu) > far)
                far = fabs(x[i * d + j] - mu), w = lr[i * d + j] / (x[i * d + j] - mu);
        for (int64_t i = 0; i < ld[0]; i++)
            worst = fmax(worst, fabs(lr[i * d + j] - w * (x[i * d + j] - mu)));
    }
    printf("  ensemble: largest |base + sum - probability| %.2e, |probability - predictions.h5| %.2e, history "
           "sum |.| %.4f (the network's alone %.4f); logistic: largest gap to w_j (x_j - E b_j) %.2e\n", gap, off,
           hist_abs, net_hist_abs, worst);
    assert_true(gap < 1e-5 && off < 1e-6 && net_hist_abs > 0);
    assert_true(worst < 1e-4);
    free(shap), free(hist), free(base), free(margin), free(lr), free(lr_base), free(bg), free(bw), free(p), free(x);
    for (long c = 0; c < n_channel; c++)
        free(channel[c]);
    free(channel);
}

/* Entries in dir (0 when it does not exist). */
static int count_entries(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A %s 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* The run fails with needle in its message and leaves no run folder in the
 * output.dir of the overrides. */
static void expect_failure(const char *toml, const char *const *overrides, int n, const char *needle)
{
    FILE *f = fopen("/tmp/defrisk_bad.toml", "w");
    fputs(toml, f);
    fclose(f);
    dr_status s = dr_experiment_run("/tmp/defrisk_bad.toml", overrides, n, NULL);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), needle));
    assert_int_equal(count_entries("/tmp/defrisk_test_pipeline_bad"), 0);
}

static void test_bad_experiment_files(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf /tmp/defrisk_test_pipeline_bad"), 0);
    const char *const out[] = {"output.dir=\"/tmp/defrisk_test_pipeline_bad\"", "train.progress=false"};
    expect_failure("[train]\nepochs = 3\nepohcs = 4\n", out, 2, "/tmp/defrisk_bad.toml:3:1");
    expect_failure("[train]\nepochs = \"many\"\n", out, 2, "/tmp/defrisk_bad.toml:2");
    expect_failure("[train]\nepochs = -1\n", out, 2, "train.epochs");
    expect_failure("[data]\npath = \"data/lending_club.csv\"\n[features.groups]\na = [\"no_such_column\"]\n", out, 2,
                   "no_such_column");
    expect_failure("[data]\ntarget = \"nope\"\n", out, 2, "nope");
    expect_failure("[baselines]\nmodels = [\"hybrid\", \"boosted_unicorn\"]\n", out, 2, "boosted_unicorn");
    expect_failure("[data\n", out, 2, "/tmp/defrisk_bad.toml:1");
    /* the per-op implementation choice: a bad value at its position, a misspelt key as unknown */
    expect_failure("[cuda]\nconv1d = \"cuDNN\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:2:10: cuda.conv1d: value \"cuDNN\" is not allowed");
    expect_failure("[features]\nselect = false\n[cuda]\nconv = \"cudnn\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:4:1: unknown key cuda.conv");
    /* a device that is not one, at its position */
    expect_failure("[train]\ndevice = \"cuda:x\"\n", out, 2, "/tmp/defrisk_bad.toml:2:10: train.device = \"cuda:x\"");
    /* caught before any model trains: the default members include the trees */
    expect_failure("[baselines]\nmodels = [\"logistic\", \"hybrid\"]\n", out, 2, "which baselines.models does not train");

    expect_failure("[features]\nselect = \"some\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:2:10: features.select: value \"some\" is not allowed");
    /* [explain]: what is not done says so; a model that is not trained is refused */
    expect_failure("[features]\nselect = false\n[ensemble]\nmembers = []\n[explain]\nmodels = [\"ensemble\"]\n",
                   out, 2, "/tmp/defrisk_bad.toml:6:10: explain.models names \"ensemble\", but ensemble.members names 0");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"ensemble\"]\nkernel_samples = 50\n", out, 2,
                   "/tmp/defrisk_bad.toml:5:18: explain.kernel_samples = 50 is too few for Kernel SHAP's regression");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"xgboost\"]\nkernel_background = 100000\n",
                   out, 2, "/tmp/defrisk_bad.toml:5:21: explain.kernel_background = 100000, but the training split");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"lightgbm\"]\ninteraction_rows = 5\n", out,
                   2, "/tmp/defrisk_bad.toml:5:20: explain.interaction_rows: SHAP interaction values come from TreeSHAP");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"hybrid\"]\ninteraction_rows = 5\n", out, 2,
                   "/tmp/defrisk_bad.toml:5:20: explain.interaction_rows: SHAP interaction values come from TreeSHAP");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"xgboost\"]\nmethod = \"lime\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:5:10: explain.method: value \"lime\" is not allowed");
    expect_failure("[features]\nselect = false\n[explain]\nmodels = [\"hybrid\"]\nbackground = 100000000\n", out,
                   2, "/tmp/defrisk_bad.toml:5:14: explain.background = 100000000, but the training split has");
    expect_failure("[features]\nselect = false\n[baselines]\nmodels = [\"xgboost\"]\n[ensemble]\nmembers = []\n"
                   "[explain]\nmodels = [\"lightgbm\"]\n",
                   out, 2, "explain.models names \"lightgbm\", which baselines.models does not train");
    /* [evaluation] and the out-of-time split */
    expect_failure("[features]\nselect = false\n[evaluation]\nlgd_column = \"int_rate\"\n", out, 2,
                   "data/lending_club.csv, column \"int_rate\" (evaluation.lgd_column at /tmp/defrisk_bad.toml:4:14), "
                   "data row");
    expect_failure("[features]\nselect = false\n[evaluation]\nead_column = \"term\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:4:14: evaluation.ead_column = \"term\": column 2 of data/lending_club.csv is "
                   "not numeric");
    expect_failure("[features]\nselect = false\n[evaluation]\nead_column = \"amount\"\n", out, 2,
                   "has no column of that name");
    expect_failure("[evaluation]\nlgd = 1.5\n", out, 2, "evaluation.lgd");
    expect_failure("[evaluation]\nemp_p0 = 0.6\nemp_p1 = 0.6\n", out, 2, "exceeds 1");
    expect_failure("[data]\nsplit_by = \"time\"\n", out, 2,
                   "/tmp/defrisk_bad.toml:2:12: data.split_by = \"time\" (out of time");

    /* the same mistakes in an override of a good file: unknown key, wrong type, out of range */
    const char *good = "[features]\nselect = false\n";
    const char *const typo[] = {out[0], out[1], "train.epohcs=3"};
    expect_failure(good, typo, 3, "command-line override 'train.epohcs=3': unknown key train.epohcs");
    const char *const type[] = {out[0], out[1], "train.epochs=\"many\""};
    expect_failure(good, type, 3, "command-line override 'train.epochs=\"many\"': train.epochs: expected an integer");
    const char *const range[] = {out[0], out[1], "train.epochs=0"};
    expect_failure(good, range, 3, "command-line override 'train.epochs=0': train.epochs: value 0 is out of range");
}

/* A failed resume keeps the run folder it continues, with the error in its log. */
static void test_failed_resume_keeps_folder(void **state)
{
    (void)state;
    const char *dir = "/tmp/defrisk_test_pipeline_resume";
    char cmd[256], path[128], line[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && printf 'train.epohcs=3\\n' > %s/overrides", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/experiment.toml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[features]\nselect = false\n", f);
    fclose(f);
    dr_status s = dr_experiment_run(NULL, NULL, 0, dir);
    printf("  -> %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), "unknown key train.epohcs"));
    assert_int_equal(count_entries(dir), 3); /* experiment.toml, overrides, log */
    snprintf(path, sizeof path, "%s/log", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    int logged = 0;
    while (fgets(line, sizeof line, f))
        logged |= strstr(line, "error: ") && strstr(line, "train.epohcs");
    fclose(f);
    assert_true(logged);
}

/* train.device = "auto": CUDA where a device is usable, else the CPU, with the
 * reason in the run's log. */
static void test_device_auto(void **state)
{
    (void)state;
    const char *const o[] = {"output.dir=\"/tmp/defrisk_test_pipeline_auto\"", "train.device=\"auto\"",
                             "baselines.models=[\"logistic\"]", "ensemble.members=[]", "features.select=false",
                             "baselines.logistic_epochs=1", "train.progress=false", "data.cache=false"};
    assert_int_equal(system("rm -rf /tmp/defrisk_test_pipeline_auto"), 0);
    dr_backend *be = NULL;
    int cuda = dr_backend_create(&be, "cuda") == DR_OK;
    dr_backend_free(be);
    char dir[512], path[700], line[1024];
    run_ok("exp/quickstart.toml", o, (int)(sizeof o / sizeof *o), "/tmp/defrisk_test_pipeline_auto/quickstart-*", dir,
           sizeof dir);
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int note = 0, device = 0, on_cuda = 0;
    while (fgets(line, sizeof line, f)) {
        note |= strstr(line, "train.device = \"auto\": running on the CPU (") != NULL;
        if (strncmp(line, "device: ", 8) == 0) {
            device = 1;
            on_cuda = strstr(line, "(cuda:") != NULL;
        }
    }
    fclose(f);
    printf("  a CUDA device is %susable; the log: fallback note %d, device line %d, on cuda %d\n", cuda ? "" : "not ",
           note, device, on_cuda);
    assert_true(device);
    assert_int_equal(note, !cuda);
    assert_int_equal(on_cuda, cuda);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_experiment_files),
        cmocka_unit_test(test_failed_resume_keeps_folder),
        cmocka_unit_test(test_device_auto),
        cmocka_unit_test(test_quickstart_small),
        cmocka_unit_test(test_credit_evaluation),
        cmocka_unit_test(test_synthetic_history_predict),
        cmocka_unit_test(test_kernel_shap_ensemble),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
