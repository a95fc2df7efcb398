/* Feature engineering (products, degree-2 terms, time features, history
 * summaries) and sequence gathering, each against values computed here by
 * hand, plus errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "data/features.h"
#include "data/history.h"
#include "data/preprocess.h"
#include "tests/testutil.h"

static void parse(dr_table *t, const char *text, const char *name)
{
    dr_status s = dr_csv_parse(t, text, strlen(text), name, NULL);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
}

static const double *col(const dr_table *t, const char *name)
{
    int j = dr_table_find(t, name);
    if (j < 0)
        printf("  missing column %s\n", name);
    assert_true(j >= 0);
    return t->cols[j].num;
}

static void test_products_and_poly(void **state)
{
    (void)state;
    dr_table t;
    parse(&t, "a,b,c,g\n2,3,1,x\n-1,NA,2,y\n0.5,4,3,x\n", "p.csv");
    const char *prod[] = {"a*b"};
    const char *poly[] = {"a", "b", "c"};
    dr_fe_options o = {.products = prod, .n_products = 1, .poly = poly, .n_poly = 3};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_OK);
    /* 4 original + a*b + a^2, b^2, c^2, a*c, b*c (a*b not repeated) */
    printf("  columns after engineering: %d\n", t.n_cols);
    assert_int_equal(t.n_cols, 10);
    /* products of exactly representable values are exact */
    const double *ab = col(&t, "a*b"), *a2 = col(&t, "a^2"), *bc = col(&t, "b*c");
    assert_true(ab[0] == 6 && isnan(ab[1]) && ab[2] == 2);
    assert_true(a2[0] == 4 && a2[1] == 1 && a2[2] == 0.25);
    assert_true(bc[0] == 3 && isnan(bc[1]) && bc[2] == 12);
    /* errors name the spec and the column */
    const char *bad1[] = {"a*"};
    o = (dr_fe_options){.products = bad1, .n_products = 1};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    const char *bad2[] = {"a*g"};
    o.products = bad2;
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "'g' is not numeric"));
    const char *bad3[] = {"zz"};
    o = (dr_fe_options){.poly = bad3, .n_poly = 1};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "p.csv"));
    dr_table_free(&t);
}

