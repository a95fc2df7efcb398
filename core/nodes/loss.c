/* Composite-loss node: logits [1] and labels [1] per sample -> the batch mean,
 * a scalar. Its backward starts backpropagation (dL/dL = 1). */
#include "core/graph_internal.h"

static void dr_loss_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->loss_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->aux[0]), dr_g_data(g, n->in[0]),
                         dr_g_data(g, n->in[1]), g->batch, n->loss);
}

static void dr_loss_bwd(dr_graph *g, dr_node *n)
{
    float *dz = dr_g_grad(g, n->in[0]);
    if (dz)
        g->ops->loss_backward(g->be, dz, dr_g_data(g, n->in[0]), dr_g_data(g, n->in[1]), g->batch, n->loss, 1.0f);
}

static const dr_node_class dr_loss_class = {"loss", dr_loss_fwd, dr_loss_bwd, NULL, NULL};

dr_status dr_graph_loss(dr_graph *g, dr_value *out, dr_value logits, dr_value labels, dr_loss_params p)
{
    DR_TRY(dr_g_check_value(g, logits, "loss"));
    DR_TRY(dr_g_check_value(g, labels, "loss"));
    dr_val zv = *dr_g_val(g, logits.id), yv = *dr_g_val(g, labels.id);
    char s1[64], s2[64];
    if (zv.numel != 1 || yv.numel != 1 || !zv.batched || !yv.batched)
        return dr_error(DR_ERR_SHAPE, "loss: logits %s (%s) and labels %s (%s) must both be [B, 1]",
                        dr_g_shape_str(&zv, s1, sizeof s1), zv.name, dr_g_shape_str(&yv, s2, sizeof s2), yv.name);
    if (!(p.a >= 0.0f && p.a <= 1.0f) || !(p.gamma >= 0.0f) || !(p.w_pos > 0.0f) || !(p.w_neg > 0.0f))
        return dr_error(DR_ERR_INVALID, "loss: a = %g must be in [0, 1], gamma = %g >= 0, class weights %g, %g > 0",
                        (double)p.a, (double)p.gamma, (double)p.w_pos, (double)p.w_neg);
    int one = 1;
    int per = dr_g_value(g, DR_VAL_SAVED, "loss", 1, &one, 1, 0);
    int o = dr_g_value(g, DR_VAL_ACT, "loss", 1, &one, 0, zv.needs_grad);
    dr_node *n = (per < 0 || o < 0) ? NULL : dr_g_node(g, &dr_loss_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = logits.id;
    n->in[1] = labels.id;
    n->n_in = 2;
    n->out = o;
    n->aux[0] = per;
    n->loss = p;
    out->id = o;
    return DR_OK;
}
