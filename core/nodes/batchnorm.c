/* Batch-norm node over [C] or [C, L] with learned scale and shift and running
 * statistics (buffers, so they are checkpointed). */
#include "core/graph_internal.h"

enum { DR_BN_MEAN, DR_BN_RSTD, DR_BN_RUN_MEAN, DR_BN_RUN_VAR };
static const float dr_bn_eps = 1e-5f, dr_bn_momentum = 0.1f; /* PyTorch's defaults */

/* ia: C, L */
static void dr_bn_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    if (mode == DR_MODE_TRAIN)
        g->ops->batchnorm_forward_train(g->be, dr_g_data(g, n->out), dr_g_data(g, n->aux[DR_BN_MEAN]),
                                        dr_g_data(g, n->aux[DR_BN_RSTD]), dr_g_data(g, n->aux[DR_BN_RUN_MEAN]),
                                        dr_g_data(g, n->aux[DR_BN_RUN_VAR]), dr_g_data(g, n->in[0]),
                                        dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]), g->batch,
                                        n->ia[0], n->ia[1], dr_bn_eps, dr_bn_momentum);
    else
        g->ops->batchnorm_forward_eval(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]),
                                       dr_g_data(g, n->par[0]), dr_g_data(g, n->par[1]),
                                       dr_g_data(g, n->aux[DR_BN_RUN_MEAN]), dr_g_data(g, n->aux[DR_BN_RUN_VAR]),
                                       g->batch, n->ia[0], n->ia[1], dr_bn_eps);
}

static void dr_bn_bwd(dr_graph *g, dr_node *n)
{
    g->ops->batchnorm_backward(g->be, dr_g_grad(g, n->in[0]), dr_g_grad(g, n->par[0]), dr_g_grad(g, n->par[1]),
                               dr_g_grad(g, n->out), dr_g_data(g, n->in[0]), dr_g_data(g, n->aux[DR_BN_MEAN]),
                               dr_g_data(g, n->aux[DR_BN_RSTD]), dr_g_data(g, n->par[0]), g->batch,
                               n->ia[0], n->ia[1]);
}

static void dr_bn_bwd_eval(dr_graph *g, dr_node *n)
{
    float *dx = dr_g_grad(g, n->in[0]);
    if (dx)
        g->ops->batchnorm_backward_eval(g->be, dx, dr_g_grad(g, n->out), dr_g_data(g, n->par[0]),
                                        dr_g_data(g, n->aux[DR_BN_RUN_VAR]), g->batch, n->ia[0], n->ia[1], dr_bn_eps);
}

static const dr_node_class dr_bn_class = {"batchnorm", dr_bn_fwd, dr_bn_bwd, NULL, dr_bn_bwd_eval};

dr_status dr_graph_batchnorm(dr_graph *g, dr_value *out, dr_value x, const char *name)
{
    DR_TRY(dr_g_check_value(g, x, "batchnorm"));
    dr_val xv = *dr_g_val(g, x.id);
    char buf[64];
    if ((xv.ndim != 1 && xv.ndim != 2) || !xv.batched)
        return dr_error(DR_ERR_SHAPE, "batchnorm: input %s has shape %s, expected [B, C] or [B, C, L]",
                        xv.name, dr_g_shape_str(&xv, buf, sizeof buf));
    int C = xv.shape[0], L = xv.ndim == 2 ? xv.shape[1] : 1;
    char nm[48];
    dr_g_node_name(g, name, "bn", nm, sizeof nm);
    int gamma = dr_g_param(g, nm, "gamma", 1, &C, DR_INIT_ONES, 0);
    int beta = dr_g_param(g, nm, "beta", 1, &C, DR_INIT_ZEROS, 0);
    int rm = dr_g_buffer(g, nm, "running_mean", 1, &C, DR_INIT_ZEROS);
    int rv = dr_g_buffer(g, nm, "running_var", 1, &C, DR_INIT_ONES);
    int mean = dr_g_value(g, DR_VAL_SAVED, nm, 1, &C, 0, 0);
    int rstd = dr_g_value(g, DR_VAL_SAVED, nm, 1, &C, 0, 0);
    int o = dr_g_value(g, DR_VAL_ACT, nm, xv.ndim, xv.shape, 1, 1);
    dr_node *n = (gamma < 0 || beta < 0 || rm < 0 || rv < 0 || mean < 0 || rstd < 0 || o < 0)
                     ? NULL : dr_g_node(g, &dr_bn_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->par[0] = gamma;
    n->par[1] = beta;
    n->aux[DR_BN_MEAN] = mean;
    n->aux[DR_BN_RSTD] = rstd;
    n->aux[DR_BN_RUN_MEAN] = rm;
    n->aux[DR_BN_RUN_VAR] = rv;
    n->ia[0] = C;
    n->ia[1] = L;
    out->id = o;
    return DR_OK;
}
