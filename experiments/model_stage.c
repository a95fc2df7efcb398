/* The model stage: [model] and [train] for the hybrid network, [baselines] and
 * then the ensemble stage (experiments/ensemble_stage.c). Every model leaves its
 * validation and test probabilities in e->models; the ensemble blends the members
 * it names. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/auc.h"
#include "experiments/experiment.h"
#include "experiments/tracking.h"
#include "models/neural_baselines.h"
#include "models/platt.h"
#include "models/trees.h"

void dr_hybrid_shape(const dr_experiment *e, dr_hybrid_config *hc)
{
    hc->n_groups = e->n_groups;
    memcpy(hc->group_size, e->group_size, sizeof hc->group_size);
    if (e->has_seq) {
        hc->seq_len = e->seq_stats.T;
        hc->seq_channels = e->seq_stats.n_channels;
    }
}

dr_rows dr_rows_of(const dr_experiment *e, const dr_model_io *io, const dr_part *p)
{
    int seq = e->has_seq && io->seq.id >= 0;
    return (dr_rows){.n = p->m.n_rows, .n_features = p->m.n_features, .x = p->m.x,
                     .seq_len = seq ? e->seq_stats.T : 0, .seq_channels = seq ? e->seq_stats.n_channels : 0,
                     .seq = seq ? p->seq : NULL, .y = p->y};
}

/* [explain] for a trained graph model (not in a trial). */
static dr_status dr_explain_graph_model(dr_experiment *e, const char *name, const dr_model_io *io,
                                        const double *platt)
{
    dr_rows tr = dr_rows_of(e, io, &e->train), te = dr_rows_of(e, io, &e->test);
    return e->trial ? DR_OK : dr_explain_graph(e, name, io, &tr, &te, platt);
}

/* Trains a graph model with the [train] settings and predicts val and test. */
/* The output layer's bias ("head.b") starts at the log-odds that minimise the
 * weighted cross-entropy of a constant prediction, log(w_pos pi / (w_neg (1 - pi)))
 * for a training default rate pi, instead of near 0 (0.5): on a 5 % default rate
 * the first hundreds of Adam steps otherwise go to moving the bias, and with few
 * training rows early stopping can end a model before its weights learnt
 * anything (logistic regression stopped at validation AUC 0.60 on one split of
 * the bundled sample, where scikit-learn's reached 0.75). Not for the hinge loss,
 * whose optimum is no log-odds. A resumed run overwrites it from the checkpoint. */
static dr_status dr_init_head_bias(const dr_experiment *e, const dr_model_io *io, const dr_loss_params *loss)
{
    double pos = 0, n = (double)e->train.m.n_rows;
    for (long i = 0; i < e->train.m.n_rows; i++)
        pos += e->train.y[i];
    if (loss->hinge || pos == 0 || pos == n)
        return DR_OK;
    float logit = (float)log(loss->w_pos * pos / (loss->w_neg * (n - pos)));
    for (int i = 0; i < dr_graph_state_count(io->g, DR_STATE_PARAM); i++) {
        dr_state_tensor t;
        DR_TRY(dr_graph_state_get(io->g, DR_STATE_PARAM, i, &t));
        if (strcmp(t.name, "head.b") == 0 && t.numel == 1)
            return dr_graph_state_write(io->g, &t, &logit);
    }
    return dr_error(DR_ERR_INVALID, "the model has no output bias head.b");
}

