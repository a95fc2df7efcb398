/* The explanations of one trained model ([explain], experiments/explain.h),
 * called by the model stage while the model is at hand: SHAP values of the
 * first explain.rows test loans (explain.kernel_rows with Kernel SHAP), LIME
 * for the first explain.lime_rows, and, for a member of an explained
 * ensemble, its Kernel SHAP values on the probability scale, which the
 * ensemble stage weighs into the ensemble's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "experiments/expected_gradients.h"
#include "experiments/experiment.h"
#include "models/platt.h"
#include "models/trees.h"

/* 1 when the top 5 inputs of a and b are the same set. */
static int dr_same_top5(const dr_lime_result *a, const dr_lime_result *b)
{
    int k = a->k < 5 ? a->k : 5, same = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            same += a->feature[i] == b->feature[j];
    return same == k;
}

/* LIME's predictions, recorded for a member of an explained ensemble or
 * replayed (blended) for the ensemble: the perturbations depend on the loan and
 * the seed only, so call c of every model sees the same samples. */
typedef struct dr_lime_tap {
    dr_lime_predict_fn predict; /* NULL: replay */
    void *ctx;
    float *store; /* [calls, samples], or NULL */
    long calls;
} dr_lime_tap;

static dr_status dr_lime_tapped(void *ctx, const float *x, long n, int d, float *prob)
{
    dr_lime_tap *t = ctx;
    float *at = t->store ? t->store + t->calls++ * n : NULL;
    if (!t->predict) {
        memcpy(prob, at, (size_t)n * sizeof *prob);
        return DR_OK;
    }
    DR_TRY(t->predict(t->ctx, x, n, d, prob));
    if (at)
        memcpy(at, prob, (size_t)n * sizeof *prob);
    return DR_OK;
}

/* LIME for the first explain.lime_rows test loans into the slot of `name`, and
 * how often explain.lime_seeds seeds agree with the first on the top 5 inputs;
 * a member of an explained ensemble keeps its predictions for the ensemble's.
 * predict NULL replays `replay` (the ensemble: its members' predictions,
 * blended). predict_for(ctx, loan i) readies ctx for loan i (a graph model
 * holds the loan's history fixed). */
static dr_status dr_lime_model(dr_experiment *e, const char *name, dr_lime_predict_fn predict, void *ctx,
                               void (*predict_for)(void *ctx, long loan), float *replay)
{
    dr_explain *ex = &e->explain;
    int slot = dr_explain_slot(ex, name), member = dr_explain_member(ex, name);
    if ((slot < 0 && member < 0) || ex->lime_rows == 0)
        return DR_OK;
    int d = e->n_selected, k = ex->lime_features < d ? ex->lime_features : d;
    long calls = ex->lime_rows * ex->lime_seeds;
    dr_lime_tap tap = {.predict = predict, .ctx = ctx, .store = replay};
    if (member >= 0) {
        tap.store = ex->member_lime[member] = malloc((size_t)(calls * ex->lime_samples) * sizeof(float));
        if (!tap.store)
            return dr_error(DR_ERR_NOMEM, "explain: out of host memory for %s's LIME predictions", name);
    }
    if (slot >= 0) {
        ex->lime[slot] = calloc((size_t)ex->lime_rows, sizeof(dr_lime_result));
        ex->stability[slot] = calloc((size_t)ex->lime_rows, sizeof(double));
        if (!ex->lime[slot] || !ex->stability[slot])
            return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    }
    double t0 = dr_now();
    if (!ex->lime_stats.n_bins) /* the training rows' bins, the same for every model */
        DR_TRY(dr_lime_fit(e->train.m.x, e->train.m.n_rows, d, &ex->lime_stats));
    dr_status s = DR_OK;
    for (long i = 0; i < ex->lime_rows && s == DR_OK; i++) {
        const float *loan = e->test.m.x + i * d;
        int agree = 0;
        dr_lime_result first;
        if (predict_for)
            predict_for(ctx, i);
        for (int t = 0; t < ex->lime_seeds && s == DR_OK; t++) {
            dr_lime_result r;
            s = dr_lime_explain(&ex->lime_stats, loan, dr_lime_tapped, &tap, k, ex->lime_samples,
                                ex->seed + 1000003u * (uint64_t)t + (uint64_t)i, &r);
            if (t == 0)
                first = r;
            agree += s == DR_OK && dr_same_top5(&first, &r);
        }
        if (slot >= 0 && s == DR_OK) {
            ex->lime[slot][i] = first;
            ex->stability[slot][i] = (double)agree / ex->lime_seeds;
        }
    }
    if (s != DR_OK)
        return dr_error_context(s, "explain: LIME: ");
    dr_run_log(&e->run, "%s: LIME of %ld test loans x %d seeds in %.2f s%s\n", name, ex->lime_rows, ex->lime_seeds,
               dr_now() - t0, slot >= 0 ? "" : " (for the ensemble)");
    return DR_OK;
}

