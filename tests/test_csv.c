/* CSV reader: RFC 4180 cases, kind inference and overrides, one test per error
 * (each asserts the message names the file and the line:column), the exact
 * number parser against strtod, the bundled Lending Club sample, the HDF5
 * table cache and the binary target. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/philox.h"
#include "data/csv.h"
#include "data/dates.h"
#include "tests/testutil.h"

static char tmp_path[256];

/* Writes text to a fresh temporary file; returns its path (static buffer). */
static const char *write_tmp(const char *tag, const char *text, size_t len)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/dr_test_csv_%ld_%s.csv", (long)getpid(), tag);
    FILE *f = fopen(tmp_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return tmp_path;
}

/* Reads text as a file and expects failure whose message contains the file
 * name and each of the given fragments. */
static void expect_error(const char *tag, const char *text, const dr_csv_options *opt,
                         dr_status want, const char *frag1, const char *frag2)
{
    const char *path = write_tmp(tag, text, strlen(text));
    dr_table t;
    dr_status s = dr_csv_read(&t, path, opt);
    printf("  %-22s -> %s: %s\n", tag, dr_status_name(s), dr_last_error());
    assert_int_equal(s, want);
    assert_non_null(strstr(dr_last_error(), path));
    if (frag1)
        assert_non_null(strstr(dr_last_error(), frag1));
    if (frag2)
        assert_non_null(strstr(dr_last_error(), frag2));
    assert_null(t.cols); /* nothing leaked into the output on failure */
    remove(path);
}

static const char *level(const dr_table *t, int j, long i)
{
    const dr_column *c = &t->cols[j];
    return c->cat[i] < 0 ? "<NA>" : c->levels[c->cat[i]];
}

static void test_rfc4180(void **state)
{
    (void)state;
    /* BOM, CRLF, quoted delimiter, escaped quote, embedded newline, empty field,
     * missing markers, blank line, no final newline */
    const char text[] = "\xEF\xBB\xBF"
                        "id,name,amount,when\r\n"
                        "1,\"Smith, J\",12.5,2020-01-15\r\n"
                        "2,\"say \"\"hi\"\"\",,2020-02\r\n"
                        "\r\n"
                        "3,\"two\nlines\",NA,NaN\n"
                        "4,plain,-3e2,null";
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, text, sizeof text - 1, "mem.csv", NULL), DR_OK);
    assert_int_equal(t.n_rows, 4);
    assert_int_equal(t.n_cols, 4);
    assert_string_equal(t.cols[0].name, "id"); /* BOM stripped */
    assert_int_equal(t.cols[0].kind, DR_COL_NUMERIC);
    assert_int_equal(t.cols[1].kind, DR_COL_CATEGORICAL);
    assert_int_equal(t.cols[2].kind, DR_COL_NUMERIC);
    assert_int_equal(t.cols[3].kind, DR_COL_DATE);
    assert_string_equal(level(&t, 1, 0), "Smith, J");
    assert_string_equal(level(&t, 1, 1), "say \"hi\"");
    assert_string_equal(level(&t, 1, 2), "two\nlines");
    assert_string_equal(level(&t, 1, 3), "plain");
    /* parsed decimals equal the nearest doubles: exact comparison is right */
    assert_true(t.cols[2].num[0] == 12.5);
    assert_true(isnan(t.cols[2].num[1]) && isnan(t.cols[2].num[2]));
    assert_true(t.cols[2].num[3] == -300.0);
    double d1, d2;
    assert_true(dr_parse_date("2020-01-15", 10, &d1));
    assert_true(dr_parse_date("2020-02-01", 10, &d2));
    assert_true(t.cols[3].num[0] == d1 && t.cols[3].num[1] == d2);
    assert_true(isnan(t.cols[3].num[2]) && isnan(t.cols[3].num[3]));
    printf("  rfc4180: 4 rows x 4 cols, kinds N C N D as expected\n");
    dr_table_free(&t);
}

