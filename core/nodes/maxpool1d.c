/* Max-pooling node: [C, L] -> [C, ceil(L / K)]; the argmax is saved. */
#include <stdint.h>

#include "core/graph_internal.h"

/* ia: C, L, K */
static void dr_maxpool_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->maxpool1d_forward(g->be, dr_g_data(g, n->out), (int32_t *)dr_g_data(g, n->aux[0]),
                              dr_g_data(g, n->in[0]), g->batch, n->ia[0], n->ia[1], n->ia[2]);
}

static void dr_maxpool_bwd(dr_graph *g, dr_node *n)
{
    float *dx = dr_g_grad(g, n->in[0]);
    if (dx)
        g->ops->maxpool1d_backward(g->be, dx, dr_g_grad(g, n->out), (const int32_t *)dr_g_data(g, n->aux[0]),
                                   g->batch, n->ia[0], n->ia[1], n->ia[2]);
}

static const dr_node_class dr_maxpool_class = {"maxpool1d", dr_maxpool_fwd, dr_maxpool_bwd, NULL, NULL};

dr_status dr_graph_maxpool1d(dr_graph *g, dr_value *out, dr_value x, int k)
{
    DR_TRY(dr_g_check_value(g, x, "maxpool1d"));
    dr_val xv = *dr_g_val(g, x.id);
    char buf[64];
    if (xv.ndim != 2 || !xv.batched || k <= 0)
        return dr_error(DR_ERR_SHAPE, "maxpool1d: input %s has shape %s (expected [B, C, L]), window %d",
                        xv.name, dr_g_shape_str(&xv, buf, sizeof buf), k);
    char nm[48];
    dr_g_node_name(g, NULL, "pool", nm, sizeof nm);
    int shape[2] = {xv.shape[0], dr_maxpool1d_out_len(xv.shape[1], k)};
    /* int32 indices stored in float-sized slots of the arena */
    int arg = dr_g_value(g, DR_VAL_SAVED, nm, 2, shape, 1, 0);
    int o = dr_g_value(g, DR_VAL_ACT, nm, 2, shape, 1, xv.needs_grad);
    dr_node *n = (arg < 0 || o < 0) ? NULL : dr_g_node(g, &dr_maxpool_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->aux[0] = arg;
    n->ia[0] = xv.shape[0];
    n->ia[1] = xv.shape[1];
    n->ia[2] = k;
    out->id = o;
    return DR_OK;
}