/* Rows fed to a model by the explanations, grown as needed: inputs, histories,
 * labels (unused, zero), and the model's margins and probabilities. */
typedef struct dr_scratch {
    float *x, *seq, *y, *margin, *prob;
    long cap;
} dr_scratch;

static dr_status dr_scratch_reserve(dr_scratch *c, long n, int d, long S)
{
    if (n <= c->cap)
        return DR_OK;
    free(c->x), free(c->seq), free(c->y), free(c->margin), free(c->prob);
    c->x = malloc((size_t)(n * (d ? d : 1)) * sizeof(float));
    c->seq = malloc((size_t)(n * (S ? S : 1)) * sizeof(float));
    c->y = calloc((size_t)n, sizeof(float));
    c->margin = malloc((size_t)n * sizeof(float));
    c->prob = malloc((size_t)n * sizeof(float));
    c->cap = c->x && c->seq && c->y && c->margin && c->prob ? n : 0;
    return c->cap ? DR_OK : dr_error(DR_ERR_NOMEM, "explain: out of host memory for %ld rows", n);
}

static void dr_scratch_free(dr_scratch *c)
{
    free(c->x), free(c->seq), free(c->y), free(c->margin), free(c->prob);
}

/* Slot `slot` readied for n loans of `method`: phi [n, d + 1], margin [n] and,
 * with seq_cols > 0, the history's values [n, seq_cols]. */
static dr_status dr_slot_alloc(dr_experiment *e, int slot, const char *method, long n, int seq_cols)
{
    dr_explain *ex = &e->explain;
    ex->method[slot] = method;
    ex->n[slot] = n;
    ex->seq_cols[slot] = seq_cols;
    ex->phi[slot] = malloc((size_t)(n * (e->n_selected + 1)) * sizeof(float));
    ex->phi_seq[slot] = seq_cols ? malloc((size_t)(n * seq_cols) * sizeof(float)) : NULL;
    ex->margin[slot] = malloc((size_t)n * sizeof(float));
    if (!ex->phi[slot] || (seq_cols && !ex->phi_seq[slot]) || !ex->margin[slot])
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory for %ld loans", n);
    return DR_OK;
}

/* --- Kernel SHAP ------------------------------------------------------------------- */

/* A model's log-odds (the SVM: its margin) and probability for rows. */
typedef dr_status (*dr_scores_fn)(void *model, const dr_rows *rows, float *margin, float *prob);

/* Kernel SHAP's view of a model: composites of the loan and background points,
 * each point's history that of its nearest training row. Players: the inputs,
 * then the history as one (never varying for a model that reads none). */
typedef struct dr_kernel_ctx {
    const dr_experiment *e;
    const float *loan, *loan_seq;
    long S; /* history values per loan the model reads, or 0 */
    dr_scores_fn scores;
    void *model;
    dr_scratch rows;
} dr_kernel_ctx;

static dr_status dr_kernel_model(void *ctx, const uint8_t *take, const long *point, long n, double *out)
{
    dr_kernel_ctx *c = ctx;
    const dr_experiment *e = c->e;
    const dr_kshap_background *bg = &e->explain.bg;
    int d = e->n_selected, P = d + 1;
    long S = c->S;
    dr_scratch *r = &c->rows;
    DR_TRY(dr_scratch_reserve(r, n, d, S));
    for (long i = 0; i < n; i++) {
        const uint8_t *t = take + i * P;
        const float *b = bg->x + point[i] * d;
        for (int j = 0; j < d; j++)
            r->x[i * d + j] = t[j] ? c->loan[j] : b[j];
        if (S)
            memcpy(r->seq + i * S, t[d] ? c->loan_seq : e->train.seq + bg->nearest[point[i]] * S,
                   (size_t)S * sizeof(float));
    }
    dr_rows rows = {.n = n, .n_features = d, .x = r->x, .y = r->y, .seq = S ? r->seq : NULL,
                    .seq_len = S ? e->seq_stats.T : 0, .seq_channels = S ? e->seq_stats.n_channels : 0};
    DR_TRY(c->scores(c->model, &rows, r->margin, r->prob));
    for (long i = 0; i < n; i++)
        out[2 * i] = r->margin[i], out[2 * i + 1] = r->prob[i];
    return DR_OK;
}