static void test_time_features(void **state)
{
    (void)state;
    dr_table t;
    parse(&t, "issue_d,v\n2020-01-15,1\n2020-04,2\n2020-12-31,3\nNA,4\n", "d.csv");
    dr_fe_options o = {.date_column = "issue_d", .reference_date = "2021-01-01"};
    double ref;
    assert_int_equal(dr_fe_apply(&t, &o, &ref), DR_OK);
    double d0, d1, d2;
    dr_parse_date("2020-01-15", 10, &d0);
    dr_parse_date("2020-04-01", 10, &d1);
    dr_parse_date("2020-12-31", 10, &d2);
    const double *age = col(&t, "issue_d_age_months");
    /* same expression as the definition: exact equality; the day counts are
     * checked independently: 2020 is a leap year, 2020-01-15 -> 2021-01-01 is 352 */
    assert_true(ref - d0 == 352.0 && ref - d2 == 1.0);
    assert_true(age[0] == 352.0 / 30.436875 && age[2] == 1.0 / 30.436875 && isnan(age[3]));
    const double *ms = col(&t, "issue_d_month_sin"), *mc = col(&t, "issue_d_month_cos");
    const double *qs = col(&t, "issue_d_quarter_sin"), *qc = col(&t, "issue_d_quarter_cos");
    /* January: angle 0; April: month angle pi/2, quarter angle pi/2; December:
     * month angle 11 pi / 6, quarter angle 3 pi / 2. libm sin/cos are within
     * 1 ulp; 1e-15 absolute covers that near 0 */
    double tol = 1e-15;
    assert_true(fabs(ms[0]) < tol && fabs(mc[0] - 1) < tol);
    assert_true(fabs(ms[1] - 1) < tol && fabs(mc[1]) < tol);
    assert_true(fabs(qs[1] - 1) < tol && fabs(qc[1]) < tol);
    assert_true(fabs(ms[2] + 0.5) < tol && fabs(mc[2] - sqrt(3) / 2) < tol);
    assert_true(fabs(qs[2] + 1) < tol && fabs(qc[2]) < tol);
    assert_true(isnan(ms[3]) && isnan(qc[3]));
    printf("  age months %.6f %.6f %.6f; month sin/cos Dec %.6f %.6f\n", age[0], age[1], age[2],
           ms[2], mc[2]);
    dr_table_free(&t);

    /* default reference: the latest date; one-hot seasonality */
    parse(&t, "issue_d\n2019-02-10\n2019-11-30\n\n2018-07\n", "d2.csv");
    o = (dr_fe_options){.date_column = "issue_d", .season_onehot = 1};
    assert_int_equal(dr_fe_apply(&t, &o, &ref), DR_OK);
    double latest;
    dr_parse_date("2019-11-30", 10, &latest);
    assert_true(ref == latest);
    int jm = dr_table_find(&t, "issue_d_month"), jq = dr_table_find(&t, "issue_d_quarter");
    assert_true(jm >= 0 && jq >= 0);
    assert_int_equal(t.cols[jm].kind, DR_COL_CATEGORICAL);
    assert_int_equal(t.cols[jm].n_levels, 12);
    assert_string_equal(t.cols[jm].levels[t.cols[jm].cat[1]], "11");
    assert_string_equal(t.cols[jq].levels[t.cols[jq].cat[0]], "Q1");
    assert_string_equal(t.cols[jq].levels[t.cols[jq].cat[2]], "Q3");
    assert_null(dr_table_find(&t, "issue_d_month_sin") >= 0 ? "sin present" : NULL);
    /* preprocessing one-hot encodes them */
    dr_prep p;
    assert_int_equal(dr_prep_fit(&p, &t, NULL, t.n_rows, NULL), DR_OK);
    dr_matrix m;
    assert_int_equal(dr_prep_feature_names(&p, &m), DR_OK);
    int found = 0;
    for (int f = 0; f < m.n_features; f++)
        found += strcmp(m.names[f], "issue_d_month=11") == 0;
    assert_int_equal(found, 1);
    dr_matrix_free(&m);
    dr_prep_free(&p);
    /* errors */
    o = (dr_fe_options){.date_column = "issue_d_age_months"};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    o = (dr_fe_options){.date_column = "issue_d", .reference_date = "2020-02-30"};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    dr_table_free(&t);
}

static const char seq_csv[] = "id_x,pay_1,pay_2,pay_3,bal_1,bal_2,bal_3,amt,odd_2,y\n"
                              "1,0,1,2,10,20,30,5,1,a\n"
                              "2,2,NA,4,30,40,50,6,1,b\n"
                              "3,100,100,100,0,0,0,7,1,a\n";

