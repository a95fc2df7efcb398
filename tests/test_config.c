/* The experiment-file layer: parse errors with line:column, typed getters with
 * ranges, unknown keys and sections, command-line overrides, the resolved file
 * (re-read, it gives the same values), enumeration for search sections,
 * setting values and cloning. Every error message checked here is printed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "tests/testutil.h"

/* Expects status want and a message holding every one of the NULL-terminated
 * fragments. */
static void expect_error(const char *what, dr_status got, dr_status want, ...)
{
    const char *msg = dr_last_error();
    printf("  %-28s -> %s: %s\n", what, dr_status_name(got), got == DR_OK ? "" : msg);
    if (got != want)
        fail_msg("%s: status %s, want %s", what, dr_status_name(got), dr_status_name(want));
    va_list ap;
    va_start(ap, want);
    for (const char *frag = va_arg(ap, const char *); frag; frag = va_arg(ap, const char *))
        if (!strstr(msg, frag)) {
            va_end(ap);
            fail_msg("%s: message lacks \"%s\"", what, frag);
        }
    va_end(ap);
}

static dr_config *load(const char *text)
{
    dr_config *c = NULL;
    dr_status st = dr_config_load_string(&c, text, "t.toml");
    if (st != DR_OK)
        fail_msg("load: %s", dr_last_error());
    return c;
}

static void tmp_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/dr_test_config_%ld_%s.toml", (long)getpid(), tag);
}

static void test_parse_errors(void **state)
{
    (void)state;
    dr_config *c = NULL;
    /* "b = = 2": the value starts at column 5 of line 2 */
    expect_error("malformed value", dr_config_load_string(&c, "a = 1\nb = = 2\n", "t.toml"),
                 DR_ERR_PARSE, "t.toml:2:5:", NULL);
    assert_null(c);
    expect_error("table defined twice",
                 dr_config_load_string(&c, "[train]\nepochs = 5\n\n[train]\nlr = 0.1\n", "t.toml"),
                 DR_ERR_PARSE, "t.toml:4:", "train", NULL);
    expect_error("duplicate key", dr_config_load_string(&c, "[a]\nx = 1\nx = 2\n", "t.toml"),
                 DR_ERR_PARSE, "t.toml:3:", NULL);
    expect_error("date value",
                 dr_config_load_string(&c, "[data]\nstart = 2018-01-01\n", "t.toml"),
                 DR_ERR_UNSUPPORTED, "t.toml:2:9", "date", NULL);
    expect_error("array of tables", dr_config_load_string(&c, "[[runs]]\nx = 1\n", "t.toml"),
                 DR_ERR_UNSUPPORTED, "t.toml:1:", "arrays of tables", NULL);
    expect_error("missing file", dr_config_load(&c, "/nonexistent/dir/x.toml"), DR_ERR_IO,
                 "/nonexistent/dir/x.toml", NULL);
    /* a real file: the message names its path */
    char path[256];
    tmp_path(path, sizeof path, "bad");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[train]\nepochs = 10\nlr = 0.001.5\n", f);
    fclose(f);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", path);
    expect_error("file parse error", dr_config_load(&c, path), DR_ERR_PARSE, want, NULL);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("a = 1\n\0b = 2\n", 1, 13, f); /* a NUL byte must not end the file silently */
    fclose(f);
    expect_error("NUL byte in file", dr_config_load(&c, path), DR_ERR_PARSE, "NUL byte", NULL);
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    expect_error("empty file", dr_config_load(&c, path), DR_OK, NULL);
    dr_config_free(c);
    remove(path);
}