/* Players whose loan value differs from some background point's. */
static void dr_varying(const dr_experiment *e, const float *loan, const float *loan_seq, long S, uint8_t *varying)
{
    const dr_kshap_background *bg = &e->explain.bg;
    int d = e->n_selected;
    memset(varying, 0, (size_t)d + 1);
    for (long b = 0; b < bg->k; b++) {
        for (int j = 0; j < d; j++) {
            float u = loan[j], v = bg->x[b * d + j];
            varying[j] |= u != v && !(isnan(u) && isnan(v));
        }
        if (S)
            varying[d] |= memcmp(loan_seq, e->train.seq + bg->nearest[b] * S, (size_t)S * sizeof(float)) != 0;
    }
}

/* Kernel SHAP of the model `name` for the first explain.kernel_rows test loans:
 * on its log-odds into its slot (explain.method = "kernel"), on the
 * probability scale for the ensemble when it is a member. reads_history: the
 * model takes the loans' histories. */
static dr_status dr_kernel_explain(dr_experiment *e, const char *name, dr_scores_fn scores, void *model,
                                   int reads_history)
{
    dr_explain *ex = &e->explain;
    int slot = ex->kernel ? dr_explain_slot(ex, name) : -1, member = dr_explain_member(ex, name);
    if (slot < 0 && member < 0)
        return DR_OK;
    int d = e->n_selected, P = d + 1;
    long n = ex->kernel_rows, S = reads_history ? (long)e->seq_stats.T * e->seq_stats.n_channels : 0;
    if (!ex->bg.k)
        DR_TRY(dr_kshap_kmeans(e->train.m.x, e->train.m.n_rows, d, ex->kernel_background, ex->seed, &ex->bg));
    if (slot >= 0)
        DR_TRY(dr_slot_alloc(e, slot, "Kernel SHAP", n, S ? 1 : 0));
    if (member >= 0) {
        ex->member_history[member] = S != 0;
        ex->member_phi[member] = malloc((size_t)(n * (P + 1)) * sizeof(double));
        ex->member_prob[member] = malloc((size_t)n * sizeof(double));
        if (!ex->member_phi[member] || !ex->member_prob[member])
            return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    }
    double t0 = dr_now();
    dr_kernel_ctx c = {.e = e, .S = S, .scores = scores, .model = model};
    uint8_t *varying = malloc((size_t)P);
    double *phi = malloc((size_t)(2 * (P + 1)) * sizeof *phi), fx[2];
    dr_status s = varying && phi ? DR_OK : dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    for (long i = 0; i < n && s == DR_OK; i++) {
        c.loan = e->test.m.x + i * d;
        c.loan_seq = S ? e->test.seq + i * S : NULL;
        dr_varying(e, c.loan, c.loan_seq, S, varying);
        dr_kshap_game g = {.players = P, .n_out = 2, .varying = varying, .bg = &ex->bg, .f = dr_kernel_model,
                           .ctx = &c};
        /* one design per loan, whichever model: the seed is the loan's */
        s = dr_kernel_shap(&g, ex->kernel_samples, ex->seed + 7919u * (uint64_t)i, phi, fx);
        if (s == DR_OK && slot >= 0) {
            for (int j = 0; j < d; j++)
                ex->phi[slot][i * P + j] = (float)phi[j];
            ex->phi[slot][i * P + d] = (float)phi[P];
            if (S)
                ex->phi_seq[slot][i] = (float)phi[d];
            ex->margin[slot][i] = (float)fx[0];
        }
        if (s == DR_OK && member >= 0) {
            memcpy(ex->member_phi[member] + i * (P + 1), phi + P + 1, (size_t)(P + 1) * sizeof *phi);
            ex->member_prob[member][i] = fx[1];
        }
    }
    dr_scratch_free(&c.rows);
    free(varying), free(phi);
    if (s != DR_OK)
        return dr_error_context(s, "explain: Kernel SHAP of %s: ", name);
    dr_run_log(&e->run, "%s: Kernel SHAP of %ld test loans%s in %.2f s\n", name, n,
               slot >= 0 ? "" : " (for the ensemble)", dr_now() - t0);
    return DR_OK;
}

