/* Structural nodes: residual add, concat and slice along the first per-sample
 * dimension, reshape (a view: same memory) and transpose. */
#include <string.h>

#include "core/graph_internal.h"

/* Elements per sample after the first per-sample dimension. */
static long dr_inner(const dr_val *v)
{
    long s = 1;
    for (int i = 1; i < v->ndim; i++)
        s *= v->shape[i];
    return s;
}

static int dr_same_shape(const dr_val *a, const dr_val *b)
{
    if (a->ndim != b->ndim || a->batched != b->batched)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static int dr_rows(const dr_graph *g, const dr_val *v) { return v->batched ? g->batch : 1; }

/* --- add --- */

static void dr_add_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    g->ops->add(g->be, dr_g_data(g, n->out), dr_g_data(g, n->in[0]), dr_g_data(g, n->in[1]),
                dr_g_count(g, n->out));
}

static void dr_add_bwd(dr_graph *g, dr_node *n)
{
    long count = dr_g_count(g, n->out);
    for (int i = 0; i < 2; i++)
        if (dr_g_grad(g, n->in[i]))
            g->ops->axpy(g->be, dr_g_grad(g, n->in[i]), 1.0f, dr_g_grad(g, n->out), count);
}

static const dr_node_class dr_add_class = {"add", dr_add_fwd, dr_add_bwd, NULL, NULL};

dr_status dr_graph_add(dr_graph *g, dr_value *out, dr_value a, dr_value b)
{
    DR_TRY(dr_g_check_value(g, a, "add"));
    DR_TRY(dr_g_check_value(g, b, "add"));
    dr_val av = *dr_g_val(g, a.id), bv = *dr_g_val(g, b.id);
    char s1[64], s2[64];
    if (!dr_same_shape(&av, &bv))
        return dr_error(DR_ERR_SHAPE, "add: shapes %s (%s) and %s (%s) differ", dr_g_shape_str(&av, s1, sizeof s1),
                        av.name, dr_g_shape_str(&bv, s2, sizeof s2), bv.name);
    int o = dr_g_value(g, DR_VAL_ACT, "add", av.ndim, av.shape, av.batched, av.needs_grad || bv.needs_grad);
    dr_node *n = o < 0 ? NULL : dr_g_node(g, &dr_add_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = a.id;
    n->in[1] = b.id;
    n->n_in = 2;
    n->out = o;
    out->id = o;
    return DR_OK;
}

/* --- concat: one strided copy per input --- */

static void dr_concat_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    dr_val *o = dr_g_val(g, n->out);
    long off = 0;
    for (int i = 0; i < n->n_in; i++) {
        dr_val *x = dr_g_val(g, n->in[i]);
        g->ops->copy2d(g->be, o->data + off, o->numel, x->data, x->numel, dr_rows(g, o), x->numel, 0);
        off += x->numel;
    }
}

static void dr_concat_bwd(dr_graph *g, dr_node *n)
{
    dr_val *o = dr_g_val(g, n->out);
    long off = 0;
    for (int i = 0; i < n->n_in; i++) {
        dr_val *x = dr_g_val(g, n->in[i]);
        if (x->needs_grad)
            g->ops->copy2d(g->be, x->grad, x->numel, o->grad + off, o->numel, dr_rows(g, o), x->numel, 1);
        off += x->numel;
    }
}

static const dr_node_class dr_concat_class = {"concat", dr_concat_fwd, dr_concat_bwd, NULL, NULL};

dr_status dr_graph_concat(dr_graph *g, dr_value *out, const dr_value *xs, int count)
{
    if (count < 1 || count > DR_NODE_MAX_IN)
        return dr_error(DR_ERR_INVALID, "concat: %d inputs (1 to %d per node; nest concats for more)", count,
                        DR_NODE_MAX_IN);
    DR_TRY(dr_g_check_value(g, xs[0], "concat"));
    dr_val first = *dr_g_val(g, xs[0].id);
    int shape[DR_MAX_DIMS];
    memcpy(shape, first.shape, sizeof shape);
    shape[0] = 0;
    int needs_grad = 0;
    for (int i = 0; i < count; i++) {
        DR_TRY(dr_g_check_value(g, xs[i], "concat"));
        dr_val v = *dr_g_val(g, xs[i].id);
        char s1[64], s2[64];
        if (v.ndim < 1 || v.ndim != first.ndim || v.batched != first.batched || dr_inner(&v) != dr_inner(&first))
            return dr_error(DR_ERR_SHAPE, "concat: input %d %s (%s) does not fit input 0 %s (%s)", i,
                            dr_g_shape_str(&v, s1, sizeof s1), v.name, dr_g_shape_str(&first, s2, sizeof s2),
                            first.name);
        shape[0] += v.shape[0];
        needs_grad |= v.needs_grad;
    }
    int o = dr_g_value(g, DR_VAL_ACT, "concat", first.ndim, shape, first.batched, needs_grad);
    dr_node *n = o < 0 ? NULL : dr_g_node(g, &dr_concat_class);
    if (!n)
        return DR_ERR_INVALID;
    for (int i = 0; i < count; i++)
        n->in[i] = xs[i].id;
    n->n_in = count;
    n->out = o;
    out->id = o;
    return DR_OK;
}