static void test_types_and_ranges(void **state)
{
    (void)state;
    dr_config *c = load("[train]\n"
                        "epochs = \"ten\"\n"    /* line 2, value at col 10 */
                        "batch = 0\n"           /* line 3, value at col 9 */
                        "lr = 1\n"              /* an integer where a float is read: fine */
                        "dropout = 1.5\n"       /* line 5, value at col 11 */
                        "steps = 2.0\n"         /* a float where an integer is read: refused */
                        "nanval = nan\n"        /* NaN refused */
                        "opt = \"adamw\"\n"     /* line 8, value at col 7 */
                        "flag = 1\n"            /* not a boolean */
                        "filters = [64, 128.5, 256]\n" /* element 1 wrong type */
                        "units = [64, 128]\n"   /* too short */
                        "seed = 9007199254740993\n");
    int i;
    double d;
    bool b;
    const char *s;
    expect_error("string for integer", dr_config_int(c, "train.epochs", 100, 1, 100000, &i),
                 DR_ERR_INVALID, "t.toml:2:10", "train.epochs", "an integer in [1, 100000]",
                 "got a string", NULL);
    expect_error("integer out of range", dr_config_int(c, "train.batch", 256, 1, 4096, &i),
                 DR_ERR_INVALID, "t.toml:3:9", "train.batch", "out of range", "[1, 4096]", NULL);
    assert_int_equal(dr_config_float(c, "train.lr", 1e-3, 0.0, 10.0, &d), DR_OK);
    printf("  integer 1 read as float: %g\n", d);
    assert_true(d == 1.0);
    expect_error("float out of range", dr_config_float(c, "train.dropout", 0.5, 0.0, 0.95, &d),
                 DR_ERR_INVALID, "t.toml:5:11", "train.dropout", "[0, 0.95]", NULL);
    expect_error("float for integer", dr_config_int(c, "train.steps", 1, 1, 10, &i),
                 DR_ERR_INVALID, "train.steps", "got a float", NULL);
    expect_error("nan", dr_config_float(c, "train.nanval", 0.0, -INFINITY, INFINITY, &d),
                 DR_ERR_INVALID, "train.nanval", "out of range", NULL);
    const char *opts[] = {"adam", "sgd", NULL};
    expect_error("string not allowed", dr_config_string(c, "train.opt", "adam", opts, &s),
                 DR_ERR_INVALID, "t.toml:8:7", "\"adam\", \"sgd\"", NULL);
    expect_error("integer for boolean", dr_config_bool(c, "train.flag", false, &b),
                 DR_ERR_INVALID, "train.flag", "a boolean", NULL);
    const int *li;
    int n;
    expect_error("list element type",
                 dr_config_int_list(c, "train.filters", NULL, 0, 1, 4096, 1, 8, &li, &n),
                 DR_ERR_INVALID, "train.filters[1]", "got a float", NULL);
    expect_error("list too short",
                 dr_config_int_list(c, "train.units", NULL, 0, 1, 4096, 3, 3, &li, &n),
                 DR_ERR_INVALID, "train.units", "3 to 3 elements", "2 elements", NULL);
    int64_t seed;
    assert_int_equal(dr_config_int64(c, "train.seed", 0, 0, INT64_MAX, &seed), DR_OK);
    printf("  int64 seed %lld\n", (long long)seed);
    assert_true(seed == 9007199254740993LL); /* 2^53 + 1: not squeezed through a double */
    /* a section where a value is expected, and the reverse */
    expect_error("table read as value", dr_config_int(c, "train", 1, 0, 9, &i), DR_ERR_INVALID,
                 "train is a table", NULL);
    expect_error("value below value", dr_config_int(c, "train.seed.x", 1, 0, 9, &i),
                 DR_ERR_INVALID, "train.seed is a value", NULL);
    /* programming errors: a default outside its own range, two defaults */
    expect_error("default out of range", dr_config_int(c, "train.other", 0, 1, 9, &i),
                 DR_ERR_INVALID, "default", "train.other", NULL);
    assert_int_equal(dr_config_int(c, "train.workers", 2, 1, 9, &i), DR_OK);
    assert_int_equal(dr_config_int(c, "train.workers", 2, 1, 9, &i), DR_OK); /* same default */
    expect_error("two different defaults", dr_config_int(c, "train.workers", 4, 1, 9, &i),
                 DR_ERR_INVALID, "different defaults", NULL);
    expect_error("malformed key", dr_config_int(c, "train..x", 1, 0, 9, &i), DR_ERR_INVALID,
                 "malformed key", NULL);
    expect_error("required string missing", dr_config_string(c, "data.path", NULL, NULL, &s),
                 DR_ERR_INVALID, "t.toml", "missing required key data.path", NULL);
    expect_error("required list missing",
                 dr_config_int_list(c, "model.filters", NULL, 0, 1, 64, 1, 4, &li, &n),
                 DR_ERR_INVALID, "missing required key model.filters", NULL);
    const int empty_def[1] = {0};
    assert_int_equal(dr_config_int_list(c, "model.extra", empty_def, 0, 1, 64, 0, 4, &li, &n), DR_OK);
    printf("  empty default list: n = %d\n", n);
    assert_int_equal(n, 0);
    dr_config_free(c);
}

