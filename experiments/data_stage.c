/* The data stage: [data] and [features] of the experiment file.
 *
 *   read (CSV through the HDF5 cache, or the synthetic generator) -> target ->
 *   feature engineering (history summaries first) -> split -> history sequences
 *   -> preprocessing fitted on train -> feature selection on train -> feature
 *   groups for the CNN branches */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/synth.h"
#include "data/csv.h"
#include "experiments/experiment.h"

static const char *const dr_sources[] = {"csv", "synthetic", NULL};

/* Column kinds forced by [data] lists; the date column, when named, is one. */
static dr_status dr_kind_overrides(dr_config *cfg, dr_csv_override **out, int *n_out, const char *date)
{
    static const struct {
        const char *key;
        dr_col_kind kind;
    } lists[] = {{"data.numeric", DR_COL_NUMERIC}, {"data.categorical", DR_COL_CATEGORICAL},
                 {"data.ignore", DR_COL_IGNORE}, {"data.id", DR_COL_ID}};
    const char *const none[1] = {NULL};
    int total = 0;
    const char *const *names[4];
    int counts[4];
    for (int i = 0; i < 4; i++) {
        DR_TRY(dr_config_string_list(cfg, lists[i].key, none, 0, NULL, 0, 100000, &names[i], &counts[i]));
        total += counts[i];
    }
    *out = calloc((size_t)total + 1, sizeof **out);
    if (!*out)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    *n_out = 0;
    if (date)
        (*out)[(*n_out)++] = (dr_csv_override){date, DR_COL_DATE};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < counts[i]; j++)
            (*out)[(*n_out)++] = (dr_csv_override){names[i][j], lists[i].kind};
    return DR_OK;
}

/* [data]: both sources' keys are read whichever is used, so switching the source
 * with an override leaves no "unknown key" behind. */
typedef struct dr_data_keys {
    const char *source, *path, *target, *positive, *date, *cache_dir;
    bool cache;
    dr_csv_override *overrides;
    int n_overrides;
    int64_t n_loans, synth_seed;
} dr_data_keys;

static dr_status dr_read_data_keys(dr_config *cfg, dr_data_keys *k)
{
    DR_TRY(dr_config_string(cfg, "data.source", "csv", dr_sources, &k->source));
    DR_TRY(dr_config_string(cfg, "data.path", "data/lending_club.csv", NULL, &k->path));
    DR_TRY(dr_config_string(cfg, "data.target", "Class", NULL, &k->target));
    DR_TRY(dr_config_string(cfg, "data.positive", "bad", NULL, &k->positive));
    DR_TRY(dr_config_string(cfg, "data.date_column", "", NULL, &k->date));
    DR_TRY(dr_config_bool(cfg, "data.cache", true, &k->cache));
    DR_TRY(dr_config_string(cfg, "data.cache_dir", "data/.cache", NULL, &k->cache_dir));
    DR_TRY(dr_config_int64(cfg, "data.n_loans", DR_SYNTH_N_PAPER, 100, 100000000, &k->n_loans));
    DR_TRY(dr_config_int64(cfg, "data.synth_seed", 1, 0, INT64_MAX, &k->synth_seed));
    return dr_kind_overrides(cfg, &k->overrides, &k->n_overrides, *k->date ? k->date : NULL);
}

static dr_status dr_read_csv(dr_experiment *e, const dr_data_keys *k)
{
    dr_csv_options opt = {.overrides = k->overrides, .n_overrides = k->n_overrides, .target = k->target};
    if (!k->cache)
        return dr_csv_read(&e->table, k->path, &opt);
    char cache_path[2048];
    const char *base = strrchr(k->path, '/');
    snprintf(cache_path, sizeof cache_path, "%s/%s.h5", k->cache_dir, base ? base + 1 : k->path);
    if (mkdir(k->cache_dir, 0755) != 0 && errno != EEXIST)
        dr_run_log(&e->run, "note: cannot create the cache folder %s (%s); the cache will not be written\n",
                   k->cache_dir, strerror(errno));
    int hit = 0;
    DR_TRY(dr_csv_read_cached(&e->table, k->path, &opt, cache_path, &hit));
    dr_run_log(&e->run, "data: %s (%s)\n", k->path, hit ? "from the HDF5 cache" : "parsed, cache written");
    return DR_OK;
}