/* --- slice --- */

static void dr_slice_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    dr_val *x = dr_g_val(g, n->in[0]), *o = dr_g_val(g, n->out);
    g->ops->copy2d(g->be, o->data, o->numel, x->data + n->ia[0], x->numel, dr_rows(g, o), o->numel, 0);
}

static void dr_slice_bwd(dr_graph *g, dr_node *n)
{
    dr_val *x = dr_g_val(g, n->in[0]), *o = dr_g_val(g, n->out);
    g->ops->copy2d(g->be, x->grad + n->ia[0], x->numel, o->grad, o->numel, dr_rows(g, o), o->numel, 1);
}

static const dr_node_class dr_slice_class = {"slice", dr_slice_fwd, dr_slice_bwd, NULL, NULL};

dr_status dr_graph_slice(dr_graph *g, dr_value *out, dr_value x, int start, int len)
{
    DR_TRY(dr_g_check_value(g, x, "slice"));
    dr_val xv = *dr_g_val(g, x.id);
    char s1[64];
    if (xv.ndim < 1 || start < 0 || len < 1 || start + len > xv.shape[0])
        return dr_error(DR_ERR_SHAPE, "slice: [%d, %d) of %s (%s)", start, start + len,
                        dr_g_shape_str(&xv, s1, sizeof s1), xv.name);
    int shape[DR_MAX_DIMS];
    memcpy(shape, xv.shape, sizeof shape);
    shape[0] = len;
    int o = dr_g_value(g, DR_VAL_ACT, "slice", xv.ndim, shape, xv.batched, xv.needs_grad);
    dr_node *n = o < 0 ? NULL : dr_g_node(g, &dr_slice_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    n->ia[0] = (int)(start * dr_inner(&xv));
    out->id = o;
    return DR_OK;
}

/* --- reshape: a view, so nothing moves either way --- */

static void dr_view_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)g;
    (void)n;
    (void)mode;
}

static void dr_view_bwd(dr_graph *g, dr_node *n)
{
    (void)g;
    (void)n;
}

static const dr_node_class dr_reshape_class = {"reshape", dr_view_fwd, dr_view_bwd, NULL, NULL};

dr_status dr_graph_reshape(dr_graph *g, dr_value *out, dr_value x, int ndim, const int *shape)
{
    DR_TRY(dr_g_check_value(g, x, "reshape"));
    dr_val xv = *dr_g_val(g, x.id);
    long numel = 1;
    for (int i = 0; i < ndim && i < DR_MAX_DIMS; i++)
        numel *= shape[i];
    char s1[64];
    if (ndim < 1 || ndim > DR_MAX_DIMS || numel != xv.numel)
        return dr_error(DR_ERR_SHAPE, "reshape: %s (%s, %ld elements) into %d dimensions of %ld elements",
                        dr_g_shape_str(&xv, s1, sizeof s1), xv.name, xv.numel, ndim, numel);
    int o = dr_g_value(g, DR_VAL_ACT, xv.name, ndim, shape, xv.batched, xv.needs_grad);
    dr_node *n = o < 0 ? NULL : dr_g_node(g, &dr_reshape_class);
    if (!n)
        return DR_ERR_INVALID;
    g->vals[o].root = xv.root;
    n->out = o;
    out->id = o;
    return DR_OK;
}

/* --- transpose of the two per-sample dimensions --- */

static void dr_transpose_fwd(dr_graph *g, dr_node *n, dr_mode mode)
{
    (void)mode;
    dr_val *x = dr_g_val(g, n->in[0]);
    g->ops->transpose(g->be, dr_g_data(g, n->out), x->data, g->batch, x->shape[0], x->shape[1], 0);
}

static void dr_transpose_bwd(dr_graph *g, dr_node *n)
{
    dr_val *x = dr_g_val(g, n->in[0]);
    g->ops->transpose(g->be, x->grad, dr_g_grad(g, n->out), g->batch, x->shape[1], x->shape[0], 1);
}

static const dr_node_class dr_transpose_class = {"transpose", dr_transpose_fwd, dr_transpose_bwd, NULL, NULL};

dr_status dr_graph_transpose(dr_graph *g, dr_value *out, dr_value x)
{
    DR_TRY(dr_g_check_value(g, x, "transpose"));
    dr_val xv = *dr_g_val(g, x.id);
    char s1[64];
    if (xv.ndim != 2 || !xv.batched)
        return dr_error(DR_ERR_SHAPE, "transpose: %s (%s) is not [B, M, N]", dr_g_shape_str(&xv, s1, sizeof s1),
                        xv.name);
    int o = dr_g_value(g, DR_VAL_ACT, "transpose", 2, (int[]){xv.shape[1], xv.shape[0]}, 1, xv.needs_grad);
    dr_node *n = o < 0 ? NULL : dr_g_node(g, &dr_transpose_class);
    if (!n)
        return DR_ERR_INVALID;
    n->in[0] = x.id;
    n->n_in = 1;
    n->out = o;
    out->id = o;
    return DR_OK;
}