static const char *base_file = "# an experiment\n"
                               "[train]\n"
                               "epochs = 5\n"
                               "epoch = 3\n" /* line 4: a typo nobody reads */
                               "lr = 0.01\n"
                               "\n"
                               "[model]\n"
                               "filters = [64, 128, 256]\n"
                               "\n"
                               "[trian]\n" /* line 10: an unknown section */
                               "x = 1\n";

static void test_unknown_keys(void **state)
{
    (void)state;
    dr_config *c = load(base_file);
    int i;
    double d;
    const int *li;
    int n;
    assert_int_equal(dr_config_int(c, "train.epochs", 100, 1, 1000, &i), DR_OK);
    assert_int_equal(dr_config_float(c, "train.lr", 1e-3, 0, 1, &d), DR_OK);
    assert_int_equal(dr_config_int_list(c, "model.filters", NULL, 0, 1, 4096, 3, 3, &li, &n), DR_OK);
    /* the first unknown in file order is the key on line 4, then the section */
    expect_error("unknown key", dr_config_check_unused(c), DR_ERR_INVALID, "t.toml:4:1",
                 "unknown key train.epoch", "did you mean train.epochs?", NULL);
    assert_int_equal(dr_config_int(c, "train.epoch", 1, 0, 10, &i), DR_OK);
    expect_error("unknown section", dr_config_check_unused(c), DR_ERR_INVALID, "t.toml:10:1",
                 "unknown section [trian]", "did you mean train?", NULL);
    assert_int_equal(dr_config_int(c, "trian.x", 0, 0, 10, &i), DR_OK);
    expect_error("all read", dr_config_check_unused(c), DR_OK, NULL);
    dr_config_free(c);

    /* a sub-table nobody reads is reported as a section, at its header */
    c = load("[model]\nunits = 4\n[model.branch]\nk = 3\n");
    assert_int_equal(dr_config_int(c, "model.units", 1, 1, 10, &i), DR_OK);
    expect_error("unknown sub-section", dr_config_check_unused(c), DR_ERR_INVALID, "t.toml:3:",
                 "unknown section [model.branch]", NULL);
    dr_config_free(c);
}

