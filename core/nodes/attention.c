/* Additive attention node: [T, H] -> context [H]; the weights alpha [T] are a
 * value of their own so explanations can read them. */
#include <math.h>

#include "core/graph_internal.h"

/* ia: T, H, A; aux: alpha, u */
static void dr_attention_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->attention_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->aux[0]), dr_g_data(g, n->aux[1]),
                              dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]),
                              dr_g_data(g, n->par[2]), g->batch, n->ia[0], n->ia[1], n->ia[2]);
}

static void dr_attention_bwd(dr_graph *g, dr_node *n)
{
    g->ops->attention_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->par[0]), dr_g_grad(g, n->par[1]),
                               dr_g_grad(g, n->par[2]), g->scratch, dr_g_grad(g, n->out),
                               dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]), dr_g_data(g, n->par[2]),
                               dr_g_data(g, n->aux[1]), dr_g_data(g, n->aux[0]), g->batch, n->ia[0],
                               n->ia[1], n->ia[2]);
}

static size_t dr_attention_scratch(const dr_graph *g, const dr_node *n, int batch)
{
    (void)g;
    return dr_attention_scratch_floats(batch, n->ia[0], n->ia[1], n->ia[2]);
}

static const dr_node_class dr_attention_class = {"attention", dr_attention_fwd, dr_attention_bwd,
                                                 dr_attention_scratch, NULL};

dr_status dr_graph_attention(dr_graph *g, dr_value *ctx, dr_value *alpha, dr_value x, int attn_dim,
                             const char *name)
{
    DR_TRY(dr_g_check_value(g, x, "attention"));
    dr_val xv = *dr_g_val(g, x.id);
    char buf[64];
    if (xv.ndim != 2 || !xv.batched || attn_dim <= 0)
        return dr_error(DR_ERR_SHAPE, "attention: input %s has shape %s (expected [B, T, H]), attention size %d",
                        xv.name, dr_g_shape_str(&xv, buf, sizeof buf), attn_dim);
    int T = xv.shape[0], H = xv.shape[1], A = attn_dim;
    char nm[48];
    dr_g_node_name(g, name, "attention", nm, sizeof nm);
    float bound = 1.0f / sqrtf((float)H);
    int w = dr_g_param(g, nm, "w", 2, (int[]){A, H}, DR_INIT_UNIFORM, bound);
    int b = dr_g_param(g, nm, "b", 1, &A, DR_INIT_UNIFORM, bound);
    int v = dr_g_param(g, nm, "v", 1, &A, DR_INIT_UNIFORM, 1.0f / sqrtf((float)A));
    int al = dr_g_value(g, DR_VAL_SAVED, nm, 1, &T, 1, 0);
    int u = dr_g_value(g, DR_VAL_SAVED, nm, 2, (int[]){T, A}, 1, 0);
    int o = dr_g_value(g, DR_VAL_ACT, nm, 1, &H, 1, 1);
    dr_node *n = (w < 0 || b < 0 || v < 0 || al < 0 || u < 0 || o < 0) ? NULL : dr_g_node(g, &dr_attention_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->par[0] = w;
    n->par[1] = b;
    n->par[2] = v;
    n->aux[0] = al;
    n->aux[1] = u;
    n->ia[0] = T;
    n->ia[1] = H;
    n->ia[2] = A;
    ctx->id = o;
    if (alpha)
        alpha->id = al;
    return DR_OK;
}
