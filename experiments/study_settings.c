/* [search] and [sensitivity]: what a study varies, how many trials, which metric
 * of which model, how many at once, and the sampler's and pruner's settings. */
#include <string.h>
#include <unistd.h>

#include "experiments/experiment.h"
#include "experiments/study.h"

int dr_study_metric_maximize(const char *metric)
{
    const char *const lower_is_better[] = {"brier", "log_loss", "ece", "hosmer_lemeshow", "psi"};
    for (size_t i = 0; i < sizeof lower_is_better / sizeof *lower_is_better; i++)
        if (strcmp(metric, lower_is_better[i]) == 0)
            return 0;
    return 1;
}

int dr_study_requested(const dr_config *cfg)
{
    return dr_config_type_of(cfg, "search") == DR_CONFIG_TABLE || dr_config_type_of(cfg, "sensitivity") == DR_CONFIG_TABLE;
}

static const char *const dr_directions[] = {"maximize", "minimize", NULL};
static const char *const dr_pruners[] = {"none", "median", "asha", NULL};

static dr_status dr_read_common(dr_config *cfg, dr_study_settings *st)
{
    char k[64];
    const char *sec = st->section, *direction, *pruner;
    static const char *model_names[DR_MAX_MODELS + 2];
    int n = 0;
    for (; dr_model_names[n]; n++)
        model_names[n] = dr_model_names[n];
    model_names[n] = "ensemble";
    model_names[n + 1] = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
#define KEY(name) (snprintf(k, sizeof k, "%s." name, sec), k)
    DR_TRY(dr_config_string(cfg, KEY("model"), "hybrid", model_names, &st->model));
    DR_TRY(dr_config_string(cfg, KEY("metric"), "auc", dr_result_columns, &st->metric));
    DR_TRY(dr_config_string(cfg, KEY("direction"), dr_study_metric_maximize(st->metric) ? "maximize" : "minimize",
                            dr_directions, &direction));
    st->maximize = strcmp(direction, "maximize") == 0;
    /* One thread per trial and a trial per core: the values of a trial can
     * depend on its thread count in the last bits (OpenBLAS picks kernels by
     * threads), so the default must not follow the number of workers. */
    DR_TRY(dr_config_int(cfg, KEY("workers"), (int)(cores < 1 ? 1 : cores > 64 ? 64 : cores), 1, 256, &st->workers));
    DR_TRY(dr_config_int(cfg, KEY("threads_per_trial"), 1, 1, 1024, &st->threads));
    DR_TRY(dr_config_float(cfg, KEY("timeout"), 0.0, 0.0, 1e9, &st->timeout));
    DR_TRY(dr_config_string(cfg, KEY("pruner"), "none", dr_pruners, &pruner));
    st->pruner.kind = strcmp(pruner, "median") == 0 ? DR_PRUNER_MEDIAN
                      : strcmp(pruner, "asha") == 0 ? DR_PRUNER_ASHA : DR_PRUNER_NONE;
    DR_TRY(dr_config_int(cfg, KEY("pruner_startup_trials"), 5, 0, 100000, &st->pruner.startup));
    DR_TRY(dr_config_int(cfg, KEY("pruner_warmup_steps"), 0, 0, 100000, &st->pruner.warmup));
    DR_TRY(dr_config_int(cfg, KEY("asha_reduction_factor"), 4, 2, 100, &st->pruner.reduction));
    DR_TRY(dr_config_int(cfg, KEY("asha_min_resource"), 0, 0, 100000, &st->pruner.min_resource));
    if (st->pruner.kind != DR_PRUNER_NONE && (strcmp(st->metric, "auc") != 0 || !st->maximize))
        return dr_error(DR_ERR_INVALID, "%s: %s.pruner = \"%s\" compares the per-epoch validation AUC, so it needs "
                        "%s.metric = \"auc\" maximized", dr_config_where(cfg, KEY("pruner")), sec, pruner, sec);
    static const char *const networks[] = {"hybrid", "logistic", "mlp", "svm"};
    int network = 0;
    for (int i = 0; i < 4; i++)
        network |= strcmp(st->model, networks[i]) == 0;
    if (st->pruner.kind != DR_PRUNER_NONE && !network)
        return dr_error(DR_ERR_INVALID, "%s: %s.pruner needs a network's epochs (%s.model = \"%s\" has none)",
                        dr_config_where(cfg, KEY("pruner")), sec, sec, st->model);
    return DR_OK;
}