static void test_levels_sorted_and_overrides(void **state)
{
    (void)state;
    const char text[] = "zip,grade,score,y\n02139,B,1,no\n10001,A,2,yes\n02139,C,3,no\n";
    dr_csv_override ov[] = {{"zip", DR_COL_CATEGORICAL}, {"score", DR_COL_IGNORE}};
    dr_csv_options opt = {.overrides = ov, .n_overrides = 2, .target = "y"};
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, text, sizeof text - 1, "ov.csv", &opt), DR_OK);
    assert_int_equal(t.cols[0].kind, DR_COL_CATEGORICAL);
    assert_string_equal(level(&t, 0, 0), "02139"); /* leading zero kept: read as text */
    assert_int_equal(t.cols[0].n_levels, 2);
    assert_int_equal(t.cols[1].n_levels, 3);
    assert_string_equal(t.cols[1].levels[0], "A"); /* sorted levels */
    assert_int_equal(t.cols[1].cat[0], 1);
    assert_int_equal(t.cols[2].kind, DR_COL_IGNORE);
    assert_null(t.cols[2].num);
    assert_int_equal(t.cols[3].kind, DR_COL_TARGET);
    dr_table_free(&t);
}

static void test_delimiter_and_dates(void **state)
{
    (void)state;
    const char text[] = "a;b\n1;2019-02-29\n";
    dr_csv_options opt = {.delimiter = ';'};
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, text, sizeof text - 1, "semi.csv", &opt), DR_OK);
    /* 2019 is not a leap year: the value is not a date, so the column is text */
    assert_int_equal(t.cols[1].kind, DR_COL_CATEGORICAL);
    dr_table_free(&t);
    double d;
    assert_true(dr_parse_date("1970-01-01", 10, &d) && d == 0.0);
    assert_true(dr_parse_date("2000-03-01", 10, &d) && d == 11017.0);
    assert_true(dr_parse_date("2024-02-29", 10, &d));
    assert_false(dr_parse_date("2023-13", 7, &d));
    int y, m, dd;
    for (double x = -800000; x < 800000; x += 997) {
        dr_date_from_days(x, &y, &m, &dd);
        char buf[32];
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, dd);
        double back;
        if (y >= 0 && y <= 9999) {
            assert_true(dr_parse_date(buf, 10, &back));
            assert_true(back == x);
        }
    }
}

/* Rows are converted in blocks; a column that turns out not to be numeric (or
 * date) after the first blocks must be redone from row 0 with the original text. */
static void test_late_kind_change(void **state)
{
    (void)state;
    long n = 3000;
    size_t cap = (size_t)n * 40 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "num,late_text,late_date,quoted\n");
    for (long i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%ld,%s,%s,\"%ld\"\n", i,
                                i == 2500 ? "abc" : i % 2 ? "007" : "7",
                                i < 2700 ? "" : "2021-05-01", i);
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, text, len, "late.csv", NULL), DR_OK);
    assert_int_equal(t.n_rows, n);
    assert_int_equal(t.cols[0].kind, DR_COL_NUMERIC);
    assert_int_equal(t.cols[1].kind, DR_COL_CATEGORICAL);
    assert_int_equal(t.cols[1].n_levels, 3);
    assert_string_equal(level(&t, 1, 0), "7");
    assert_string_equal(level(&t, 1, 1), "007"); /* the text, not the number */
    assert_string_equal(level(&t, 1, 2500), "abc");
    assert_int_equal(t.cols[2].kind, DR_COL_DATE);
    assert_true(isnan(t.cols[2].num[0]) && !isnan(t.cols[2].num[n - 1]));
    assert_int_equal(t.cols[3].kind, DR_COL_NUMERIC); /* quoted numbers are numbers */
    assert_true(t.cols[3].num[n - 1] == (double)(n - 1));
    printf("  late kind change: num N, late_text C (3 levels), late_date D, quoted N\n");
    dr_table_free(&t);
    free(text);
}

