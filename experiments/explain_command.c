/* `run_experiment explain RUN_DIR [explain.key=value ...]` (experiments/experiment.h):
 * a finished run's saved models explained again, without training. The data
 * stage reruns from the run's resolved config.toml, and every explained model
 * must predict the run's test loans as predictions.h5 has them: a changed data
 * file or split is refused, not explained. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment.h"
#include "experiments/report_inputs.h"
#include "models/trees.h"

/* A mistyped key is refused: the run's [explain]
 * with the overrides, alone in a config, is read as the settings read it, and
 * anything left unread is unknown. */
static dr_status dr_check_overrides(dr_experiment *e, const char *const *overrides, int n,
                                    const char *const *trained, int n_trained, const char *const *members,
                                    int n_members)
{
    const dr_config_key *keys;
    int n_keys;
    dr_config *ov;
    DR_TRY(dr_config_keys(e->cfg, "explain", &keys, &n_keys));
    DR_TRY(dr_config_create(&ov));
    dr_status s = DR_OK;
    for (int i = 0; i < n_keys && s == DR_OK; i++) {
        const char *value;
        s = dr_config_value_toml(e->cfg, keys[i].path, -1, &value);
        if (s == DR_OK)
            s = dr_config_set_toml(ov, keys[i].path, value);
    }
    for (int i = 0; i < n && s == DR_OK; i++)
        s = dr_config_override(ov, overrides[i]);
    dr_explain ex = {0};
    if (s == DR_OK)
        s = dr_explain_settings(ov, trained, n_trained, members, n_members, e->train.m.n_rows, e->test.m.n_rows,
                                e->n_selected, e->has_seq, 0, &ex);
    if (s == DR_OK)
        s = dr_config_check_unused(ov);
    dr_explain_free(&ex);
    dr_config_free(ov);
    return s;
}

/* The run's test predictions of `name` into e->models, and the largest gap
 * between them and `now`, the loaded model's. */
static dr_status dr_saved_predictions(dr_experiment *e, const char *run_dir, const char *name, const float *now)
{
    char path[1100], key[96];
    snprintf(path, sizeof path, "%s/predictions.h5", run_dir);
    snprintf(key, sizeof key, "test/%s", name);
    dr_model_result *r;
    DR_TRY(dr_add_result(e, name, &r));
    dr_h5 *f;
    DR_TRY(dr_h5_open(&f, path));
    dr_status s = dr_h5_read_f32_into(f, key, r->test, e->test.m.n_rows);
    dr_h5_close(f);
    DR_TRY(s);
    double gap = 0;
    for (long i = 0; i < e->test.m.n_rows; i++)
        gap = fmax(gap, fabs((double)now[i] - r->test[i]));
    if (!(gap <= 1e-5))
        return dr_error(DR_ERR_INVALID, "%s: %s predicts the test loans up to %.3g away from %s/%s: the data or "
                        "the split are not the run's", run_dir, name, gap, path, key);
    return DR_OK;
}

static dr_status dr_explain_saved_tree(dr_experiment *e, const char *run_dir, dr_tree_kind kind, float *prob)
{
    const char *name = dr_tree_kind_name(kind);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s%s", run_dir, name, dr_tree_file_ext(kind));
    dr_tree_model *m;
    DR_TRY(dr_tree_load(&m, path));
    dr_status s = dr_tree_predict(m, e->test.m.x, e->test.m.n_rows, e->n_selected, prob);
    if (s == DR_OK)
        s = dr_saved_predictions(e, run_dir, name, prob);
    if (s == DR_OK)
        s = dr_explain_tree(e, name, m);
    dr_tree_free(m);
    return s;
}

