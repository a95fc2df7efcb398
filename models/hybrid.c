#include "models/hybrid.h"

#include <stdio.h>
#include <string.h>

#include "models/blocks.h"

/* conv -> BN -> ReLU, plus the block's input (projected by a 1x1 conv when the
 * channel count changes). */
static dr_status dr_residual_block(dr_graph *g, dr_value *out, dr_value x, int in_ch, int out_ch, int k,
                                   const char *prefix)
{
    char nm[48];
    dr_value c, b, r, skip = x;
    snprintf(nm, sizeof nm, "%s.conv", prefix);
    DR_TRY(dr_graph_conv1d(g, &c, x, out_ch, k, nm));
    snprintf(nm, sizeof nm, "%s.bn", prefix);
    DR_TRY(dr_graph_batchnorm(g, &b, c, nm));
    DR_TRY(dr_graph_relu(g, &r, b));
    if (in_ch != out_ch) {
        snprintf(nm, sizeof nm, "%s.proj", prefix);
        DR_TRY(dr_graph_conv1d(g, &skip, x, out_ch, 1, nm));
    }
    return dr_graph_add(g, out, r, skip);
}

static dr_status dr_check_config(const dr_hybrid_config *c)
{
    if (c->n_groups < 1 || c->n_groups > DR_HYBRID_MAX_GROUPS)
        return dr_error(DR_ERR_INVALID, "model: %d feature groups (1 to %d)", c->n_groups, DR_HYBRID_MAX_GROUPS);
    for (int i = 0; i < c->n_groups; i++)
        if (c->group_size[i] < 1)
            return dr_error(DR_ERR_INVALID, "model: feature group %d has no features", i);
    for (int i = 0; i < 3; i++)
        if (c->filters[i] < 1 || c->kernel[i] < 1)
            return dr_error(DR_ERR_INVALID, "model: conv layer %d has %d filters, kernel %d", i + 1, c->filters[i],
                            c->kernel[i]);
    if (c->pool < 1 || c->lstm_units < 1 || c->attention_dim < 1)
        return dr_error(DR_ERR_INVALID, "model: pool %d, lstm_units %d, attention_dim %d must be positive", c->pool,
                        c->lstm_units, c->attention_dim);
    if (c->n_fc < 0 || c->n_fc > DR_HYBRID_MAX_FC)
        return dr_error(DR_ERR_INVALID, "model: %d FC layers (0 to %d)", c->n_fc, DR_HYBRID_MAX_FC);
    if ((c->seq_len > 0) != (c->seq_channels > 0))
        return dr_error(DR_ERR_INVALID, "model: sequence of %d steps x %d channels", c->seq_len, c->seq_channels);
    return DR_OK;
}

static dr_status dr_hybrid_graph(dr_hybrid *m, const dr_hybrid_config *c)
{
    dr_graph *g = m->g;
    int nf = 0;
    for (int i = 0; i < c->n_groups; i++)
        nf += c->group_size[i];
    m->n_features = nf;
    dr_status (*input)(dr_graph *, dr_value *, const char *, int, const int *) =
        c->input_gradients ? dr_graph_input_differentiable : dr_graph_input;
    DR_TRY(input(g, &m->x, "x", 1, &nf));
    DR_TRY(dr_graph_input(g, &m->y, "y", 1, (int[]){1}));
    m->seq.id = -1;
    if (c->seq_len > 0)
        DR_TRY(input(g, &m->seq, "seq", 2, (int[]){c->seq_len, c->seq_channels}));

    dr_value summaries[DR_HYBRID_MAX_GROUPS + 1], steps[DR_HYBRID_MAX_GROUPS];
    int start = 0;
    for (int i = 0; i < c->n_groups; i++) {
        char nm[48];
        int len = c->group_size[i];
        dr_value s, h, pooled, top, t;
        DR_TRY(dr_graph_slice(g, &s, m->x, start, len));
        start += len;
        DR_TRY(dr_graph_reshape(g, &h, s, 2, (int[]){1, len}));
        int in_ch = 1;
        for (int l = 0; l < 3; l++) {
            snprintf(nm, sizeof nm, "branch%d.block%d", i, l + 1);
            DR_TRY(dr_residual_block(g, &h, h, in_ch, c->filters[l], c->kernel[l], nm));
            in_ch = c->filters[l];
        }
        DR_TRY(dr_graph_maxpool1d(g, &pooled, h, c->pool));
        int positions = (len + c->pool - 1) / c->pool;
        DR_TRY(dr_graph_maxpool1d(g, &top, pooled, positions));
        DR_TRY(dr_graph_reshape(g, &summaries[i], top, 1, &in_ch));
        if (c->seq_len == 0) { /* the branches' positions are the LSTM's steps */
            DR_TRY(dr_graph_transpose(g, &t, pooled));
            steps[i] = t;
        }
    }

    dr_value seq = m->seq;
    if (c->seq_len == 0)
        DR_TRY(dr_graph_concat(g, &seq, steps, c->n_groups)); /* branch positions as time */
    dr_value h, ctx;
    DR_TRY(dr_graph_lstm(g, &h, seq, c->lstm_units, "lstm"));
    DR_TRY(dr_graph_attention(g, &ctx, &m->alpha, h, c->attention_dim, "attention"));
    summaries[c->n_groups] = ctx;

    dr_value z;
    DR_TRY(dr_graph_concat(g, &z, summaries, c->n_groups + 1));
    for (int l = 0; l < c->n_fc; l++) {
        char nm[48];
        snprintf(nm, sizeof nm, "fc%d", l + 1);
        DR_TRY(dr_fc_block(g, &z, z, c->fc[l], c->dropout, nm));
    }
    DR_TRY(dr_graph_linear(g, &m->logit, z, 1, "head"));
    DR_TRY(dr_graph_loss(g, &m->loss, m->logit, m->y, c->loss));
    return dr_graph_sigmoid(g, &m->prob, m->logit);
}

dr_status dr_hybrid_build(dr_hybrid *m, dr_backend *be, const dr_hybrid_config *cfg, uint64_t seed, int max_batch)
{
    memset(m, 0, sizeof *m);
    DR_TRY(dr_check_config(cfg));
    DR_TRY(dr_graph_create(&m->g, be, seed));
    dr_status s = dr_hybrid_graph(m, cfg);
    if (s == DR_OK)
        s = dr_graph_plan(m->g, max_batch);
    if (s != DR_OK) {
        dr_error_context(s, "building the hybrid network: ");
        dr_hybrid_free(m);
    }
    return s;
}

void dr_hybrid_free(dr_hybrid *m)
{
    dr_graph_free(m->g);
    m->g = NULL;
}
