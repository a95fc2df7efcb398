/* Splits: partitions (every row exactly once), time order, stratification
 * within one row per class, determinism by seed, k-fold balance, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "data/csv.h"
#include "data/split.h"
#include "tests/testutil.h"

/* Every row in exactly one part. */
static void assert_partition(const dr_split *s, long n)
{
    char *seen = calloc((size_t)n, 1);
    assert_non_null(seen);
    const long *parts[3] = {s->train, s->val, s->test};
    long sizes[3] = {s->n_train, s->n_val, s->n_test};
    for (int p = 0; p < 3; p++)
        for (long k = 0; k < sizes[p]; k++) {
            assert_true(parts[p][k] >= 0 && parts[p][k] < n);
            assert_int_equal(seen[parts[p][k]], 0);
            seen[parts[p][k]] = 1;
        }
    assert_int_equal(s->n_train + s->n_val + s->n_test, n);
    free(seen);
}

static long count_pos(const long *idx, long m, const float *y)
{
    long p = 0;
    for (long k = 0; k < m; k++)
        p += y[idx[k]] == 1.0f;
    return p;
}

static float *make_labels(long n, double rate, uint64_t seed)
{
    float *y = malloc((size_t)n * sizeof *y);
    for (long i = 0; i < n; i++)
        y[i] = dr_philox_uniform(seed, 3, 0, (uint64_t)i) < rate ? 1.0f : 0.0f;
    return y;
}

static void test_time_split(void **state)
{
    (void)state;
    long n = 150000; /* the paper's size: 105,000 / 22,500 / 22,500 */
    double *d = malloc((size_t)n * sizeof *d);
    uint64_t seed = tu_seed();
    for (long i = 0; i < n; i++) /* Jan 2018 .. Dec 2022, in random row order */
        d[i] = 17532.0 + floor(1826.0 * dr_philox_uniform(seed, 1, 0, (uint64_t)i));
    dr_split s;
    assert_int_equal(dr_split_by_time(&s, d, n, 0.70, 0.15), DR_OK);
    printf("  time split sizes %ld / %ld / %ld\n", s.n_train, s.n_val, s.n_test);
    assert_int_equal(s.n_train, 105000);
    assert_int_equal(s.n_val, 22500);
    assert_int_equal(s.n_test, 22500);
    assert_partition(&s, n);
    double max_tr = -INFINITY, min_va = INFINITY, max_va = -INFINITY, min_te = INFINITY;
    for (long k = 0; k < s.n_train; k++)
        max_tr = fmax(max_tr, d[s.train[k]]);
    for (long k = 0; k < s.n_val; k++) {
        min_va = fmin(min_va, d[s.val[k]]);
        max_va = fmax(max_va, d[s.val[k]]);
    }
    for (long k = 0; k < s.n_test; k++)
        min_te = fmin(min_te, d[s.test[k]]);
    assert_true(max_tr <= min_va && max_va <= min_te);
    dr_split_free(&s);
    d[77] = NAN;
    assert_int_equal(dr_split_by_time(&s, d, n, 0.7, 0.15), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "row 78"));
    assert_int_equal(dr_split_by_time(&s, d, n, 0.9, 0.2), DR_ERR_INVALID);
    free(d);
}

static void test_stratified(void **state)
{
    (void)state;
    long n = 20011;
    uint64_t seed = tu_seed();
    float *y = make_labels(n, 0.187, seed);
    long pos = 0;
    for (long i = 0; i < n; i++)
        pos += y[i] == 1.0f;
    dr_split a, b, c;
    assert_int_equal(dr_split_stratified(&a, y, n, 0.7, 0.15, seed), DR_OK);
    assert_partition(&a, n);
    dr_split_print(stdout, &a, y);
    /* per class, each part holds round(m * frac) rows: the counts of positives
     * are exact, so the rates differ from the overall rate by < 1 row per part */
    long want_tr = (long)floor(pos * 0.7 + 0.5), want_va = (long)floor(pos * 0.15 + 0.5);
    assert_int_equal(count_pos(a.train, a.n_train, y), want_tr);
    assert_int_equal(count_pos(a.val, a.n_val, y), want_va);
    assert_int_equal(count_pos(a.test, a.n_test, y), pos - want_tr - want_va);
    /* same seed, same split; another seed, another split */
    assert_int_equal(dr_split_stratified(&b, y, n, 0.7, 0.15, seed), DR_OK);
    assert_memory_equal(a.train, b.train, (size_t)a.n_train * sizeof(long));
    assert_int_equal(dr_split_stratified(&c, y, n, 0.7, 0.15, seed + 1), DR_OK);
    assert_int_equal(c.n_train, a.n_train);
    assert_true(memcmp(a.train, c.train, (size_t)a.n_train * sizeof(long)) != 0);
    dr_split_free(&a);
    dr_split_free(&b);
    dr_split_free(&c);
    y[5] = 0.5f;
    assert_int_equal(dr_split_stratified(&a, y, n, 0.7, 0.15, seed), DR_ERR_INVALID);
    free(y);
}