static void test_overrides(void **state)
{
    (void)state;
    dr_config *c = load(base_file);
    int i;
    double d;
    const char *s;
    assert_int_equal(dr_config_override(c, "train.epochs=7"), DR_OK);
    assert_int_equal(dr_config_override(c, "output.dir = \"runs/a b\""), DR_OK); /* a new key */
    assert_int_equal(dr_config_override(c, "model.filters=[32, 64, 128]"), DR_OK);
    expect_error("value not TOML", dr_config_override(c, "train.lr=abc"), DR_ERR_INVALID,
                 "command-line override 'train.lr=abc'", "strings need quotes", NULL);
    expect_error("no value", dr_config_override(c, "train.lr"), DR_ERR_INVALID,
                 "command-line override 'train.lr'", NULL);
    expect_error("section only", dr_config_override(c, "[train]"), DR_ERR_INVALID,
                 "sets no value", NULL);
    expect_error("value over table", dr_config_override(c, "train=3"), DR_ERR_INVALID,
                 "command-line override 'train=3'", "it is a table", "t.toml:2:1", NULL);
    expect_error("table over value", dr_config_override(c, "train.epochs.x=3"), DR_ERR_INVALID,
                 "train.epochs", "is a value", NULL);
    /* a type error found later names the override, not a file line */
    assert_int_equal(dr_config_override(c, "train.lr=\"fast\""), DR_OK);
    expect_error("bad type via override", dr_config_float(c, "train.lr", 1e-3, 0, 1, &d),
                 DR_ERR_INVALID, "command-line override 'train.lr=\"fast\"'", "a float", NULL);
    assert_int_equal(dr_config_override(c, "train.lr=0.5"), DR_OK);

    assert_int_equal(dr_config_int(c, "train.epochs", 100, 1, 1000, &i), DR_OK);
    printf("  train.epochs after override: %d (file 5, override 7)\n", i);
    assert_int_equal(i, 7);
    assert_int_equal(dr_config_string(c, "output.dir", "runs", NULL, &s), DR_OK);
    printf("  output.dir from override: %s\n", s);
    assert_string_equal(s, "runs/a b");
    assert_int_equal(dr_config_float(c, "train.lr", 1e-3, 0, 1, &d), DR_OK);
    assert_true(d == 0.5);
    printf("  where(train.epochs) = %s\n", dr_config_where(c, "train.epochs"));
    assert_non_null(strstr(dr_config_where(c, "train.epochs"), "train.epochs=7"));
    /* an override of a key no module reads is an unknown key naming the override */
    assert_int_equal(dr_config_override(c, "train.epohcs=9"), DR_OK);
    const int *li;
    int n;
    assert_int_equal(dr_config_int_list(c, "model.filters", NULL, 0, 1, 4096, 3, 3, &li, &n), DR_OK);
    assert_true(li[0] == 32 && li[2] == 128);
    assert_int_equal(dr_config_int(c, "train.epoch", 1, 0, 10, &i), DR_OK);
    assert_int_equal(dr_config_int(c, "trian.x", 0, 0, 10, &i), DR_OK);
    expect_error("unknown override key", dr_config_check_unused(c), DR_ERR_INVALID,
                 "command-line override 'train.epohcs=9'", "unknown key train.epohcs", NULL);
    dr_config_free(c);
}

/* Reads the same keys from a config; defaults given as parameters so the second
 * pass can use different ones and prove the values came from the file. */
typedef struct snapshot {
    int epochs, batch;
    double lr, alpha;
    bool shuffle, amp;
    const char *opt, *name, *path;
    const int *filters;
    int n_filters;
    const double *grid;
    int n_grid;
    const char *const *models;
    int n_models;
    int branch_k;
    const char *units_toml;
} snapshot;

static void read_all(dr_config *c, snapshot *s, int shift)
{
    const char *opts[] = {"adam", "sgd", NULL};
    const char *models[] = {"hybrid", "xgboost", "rf", "lgbm", NULL};
    assert_int_equal(dr_config_int(c, "train.epochs", 100 + shift, 1, 1000, &s->epochs), DR_OK);
    assert_int_equal(dr_config_int(c, "train.batch_size", 256 + shift, 1, 4096, &s->batch), DR_OK);
    assert_int_equal(dr_config_float(c, "train.lr", 0.001 + shift, 0, 10, &s->lr), DR_OK);
    assert_int_equal(dr_config_float(c, "train.loss_alpha", 0.1 + shift * 0.1, 0, 1, &s->alpha), DR_OK);
    assert_int_equal(dr_config_bool(c, "train.shuffle", shift == 0, &s->shuffle), DR_OK);
    assert_int_equal(dr_config_bool(c, "train.amp", shift != 0, &s->amp), DR_OK);
    assert_int_equal(dr_config_string(c, "train.optimizer", shift ? "sgd" : "adam", opts, &s->opt), DR_OK);
    assert_int_equal(dr_config_string(c, "name", shift ? "other" : "quick \"start\"\n\tx", NULL, &s->name), DR_OK);
    assert_int_equal(dr_config_string(c, "data.path", "none", NULL, &s->path), DR_OK);
    assert_int_equal(dr_config_int_list(c, "model.filters", (const int[]){1, 2, 3}, 3, 1, 4096,
                                        1, 8, &s->filters, &s->n_filters), DR_OK);
    assert_int_equal(dr_config_float_list(c, "sensitivity.dropout",
                                          (const double[]){0.3, 0.1 + 0.2, 1.0 / 3.0}, shift ? 1 : 3,
                                          0, 1, 1, 8, &s->grid, &s->n_grid), DR_OK);
    assert_int_equal(dr_config_string_list(c, "ensemble.models", (const char *const[]){"hybrid", "rf"},
                                           shift ? 1 : 2, models, 1, 4, &s->models, &s->n_models), DR_OK);
    assert_int_equal(dr_config_int(c, "model.branch.k", 3 + shift, 1, 31, &s->branch_k), DR_OK);
    assert_int_equal(dr_config_value_toml(c, "search.\"model.lstm_units\"", -1, &s->units_toml), DR_OK);
}