static void test_sequences(void **state)
{
    (void)state;
    dr_table t;
    parse(&t, seq_csv, "seq.csv");
    char **bases;
    int nb, T;
    assert_int_equal(dr_seq_find(&t, &bases, &nb, &T), DR_OK);
    printf("  found %d channels of %d steps:", nb, T);
    for (int k = 0; k < nb; k++)
        printf(" %s", bases[k]);
    printf("\n");
    assert_int_equal(nb, 2); /* odd_2 has no odd_1: not a sequence */
    assert_int_equal(T, 3);
    assert_string_equal(bases[0], "pay");
    assert_string_equal(bases[1], "bal");
    dr_seq_stats st;
    float *x;
    long train[] = {0, 1};
    assert_int_equal(dr_seq_gather(&t, (const char *const *)bases, nb, train, 2, &st, &x),
                     DR_OK);
    /* train pay values {0,1,2,2,4}: mean 1.8, pop. var (3.24+.64+.04+.04+4.84)/5
     * = 1.76; bal {10,20,30,30,40,50}: mean 30, var 1000/6 */
    double pm = 1.8, ps = sqrt(1.76), bm = 30, bs = sqrt(1000.0 / 6);
    assert_true(fabs(st.mean[0] - pm) < 1e-12 && fabs(st.std[0] - ps) < 1e-12);
    assert_true(fabs(st.mean[1] - bm) < 1e-12 && fabs(st.std[1] - bs) < 1e-12);
    /* x is [3 rows, 3 steps, 2 channels]; float rounding of a double z-score:
     * rtol 2.4e-7 (2 ulp), atol 1e-6 */
    float want[18];
    double pay[3][3] = {{0, 1, 2}, {2, NAN, 4}, {100, 100, 100}};
    double bal[3][3] = {{10, 20, 30}, {30, 40, 50}, {0, 0, 0}};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) {
            want[(r * 3 + k) * 2 + 0] = isnan(pay[r][k]) ? 0.0f : (float)((pay[r][k] - pm) / ps);
            want[(r * 3 + k) * 2 + 1] = (float)((bal[r][k] - bm) / bs);
        }
    assert_int_equal(tu_compare("seq", x, want, 18, 1e-6, 2.4e-7), 0);
    /* the sequence columns left the flat features */
    assert_int_equal(t.cols[dr_table_find(&t, "pay_2")].kind, DR_COL_IGNORE);
    dr_prep p;
    assert_int_equal(dr_prep_fit(&p, &t, train, 2, NULL), DR_OK);
    printf("  flat features after gathering: %d (id_x, amt, odd_2, y=a, y=b)\n", p.n_features);
    assert_int_equal(p.n_features, 5);
    dr_prep_free(&p);

    /* save, load, transform a fresh table identically */
    char path[256];
    snprintf(path, sizeof path, "/tmp/dr_test_seq_%ld.h5", (long)getpid());
    dr_h5 *f;
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_seq_save(&st, f, "seq"), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    dr_seq_stats st2;
    assert_int_equal(dr_h5_open(&f, path), DR_OK);
    assert_int_equal(dr_seq_load(&st2, f, "seq"), DR_OK);
    dr_h5_close(f);
    remove(path);
    dr_table u;
    parse(&u, seq_csv, "seq2.csv");
    float *x2;
    assert_int_equal(dr_seq_transform(&st2, &u, NULL, u.n_rows, &x2), DR_OK);
    assert_memory_equal(x, x2, 18 * sizeof(float));
    free(x2);
    dr_seq_stats_free(&st2);
    /* the gathered table no longer has them */
    assert_int_equal(dr_seq_transform(&st, &t, NULL, t.n_rows, &x2), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    free(x);
    dr_seq_stats_free(&st);
    for (int k = 0; k < nb; k++)
        free(bases[k]);
    free(bases);
    dr_table_free(&t);
    dr_table_free(&u);

    /* channels of different lengths */
    parse(&t, "a_1,a_2,b_1,b_2,b_3\n1,2,3,4,5\n", "ragged_seq.csv");
    assert_int_equal(dr_seq_find(&t, &bases, &nb, &T), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    dr_table_free(&t);
}

/* Two channels of T = 4: late (days past due) and util (per cent); "NA" is
 * missing. Row 1 has no late value at all, row 2 only zero days late. */
static const char history_csv[] = "late_1,late_2,late_3,late_4,util_1,util_2,util_3,util_4,amt\n"
                                  "0,35,NA,95,10,20,30,40,1\n"
                                  "NA,NA,NA,NA,0,0,0,0,2\n"
                                  "0,0,0,0,50,NA,70,0,3\n"
                                  "61,0,31,NA,NA,NA,NA,5,4\n";

/* Column name of t against want[4] (NaN: missing). Each value is a sum of small
 * integers (exact) divided once or a difference of two such: the code and the
 * expressions here round alike, but allow 1e-12 relative for reordering. */
static int check_summary(const dr_table *t, const char *name, const double want[4])
{
    const double *v = col(t, name);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        int ok = isnan(want[i]) ? isnan(v[i]) : fabs(v[i] - want[i]) <= 1e-12 * fmax(1.0, fabs(want[i]));
        if (!ok)
            printf("  %s[%d] = %.17g, want %.17g\n", name, i, v[i], want[i]);
        bad += !ok;
    }
    return bad;
}