static dr_status dr_read_search(dr_config *cfg, dr_study_settings *st)
{
    DR_TRY(dr_config_int(cfg, "search.trials", 50, 1, 1000000, &st->trials));
    DR_TRY(dr_config_int(cfg, "search.lag", 7, 0, 1024, &st->lag));
    DR_TRY(dr_config_int64(cfg, "search.seed", 0, 0, INT64_MAX, &st->seed));
    DR_TRY(dr_config_int(cfg, "search.startup_trials", 10, 0, 1000000, &st->startup_trials));
    bool multivariate;
    DR_TRY(dr_config_bool(cfg, "search.multivariate", true, &multivariate));
    st->multivariate = multivariate;
    bool refit;
    DR_TRY(dr_config_bool(cfg, "search.refit", false, &refit));
    st->refit = refit;
    return dr_search_space_read(cfg, "search.space", &st->space);
}

static dr_status dr_read_sensitivity(dr_config *cfg, dr_study_settings *st)
{
    static const char *const modes[] = {"grid", "one_at_a_time", NULL};
    const char *mode, *seed_key;
    DR_TRY(dr_config_string(cfg, "sensitivity.mode", "grid", modes, &mode));
    DR_TRY(dr_config_string(cfg, "sensitivity.seed_key", "train.seed", NULL, &seed_key));
    if (strcmp(seed_key, "train.seed") != 0)
        return dr_error(DR_ERR_UNSUPPORTED, "%s: sensitivity.seed_key: only \"train.seed\" is repeated over so far",
                        dr_config_where(cfg, "sensitivity.seed_key"));
    const int *seeds = NULL;
    int n = 0;
    int64_t def_seed;
    DR_TRY(dr_config_int64(cfg, "train.seed", 42, 0, INT64_MAX, &def_seed));
    DR_TRY(dr_config_int_list(cfg, "sensitivity.seeds", (const int[]){(int)def_seed}, 1, 0, 2147483647, 1, 1000,
                              &seeds, &n));
    static int64_t seeds64[1000];
    for (int i = 0; i < n; i++)
        seeds64[i] = seeds[i];
    st->seeds = seeds64;
    st->n_seeds = n;
    DR_TRY(dr_search_space_read_grid(cfg, "sensitivity.grid", &st->space));
    if (dr_search_space_find(&st->space, "train.seed") >= 0)
        return dr_error(DR_ERR_INVALID, "%s: train.seed is what each cell repeats over: list the seeds in "
                        "sensitivity.seeds", st->space.p[dr_search_space_find(&st->space, "train.seed")].where);
    if (st->pruner.kind != DR_PRUNER_NONE)
        return dr_error(DR_ERR_INVALID, "%s: a sensitivity grid measures every cell: no pruner",
                        dr_config_where(cfg, "sensitivity.pruner"));
    st->grid = strcmp(mode, "grid") == 0 ? 1 : 2;
    long cells = 1;
    if (st->grid == 1) {
        for (int j = 0; j < st->space.n && cells <= 1000000; j++)
            cells *= st->space.p[j].n_choices;
    } else {
        cells = 0;
        for (int j = 0; j < st->space.n; j++)
            cells += st->space.p[j].n_choices;
    }
    if (cells * n > 1000000)
        return dr_error(DR_ERR_INVALID, "%s: the grid has more than a million trials",
                        dr_config_where(cfg, "sensitivity.grid"));
    st->trials = (int)(cells * n);
    st->lag = 0; /* a grid's values do not depend on results */
    return DR_OK;
}

dr_status dr_study_settings_read(dr_config *cfg, dr_study_settings *st)
{
    memset(st, 0, sizeof *st);
    int search = dr_config_type_of(cfg, "search") == DR_CONFIG_TABLE;
    int sens = dr_config_type_of(cfg, "sensitivity") == DR_CONFIG_TABLE;
    if (search && sens) {
        /* one study per file; both sections over one key would also be ambiguous */
        dr_search_space a, b;
        DR_TRY(dr_search_space_read(cfg, "search.space", &a));
        DR_TRY(dr_search_space_read_grid(cfg, "sensitivity.grid", &b));
        for (int i = 0; i < b.n; i++)
            if (dr_search_space_find(&a, b.p[i].key) >= 0)
                return dr_error(DR_ERR_INVALID, "%s: \"%s\" is both searched ([search.space], %s) and swept "
                                "([sensitivity.grid]): one study varies a key once", b.p[i].where, b.p[i].key,
                                a.p[dr_search_space_find(&a, b.p[i].key)].where);
        return dr_error(DR_ERR_UNSUPPORTED, "%s: a file holds one study: [search] or [sensitivity], not both",
                        dr_config_where(cfg, "sensitivity"));
    }
    st->section = search ? "search" : "sensitivity";
    DR_TRY(dr_read_common(cfg, st));
    return search ? dr_read_search(cfg, st) : dr_read_sensitivity(cfg, st);
}