static dr_status dr_read_synthetic(dr_experiment *e, const dr_data_keys *k)
{
    dr_synth_stats st;
    DR_TRY(dr_synth_generate((uint64_t)k->synth_seed, (long)k->n_loans, NULL, &e->table, &e->p_true, &st));
    dr_run_log(&e->run, "data: %ld synthetic loans (seed %lld), default rate %.4f, %.2f %% cells missing\n",
               (long)k->n_loans, (long long)k->synth_seed, st.default_rate, 100.0 * st.missing_fraction);
    return DR_OK;
}

static dr_status dr_read_data(dr_experiment *e, const char **date)
{
    dr_data_keys k;
    DR_TRY(dr_read_data_keys(e->cfg, &k));
    const char *target = k.target, *positive = k.positive;
    dr_status s;
    if (strcmp(k.source, "csv") == 0) {
        s = dr_read_csv(e, &k);
        *date = k.date;
    } else {
        s = dr_read_synthetic(e, &k);
        target = "default";
        positive = "yes";
        *date = "issue_date";
    }
    free(k.overrides);
    DR_TRY(s);
    if (**date) {
        int c = dr_table_find(&e->table, *date);
        if (c < 0 || e->table.cols[c].kind != DR_COL_DATE)
            return dr_error(DR_ERR_INVALID, "%s: data.date_column = \"%s\": %s has no date column of that name",
                            dr_config_where(e->cfg, "data.date_column"), *date, e->table.source);
    }
    return dr_table_target(&e->table, target, positive, &e->label);
}

/* n_channels: the history channels of the data as read. */
static dr_status dr_engineer(dr_experiment *e, const char *date, int n_channels)
{
    const char *const none[1] = {NULL};
    const double dpd[3] = {30, 60, 90}; /* the usual days-past-due buckets */
    const char *ref;
    bool time_features, onehot, history;
    DR_TRY(dr_config_bool(e->cfg, "features.history_summaries", true, &history));
    DR_TRY(dr_config_float_list(e->cfg, "features.history_thresholds", dpd, 3, -1e300, 1e300, 0, 64,
                                &e->fe.history_thresholds, &e->fe.n_history_thresholds));
    e->fe.history = history && n_channels > 0;
    if (e->fe.history)
        dr_run_log(&e->run, "history: %d channels summarised for the flat features (%d thresholds)\n", n_channels,
                   e->fe.n_history_thresholds);
    DR_TRY(dr_config_string_list(e->cfg, "features.products", none, 0, NULL, 0, 1000, &e->fe.products,
                                 &e->fe.n_products));
    DR_TRY(dr_config_string_list(e->cfg, "features.polynomial", none, 0, NULL, 0, 100, &e->fe.poly, &e->fe.n_poly));
    DR_TRY(dr_config_bool(e->cfg, "features.time_features", true, &time_features));
    DR_TRY(dr_config_string(e->cfg, "features.reference_date", "", NULL, &ref));
    DR_TRY(dr_config_bool(e->cfg, "features.season_onehot", false, &onehot));
    e->fe.date_column = time_features && *date ? date : NULL;
    e->fe.reference_date = *ref ? ref : NULL;
    e->fe.season_onehot = onehot;
    dr_status s = dr_fe_apply(&e->table, &e->fe, &e->reference_date);
    return s == DR_OK ? s : dr_error_context(s, "[features] (%s): ", dr_config_where(e->cfg, "features.products"));
}

