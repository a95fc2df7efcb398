/* Preprocessing: closed-form values on a small table, fitting on train rows
 * only, winsorising, indicators, unseen levels, HDF5 round trip (bitwise equal
 * transforms), transform of another table, errors, and the Lending Club sample
 * (z-scored train columns have mean 0 and std 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "data/preprocess.h"
#include "tests/testutil.h"

static const char small_csv[] = "x,grade,id,y\n"
                                "1,A,a1,good\n"
                                "2,B,a2,bad\n"
                                "NA,B,a3,good\n"
                                "3,,a4,good\n"
                                "1000,C,a5,bad\n"; /* row 4: a "test" row */

static void load_small(dr_table *t)
{
    dr_csv_override ov[] = {{"id", DR_COL_ID}};
    dr_csv_options opt = {.overrides = ov, .n_overrides = 1, .target = "y"};
    assert_int_equal(dr_csv_parse(t, small_csv, sizeof small_csv - 1, "small.csv", &opt), DR_OK);
}

static int find_feature(const dr_matrix *m, const char *name)
{
    for (int f = 0; f < m->n_features; f++)
        if (strcmp(m->names[f], name) == 0)
            return f;
    return -1;
}

static void test_closed_form(void **state)
{
    (void)state;
    dr_table t;
    load_small(&t);
    long train[] = {0, 1, 2, 3};
    dr_prep p;
    dr_prep_options o = {.missing_indicators = 1};
    assert_int_equal(dr_prep_fit(&p, &t, train, 4, &o), DR_OK);
    /* features: x, x=NA, grade=A, grade=B, grade=NA (C unseen in train; id, y skipped) */
    dr_matrix m;
    assert_int_equal(dr_prep_transform(&p, &t, NULL, 5, &m), DR_OK);
    printf("  features:");
    for (int f = 0; f < m.n_features; f++)
        printf(" %s(src %d)", m.names[f], m.source[f]);
    printf("\n");
    assert_int_equal(m.n_features, 5);
    assert_string_equal(m.names[0], "x");
    assert_string_equal(m.names[1], "x=NA");
    assert_string_equal(m.names[2], "grade=A");
    assert_string_equal(m.names[3], "grade=B");
    assert_string_equal(m.names[4], "grade=NA");
    assert_int_equal(m.source[0], 0);
    assert_int_equal(m.source[4], 1);
    /* train x = {1, 2, 3} (row 2 missing): mean 2, population std sqrt(2/3);
     * the 1000 of row 4 must not enter. Float output of a double z-score:
     * tolerance 2 ulp of the value, 1e-6 absolute. */
    double sd = sqrt(2.0 / 3.0);
    float want_x[5] = {(float)(-1 / sd), 0.0f, 0.0f, (float)(1 / sd), (float)(998 / sd)};
    float got_x[5], got_ind[5];
    for (int r = 0; r < 5; r++) {
        got_x[r] = m.x[r * 5 + 0];
        got_ind[r] = m.x[r * 5 + 1];
    }
    assert_int_equal(tu_compare("x", got_x, want_x, 5, 1e-6, 2.4e-7), 0);
    float want_ind[5] = {0, 0, 1, 0, 0};
    assert_int_equal(tu_compare("x=NA", got_ind, want_ind, 5, 0, 0), 0);
    /* grade: mode B (2 of 3 present); row 3 missing -> B plus indicator; row 4's
     * C never seen in train -> all-zero one-hot */
    float want_g[5][3] = {{1, 0, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 1}, {0, 0, 0}};
    for (int r = 0; r < 5; r++)
        assert_int_equal(tu_compare("grade", m.x + r * 5 + 2, want_g[r], 3, 0, 0), 0);
    dr_matrix_free(&m);
    dr_prep_free(&p);
    dr_table_free(&t);
}

static void test_winsor(void **state)
{
    (void)state;
    /* train values 0..100: quantiles 0.05 and 0.95 (type 7) are exactly 5 and 95 */
    char csv[4096];
    int n = snprintf(csv, sizeof csv, "v\n");
    for (int i = 0; i <= 100; i++)
        n += snprintf(csv + n, sizeof csv - (size_t)n, "%d\n", i);
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, csv, (size_t)n, "w.csv", NULL), DR_OK);
    dr_prep p;
    dr_prep_options o = {.winsor_lo = 0.05, .winsor_hi = 0.95};
    assert_int_equal(dr_prep_fit(&p, &t, NULL, t.n_rows, &o), DR_OK);
    printf("  winsor bounds %.17g %.17g, mean %.17g\n", p.cols[0].clip_lo, p.cols[0].clip_hi,
           p.cols[0].mean);
    assert_true(p.cols[0].clip_lo == 5.0 && p.cols[0].clip_hi == 95.0);
    /* clipped values are symmetric around 50 */
    assert_true(fabs(p.cols[0].mean - 50.0) < 1e-12);
    dr_matrix m;
    assert_int_equal(dr_prep_transform(&p, &t, (long[]){0, 100}, 2, &m), DR_OK);
    assert_true(m.x[0] == -m.x[1]);
    assert_true(fabs(m.x[0] - (5.0 - 50.0) / p.cols[0].std) < 1e-5);
    dr_matrix_free(&m);
    dr_prep_free(&p);
    o.winsor_lo = 0.9;
    o.winsor_hi = 0.1;
    assert_int_equal(dr_prep_fit(&p, &t, NULL, t.n_rows, &o), DR_ERR_INVALID);
    dr_table_free(&t);
}