static void test_resolved_roundtrip(void **state)
{
    (void)state;
    dr_config *c = load("name = \"quick \\\"start\\\"\\n\\tx\"\n" /* escapes survive */
                        "[data]\n"
                        "path = \"data/lending club.csv\"\n"
                        "[train]\n"
                        "epochs = 12\n"
                        "lr = 3e-4\n"
                        "amp = false\n"
                        "[model]\n"
                        "filters = [32, 64, 128]\n"
                        "[search]\n"
                        "\"model.lstm_units\" = [64, 128, 256]\n");
    assert_int_equal(dr_config_override(c, "train.batch_size=64"), DR_OK);
    snapshot a, b;
    read_all(c, &a, 0);
    assert_int_equal(dr_config_check_unused(c), DR_OK);
    char path[256];
    tmp_path(path, sizeof path, "resolved");
    assert_int_equal(dr_config_write_resolved(c, path), DR_OK);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    printf("---- resolved file (%zu bytes) ----\n%s---- end ----\n", len, text);
    /* defaults are echoed and marked; the override is marked */
    assert_non_null(strstr(text, "loss_alpha = 0.1  # default"));
    assert_non_null(strstr(text, "shuffle = true  # default"));
    assert_non_null(strstr(text, "batch_size = 64  # command-line override"));
    assert_non_null(strstr(text, "lr = 0.0003\n")); /* shortest text that reads back exactly */
    assert_non_null(strstr(text, "[model.branch]\nk = 3  # default"));

    /* re-read with different defaults: every value must come from the file */
    dr_config *r = NULL;
    assert_int_equal(dr_config_load(&r, path), DR_OK);
    read_all(r, &b, 1);
    assert_int_equal(dr_config_check_unused(r), DR_OK);
    printf("  first : epochs %d batch %d lr %.17g alpha %.17g shuffle %d amp %d opt %s k %d\n",
           a.epochs, a.batch, a.lr, a.alpha, a.shuffle, a.amp, a.opt, a.branch_k);
    printf("  reread: epochs %d batch %d lr %.17g alpha %.17g shuffle %d amp %d opt %s k %d\n",
           b.epochs, b.batch, b.lr, b.alpha, b.shuffle, b.amp, b.opt, b.branch_k);
    assert_int_equal(a.epochs, 12);
    assert_int_equal(a.batch, 64);
    assert_int_equal(b.epochs, a.epochs);
    assert_int_equal(b.batch, a.batch);
    assert_true(b.lr == a.lr && a.lr == 3e-4); /* bit-exact through the text */
    assert_true(b.alpha == a.alpha);
    assert_true(b.shuffle == a.shuffle && b.amp == a.amp);
    assert_string_equal(b.opt, a.opt);
    assert_string_equal(b.name, a.name);
    assert_string_equal(a.name, "quick \"start\"\n\tx");
    assert_string_equal(b.path, a.path);
    assert_int_equal(b.n_filters, a.n_filters);
    for (int k = 0; k < a.n_filters; k++)
        assert_int_equal(b.filters[k], a.filters[k]);
    assert_int_equal(b.n_grid, 3);
    for (int k = 0; k < 3; k++)
        assert_true(b.grid[k] == a.grid[k]); /* 0.1 + 0.2 and 1/3 need all 17 digits */
    assert_int_equal(b.n_models, 2);
    assert_string_equal(b.models[1], "rf");
    assert_int_equal(b.branch_k, a.branch_k);
    assert_string_equal(b.units_toml, "[64, 128, 256]");
    printf("  re-read: all %d checked values equal\n", 14);
    dr_config_free(r);
    dr_config_free(c);
    remove(path);
}