static dr_status dr_fit_graph(dr_experiment *e, const char *name, const dr_model_io *io, dr_train_config tc,
                              const dr_loss_params *loss, const char *run_dir)
{
    DR_TRY(dr_init_head_bias(e, io, loss));
    if (e->trial && strcmp(e->trial->model, name) == 0) {
        tc.epoch_end = e->trial->epoch_end;
        tc.epoch_end_ctx = e->trial->ctx;
    }
    dr_rows tr = dr_rows_of(e, io, &e->train), va = dr_rows_of(e, io, &e->val), te = dr_rows_of(e, io, &e->test);
    dr_train_state st;
    dr_status s = dr_train(io, &tc, &tr, &va, run_dir, e->run.resumed, &st);
    if (s != DR_OK) {
        dr_train_state_free(&st);
        return dr_error_context(s, "training %s: ", name);
    }
    dr_run_log(&e->run, "%s: best validation AUC %.4f at epoch %d of %d\n", name, st.best_auc, st.best_epoch + 1,
               st.epoch);
    const dr_step_stats *ss = dr_graph_step_stats(io->g);
    if (dr_backend_has_step_graphs(e->be))
        dr_run_log(&e->run, "%s: %ld training steps replayed from a CUDA graph, %ld op by op%s%s\n", name,
                   ss->replayed, ss->eager, ss->failure[0] ? "; " : "", ss->failure);
    dr_train_state_free(&st);
    dr_model_result *r;
    DR_TRY(dr_add_result(e, name, &r));
    DR_TRY(dr_predict(io, &va, r->val, NULL));
    return dr_predict(io, &te, r->test, NULL);
}

/* The inputs of a graph model explained by expected gradients get gradients. */
static int dr_wants_input_gradients(const dr_experiment *e, const char *name)
{
    return dr_explain_slot(&e->explain, name) >= 0 && !e->explain.kernel && !e->trial;
}

/* How a training step runs, for the implementation lines. */
static const char *dr_step_impl(const dr_backend *be, const dr_train_config *tc)
{
    if (!dr_backend_has_step_graphs(be))
        return "op by op from the host";
    return tc->cuda_graphs ? "forward, backward and Adam replayed from one CUDA graph per batch size (train.cuda_graphs); "
                             "inputs queued from pinned memory, loss summed on the device"
                           : "op by op, queued without host waits (train.cuda_graphs = false); inputs queued from "
                             "pinned memory, loss summed on the device";
}

static dr_status dr_run_hybrid(dr_experiment *e, const dr_train_config *tc, dr_hybrid_config hc)
{
    dr_hybrid_shape(e, &hc);
    hc.input_gradients = dr_wants_input_gradients(e, "hybrid");
    dr_hybrid m;
    DR_TRY(dr_hybrid_build(&m, e->be, &hc, tc->seed, tc->batch_size));
    dr_run_log(&e->run, "hybrid network: %d branches, %ld parameters, LSTM over %s, on %s\n", hc.n_groups,
               dr_graph_param_count(m.g), e->has_seq ? "the repayment history" : "the branches' positions",
               dr_backend_describe(e->be));
    dr_run_log(&e->run, "kernels:\n%s  step       %s\n", dr_backend_kernels(e->be), dr_step_impl(e->be, tc));
    dr_model_io io = {.g = m.g, .x = m.x, .seq = m.seq, .y = m.y, .logit = m.logit, .prob = m.prob, .loss = m.loss};
    dr_train_config t = *tc;
    t.checkpoint_extra = dr_transform_write;
    t.checkpoint_extra_ctx = e;
    dr_status s = dr_fit_graph(e, "hybrid", &io, t, &hc.loss, e->trial ? NULL : e->run.dir);
    if (s == DR_OK)
        s = dr_explain_graph_model(e, "hybrid", &io, NULL);
    dr_hybrid_free(&m);
    return s;
}

/* Every model's settings, read whether or not the model is in baselines.models:
 * a key of a model left out of one run is still a known key. */
typedef struct dr_model_settings {
    dr_train_config train;
    dr_hybrid_config hybrid;
    dr_mlp_config mlp[3]; /* logistic regression, MLP, linear SVM */
    int mlp_epochs[3];
    double logistic_weight_decay, svm_weight_decay, neural_lr;
    int neural_patience;
    dr_tree_params tree[4];
} dr_model_settings;

static const char *const dr_tree_names[4] = {"xgboost", "lightgbm", "xgboost_leafwise", "random_forest"};
static const dr_tree_kind dr_tree_kinds[4] = {DR_TREE_XGBOOST, DR_TREE_LIGHTGBM, DR_TREE_LEAFWISE, DR_TREE_FOREST};

