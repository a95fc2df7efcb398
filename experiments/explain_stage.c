/* The explanations of one trained model ([explain], experiments/explain.h),
 * called by the model stage while the model is at hand: SHAP values of the
 * first explain.rows test loans and LIME for the first explain.lime_rows. */
#include <stdlib.h>
#include <string.h>

#include "experiments/expected_gradients.h"
#include "experiments/experiment.h"
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

/* LIME for the first explain.lime_rows test loans, and how often explain.lime_seeds
 * seeds agree with the first on the top 5 inputs. predict_for(ctx, loan i)
 * readies ctx for loan i (a graph model holds the loan's history fixed). */
static dr_status dr_lime_model(dr_experiment *e, int slot, dr_lime_predict_fn predict, void *ctx,
                               void (*predict_for)(void *ctx, long loan))
{
    dr_explain *ex = &e->explain;
    int d = e->n_selected, k = ex->lime_features < d ? ex->lime_features : d;
    ex->lime[slot] = calloc((size_t)(ex->lime_rows ? ex->lime_rows : 1), sizeof(dr_lime_result));
    ex->stability[slot] = calloc((size_t)(ex->lime_rows ? ex->lime_rows : 1), sizeof(double));
    if (!ex->lime[slot] || !ex->stability[slot])
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    dr_lime_stats st;
    DR_TRY(dr_lime_fit(e->train.m.x, e->train.m.n_rows, d, &st));
    dr_status s = DR_OK;
    for (long i = 0; i < ex->lime_rows && s == DR_OK; i++) {
        const float *loan = e->test.m.x + i * d;
        int agree = 0;
        if (predict_for)
            predict_for(ctx, i);
        for (int t = 0; t < ex->lime_seeds && s == DR_OK; t++) {
            dr_lime_result r;
            s = dr_lime_explain(&st, loan, predict, ctx, k, ex->lime_samples,
                                ex->seed + 1000003u * (uint64_t)t + (uint64_t)i, &r);
            if (t == 0)
                ex->lime[slot][i] = r;
            agree += s == DR_OK && dr_same_top5(&ex->lime[slot][i], &r);
        }
        ex->stability[slot][i] = (double)agree / ex->lime_seeds;
    }
    dr_lime_stats_free(&st);
    return s == DR_OK ? s : dr_error_context(s, "explain: LIME: ");
}

static dr_status dr_tree_prob(void *ctx, const float *x, long n, int d, float *prob)
{
    return dr_tree_predict(ctx, x, n, d, prob);
}

dr_status dr_explain_tree_model(dr_experiment *e, const dr_tree_model *m, int slot)
{
    dr_explain *ex = &e->explain;
    long n = ex->rows;
    ex->method[slot] = "TreeSHAP";
    ex->phi[slot] = malloc((size_t)(n * (e->n_selected + 1)) * sizeof(float));
    ex->margin[slot] = malloc((size_t)n * sizeof(float));
    if (!ex->phi[slot] || !ex->margin[slot])
        return dr_error(DR_ERR_NOMEM, "explain: out of host memory for %ld rows", n);
    DR_TRY(dr_tree_shap(m, e->test.m.x, n, e->n_selected, ex->phi[slot], ex->margin[slot]));
    return dr_lime_model(e, slot, dr_tree_prob, (void *)m, NULL);
}

/* LIME's view of a graph model: flat inputs perturbed, the loan's own history
 * (where the model reads one) repeated beside each sample. */
typedef struct dr_graph_lime {
    const dr_model_io *io;
    const dr_rows *test;
    long loan;
    float *seq, *y; /* [cap, T C], [cap] */
    long cap;
} dr_graph_lime;

static void dr_graph_lime_for(void *ctx, long loan) { ((dr_graph_lime *)ctx)->loan = loan; }

static dr_status dr_graph_prob(void *ctx, const float *x, long n, int d, float *prob)
{
    dr_graph_lime *c = ctx;
    const dr_rows *t = c->test;
    long S = t->seq ? (long)t->seq_len * t->seq_channels : 0;
    if (n > c->cap) {
        free(c->seq), free(c->y);
        c->seq = malloc((size_t)(n * (S ? S : 1)) * sizeof(float));
        c->y = calloc((size_t)n, sizeof(float));
        c->cap = c->seq && c->y ? n : 0;
        if (!c->cap)
            return dr_error(DR_ERR_NOMEM, "explain: out of host memory");
    }
    for (long i = 0; i < n && S; i++)
        memcpy(c->seq + i * S, t->seq + c->loan * S, (size_t)S * sizeof(float));
    dr_rows rows = {.n = n, .n_features = d, .x = x, .y = c->y, .seq = S ? c->seq : NULL,
                    .seq_len = t->seq_len, .seq_channels = t->seq_channels};
    return dr_predict(c->io, &rows, prob, NULL);
}

dr_status dr_explain_graph_model(dr_experiment *e, const dr_model_io *io, const dr_rows *train, const dr_rows *test,
                                 int slot)
{
    dr_explain *ex = &e->explain;
    dr_eg_result r;
    ex->method[slot] = "expected gradients";
    DR_TRY(dr_expected_gradients(io, test, ex->rows, train, ex->background, ex->samples, ex->seed, &r));
    ex->phi[slot] = r.phi;
    ex->phi_seq[slot] = r.phi_seq;
    ex->margin[slot] = r.logit;
    dr_graph_lime lime = {.io = io, .test = test};
    dr_status s = dr_lime_model(e, slot, dr_graph_prob, &lime, dr_graph_lime_for);
    free(lime.seq), free(lime.y);
    return s;
}
