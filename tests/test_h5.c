/* core/h5: round trips of every type and rank, attributes, string lists,
 * atomic commit (an uncommitted writer leaves no file), and clear errors for
 * missing names, wrong types and non-HDF5 files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/h5.h"
#include "tests/testutil.h"

static char path[256];

static void set_path(const char *tag)
{
    snprintf(path, sizeof path, "/tmp/dr_test_h5_%ld_%s.h5", (long)getpid(), tag);
    remove(path);
}

static void test_roundtrip(void **state)
{
    (void)state;
    set_path("rt");
    float a[2 * 3 * 4];
    tu_fill_uniform(a, 24, -2, 2, tu_seed(), 1);
    a[5] = NAN;
    double b[5] = {1.5, -0.0, 1e300, NAN, 3};
    int32_t c[4] = {-1, 0, 7, INT32_MAX};
    const char *s[] = {"alpha", "", "gr\xc3\xbc\xc3\x9f", NULL, "x=y"};
    dr_h5 *f;
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "weights/conv1/w", a, 3, (int64_t[]){2, 3, 4}), DR_OK);
    assert_int_equal(dr_h5_write_f64(f, "b", b, 1, (int64_t[]){5}), DR_OK);
    assert_int_equal(dr_h5_write_i32(f, "meta/c", c, 2, (int64_t[]){2, 2}), DR_OK);
    float scalar = 0.25f;
    assert_int_equal(dr_h5_write_f32(f, "scalar", &scalar, 0, NULL), DR_OK);
    assert_int_equal(dr_h5_write_strings(f, "names", s, 5), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "empty", a, 1, (int64_t[]){0}), DR_OK);
    assert_int_equal(dr_h5_attr_set_str(f, "/", "format", "test"), DR_OK);
    assert_int_equal(dr_h5_attr_set_i64(f, "weights/conv1/w", "step", 1234567890123LL), DR_OK);
    assert_int_equal(dr_h5_attr_set_f64(f, "weights", "lr", 1e-3), DR_OK);
    /* writing a name twice is refused */
    assert_int_equal(dr_h5_write_f64(f, "b", b, 1, (int64_t[]){5}), DR_ERR_INVALID);
    printf("  %s\n", dr_last_error());
    /* not yet committed: the final path does not exist */
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    assert_int_equal(access(path, F_OK), 0);

    assert_int_equal(dr_h5_open(&f, path), DR_OK);
    float *ra;
    int rank;
    int64_t dims[DR_H5_MAX_RANK];
    assert_int_equal(dr_h5_read_f32(f, "weights/conv1/w", &ra, &rank, dims), DR_OK);
    assert_int_equal(rank, 3);
    assert_true(dims[0] == 2 && dims[1] == 3 && dims[2] == 4);
    assert_memory_equal(ra, a, sizeof a); /* bitwise, NaN included */
    free(ra);
    double *rb;
    assert_int_equal(dr_h5_read_f64(f, "b", &rb, NULL, NULL), DR_OK);
    assert_memory_equal(rb, b, sizeof b);
    free(rb);
    int32_t *rc;
    assert_int_equal(dr_h5_read_i32(f, "meta/c", &rc, &rank, dims), DR_OK);
    assert_memory_equal(rc, c, sizeof c);
    free(rc);
    /* conversion on read: f32 dataset read as f64 is exact */
    assert_int_equal(dr_h5_read_f64(f, "weights/conv1/w", &rb, NULL, NULL), DR_OK);
    assert_true(rb[0] == (double)a[0]);
    free(rb);
    float into[24];
    assert_int_equal(dr_h5_read_f32_into(f, "weights/conv1/w", into, 24), DR_OK);
    assert_int_equal(dr_h5_read_f32_into(f, "weights/conv1/w", into, 23), DR_ERR_FORMAT);
    assert_int_equal(dr_h5_read_f32(f, "scalar", &ra, &rank, dims), DR_OK);
    assert_int_equal(rank, 0);
    assert_true(ra[0] == 0.25f);
    free(ra);
    assert_int_equal(dr_h5_read_f32(f, "empty", &ra, &rank, dims), DR_OK);
    assert_true(rank == 1 && dims[0] == 0);
    free(ra);
    char **rs;
    long n;
    assert_int_equal(dr_h5_read_strings(f, "names", &rs, &n), DR_OK);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(rs[i], s[i] ? s[i] : "");
    dr_h5_free_strings(rs, n);
    char *str;
    int64_t i64;
    double f64;
    assert_int_equal(dr_h5_attr_get_str(f, "/", "format", &str), DR_OK);
    assert_string_equal(str, "test");
    free(str);
    assert_int_equal(dr_h5_attr_get_i64(f, "weights/conv1/w", "step", &i64), DR_OK);
    assert_true(i64 == 1234567890123LL);
    assert_int_equal(dr_h5_attr_get_f64(f, "weights", "lr", &f64), DR_OK);
    assert_true(f64 == 1e-3);
    assert_true(dr_h5_exists(f, "weights/conv1"));
    assert_false(dr_h5_exists(f, "weights/conv2/w"));
    assert_true(dr_h5_attr_exists(f, "/", "format"));
    assert_false(dr_h5_attr_exists(f, "/", "nope"));

    /* errors name the file and the object */
    assert_int_equal(dr_h5_read_f32(f, "missing/x", &ra, NULL, NULL), DR_ERR_FORMAT);
    assert_non_null(strstr(dr_last_error(), "missing/x"));
    assert_non_null(strstr(dr_last_error(), path));
    assert_int_equal(dr_h5_read_strings(f, "b", &rs, &n), DR_ERR_FORMAT);
    assert_int_equal(dr_h5_read_f32(f, "names", &ra, NULL, NULL), DR_ERR_FORMAT);
    printf("  %s\n", dr_last_error());
    assert_int_equal(dr_h5_attr_get_i64(f, "/", "format", &i64), DR_ERR_FORMAT);
    assert_int_equal(dr_h5_attr_get_str(f, "/", "nope", &str), DR_ERR_FORMAT);
    assert_int_equal(dr_h5_write_f32(f, "new", a, 1, (int64_t[]){1}), DR_ERR_INVALID);
    dr_h5_close(f);
    remove(path);
}