static void test_kfold(void **state)
{
    (void)state;
    long n = 1003;
    int k = 5;
    uint64_t seed = tu_seed();
    float *y = make_labels(n, 0.2, seed);
    int *fold = malloc((size_t)n * sizeof *fold);
    assert_int_equal(dr_kfold_assign(fold, y, n, k, seed), DR_OK);
    long size[5] = {0}, posf[5] = {0};
    for (long i = 0; i < n; i++) {
        assert_true(fold[i] >= 0 && fold[i] < k);
        size[fold[i]]++;
        posf[fold[i]] += y[i] == 1.0f;
    }
    long smin = n, smax = 0, pmin = n, pmax = 0;
    for (int f = 0; f < k; f++) {
        smin = size[f] < smin ? size[f] : smin;
        smax = size[f] > smax ? size[f] : smax;
        pmin = posf[f] < pmin ? posf[f] : pmin;
        pmax = posf[f] > pmax ? posf[f] : pmax;
    }
    printf("  kfold k=5: sizes %ld..%ld, positives %ld..%ld per fold\n", smin, smax, pmin, pmax);
    assert_true(smax - smin <= 1 && pmax - pmin <= 1);
    for (int f = 0; f < k; f++) {
        dr_split s;
        assert_int_equal(dr_kfold_split(&s, fold, n, f), DR_OK);
        assert_partition(&s, n);
        assert_int_equal(s.n_val, size[f]);
        dr_split_free(&s);
    }
    assert_int_equal(dr_kfold_assign(fold, y, n, 1, seed), DR_ERR_INVALID);
    free(fold);
    free(y);
}

static void test_make_on_tables(void **state)
{
    (void)state;
    dr_table t;
    assert_int_equal(dr_csv_read(&t, "data/lending_club.csv", NULL), DR_OK);
    float *y;
    assert_int_equal(dr_table_target(&t, "Class", "bad", &y), DR_OK);
    dr_split s;
    dr_split_options opt = {.seed = tu_seed()}; /* default fractions 0.70 / 0.15 */
    assert_int_equal(dr_split_make(&s, &t, y, &opt), DR_OK);
    printf("  lending_club.csv, stratified:\n");
    dr_split_print(stdout, &s, y);
    assert_partition(&s, t.n_rows);
    assert_int_equal(s.n_train, (long)floor(517 * 0.7 + 0.5) + (long)floor(9340 * 0.7 + 0.5));
    dr_split_free(&s);
    opt.date_column = "int_rate";
    assert_int_equal(dr_split_make(&s, &t, y, &opt), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    opt.date_column = "issue_d";
    assert_int_equal(dr_split_make(&s, &t, y, &opt), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "lending_club.csv"));
    free(y);
    dr_table_free(&t);

    const char text[] = "issue_d,y\n2020-03,bad\n2020-01,good\n2020-02,good\n2020-04,bad\n";
    assert_int_equal(dr_csv_parse(&t, text, sizeof text - 1, "dated.csv", NULL), DR_OK);
    assert_int_equal(dr_table_target(&t, "y", "bad", &y), DR_OK);
    opt = (dr_split_options){.train_frac = 0.5, .val_frac = 0.25, .date_column = "issue_d"};
    assert_int_equal(dr_split_make(&s, &t, y, &opt), DR_OK);
    assert_true(s.n_train == 2 && s.train[0] == 1 && s.train[1] == 2);
    assert_true(s.n_val == 1 && s.val[0] == 0 && s.n_test == 1 && s.test[0] == 3);
    dr_split_free(&s);
    free(y);
    dr_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_split),
        cmocka_unit_test(test_stratified),
        cmocka_unit_test(test_kfold),
        cmocka_unit_test(test_make_on_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