static dr_status dr_make_split(dr_experiment *e, const char *date)
{
    const double def[2] = {0.70, 0.15};
    const double *frac;
    int n;
    int64_t seed;
    DR_TRY(dr_config_float_list(e->cfg, "data.split", def, 2, 0.01, 0.98, 2, 2, &frac, &n));
    DR_TRY(dr_config_int64(e->cfg, "data.split_seed", 42, 0, INT64_MAX, &seed));
    const char *const orders[] = {"auto", "time", "random", NULL};
    const char *by;
    DR_TRY(dr_config_string(e->cfg, "data.split_by", "auto", orders, &by));
    if (strcmp(by, "time") == 0 && !*date)
        return dr_error(DR_ERR_INVALID,
                        "%s: data.split_by = \"time\" (out of time: train on the earliest loans, test on the "
                        "latest) needs the issue dates: name their column in data.date_column",
                        dr_config_where(e->cfg, "data.split_by"));
    if (strcmp(by, "random") == 0)
        date = "";
    if (frac[0] + frac[1] > 0.99)
        return dr_error(DR_ERR_INVALID, "%s: data.split = [%g, %g] leaves no test rows",
                        dr_config_where(e->cfg, "data.split"), frac[0], frac[1]);
    dr_split_options opt = {.train_frac = frac[0], .val_frac = frac[1], .date_column = *date ? date : NULL,
                            .seed = (uint64_t)seed};
    DR_TRY(dr_split_make(&e->split, &e->table, e->label, &opt));
    dr_run_log(&e->run, "split: %s\n",
               *date ? "out of time: ordered by issue date, test = the latest loans" : "stratified random");
    dr_split_print(stderr, &e->split, e->label);
    if (e->run.log)
        dr_split_print(e->run.log, &e->split, e->label);
    if (e->p_true) {
        double auc;
        DR_TRY(dr_synth_bayes_auc(&e->table, e->p_true, e->split.test, e->split.n_test, &auc));
        dr_run_log(&e->run, "Bayes-optimal test AUC (true probabilities): %.4f\n", auc);
    }
    return DR_OK;
}

/* --- feature groups ------------------------------------------------------------ */

/* The default grouping by column name (documented in exp/README.md). */
static const struct {
    const char *group;
    const char *words[16];
} dr_default_groups[] = {
    {"borrower", {"inc", "emp", "age", "home", "state", "region", "verif", "educ", "marital", "job", "depend", NULL}},
    {"loan", {"amnt", "amount", "term", "rate", "grade", "purpose", "install", "loan", "issue", NULL}},
    {"credit", {"delinq", "inq", "util", "credit", "revol", "open", "bal", "acc", "limit", "il_", "late", "bankrupt",
                "score", "debt", "dti", NULL}},
    {"platform", {"platform", "previous", "listing", "channel", "bid", "device", NULL}},
};

static int dr_default_group_of(const char *column)
{
    for (int g = 0; g < 4; g++)
        for (int w = 0; dr_default_groups[g].words[w]; w++)
            if (strcasestr(column, dr_default_groups[g].words[w]))
                return g;
    return 4; /* "other" */
}

static int dr_group_index(dr_experiment *e, const char *name)
{
    for (int g = 0; g < e->n_groups; g++)
        if (strcmp(e->group_name[g], name) == 0)
            return g;
    if (e->n_groups == DR_HYBRID_MAX_GROUPS)
        return -1;
    snprintf(e->group_name[e->n_groups], sizeof e->group_name[0], "%s", name);
    return e->n_groups++;
}