static void test_discard_and_replace(void **state)
{
    (void)state;
    set_path("atomic");
    dr_h5 *f;
    float one = 1, two = 2;
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "v", &one, 0, NULL), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    /* a second writer that is closed without commit leaves the first file intact
     * and no temporary behind */
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "v", &two, 0, NULL), DR_OK);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(access(tmp, F_OK), 0);
    dr_h5_close(f);
    assert_int_not_equal(access(tmp, F_OK), 0);
    float *v;
    assert_int_equal(dr_h5_open(&f, path), DR_OK);
    assert_int_equal(dr_h5_read_f32(f, "v", &v, NULL, NULL), DR_OK);
    assert_true(v[0] == 1.0f);
    free(v);
    dr_h5_close(f);
    /* a committed second writer replaces it */
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "v", &two, 0, NULL), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    assert_int_equal(dr_h5_open(&f, path), DR_OK);
    assert_int_equal(dr_h5_read_f32(f, "v", &v, NULL, NULL), DR_OK);
    assert_true(v[0] == 2.0f);
    free(v);
    dr_h5_close(f);
    remove(path);
}

static void test_open_errors(void **state)
{
    (void)state;
    dr_h5 *f;
    assert_int_equal(dr_h5_open(&f, "/nonexistent/x.h5"), DR_ERR_IO);
    assert_non_null(strstr(dr_last_error(), "/nonexistent/x.h5"));
    assert_int_equal(dr_h5_open(&f, "CMakeLists.txt"), DR_ERR_FORMAT);
    printf("  %s\n", dr_last_error());
    assert_int_equal(dr_h5_create(&f, "/nonexistent/dir/x.h5"), DR_ERR_IO);
    printf("  %s\n", dr_last_error());
    /* a truncated file is refused, not crashed on */
    set_path("trunc");
    float x[1000] = {0};
    assert_int_equal(dr_h5_create(&f, path), DR_OK);
    assert_int_equal(dr_h5_write_f32(f, "x", x, 1, (int64_t[]){1000}), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    assert_int_equal(truncate(path, 1500), 0);
    dr_status s = dr_h5_open(&f, path);
    if (s == DR_OK) {
        float *r;
        s = dr_h5_read_f32(f, "x", &r, NULL, NULL);
        dr_h5_close(f);
    }
    printf("  truncated: %s: %s\n", dr_status_name(s), dr_last_error());
    assert_int_equal(s, DR_ERR_FORMAT);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_discard_and_replace),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