static void test_history_summaries(void **state)
{
    (void)state;
    dr_table t;
    parse(&t, history_csv, "history.csv");
    const double dpd[] = {30, 60, 90};
    const char *prod[] = {"late_mean*amt"}; /* summaries come first: products may use them */
    dr_fe_options o = {.history = 1, .history_thresholds = dpd, .n_history_thresholds = 3,
                       .products = prod, .n_products = 1};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_OK);
    /* 9 columns + 2 channels x (6 summaries + 3 thresholds) + 1 product */
    assert_int_equal(t.n_cols, 9 + 2 * 9 + 1);
    static const char *const names[] = {"late_mean", "late_max", "late_last", "late_trend", "late_nonzero",
                                        "late_run", "late_over_30", "late_over_60", "late_over_90",
                                        "util_mean", "util_max", "util_last", "util_trend", "util_nonzero",
                                        "util_run", "util_over_30", "util_over_60", "util_over_90"};
    for (int k = 0; k < 18; k++)
        assert_string_equal(t.cols[9 + k].name, names[k]);
    const double N = NAN;
    /* late: {0, 35, -, 95}, all missing, zeros, {61, 0, 31, -}. Trend windows:
     * steps 2..4 minus steps 1..3, present values only. A missing step neither
     * counts nor breaks a run. */
    const double late[9][4] = {
        {130.0 / 3, N, 0, 92.0 / 3},                     /* mean */
        {95, N, 0, 61},                                  /* max */
        {95, N, 0, 31},                                  /* last */
        {(35.0 + 95) / 2 - 35.0 / 2, N, 0, 31.0 / 2 - 92.0 / 3}, /* trend */
        {2, N, 0, 2},                                    /* nonzero */
        {2, N, 0, 1},                                    /* run */
        {2, N, 0, 2},                                    /* over 30 */
        {1, N, 0, 1},                                    /* over 60 */
        {1, N, 0, 0},                                    /* over 90 */
    };
    /* util: {10, 20, 30, 40}, zeros, {50, -, 70, 0}, {-, -, -, 5}: row 3's
     * first window has no value, so its trend is missing; 30 is not over 30 */
    const double util[9][4] = {
        {25, 0, 40, 5},
        {40, 0, 70, 5},
        {40, 0, 0, 5},
        {30 - 20, 0, 35 - 60, N},
        {4, 0, 2, 1},
        {4, 0, 0, 1},
        {1, 0, 2, 0},
        {0, 0, 1, 0},
        {0, 0, 0, 0},
    };
    int bad = 0;
    for (int k = 0; k < 9; k++) {
        bad += check_summary(&t, names[k], late[k]);
        bad += check_summary(&t, names[9 + k], util[k]);
    }
    const double product[4] = {130.0 / 3 * 1, N, 0, 92.0 / 3 * 4};
    bad += check_summary(&t, "late_mean*amt", product);
    printf("  %d summary values differ from the hand-computed ones\n", bad);
    assert_int_equal(bad, 0);
    /* they are numeric columns, so preprocessing keeps them as features */
    dr_prep p;
    assert_int_equal(dr_prep_fit(&p, &t, NULL, t.n_rows, NULL), DR_OK);
    assert_int_equal(p.n_features, 9 + 18 + 1);
    dr_prep_free(&p);
    dr_table_free(&t);

    /* no thresholds: no over_ columns; T = 2 trends over windows of 2 */
    parse(&t, "a_1,a_2\n1,5\n", "t2.csv");
    assert_int_equal(dr_history_summarise(&t, NULL, 0), DR_OK);
    assert_int_equal(t.n_cols, 2 + 6);
    for (int j = 0; j < t.n_cols; j++)
        assert_null(strstr(t.cols[j].name, "_over_"));
    assert_true(col(&t, "a_trend")[0] == 0.0 && col(&t, "a_run")[0] == 2.0);
    /* a second pass would reuse the names: refused, not overwritten */
    assert_int_equal(dr_history_summarise(&t, NULL, 0), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    dr_table_free(&t);

    /* off by default; no channels: nothing added */
    parse(&t, history_csv, "history.csv");
    o = (dr_fe_options){0};
    assert_int_equal(dr_fe_apply(&t, &o, NULL), DR_OK);
    assert_int_equal(t.n_cols, 9);
    dr_table_free(&t);
    parse(&t, "x,y\n1,2\n", "flat.csv");
    assert_int_equal(dr_history_summarise(&t, dpd, 3), DR_OK);
    assert_int_equal(t.n_cols, 2);
    dr_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products_and_poly),
        cmocka_unit_test(test_time_features),
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_history_summaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
