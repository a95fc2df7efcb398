/* Element-wise nodes: ReLU, dropout, sigmoid. Their outputs keep the input's
 * shape. */
#include "core/graph_internal.h"

static void dr_relu_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->relu_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]), dr_g_count(g, n->out));
}

static void dr_relu_bwd(dr_graph *g, dr_node *n)
{
    g->ops->relu_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->out), dr_g_data(g, n->out),
                          dr_g_count(g, n->out));
}

/* fa[0]: p; aux[0]: the mask. The Philox stream is the node's index, the counter
 * the training step, so a resumed run draws the masks it would have drawn. */
static void dr_dropout_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    long count = dr_g_count(g, n->out);
    if (mode == DR_MODE_EVAL || n->fa[0] == 0.0f)
        g->ops->copy(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]), (size_t)count * sizeof(float));
    else
        g->ops->dropout_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->aux[0]), dr_g_data(g, n->in[0]),
                                count, n->fa[0], g->seed, (uint32_t)(n - g->nodes), g->step);
}

static void dr_dropout_bwd(dr_graph *g, dr_node *n)
{
    long count = dr_g_count(g, n->out);
    if (n->fa[0] == 0.0f)
        g->ops->axpy(g->be, dr_g_grad(g, n->in[0]), 1.0f, dr_g_grad(g, n->out), count);
    else
        g->ops->dropout_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->out), dr_g_data(g, n->aux[0]),
                                 count);
}

static void dr_dropout_bwd_eval(dr_graph *g, dr_node *n)
{
    g->ops->axpy(g->be, dr_g_grad(g, n->in[0]), 1.0f, dr_g_grad(g, n->out), dr_g_count(g, n->out));
}

static void dr_sigmoid_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->sigmoid_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]), dr_g_count(g, n->out));
}

static void dr_no_bwd(dr_graph *g, dr_node *n)
{
    (void)g;
    (void)n;
}

static const dr_node_class dr_relu_class = {"relu", dr_relu_fwd, dr_relu_bwd, NULL, NULL};
static const dr_node_class dr_dropout_class = {"dropout", dr_dropout_fwd, dr_dropout_bwd, NULL, dr_dropout_bwd_eval};
static const dr_node_class dr_sigmoid_class = {"sigmoid", dr_sigmoid_fwd, dr_no_bwd, NULL, NULL};

static dr_status dr_unary(dr_graph *g, dr_value *out, dr_value x, const dr_node_class *cls,
                          int needs_grad, int saved_mask, dr_node **node)
{
    DR_TRY(dr_g_check_value(g, x, cls->name));
    dr_val xv = *dr_g_val(g, x.id);
    char nm[48];
    dr_g_node_name(g, NULL, cls->name, nm, sizeof nm);
    int mask = saved_mask ? dr_g_value(g, DR_VAL_SAVED, nm, xv.ndim, xv.shape, xv.batched, 0) : 0;
    int o = dr_g_value(g, DR_VAL_ACT, nm, xv.ndim, xv.shape, xv.batched, needs_grad && xv.needs_grad);
    dr_node *n = (mask < 0 || o < 0) ? NULL : dr_g_node(g, cls);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    if (saved_mask)
        n->aux[0] = mask;
    out->id = o;
    *node = n;
    return DR_OK;
}

dr_status dr_graph_relu(dr_graph *g, dr_value *out, dr_value x)
{
    dr_node *n;
    return dr_unary(g, out, x, &dr_relu_class, 1, 0, &n);
}

dr_status dr_graph_dropout(dr_graph *g, dr_value *out, dr_value x, float p)
{
    if (!(p >= 0.0f && p < 1.0f))
        return dr_error(DR_ERR_INVALID, "dropout: probability %g is outside [0, 1)", (double)p);
    dr_node *n;
    DR_TRY(dr_unary(g, out, x, &dr_dropout_class, 1, 1, &n));
    n->fa[0] = p;
    return DR_OK;
}

dr_status dr_graph_sigmoid(dr_graph *g, dr_value *out, dr_value logits)
{
    dr_node *n;
    return dr_unary(g, out, logits, &dr_sigmoid_class, 0, 0, &n);
}