/* The fast path must agree with strtod bit for bit. */
static void test_number_parser_matches_strtod(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    long bad = 0, n = 200000;
    const char *fixed[] = {"0", "-0", "1e22", "1e23", "9007199254740993", "0.1", ".5", "5.",
                           "123456789012345678901234567890", "1.7976931348623157e308",
                           "4.9e-324", "  42  ", "+7", "1E-5", "0.000000000000000000001"};
    for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) {
        double a, b = strtod(fixed[k], NULL);
        assert_true(dr_csv_parse_number(fixed[k], strlen(fixed[k]), &a));
        if (memcmp(&a, &b, sizeof a) != 0) {
            printf("  mismatch '%s': %.17g vs %.17g\n", fixed[k], a, b);
            bad++;
        }
    }
    for (long i = 0; i < n; i++) {
        dr_philox_u4 r = dr_philox_block(seed, 7, 0, (uint32_t)i);
        char buf[64];
        int nd = 1 + (int)(r.v[0] % 20), frac = (int)(r.v[1] % 12);
        int p = snprintf(buf, sizeof buf, "%s", (r.v[2] & 1) ? "-" : "");
        uint32_t x = r.v[3];
        for (int k = 0; k < nd; k++) {
            buf[p++] = (char)('0' + x % 10);
            x = x / 10 + r.v[k & 3] * 2654435761u;
        }
        if (frac) {
            buf[p++] = '.';
            for (int k = 0; k < frac; k++)
                buf[p++] = (char)('0' + (r.v[(k + 1) & 3] >> (k * 2)) % 10);
        }
        if (r.v[2] & 2)
            p += snprintf(buf + p, sizeof buf - (size_t)p, "e%d", (int)(r.v[2] >> 8) % 40 - 20);
        buf[p] = '\0';
        double a, b = strtod(buf, NULL);
        if (!dr_csv_parse_number(buf, (size_t)p, &a) || memcmp(&a, &b, sizeof a) != 0) {
            if (bad < 5)
                printf("  mismatch '%s': %.17g vs strtod %.17g\n", buf, a, b);
            bad++;
        }
    }
    const char *not_numbers[] = {"", "-", ".", "1e", "inf", "nan", "0x10", "1,5", "1 2", "e5"};
    for (size_t k = 0; k < sizeof not_numbers / sizeof *not_numbers; k++) {
        double a;
        assert_false(dr_csv_parse_number(not_numbers[k], strlen(not_numbers[k]), &a));
    }
    printf("  number parser: %ld random decimals, %ld differ from strtod (want 0, bitwise)\n", n,
           bad);
    assert_int_equal(bad, 0);
}

/* ---- one test per error ---- */

static void test_err_ragged(void **state)
{
    (void)state;
    expect_error("ragged", "a,b,c\n1,2,3\n4,5\n", NULL, DR_ERR_PARSE, ":3:3", "ragged");
    expect_error("ragged_long", "a,b\n1,2\n3,4\n5,6,7\n", NULL, DR_ERR_PARSE, ":4:3", "3 fields");
}

static void test_err_unterminated_quote(void **state)
{
    (void)state;
    expect_error("unterminated", "a,b\n1,2\n3,\"open\n4,5\n", NULL, DR_ERR_PARSE, ":3:2",
                 "unterminated");
}

static void test_err_not_numeric(void **state)
{
    (void)state;
    dr_csv_override ov[] = {{"b", DR_COL_NUMERIC}};
    dr_csv_options opt = {.overrides = ov, .n_overrides = 1};
    expect_error("not_numeric", "a,b\n1,2\n3,4\n5,x7\n", &opt, DR_ERR_PARSE, ":4:2", "'x7'");
}

static void test_err_empty_file(void **state)
{
    (void)state;
    expect_error("empty", "", NULL, DR_ERR_PARSE, ":1:1", "empty");
    expect_error("only_bom", "\xEF\xBB\xBF\r\n\n", NULL, DR_ERR_PARSE, ":3:1", "empty");
    expect_error("no_rows", "a,b\n", NULL, DR_ERR_PARSE, ":2:1", "no data rows");
}

static void test_err_missing_target(void **state)
{
    (void)state;
    dr_csv_options opt = {.target = "Class"};
    expect_error("no_target", "a,b\n1,2\n", &opt, DR_ERR_PARSE, ":1:", "'Class'");
}

static void test_err_target_one_class(void **state)
{
    (void)state;
    dr_csv_options opt = {.target = "y"};
    expect_error("one_class", "a,y\n1,good\n2,good\n3,NA\n", &opt, DR_ERR_PARSE, ":1:2",
                 "only one class");
}

