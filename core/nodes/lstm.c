/* LSTM node: [T, I] -> [T, H], all hidden states; cell states and activated
 * gates are saved for backpropagation through time. */
#include <math.h>

#include "core/graph_internal.h"

/* ia: T, I, H; aux: c, gates */
static void dr_lstm_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->lstm_forward(g->be, dr_g_data(g, n->out), dr_g_data(g, n->aux[0]), dr_g_data(g, n->aux[1]),
                         dr_g_data(g, n->in[0]), dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]),
                         dr_g_data(g, n->par[2]), g->batch, n->ia[0], n->ia[1], n->ia[2]);
}

static void dr_lstm_bwd(dr_graph *g, dr_node *n)
{
    g->ops->lstm_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->par[0]), dr_g_grad(g, n->par[1]),
                          dr_g_grad(g, n->par[2]), g->scratch, dr_g_grad(g, n->out), dr_g_data(g, n->in[0]),
                          dr_g_data(g, n->out), dr_g_data(g, n->aux[0]), dr_g_data(g, n->aux[1]),
                          dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]), g->batch, n->ia[0], n->ia[1],
                          n->ia[2]);
}

static size_t dr_lstm_scratch(const dr_graph *g, const dr_node *n, int batch)
{
    (void)g;
    return dr_lstm_scratch_floats(batch, n->ia[0], n->ia[1], n->ia[2]);
}

static const dr_node_class dr_lstm_class = {"lstm", dr_lstm_fwd, dr_lstm_bwd, dr_lstm_scratch, NULL};

dr_status dr_graph_lstm(dr_graph *g, dr_value *out, dr_value x, int hidden, const char *name)
{
    DR_TRY(dr_g_check_value(g, x, "lstm"));
    dr_val xv = *dr_g_val(g, x.id);
    char buf[64];
    if (xv.ndim != 2 || !xv.batched || hidden <= 0)
        return dr_error(DR_ERR_SHAPE, "lstm: input %s has shape %s (expected [B, T, I]), %d units", xv.name,
                        dr_g_shape_str(&xv, buf, sizeof buf), hidden);
    int T = xv.shape[0], I = xv.shape[1], H = hidden;
    char nm[48];
    dr_g_node_name(g, name, "lstm", nm, sizeof nm);
    float bound = 1.0f / sqrtf((float)H); /* PyTorch's default for nn.LSTM */
    int w_ih = dr_g_param(g, nm, "w_ih", 2, (int[]){4 * H, I}, DR_INIT_UNIFORM, bound);
    int w_hh = dr_g_param(g, nm, "w_hh", 2, (int[]){4 * H, H}, DR_INIT_UNIFORM, bound);
    int b = dr_g_param(g, nm, "b", 1, (int[]){4 * H}, DR_INIT_UNIFORM, bound);
    int c = dr_g_value(g, DR_VAL_SAVED, nm, 2, (int[]){T, H}, 1, 0);
    int gates = dr_g_value(g, DR_VAL_SAVED, nm, 2, (int[]){T, 4 * H}, 1, 0);
    int o = dr_g_value(g, DR_VAL_ACT, nm, 2, (int[]){T, H}, 1, 1);
    dr_node *n = (w_ih < 0 || w_hh < 0 || b < 0 || c < 0 || gates < 0 || o < 0) ? NULL : dr_g_node(g, &dr_lstm_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->par[0] = w_ih;
    n->par[1] = w_hh;
    n->par[2] = b;
    n->aux[0] = c;
    n->aux[1] = gates;
    n->ia[0] = T;
    n->ia[1] = I;
    n->ia[2] = H;
    out->id = o;
    return DR_OK;
}