/* LIME of the ensemble: its members' recorded predictions, blended. */
static dr_status dr_lime_ensemble(dr_experiment *e, const char *const *members, const double *weights, int k)
{
    dr_explain *ex = &e->explain;
    long n = ex->lime_rows * ex->lime_seeds * ex->lime_samples;
    if (n == 0)
        return DR_OK;
    double *sum = calloc((size_t)n, sizeof *sum);
    float *blend = malloc((size_t)n * sizeof *blend);
    dr_status s = sum && blend ? DR_OK : dr_error(DR_ERR_NOMEM, "explain: out of host memory for LIME");
    for (int m = 0; m < k && s == DR_OK; m++) {
        const float *p = ex->member_lime[dr_explain_member(ex, members[m])];
        DR_ASSERT(p);
        for (long i = 0; i < n; i++)
            sum[i] += weights[m] * p[i];
    }
    for (long i = 0; i < n && s == DR_OK; i++)
        blend[i] = (float)sum[i];
    if (s == DR_OK)
        s = dr_lime_model(e, "ensemble", NULL, NULL, NULL, blend);
    free(sum), free(blend);
    return s;
}

dr_status dr_explain_ensemble(dr_experiment *e, const char *const *members, const double *weights, int k)
{
    dr_explain *ex = &e->explain;
    int slot = dr_explain_slot(ex, "ensemble"), d = e->n_selected, P = d + 1;
    if (slot < 0 || e->trial)
        return DR_OK;
    long n = ex->kernel_rows;
    double *sum = calloc((size_t)(n * (P + 1)), sizeof *sum), *prob = calloc((size_t)n, sizeof *prob);
    if (!sum || !prob) {
        free(sum), free(prob);
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    }
    int history = 0;
    for (int m = 0; m < k; m++) {
        int i = dr_explain_member(ex, members[m]);
        DR_ASSERT(i >= 0 && ex->member_phi[i]); /* every member was trained and explained */
        history |= ex->member_history[i];
        for (long r = 0; r < n; r++) {
            for (int j = 0; j <= P; j++)
                sum[r * (P + 1) + j] += weights[m] * ex->member_phi[i][r * (P + 1) + j];
            prob[r] += weights[m] * ex->member_prob[i][r];
        }
    }
    ex->scale[slot] = "probability";
    dr_status s = dr_slot_alloc(e, slot, "Kernel SHAP", n, history);
    for (long r = 0; r < n && s == DR_OK; r++) {
        for (int j = 0; j < d; j++)
            ex->phi[slot][r * P + j] = (float)sum[r * (P + 1) + j];
        ex->phi[slot][r * P + d] = (float)sum[r * (P + 1) + P];
        if (history)
            ex->phi_seq[slot][r] = (float)sum[r * (P + 1) + d];
        ex->margin[slot][r] = (float)prob[r];
    }
    free(sum), free(prob);
    return s == DR_OK ? dr_lime_ensemble(e, members, weights, k) : s;
}

/* --- the models ---------------------------------------------------------------------- */

static dr_status dr_tree_prob(void *ctx, const float *x, long n, int d, float *prob)
{
    return dr_tree_predict(ctx, x, n, d, prob);
}

/* One prediction pass: the libraries' probability is the sigmoid of the margin. */
static dr_status dr_tree_scores(void *model, const dr_rows *rows, float *margin, float *prob)
{
    DR_TRY(dr_tree_margin(model, rows->x, rows->n, rows->n_features, margin));
    for (long i = 0; i < rows->n; i++)
        prob[i] = (float)(1 / (1 + exp(-(double)margin[i])));
    return DR_OK;
}

/* explain.interaction_rows of the model's SHAP interaction values; a library
 * that has none (LightGBM) says so in the log and the run goes on. */
static dr_status dr_tree_interactions(dr_experiment *e, const char *name, const dr_tree_model *m, int slot)
{
    dr_explain *ex = &e->explain;
    long P = e->n_selected + 1, n = ex->interaction_rows;
    if (!n)
        return DR_OK;
    if (!(ex->interaction[slot] = malloc((size_t)(n * P * P) * sizeof(float))))
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory for %ld loans' interaction values", n);
    dr_status s = dr_tree_shap_interactions(m, e->test.m.x, n, e->n_selected, ex->interaction[slot]);
    if (s != DR_ERR_UNSUPPORTED)
        return s;
    dr_run_log(&e->run, "%s: no SHAP interaction values (%s)\n", name, dr_last_error());
    free(ex->interaction[slot]);
    ex->interaction[slot] = NULL;
    return DR_OK;
}