static void test_err_override_missing_column(void **state)
{
    (void)state;
    dr_csv_override ov[] = {{"nope", DR_COL_DATE}};
    dr_csv_options opt = {.overrides = ov, .n_overrides = 1};
    expect_error("bad_override", "a,b\n1,2\n", &opt, DR_ERR_PARSE, ":1:", "'nope'");
}

static void test_err_quote_then_text(void **state)
{
    (void)state;
    expect_error("quote_text", "a,b\n\"x\"y,2\n", NULL, DR_ERR_PARSE, ":2:1", "closing quote");
}

static void test_err_duplicate_header(void **state)
{
    (void)state;
    expect_error("dup_header", "a,b,a\n1,2,3\n", NULL, DR_ERR_PARSE, ":1:3", "repeats");
}

static void test_err_missing_file(void **state)
{
    (void)state;
    dr_table t;
    assert_int_equal(dr_csv_read(&t, "/nonexistent/x.csv", NULL), DR_ERR_IO);
    assert_non_null(strstr(dr_last_error(), "/nonexistent/x.csv"));
}

/* ---- the bundled sample ---- */

static void test_lending_club(void **state)
{
    (void)state;
    dr_csv_options opt = {.target = "Class"};
    dr_table t;
    assert_int_equal(dr_csv_read(&t, "data/lending_club.csv", &opt), DR_OK);
    printf("  lending_club.csv: %ld rows x %d columns\n", t.n_rows, t.n_cols);
    /* counts from data/README.md */
    assert_int_equal(t.n_rows, 9857);
    assert_int_equal(t.n_cols, 23);
    const char *cats[] = {"term", "sub_grade", "addr_state", "verification_status",
                          "emp_length"};
    int n_num = 0, n_cat = 0;
    for (int j = 0; j < t.n_cols; j++) {
        n_num += t.cols[j].kind == DR_COL_NUMERIC;
        n_cat += t.cols[j].kind == DR_COL_CATEGORICAL;
    }
    for (int k = 0; k < 5; k++)
        assert_int_equal(t.cols[dr_table_find(&t, cats[k])].kind, DR_COL_CATEGORICAL);
    assert_int_equal(n_num, 17);
    assert_int_equal(n_cat, 5);
    float *y;
    assert_int_equal(dr_table_target(&t, "Class", "bad", &y), DR_OK);
    long pos = 0;
    for (long i = 0; i < t.n_rows; i++)
        pos += y[i] == 1.0f;
    printf("  Class == bad: %ld rows (%.2f %%)\n", pos, 100.0 * pos / t.n_rows);
    assert_int_equal(pos, 517);
    free(y);
    /* target errors name the source file */
    assert_int_equal(dr_table_target(&t, "Class", "ugly", &y), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "lending_club.csv"));
    assert_non_null(strstr(dr_last_error(), "'ugly'"));
    assert_int_equal(dr_table_target(&t, "Klass", "bad", &y), DR_ERR_INVALID);
    assert_non_null(strstr(dr_last_error(), "'Klass'"));
    assert_int_equal(dr_table_target(&t, "int_rate", "bad", &y), DR_ERR_INVALID);
    dr_table_free(&t);
}

static void test_target_one_class(void **state)
{
    (void)state;
    const char text[] = "a,y\n1,good\n2,good\n";
    dr_table t;
    assert_int_equal(dr_csv_parse(&t, text, sizeof text - 1, "one.csv", NULL), DR_OK);
    float *y;
    assert_int_equal(dr_table_target(&t, "y", "good", &y), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "only one class"));
    dr_table_free(&t);
}

/* ---- HDF5 round trip and cache ---- */

static void assert_tables_equal(const dr_table *a, const dr_table *b)
{
    assert_int_equal(a->n_rows, b->n_rows);
    assert_int_equal(a->n_cols, b->n_cols);
    for (int j = 0; j < a->n_cols; j++) {
        const dr_column *x = &a->cols[j], *y = &b->cols[j];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->n_levels, y->n_levels);
        for (int k = 0; k < x->n_levels; k++)
            assert_string_equal(x->levels[k], y->levels[k]);
        for (long i = 0; i < a->n_rows; i++) {
            if (x->num) /* bitwise: NaN == NaN here */
                assert_memory_equal(&x->num[i], &y->num[i], sizeof(double));
            if (x->cat)
                assert_int_equal(x->cat[i], y->cat[i]);
        }
    }
}

