#include "models/neural_baselines.h"

#include <stdio.h>

#include "models/blocks.h"

static dr_status dr_mlp_graph(dr_model_io *io, const dr_mlp_config *c, int n_features)
{
    dr_graph *g = io->g;
    dr_value z, logit;
    if (c->input_gradients)
        DR_TRY(dr_graph_input_differentiable(g, &io->x, "x", 1, &n_features));
    else
        DR_TRY(dr_graph_input(g, &io->x, "x", 1, &n_features));
    DR_TRY(dr_graph_input(g, &io->y, "y", 1, (int[]){1}));
    io->seq.id = -1;
    z = io->x;
    for (int l = 0; l < c->n_hidden; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "hidden%d", l + 1);
        DR_TRY(dr_fc_block(g, &z, z, c->hidden[l], c->dropout, nm));
    }
    DR_TRY(dr_graph_linear(g, &logit, z, 1, "head"));
    DR_TRY(dr_graph_loss(g, &io->loss, logit, io->y, c->loss));
    io->logit = logit;
    if (c->loss.hinge) {
        io->prob = logit;
        return DR_OK;
    }
    return dr_graph_sigmoid(g, &io->prob, logit);
}

dr_status dr_mlp_build(dr_model_io *io, dr_backend *be, const dr_mlp_config *cfg, int n_features, uint64_t seed,
                       int max_batch)
{
    if (cfg->n_hidden < 0 || cfg->n_hidden > 4)
        return dr_error(DR_ERR_INVALID, "mlp: %d hidden layers (0 to 4)", cfg->n_hidden);
    DR_TRY(dr_graph_create(&io->g, be, seed));
    dr_status s = dr_mlp_graph(io, cfg, n_features);
    if (s == DR_OK)
        s = dr_graph_plan(io->g, max_batch);
    if (s != DR_OK) {
        dr_graph_free(io->g);
        io->g = NULL;
    }
    return s;
}