/* The network with the best weights of its checkpoint. */
static dr_status dr_explain_saved_hybrid(dr_experiment *e, const char *run_dir, float *prob)
{
    dr_hybrid_config hc;
    dr_train_config tc;
    DR_TRY(dr_hybrid_config_read(e->cfg, &hc));
    DR_TRY(dr_train_config_read(e->cfg, &tc));
    dr_hybrid_shape(e, &hc);
    hc.input_gradients = !e->explain.kernel;
    char ckpt[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", run_dir);
    dr_hybrid m;
    DR_TRY(dr_hybrid_build(&m, e->be, &hc, tc.seed, tc.batch_size));
    dr_model_io io = {.g = m.g, .x = m.x, .seq = m.seq, .y = m.y, .logit = m.logit, .prob = m.prob, .loss = m.loss};
    dr_rows tr = dr_rows_of(e, &io, &e->train), te = dr_rows_of(e, &io, &e->test);
    dr_status s = dr_checkpoint_load_best(ckpt, m.g);
    if (s == DR_OK)
        s = dr_predict(&io, &te, prob, NULL);
    if (s == DR_OK)
        s = dr_saved_predictions(e, run_dir, "hybrid", prob);
    if (s == DR_OK)
        s = dr_explain_graph(e, "hybrid", &io, &tr, &te, NULL);
    dr_hybrid_free(&m);
    return s;
}

static dr_status dr_explain_saved(dr_experiment *e, const char *run_dir, const char *const *overrides, int n)
{
    const char *const *trained, *const *members;
    int n_trained, n_members;
    dr_train_config tc;
    DR_TRY(dr_train_config_read(e->cfg, &tc));
    DR_TRY(dr_config_string_list(e->cfg, "baselines.models", NULL, 0, dr_model_names, 1, DR_MAX_MODELS, &trained,
                                 &n_trained));
    DR_TRY(dr_ensemble_settings(e, tc.seed, trained, n_trained, &members, &n_members));
    /* the run's seed: with the run's settings, the run's explanations */
    DR_TRY(dr_explain_settings(e->cfg, trained, n_trained, members, n_members, e->train.m.n_rows, e->test.m.n_rows,
                               e->n_selected, e->has_seq, tc.seed, &e->explain));
    DR_TRY(dr_check_overrides(e, overrides, n, trained, n_trained, members, n_members));
    const dr_explain *ex = &e->explain;
    if (ex->n_models == 0)
        return dr_error(DR_ERR_INVALID, "explain.models is empty: name the models to explain, e.g. "
                        "'explain.models=[\"xgboost\"]'");
    float *prob = malloc((size_t)(e->test.m.n_rows ? e->test.m.n_rows : 1) * sizeof *prob);
    if (!prob)
        return dr_error(DR_ERR_NOMEM, "out of host memory");
    dr_status s = DR_OK;
    for (int i = 0; i < ex->n_models && s == DR_OK; i++) {
        const char *m = ex->model[i];
        int tree = -1;
        for (int k = DR_TREE_XGBOOST; k <= DR_TREE_LIGHTGBM; k++)
            tree = strcmp(m, dr_tree_kind_name((dr_tree_kind)k)) == 0 ? k : tree;
        if (strcmp(m, "hybrid") == 0)
            s = dr_explain_saved_hybrid(e, run_dir, prob);
        else if (tree >= 0)
            s = dr_explain_saved_tree(e, run_dir, (dr_tree_kind)tree, prob);
        else
            s = dr_error(DR_ERR_UNSUPPORTED, "\"%s\" is not saved in a run folder (the network's checkpoint and the "
                         "tree models are; %s): explain it in the run itself, with [explain]", m,
                         strcmp(m, "ensemble") == 0 ? "the ensemble's weights and some members are not"
                                                    : "logistic regression, the MLP and the SVM are not");
    }
    free(prob);
    return s;
}

dr_status dr_experiment_explain(const char *run_dir, const char *const *overrides, int n_overrides)
{
    dr_experiment e;
    memset(&e, 0, sizeof e);
    char path[1100], note[600];
    snprintf(path, sizeof path, "%s/config.toml", run_dir);
    dr_status s = dr_config_load(&e.cfg, path);
    for (int i = 0; i < n_overrides && s == DR_OK; i++)
        s = strncmp(overrides[i], "explain.", 8) == 0
                ? dr_config_override(e.cfg, overrides[i])
                : dr_error(DR_ERR_INVALID, "override '%s': explain RUN_DIR changes explain.* keys only", overrides[i]);
    if (s == DR_OK)
        s = dr_experiment_device(e.cfg, &e.be, note, sizeof note);
    if (s == DR_OK)
        s = dr_run_create(&e.run, run_dir, "explain");
    if (s == DR_OK)
        s = dr_run_save_inputs(&e.run, path, overrides, n_overrides);
    if (s == DR_OK && *note)
        dr_run_log(&e.run, "%s\n", note);
    if (s == DR_OK)
        dr_run_log(&e.run, "explaining the models of %s in %s\n", run_dir, e.run.dir);
    if (s == DR_OK)
        s = dr_data_stage(&e);
    if (s == DR_OK)
        s = dr_explain_saved(&e, run_dir, overrides, n_overrides);
    if (s == DR_OK)
        s = dr_write_explain(&e);
    if (s == DR_OK)
        dr_run_log(&e.run, "\nexplanations in %s\n", e.run.dir);
    else if (e.run.created)
        dr_run_discard(&e.run); /* nothing of a failed explanation is kept */
    if (s != DR_OK)
        dr_error_context(s, "explain %s: ", run_dir);
    dr_experiment_free(&e);
    return s;
}