static void test_h5_cache(void **state)
{
    (void)state;
    char csv[256], cache[256];
    snprintf(csv, sizeof csv, "/tmp/dr_test_cache_%ld.csv", (long)getpid());
    snprintf(cache, sizeof cache, "/tmp/dr_test_cache_%ld.h5", (long)getpid());
    remove(cache);
    const char text[] = "d,x,c,y\n2020-01-01,1.5,a,bad\n2020-02-01,NA,b,good\n,3,,good\n";
    FILE *f = fopen(csv, "wb");
    assert_non_null(f);
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    dr_csv_override ov[] = {{"c", DR_COL_ID}};
    dr_csv_options opt = {.overrides = ov, .n_overrides = 1, .target = "y"};
    dr_table a, b, c;
    int hit = -1;
    assert_int_equal(dr_csv_read_cached(&a, csv, &opt, cache, &hit), DR_OK);
    assert_int_equal(hit, 0);
    assert_int_equal(dr_csv_read_cached(&b, csv, &opt, cache, &hit), DR_OK);
    assert_int_equal(hit, 1);
    assert_tables_equal(&a, &b);
    assert_string_equal(b.source, csv);
    /* other options: the cache must not be used */
    assert_int_equal(dr_csv_read_cached(&c, csv, NULL, cache, &hit), DR_OK);
    assert_int_equal(hit, 0);
    dr_table_free(&c);
    /* a changed CSV (new size and mtime) is parsed again */
    f = fopen(csv, "ab");
    fputs("2020-03-01,4,a,bad\n", f);
    fclose(f);
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    utimensat(0, csv, ts, 0);
    assert_int_equal(dr_csv_read_cached(&c, csv, &opt, cache, &hit), DR_OK);
    assert_int_equal(hit, 0);
    assert_int_equal(c.n_rows, 4);
    dr_table_free(&c);
    assert_int_equal(dr_csv_read_cached(&c, csv, &opt, cache, &hit), DR_OK);
    assert_int_equal(hit, 1);
    assert_int_equal(c.n_rows, 4);
    printf("  cache: miss, hit, miss (options), miss (changed CSV), hit\n");
    dr_table_free(&a);
    dr_table_free(&b);
    dr_table_free(&c);
    remove(csv);
    remove(cache);
}

static void test_h5_roundtrip_lending_club(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "/tmp/dr_test_lc_%ld.h5", (long)getpid());
    dr_table a, b;
    assert_int_equal(dr_csv_read(&a, "data/lending_club.csv", NULL), DR_OK);
    assert_int_equal(dr_table_write_h5(&a, path), DR_OK);
    assert_int_equal(dr_table_read_h5(&b, path), DR_OK);
    assert_tables_equal(&a, &b);
    dr_table_free(&a);
    dr_table_free(&b);
    /* not a table: clear error */
    assert_int_equal(dr_table_read_h5(&b, "data/lending_club.csv"), DR_ERR_FORMAT);
    printf("  %s\n", dr_last_error());
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4180),
        cmocka_unit_test(test_levels_sorted_and_overrides),
        cmocka_unit_test(test_delimiter_and_dates),
        cmocka_unit_test(test_late_kind_change),
        cmocka_unit_test(test_number_parser_matches_strtod),
        cmocka_unit_test(test_err_ragged),
        cmocka_unit_test(test_err_unterminated_quote),
        cmocka_unit_test(test_err_not_numeric),
        cmocka_unit_test(test_err_empty_file),
        cmocka_unit_test(test_err_missing_target),
        cmocka_unit_test(test_err_target_one_class),
        cmocka_unit_test(test_err_override_missing_column),
        cmocka_unit_test(test_err_quote_then_text),
        cmocka_unit_test(test_err_duplicate_header),
        cmocka_unit_test(test_err_missing_file),
        cmocka_unit_test(test_lending_club),
        cmocka_unit_test(test_target_one_class),
        cmocka_unit_test(test_h5_cache),
        cmocka_unit_test(test_h5_roundtrip_lending_club),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