static dr_status dr_read_tree(dr_config *cfg, int i, uint64_t seed, dr_tree_params *p)
{
    const char *name = dr_tree_names[i];
    char key[96];
    double d;
    dr_tree_params_default(p, dr_tree_kinds[i]);
    snprintf(key, sizeof key, "baselines.%s_estimators", name);
    DR_TRY(dr_config_int(cfg, key, p->n_estimators, 1, 100000, &p->n_estimators));
    snprintf(key, sizeof key, "baselines.%s_max_depth", name);
    DR_TRY(dr_config_int(cfg, key, p->max_depth, 0, 64, &p->max_depth));
    if (p->max_leaves > 0) { /* the leaf-wise kinds */
        snprintf(key, sizeof key, "baselines.%s_num_leaves", name);
        DR_TRY(dr_config_int(cfg, key, p->max_leaves, 2, 131072, &p->max_leaves));
    }
    if (dr_tree_kinds[i] != DR_TREE_FOREST) {
        snprintf(key, sizeof key, "baselines.%s_eta", name);
        DR_TRY(dr_config_float(cfg, key, p->eta, 1e-4, 1.0, &d));
        p->eta = (float)d;
        snprintf(key, sizeof key, "baselines.%s_early_stopping", name);
        DR_TRY(dr_config_int(cfg, key, p->early_stopping_rounds, 0, 100000, &p->early_stopping_rounds));
    }
    p->seed = seed;
    /* the process's thread count (OMP_NUM_THREADS): a study gives each trial's
     * process its share of the cores */
    p->nthread = omp_get_max_threads();
    return DR_OK;
}

static dr_status dr_read_settings(dr_config *cfg, long n_train, dr_model_settings *ms)
{
    DR_TRY(dr_train_config_read(cfg, &ms->train));
    DR_TRY(dr_hybrid_config_read(cfg, &ms->hybrid));
    for (int k = 0; k < 3; k++)
        ms->mlp[k] = (dr_mlp_config){.loss = {.a = 1.0f, .gamma = 0.0f, .w_pos = 1.0f, .w_neg = 1.0f, .hinge = k == 2}};
    const int *h;
    double d;
    DR_TRY(dr_config_int_list(cfg, "baselines.mlp_hidden", (const int[]){128, 64}, 2, 1, 65536, 1, 4, &h,
                              &ms->mlp[1].n_hidden));
    memcpy(ms->mlp[1].hidden, h, (size_t)ms->mlp[1].n_hidden * sizeof *h);
    DR_TRY(dr_config_float(cfg, "baselines.mlp_dropout", 0.3, 0.0, 0.95, &d));
    ms->mlp[1].dropout = (float)d;
    DR_TRY(dr_config_int(cfg, "baselines.logistic_epochs", 30, 1, 100000, &ms->mlp_epochs[0]));
    DR_TRY(dr_config_int(cfg, "baselines.mlp_epochs", 30, 1, 100000, &ms->mlp_epochs[1]));
    DR_TRY(dr_config_int(cfg, "baselines.svm_epochs", 30, 1, 100000, &ms->mlp_epochs[2]));
    /* L2 weight decay lambda = 1 / (C n) for C = 1: scikit-learn's default
     * LogisticRegression; unregularised, it overfits the one-hot columns of a
     * small training set */
    DR_TRY(dr_config_float(cfg, "baselines.logistic_weight_decay", 1.0 / (double)(n_train > 0 ? n_train : 1), 0.0,
                           1.0, &ms->logistic_weight_decay));
    /* the SVM's C, as L2 weight decay on the margin: lambda = 1 / (C n) */
    DR_TRY(dr_config_float(cfg, "baselines.svm_weight_decay", 1e-3, 0.0, 1.0, &ms->svm_weight_decay));
    /* Linear models converge slowly at the network's lr and give up early under
     * its patience; they get their own. */
    DR_TRY(dr_config_float(cfg, "baselines.neural_lr", 1e-2, 1e-7, 10.0, &ms->neural_lr));
    DR_TRY(dr_config_int(cfg, "baselines.neural_patience", 10, 1, 100000, &ms->neural_patience));
    for (int i = 0; i < 4; i++)
        DR_TRY(dr_read_tree(cfg, i, ms->train.seed, &ms->tree[i]));
    return DR_OK;
}