static void test_save_load_and_other_table(void **state)
{
    (void)state;
    dr_table t;
    load_small(&t);
    dr_prep p, q;
    dr_prep_options o = {.missing_indicators = 1, .winsor_lo = 0.1, .winsor_hi = 0.9};
    assert_int_equal(dr_prep_fit(&p, &t, (long[]){0, 1, 2, 3}, 4, &o), DR_OK);
    char path[256];
    snprintf(path, sizeof path, "/tmp/dr_test_prep_%ld.h5", (long)getpid());
    dr_h5 *f;
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_prep_save(&p, f, "model/prep"), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    assert_int_equal(dr_h5_open(&f, path), DR_OK);
    dr_status st = dr_prep_load(&q, f, "model/prep");
    printf("  load: %s %s\n", dr_status_name(st), dr_last_error());
    assert_int_equal(st, DR_OK);
    dr_prep_free(&q);
    assert_int_equal(dr_prep_load(&q, f, "model"), DR_ERR_FORMAT);
    printf("  %s\n", dr_last_error());
    assert_int_equal(dr_prep_load(&q, f, "model/prep"), DR_OK);
    dr_h5_close(f);
    remove(path);
    dr_matrix a, b;
    assert_int_equal(dr_prep_transform(&p, &t, NULL, t.n_rows, &a), DR_OK);
    assert_int_equal(dr_prep_transform(&q, &t, NULL, t.n_rows, &b), DR_OK);
    assert_int_equal(a.n_features, b.n_features);
    assert_memory_equal(a.x, b.x, (size_t)a.n_rows * (size_t)a.n_features * sizeof(float));
    for (int i = 0; i < a.n_features; i++)
        assert_string_equal(a.names[i], b.names[i]);
    dr_matrix_free(&b);

    /* a new file at prediction time: columns reordered, an unseen level, a new
     * level order; features must match by name */
    const char other[] = "grade,x,extra\nZ,2,1\nA,NA,2\nB,3,3\n";
    dr_table u;
    assert_int_equal(dr_csv_parse(&u, other, sizeof other - 1, "new.csv", NULL), DR_OK);
    assert_int_equal(dr_prep_transform(&q, &u, NULL, u.n_rows, &b), DR_OK);
    int ga = find_feature(&b, "grade=A"), gb = find_feature(&b, "grade=B"),
        x = find_feature(&b, "x");
    assert_true(ga >= 0 && gb >= 0 && x >= 0);
    int nf = b.n_features;
    assert_true(b.x[0 * nf + ga] == 0 && b.x[0 * nf + gb] == 0); /* Z unseen */
    assert_true(b.x[1 * nf + ga] == 1 && b.x[2 * nf + gb] == 1);
    assert_true(b.x[0 * nf + x] == a.x[1 * nf + x]); /* x = 2 in both tables */
    assert_true(b.x[1 * nf + x] == 0.0f);           /* missing -> mean */
    dr_matrix_free(&a);
    dr_matrix_free(&b);
    dr_table_free(&u);
    /* a table lacking a fitted column */
    const char lacking[] = "x,other\n1,2\n";
    assert_int_equal(dr_csv_parse(&u, lacking, sizeof lacking - 1, "lack.csv", NULL), DR_OK);
    assert_int_equal(dr_prep_transform(&q, &u, NULL, u.n_rows, &b), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "'grade'"));
    assert_non_null(strstr(dr_last_error(), "lack.csv"));
    dr_table_free(&u);
    dr_prep_free(&p);
    dr_prep_free(&q);
    dr_table_free(&t);
}

static void test_lending_club(void **state)
{
    (void)state;
    dr_table t;
    dr_csv_options copt = {.target = "Class"};
    assert_int_equal(dr_csv_read(&t, "data/lending_club.csv", &copt), DR_OK);
    long n_train = 7000;
    dr_prep p;
    assert_int_equal(dr_prep_fit(&p, &t, NULL, n_train, NULL), DR_OK);
    dr_matrix m;
    assert_int_equal(dr_prep_transform(&p, &t, NULL, n_train, &m), DR_OK);
    printf("  lending_club: %d features from %d columns\n", m.n_features, p.n_cols);
    assert_int_equal(p.n_cols, 22);
    double worst_mean = 0, worst_std = 0;
    for (int f = 0; f < m.n_features; f++) {
        if (strchr(m.names[f], '='))
            continue;
        double s = 0, ss = 0;
        for (long r = 0; r < n_train; r++)
            s += m.x[r * m.n_features + f];
        double mean = s / n_train;
        for (long r = 0; r < n_train; r++) {
            double d = m.x[r * m.n_features + f] - mean;
            ss += d * d;
        }
        double sd = sqrt(ss / n_train);
        worst_mean = fmax(worst_mean, fabs(mean));
        if (sd > 0) /* constant train columns are all zero */
            worst_std = fmax(worst_std, fabs(sd - 1));
    }
    /* values are rounded to float (rel 6e-8) after an exact-in-double z-score:
     * mean and std of 7000 of them are off by ~1e-7; 1e-5 leaves margin */
    printf("  train numeric features: max |mean| %.2e, max |std - 1| %.2e (tol 1e-5)\n",
           worst_mean, worst_std);
    assert_true(worst_mean < 1e-5 && worst_std < 1e-5);
    /* each row's one-hot group of a fully present column sums to 1 */
    int col = dr_table_find(&t, "term");
    for (long r = 0; r < n_train; r++) {
        float s = 0;
        for (int f = 0; f < m.n_features; f++)
            if (m.source[f] == col)
                s += m.x[r * m.n_features + f];
        assert_true(s == 1.0f);
    }
    dr_matrix_free(&m);
    dr_prep_free(&p);
    dr_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_winsor),
        cmocka_unit_test(test_save_load_and_other_table),
        cmocka_unit_test(test_lending_club),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