/* group[f] for each preprocessed feature f, from [features.groups] when given. */
static dr_status dr_assign_groups(dr_experiment *e, const dr_matrix *names, int *group_of_feature)
{
    const dr_config_key *keys;
    int n_keys;
    DR_TRY(dr_config_keys(e->cfg, "features.groups", &keys, &n_keys));
    int *col_group = malloc((size_t)e->table.n_cols * sizeof *col_group);
    if (!col_group)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    for (int c = 0; c < e->table.n_cols; c++)
        col_group[c] = -1;
    for (int k = 0; k < n_keys; k++) {
        const char *const *cols;
        int n;
        dr_status s = dr_config_string_list(e->cfg, keys[k].path, NULL, 0, NULL, 1, 100000, &cols, &n);
        if (s != DR_OK) {
            free(col_group);
            return s;
        }
        for (int j = 0; j < n; j++) {
            int c = dr_table_find(&e->table, cols[j]);
            if (c < 0) {
                free(col_group);
                return dr_error(DR_ERR_INVALID, "%s: feature group %s names column '%s', which %s lacks",
                                dr_config_where(e->cfg, keys[k].path), keys[k].name, cols[j], e->table.source);
            }
            if (col_group[c] >= 0 && col_group[c] != k) {
                const char *other = keys[col_group[c]].name;
                free(col_group);
                return dr_error(DR_ERR_INVALID, "%s: column '%s' is in feature groups %s and %s",
                                dr_config_where(e->cfg, keys[k].path), cols[j], other, keys[k].name);
            }
            col_group[c] = k;
        }
    }
    dr_status s = DR_OK;
    for (int f = 0; f < names->n_features && s == DR_OK; f++) {
        int c = names->source[f];
        const char *gname = n_keys ? (col_group[c] >= 0 ? keys[col_group[c]].name : "other")
                                   : (dr_default_group_of(e->table.cols[c].name) < 4
                                          ? dr_default_groups[dr_default_group_of(e->table.cols[c].name)].group
                                          : "other");
        group_of_feature[f] = dr_group_index(e, gname);
        if (group_of_feature[f] < 0)
            s = dr_error(DR_ERR_INVALID, "[features.groups]: more than %d feature groups", DR_HYBRID_MAX_GROUPS);
    }
    free(col_group);
    return s;
}

/* --- parts ------------------------------------------------------------------------ */

static dr_status dr_make_part(dr_experiment *e, dr_part *p, const long *rows, long n, const float *seq_all)
{
    dr_matrix full;
    DR_TRY(dr_prep_transform(&e->prep, &e->table, rows, n, &full));
    p->rows = rows;
    p->m.n_rows = n;
    p->m.n_features = e->n_selected;
    p->m.x = malloc((size_t)n * (size_t)e->n_selected * sizeof(float));
    p->y = malloc((size_t)n * sizeof(float));
    if (!p->m.x || !p->y) {
        dr_matrix_free(&full);
        return dr_error(DR_ERR_NOMEM, "out of host memory for %ld rows", n);
    }
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < e->n_selected; j++)
            p->m.x[i * e->n_selected + j] = full.x[i * full.n_features + e->feature_order[j]];
        p->y[i] = e->label[rows[i]];
    }
    dr_matrix_free(&full);
    if (seq_all) {
        long row_len = (long)e->seq_stats.T * e->seq_stats.n_channels;
        p->seq = malloc((size_t)(n * row_len) * sizeof(float));
        if (!p->seq)
            return dr_error(DR_ERR_NOMEM, "out of host memory for sequences");
        for (long i = 0; i < n; i++)
            memcpy(p->seq + i * row_len, seq_all + rows[i] * row_len, (size_t)row_len * sizeof(float));
    }
    return DR_OK;
}

static dr_status dr_sequences(dr_experiment *e, char **bases, int n, int T, float **seq_all)
{
    bool use;
    DR_TRY(dr_config_bool(e->cfg, "data.sequences", true, &use));
    if (!use || n == 0)
        return DR_OK;
    DR_TRY(dr_seq_gather(&e->table, (const char *const *)bases, n, e->split.train, e->split.n_train, &e->seq_stats,
                         seq_all));
    e->has_seq = 1;
    dr_run_log(&e->run, "history: %d channels x %d steps feed the LSTM\n", n, T);
    return DR_OK;
}