static const char *const dr_neural_names[3] = {"logistic", "mlp", "svm"};

/* Logistic regression (k = 0), the MLP (1) or the linear SVM (2, Platt-scaled on
 * validation) with the [train] optimiser. */
static dr_status dr_run_neural(dr_experiment *e, const dr_model_settings *ms, int k)
{
    dr_train_config t = ms->train;
    t.epochs = ms->mlp_epochs[k];
    t.progress = 0;
    t.lr = ms->neural_lr;
    t.early_stop_patience = ms->neural_patience;
    t.plateau_patience = ms->neural_patience / 2;
    dr_mlp_config mc = ms->mlp[k];
    mc.input_gradients = dr_wants_input_gradients(e, dr_neural_names[k]);
    if (k == 0)
        t.weight_decay = ms->logistic_weight_decay;
    if (k == 2) {
        /* hinge loss on imbalanced classes: weigh each class by its inverse share */
        double pos = 0;
        for (long i = 0; i < e->train.m.n_rows; i++)
            pos += e->train.y[i];
        mc.loss.w_pos = (float)((double)e->train.m.n_rows / (2.0 * pos));
        mc.loss.w_neg = (float)((double)e->train.m.n_rows / (2.0 * ((double)e->train.m.n_rows - pos)));
        t.weight_decay = ms->svm_weight_decay;
    }
    dr_model_io io;
    DR_TRY(dr_mlp_build(&io, e->be, &mc, e->n_selected, t.seed, t.batch_size));
    dr_status s = dr_fit_graph(e, dr_neural_names[k], &io, t, &mc.loss, NULL);
    double platt[2];
    if (s == DR_OK && k == 2) { /* the SVM's outputs are its margins */
        dr_model_result *r = &e->models[e->n_models - 1];
        s = dr_platt_fit(r->val, e->val.y, e->val.m.n_rows, &platt[0], &platt[1]);
        if (s == DR_OK) {
            dr_platt_apply(r->val, r->val, e->val.m.n_rows, platt[0], platt[1]);
            dr_platt_apply(r->test, r->test, e->test.m.n_rows, platt[0], platt[1]);
            dr_run_log(&e->run, "svm: Platt scaling on validation, p = sigmoid(%.4f margin %+.4f)\n", platt[0],
                       platt[1]);
        }
    }
    if (s == DR_OK)
        s = dr_explain_graph_model(e, dr_neural_names[k], &io, k == 2 ? platt : NULL);
    dr_graph_free(io.g);
    return s;
}

static dr_status dr_run_tree(dr_experiment *e, int i, const dr_tree_params *p)
{
    const char *name = dr_tree_names[i];
    dr_tree_model *m;
    const dr_part *tr = &e->train, *va = &e->val;
    DR_TRY(dr_tree_train(&m, p, tr->m.x, tr->y, tr->m.n_rows, e->n_selected, va->m.x, va->y, va->m.n_rows));
    dr_tree_info info;
    dr_model_result *r;
    dr_status s = dr_tree_get_info(m, &info);
    if (s == DR_OK)
        s = dr_add_result(e, name, &r);
    if (s == DR_OK)
        s = dr_tree_predict(m, va->m.x, va->m.n_rows, e->n_selected, r->val);
    if (s == DR_OK)
        s = dr_tree_predict(m, e->test.m.x, e->test.m.n_rows, e->n_selected, r->test);
    if (s == DR_OK && !e->trial) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s%s", e->run.dir, name, dr_tree_file_ext(p->kind));
        s = dr_tree_save(m, path);
    }
    if (s == DR_OK) {
        char lib[64];
        dr_tree_library(p->kind, lib, sizeof lib);
        dr_run_log(&e->run, "%s (%s): %d rounds, kept %d, validation AUC %.4f\n", name, lib, info.rounds_trained,
                   info.best_iteration + 1, info.best_val_auc);
    }
    if (s == DR_OK && !e->trial)
        s = dr_explain_tree(e, name, m);
    dr_tree_free(m);
    return s;
}