static void test_search_keys_set_clone(void **state)
{
    (void)state;
    dr_config *c = load("[model]\n"
                        "lstm_units = 128\n"
                        "filters = [64, 128, 256]\n"
                        "[search]\n"
                        "trials = 20\n"
                        "\"model.lstm_units\" = [64, 128, 256]\n"
                        "\"model.filters\" = [[32, 64, 128], [64, 128, 256]]\n"
                        "\"train.lr\" = { low = 1e-4, high = 1e-2, log = true }\n");
    const dr_config_key *k;
    int n;
    assert_int_equal(dr_config_keys(c, "search", &k, &n), DR_OK);
    printf("  [search] has %d keys:\n", n);
    for (int j = 0; j < n; j++)
        printf("    %-18s %-28s type %d\n", k[j].name, k[j].path, k[j].type);
    assert_int_equal(n, 4);
    assert_string_equal(k[0].name, "trials"); /* file order */
    assert_string_equal(k[1].name, "model.lstm_units");
    assert_string_equal(k[1].path, "search.\"model.lstm_units\"");
    assert_int_equal(k[2].type, DR_CONFIG_ARRAY);
    assert_int_equal(k[3].type, DR_CONFIG_TABLE);
    int trials, len;
    assert_int_equal(dr_config_int(c, k[0].path, 10, 1, 1000, &trials), DR_OK);
    assert_int_equal(dr_config_array_len(c, k[2].path, &len), DR_OK);
    assert_int_equal(len, 2);
    const char *choice;
    assert_int_equal(dr_config_value_toml(c, k[2].path, 0, &choice), DR_OK);
    printf("  choice 0 of %s: %s\n", k[1].name, choice);
    assert_string_equal(choice, "[32, 64, 128]");
    const int *lu;
    int nl;
    assert_int_equal(dr_config_int_list(c, k[1].path, NULL, 0, 1, 4096, 1, 16, &lu, &nl), DR_OK);
    char lo_key[128];
    snprintf(lo_key, sizeof lo_key, "%s.low", k[3].path);
    double lo, hi;
    bool lg;
    assert_int_equal(dr_config_float(c, lo_key, 0, 0, 1, &lo), DR_OK);
    assert_int_equal(dr_config_float(c, "search.\"train.lr\".high", 0, 0, 1, &hi), DR_OK);
    assert_int_equal(dr_config_bool(c, "search.'train.lr'.log", false, &lg), DR_OK);
    assert_true(lo == 1e-4 && hi == 1e-2 && lg);
    assert_int_equal(dr_config_type_of(c, "model.lstm_units"), DR_CONFIG_INT);
    assert_int_equal(dr_config_type_of(c, "model.nothing"), DR_CONFIG_NONE);
    expect_error("keys of a value", dr_config_keys(c, "model.lstm_units", &k, &n), DR_ERR_INVALID,
                 "is a value", NULL);
    assert_int_equal(dr_config_keys(c, "explain", &k, &n), DR_OK);
    assert_int_equal(n, 0);

    /* a trial: clone, set the sampled values, read */
    dr_config *t = NULL;
    assert_int_equal(dr_config_clone(&t, c), DR_OK);
    assert_int_equal(dr_config_set_int(t, "model.lstm_units", 256), DR_OK);
    assert_int_equal(dr_config_set_toml(t, "model.filters", choice), DR_OK);
    assert_int_equal(dr_config_set_float(t, "train.lr", 0.0042), DR_OK);
    assert_int_equal(dr_config_set_string(t, "train.optimizer", "sgd"), DR_OK);
    assert_int_equal(dr_config_set_bool(t, "train.amp", true), DR_OK);
    expect_error("set value over table", dr_config_set_int(t, "search", 1), DR_ERR_INVALID,
                 "it is a table", NULL);
    expect_error("set_toml not TOML", dr_config_set_toml(t, "model.pool", "two"), DR_ERR_PARSE,
                 "dr_config_set_toml", NULL);
    int units_t, units_c;
    const int *fl;
    int nf;
    double lr;
    const char *opt;
    bool amp;
    assert_int_equal(dr_config_int(t, "model.lstm_units", 128, 1, 4096, &units_t), DR_OK);
    assert_int_equal(dr_config_int_list(t, "model.filters", NULL, 0, 1, 4096, 3, 3, &fl, &nf), DR_OK);
    assert_int_equal(dr_config_float(t, "train.lr", 1e-3, 0, 1, &lr), DR_OK);
    assert_int_equal(dr_config_string(t, "train.optimizer", "adam", NULL, &opt), DR_OK);
    assert_int_equal(dr_config_bool(t, "train.amp", false, &amp), DR_OK);
    assert_int_equal(dr_config_int(c, "model.lstm_units", 128, 1, 4096, &units_c), DR_OK);
    printf("  trial: units %d filters [%d %d %d] lr %g opt %s amp %d; base units %d\n", units_t,
           fl[0], fl[1], fl[2], lr, opt, amp, units_c);
    assert_int_equal(units_t, 256);
    assert_int_equal(units_c, 128); /* the clone is independent */
    assert_true(fl[0] == 32 && fl[1] == 64 && fl[2] == 128);
    assert_true(lr == 0.0042 && amp);
    assert_string_equal(opt, "sgd");
    /* a string handed out stays valid after the key is set again */
    assert_int_equal(dr_config_set_string(t, "train.optimizer", "adam"), DR_OK);
    assert_string_equal(opt, "sgd");
    printf("  where(train.lr) in trial: %s\n", dr_config_where(t, "train.lr"));
    assert_string_equal(dr_config_where(t, "train.lr"), "dr_config_set");
    dr_config_free(t);
    dr_config_free(c);
}

