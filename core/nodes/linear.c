/* Fully connected node: [..., C] -> [..., OC]; leading per-sample dimensions are
 * folded into the rows of one matrix product. */
#include <math.h>

#include "core/graph_internal.h"

static int dr_linear_rows(dr_graph *g, const dr_node *n) { return (int)(dr_g_count(g, n->in[0]) / n->ia[0]); }

static void dr_linear_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->linear_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]),
                           dr_g_data(g, n->par[1]), dr_linear_rows(g, n), n->ia[0], n->ia[1]);
}

static void dr_linear_bwd(dr_graph *g, dr_node *n)
{
    g->ops->linear_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->par[0]), dr_g_grad(g, n->par[1]),
                            dr_g_grad(g, n->out), dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]),
                            dr_linear_rows(g, n), n->ia[0], n->ia[1]);
}

static const dr_node_class dr_linear_class = {"linear", dr_linear_fwd, dr_linear_bwd, NULL, NULL};

dr_status dr_graph_linear(dr_graph *g, dr_value *out, dr_value x, int out_features, const char *name)
{
    DR_TRY(dr_g_check_value(g, x, "linear"));
    dr_val xv = *dr_g_val(g, x.id);
    if (xv.ndim < 1 || out_features <= 0)
        return dr_error(DR_ERR_SHAPE, "linear: input %s and %d output features", xv.name, out_features);
    int C = xv.shape[xv.ndim - 1];
    char nm[48];
    dr_g_node_name(g, name, "linear", nm, sizeof nm);
    float bound = 1.0f / sqrtf((float)C); /* PyTorch's default for nn.Linear */
    int w = dr_g_param(g, nm, "w", 2, (int[]){out_features, C}, DR_INIT_UNIFORM, bound);
    int b = dr_g_param(g, nm, "b", 1, (int[]){out_features}, DR_INIT_UNIFORM, bound);
    int shape[DR_MAX_DIMS];
    for (int i = 0; i < xv.ndim; i++)
        shape[i] = xv.shape[i];
    shape[xv.ndim - 1] = out_features;
    int o = dr_g_value(g, DR_VAL_ACT, nm, xv.ndim, shape, xv.batched, 1);
    dr_node *n = (w < 0 || b < 0 || o < 0) ? NULL : dr_g_node(g, &dr_linear_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->par[0] = w;
    n->par[1] = b;
    n->ia[0] = C;
    n->ia[1] = out_features;
    out->id = o;
    return DR_OK;
}