static dr_status dr_fit_transform(dr_experiment *e)
{
    bool indicators;
    const double *w;
    int nw;
    DR_TRY(dr_config_bool(e->cfg, "features.missing_indicators", false, &indicators));
    DR_TRY(dr_config_float_list(e->cfg, "features.winsorize", (const double[]){0.0, 1.0}, 2, 0.0, 1.0, 2, 2, &w, &nw));
    dr_prep_options po = {.missing_indicators = indicators, .winsor_lo = w[0], .winsor_hi = w[1]};
    DR_TRY(dr_prep_fit(&e->prep, &e->table, e->split.train, e->split.n_train, &po));

    /* selection runs on the train rows with every feature */
    dr_matrix tr;
    DR_TRY(dr_prep_transform(&e->prep, &e->table, e->split.train, e->split.n_train, &tr));
    e->train.y = malloc((size_t)e->split.n_train * sizeof(float));
    int *selected = malloc((size_t)tr.n_features * sizeof *selected);
    int *group = malloc((size_t)tr.n_features * sizeof *group);
    e->feature_order = malloc((size_t)tr.n_features * sizeof *e->feature_order);
    dr_status s = (e->train.y && selected && group && e->feature_order) ? DR_OK
                                                                      : dr_error(DR_ERR_NOMEM, "out of host memory");
    for (long i = 0; s == DR_OK && i < e->split.n_train; i++)
        e->train.y[i] = e->label[e->split.train[i]];
    if (s == DR_OK)
        s = dr_select_stage(e, &tr, selected);
    if (s == DR_OK)
        s = dr_assign_groups(e, &tr, group);
    /* features in group order; groups left empty by selection disappear */
    int n_groups = e->n_groups;
    e->n_groups = 0;
    e->n_selected = 0;
    for (int g = 0; s == DR_OK && g < n_groups; g++) {
        int size = 0;
        for (int f = 0; f < tr.n_features; f++)
            if (selected[f] && group[f] == g)
                e->feature_order[e->n_selected + size++] = f;
        if (size == 0)
            continue;
        memmove(e->group_name[e->n_groups], e->group_name[g], sizeof e->group_name[0]);
        e->group_size[e->n_groups++] = size;
        e->n_selected += size;
        dr_run_log(&e->run, "group %-10s %3d features\n", e->group_name[e->n_groups - 1], size);
    }
    if (s == DR_OK && e->n_selected == 0)
        s = dr_error(DR_ERR_INVALID, "feature selection kept no feature");
    dr_matrix_free(&tr);
    free(selected);
    free(group);
    free(e->train.y);
    e->train.y = NULL;
    return s;
}

dr_status dr_data_stage(dr_experiment *e)
{
    const char *date = "";
    DR_TRY(dr_read_data(e, &date));
    /* channels found before engineering: a derived name such as "c_over_1" next
     * to "c_over_2" must not pass for a channel's steps */
    char **bases;
    int n_bases, T;
    DR_TRY(dr_seq_find(&e->table, &bases, &n_bases, &T));
    float *seq_all = NULL;
    dr_status s = dr_engineer(e, date, n_bases);
    if (s == DR_OK)
        s = dr_make_split(e, date);
    if (s == DR_OK)
        s = dr_sequences(e, bases, n_bases, T, &seq_all);
    for (int i = 0; i < n_bases; i++)
        free(bases[i]);
    free(bases);
    if (s == DR_OK)
        s = dr_fit_transform(e);
    if (s == DR_OK)
        s = dr_make_part(e, &e->train, e->split.train, e->split.n_train, seq_all);
    if (s == DR_OK)
        s = dr_make_part(e, &e->val, e->split.val, e->split.n_val, seq_all);
    if (s == DR_OK)
        s = dr_make_part(e, &e->test, e->split.test, e->split.n_test, seq_all);
    free(seq_all);
    return s;
}