/* A network that logistic regression beats on validation says so and why it
 * may be: on small or weakly structured data its parameters and few training
 * steps are no match for a convex fit. */
static dr_status dr_compare_with_logistic(dr_experiment *e)
{
    const dr_model_result *net = dr_find_result(e, "hybrid"), *lr = dr_find_result(e, "logistic");
    if (!net || !lr)
        return DR_OK;
    double a_net, a_lr;
    DR_TRY(dr_auc(net->val, e->val.y, e->val.m.n_rows, &a_net));
    DR_TRY(dr_auc(lr->val, e->val.y, e->val.m.n_rows, &a_lr));
    if (a_net < a_lr)
        dr_run_log(&e->run,
                   "note: the network's validation AUC %.4f is below logistic regression's %.4f. With %ld training "
                   "loans a network of this size is often outdone by a linear model: try a smaller one "
                   "(model.filters, model.lstm_units, model.fc), more epochs or a smaller batch "
                   "(train.epochs, train.batch_size), or rely on the ensemble, which weighs both\n",
                   a_net, a_lr, e->train.m.n_rows);
    return DR_OK;
}

dr_status dr_model_stage(dr_experiment *e)
{
    dr_model_settings ms;
    DR_TRY(dr_read_settings(e->cfg, e->train.m.n_rows, &ms));
    const char *const def[] = {"hybrid", "logistic", "mlp", "svm", "xgboost", "lightgbm", "random_forest"};
    const char *const *models;
    int n;
    DR_TRY(dr_config_string_list(e->cfg, "baselines.models", def, 7, dr_model_names, 1, 8, &models, &n));
    const char *const *members;
    int n_members;
    DR_TRY(dr_ensemble_settings(e, ms.train.seed, models, n, &members, &n_members));
    DR_TRY(dr_evaluation_read(e->cfg, &e->table, e->val.rows, e->val.m.n_rows, e->test.rows, e->test.m.n_rows,
                              &e->eval));
    DR_TRY(dr_explain_settings(e->cfg, models, n, members, n_members, e->train.m.n_rows, e->test.m.n_rows,
                               e->n_selected, e->has_seq, ms.train.seed, &e->explain));
    /* Every key has been read by now: an unknown one is a typo, and the run stops
     * before hours of training, not after them. */
    DR_TRY(dr_config_check_unused(e->cfg));
    e->checked = 1;
    if (e->trial && e->trial->check_only)
        return DR_OK;
    if (!e->trial)
        DR_TRY(dr_tracking_start(e));
    for (int i = 0; i < n; i++) {
        const char *m = models[i];
        dr_run_log(&e->run, "--- %s\n", m);
        dr_status s = DR_ERR_UNSUPPORTED;
        if (strcmp(m, "hybrid") == 0)
            s = dr_run_hybrid(e, &ms.train, ms.hybrid);
        for (int k = 0; k < 3; k++)
            if (strcmp(m, dr_neural_names[k]) == 0)
                s = dr_run_neural(e, &ms, k);
        for (int t = 0; t < 4; t++)
            if (strcmp(m, dr_tree_names[t]) == 0)
                s = dr_run_tree(e, t, &ms.tree[t]);
        DR_TRY(s);
    }
    DR_TRY(dr_compare_with_logistic(e));
    if (e->trial && strcmp(e->trial->model, "ensemble") != 0)
        return DR_OK; /* a trial scores one model */
    return dr_ensemble_stage(e, ms.train.seed);
}
