/* 1-D convolution node: [Cin, L] -> [Cout, L], same padding. */
#include <math.h>

#include "core/graph_internal.h"

/* ia: Cin, Cout, L, K */
static void dr_conv1d_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->conv1d_forward(g->be, dr_g_data(g, n->out), g->scratch, dr_g_data(g, n->in[0]),
                           dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]), g->batch, n->ia[0],
                           n->ia[1], n->ia[2], n->ia[3]);
}

static void dr_conv1d_bwd(dr_graph *g, dr_node *n)
{
    g->ops->conv1d_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->par[0]),
                            dr_g_grad(g, n->par[1]), g->scratch, dr_g_grad(g, n->out),
                            dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]), g->batch, n->ia[0],
                            n->ia[1], n->ia[2], n->ia[3]);
}

static size_t dr_conv1d_scratch(const dr_graph *g, const dr_node *n, int batch)
{
    return g->ops->conv1d_scratch(batch, n->ia[0], n->ia[1], n->ia[2], n->ia[3]);
}

static const dr_node_class dr_conv1d_class = {"conv1d", dr_conv1d_fwd, dr_conv1d_bwd, dr_conv1d_scratch, NULL};

dr_status dr_graph_conv1d(dr_graph *g, dr_value *out, dr_value x, int out_channels, int k,
                          const char *name)
{
    DR_TRY(dr_g_check_value(g, x, "conv1d"));
    dr_val xv = *dr_g_val(g, x.id);
    char buf[64];
    if (xv.ndim != 2 || !xv.batched)
        return dr_error(DR_ERR_SHAPE, "conv1d: input %s has shape %s, expected [B, C, L]", xv.name,
                        dr_g_shape_str(&xv, buf, sizeof buf));
    if (out_channels <= 0 || k <= 0)
        return dr_error(DR_ERR_SHAPE, "conv1d: %d output channels, kernel %d", out_channels, k);
    int cin = xv.shape[0], len = xv.shape[1];
    char nm[48];
    dr_g_node_name(g, name, "conv", nm, sizeof nm);
    float bound = 1.0f / sqrtf((float)(cin * k)); /* PyTorch's default for nn.Conv1d */
    int w = dr_g_param(g, nm, "w", 3, (int[]){out_channels, cin, k}, DR_INIT_UNIFORM, bound);
    int b = dr_g_param(g, nm, "b", 1, (int[]){out_channels}, DR_INIT_UNIFORM, bound);
    int o = dr_g_value(g, DR_VAL_ACT, nm, 2, (int[]){out_channels, len}, 1, 1);
    dr_node *n = (w < 0 || b < 0 || o < 0) ? NULL : dr_g_node(g, &dr_conv1d_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->par[0] = w;
    n->par[1] = b;
    n->ia[0] = cin;
    n->ia[1] = out_channels;
    n->ia[2] = len;
    n->ia[3] = k;
    out->id = o;
    return DR_OK;
}