dr_status dr_explain_tree(dr_experiment *e, const char *name, const dr_tree_model *m)
{
    dr_explain *ex = &e->explain;
    int slot = dr_explain_slot(ex, name);
    DR_TRY(dr_kernel_explain(e, name, dr_tree_scores, (void *)m, 0));
    if (slot >= 0 && !ex->kernel) {
        long n = ex->rows;
        double t0 = dr_now();
        DR_TRY(dr_slot_alloc(e, slot, "TreeSHAP", n, 0));
        DR_TRY(dr_tree_shap(m, e->test.m.x, n, e->n_selected, ex->phi[slot], ex->margin[slot]));
        dr_run_log(&e->run, "%s: TreeSHAP of %ld test loans in %.3f s\n", name, n, dr_now() - t0);
        DR_TRY(dr_tree_interactions(e, name, m, slot));
    }
    return dr_lime_model(e, name, dr_tree_prob, (void *)m, NULL, NULL);
}

/* A graph model as the explanations see it: its probabilities Platt-scaled
 * where the model stage scales them (the SVM). */
typedef struct dr_graph_model {
    const dr_model_io *io;
    const double *platt; /* A, B, or NULL */
} dr_graph_model;

static dr_status dr_graph_scores(void *model, const dr_rows *rows, float *margin, float *prob)
{
    const dr_graph_model *g = model;
    DR_TRY(dr_predict_logit(g->io, rows, prob, margin));
    if (g->platt)
        dr_platt_apply(prob, margin, rows->n, g->platt[0], g->platt[1]);
    return DR_OK;
}

/* LIME's view of a graph model: flat inputs perturbed, the loan's own history
 * (where the model reads one) repeated beside each sample. */
typedef struct dr_graph_lime {
    dr_graph_model *model;
    const dr_rows *test;
    long loan;
    dr_scratch rows; /* its histories, labels and margins */
} dr_graph_lime;

static void dr_graph_lime_for(void *ctx, long loan) { ((dr_graph_lime *)ctx)->loan = loan; }

static dr_status dr_graph_prob(void *ctx, const float *x, long n, int d, float *prob)
{
    dr_graph_lime *c = ctx;
    const dr_rows *t = c->test;
    long S = t->seq ? (long)t->seq_len * t->seq_channels : 0;
    dr_scratch *r = &c->rows;
    DR_TRY(dr_scratch_reserve(r, n, 0, S));
    for (long i = 0; i < n && S; i++)
        memcpy(r->seq + i * S, t->seq + c->loan * S, (size_t)S * sizeof(float));
    dr_rows rows = {.n = n, .n_features = d, .x = x, .y = r->y, .seq = S ? r->seq : NULL,
                    .seq_len = t->seq_len, .seq_channels = t->seq_channels};
    return dr_graph_scores(c->model, &rows, r->margin, prob);
}

dr_status dr_explain_graph(dr_experiment *e, const char *name, const dr_model_io *io, const dr_rows *train,
                           const dr_rows *test, const double *platt)
{
    dr_explain *ex = &e->explain;
    int slot = dr_explain_slot(ex, name);
    dr_graph_model model = {.io = io, .platt = platt};
    DR_TRY(dr_kernel_explain(e, name, dr_graph_scores, &model, test->seq != NULL));
    if (slot >= 0 && !ex->kernel) {
        dr_eg_result r;
        double t0 = dr_now();
        ex->method[slot] = "expected gradients";
        ex->n[slot] = ex->rows;
        DR_TRY(dr_expected_gradients(io, test, ex->rows, train, ex->background, ex->samples, ex->seed, &r));
        dr_run_log(&e->run, "%s: expected gradients of %ld test loans in %.2f s\n", name, ex->rows, dr_now() - t0);
        ex->phi[slot] = r.phi;
        ex->phi_seq[slot] = r.phi_seq;
        ex->seq_cols[slot] = r.phi_seq ? test->seq_channels : 0;
        ex->margin[slot] = r.logit;
    }
    dr_graph_lime lime = {.model = &model, .test = test};
    dr_status s = dr_lime_model(e, name, dr_graph_prob, &lime, dr_graph_lime_for, NULL);
    dr_scratch_free(&lime.rows);
    return s;
}