static void test_empty_config_defaults(void **state)
{
    (void)state;
    dr_config *c = NULL;
    assert_int_equal(dr_config_create(&c), DR_OK);
    int e;
    double lr;
    assert_int_equal(dr_config_int(c, "train.epochs", 100, 1, 1000, &e), DR_OK);
    assert_int_equal(dr_config_float(c, "train.lr", 1e-3, 0, 1, &lr), DR_OK);
    assert_int_equal(e, 100);
    assert_true(lr == 1e-3);
    assert_int_equal(dr_config_check_unused(c), DR_OK);
    char path[256];
    tmp_path(path, sizeof path, "defaults");
    assert_int_equal(dr_config_write_resolved(c, path), DR_OK);
    dr_config *r = NULL;
    assert_int_equal(dr_config_load(&r, path), DR_OK);
    int e2;
    assert_int_equal(dr_config_int(r, "train.epochs", 1, 1, 1000, &e2), DR_OK);
    printf("  defaults echoed: epochs %d re-read as %d\n", e, e2);
    assert_int_equal(e2, 100);
    expect_error("write to a missing folder",
                 dr_config_write_resolved(c, "/nonexistent/dir/config.toml"), DR_ERR_IO,
                 "/nonexistent/dir/config.toml", NULL);
    dr_config_free(r);
    dr_config_free(c);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),       cmocka_unit_test(test_types_and_ranges),
        cmocka_unit_test(test_unknown_keys),       cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_resolved_roundtrip), cmocka_unit_test(test_search_keys_set_clone),
        cmocka_unit_test(test_empty_config_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
