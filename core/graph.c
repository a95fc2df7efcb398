#include "core/graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/philox.h"

enum { DR_ALIGN_FLOATS = 16 }; /* 64-byte alignment of every tensor in a block */
enum { DR_INIT_STREAM = 0x10000 }; /* Philox streams of parameter initialisation */

static size_t dr_align(size_t n) { return (n + DR_ALIGN_FLOATS - 1) / DR_ALIGN_FLOATS * DR_ALIGN_FLOATS; }

dr_status dr_graph_create(dr_graph **out, dr_backend *be, uint64_t seed)
{
    *out = NULL;
    if (!be || !be->ops)
        return dr_error(DR_ERR_INVALID, "dr_graph_create: no backend");
    dr_graph *g = calloc(1, sizeof *g);
    if (!g)
        return dr_error(DR_ERR_NOMEM, "dr_graph_create: out of host memory");
    g->be = be;
    g->ops = be->ops;
    g->seed = seed;
    *out = g;
    return DR_OK;
}

void dr_graph_free(dr_graph *g)
{
    if (!g)
        return;
    dr_g_steps_free(g);
    if (g->model)
        g->ops->free(g->be, g->model);
    if (g->arena)
        g->ops->free(g->be, g->arena);
    free(g->vals);
    free(g->nodes);
    free(g->dangling);
    free(g->prof);
    free(g);
}

const char *dr_g_shape_str(const dr_val *v, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[%s", v->batched ? "B" : "");
    for (int i = 0; i < v->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", (i || v->batched) ? ", " : "", v->shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

void dr_g_node_name(const dr_graph *g, const char *given, const char *op, char *buf, size_t cap)
{
    if (given && *given)
        snprintf(buf, cap, "%s", given);
    else
        snprintf(buf, cap, "%s%d", op, g->n_nodes);
}

dr_status dr_g_check_value(const dr_graph *g, dr_value v, const char *op)
{
    if (v.id < 0 || v.id >= g->n_vals)
        return dr_error(DR_ERR_INVALID, "%s: input value %d is not a value of this graph", op, v.id);
    return DR_OK;
}

int dr_g_value(dr_graph *g, dr_val_kind kind, const char *name, int ndim, const int *shape,
               int batched, int needs_grad)
{
    if (g->model) {
        dr_error(DR_ERR_INVALID, "graph: cannot add '%s' after dr_graph_plan", name);
        return -1;
    }
    if (ndim < 0 || ndim > DR_MAX_DIMS) {
        dr_error(DR_ERR_SHAPE, "graph: value '%s' has %d dimensions (at most %d per sample)", name,
                 ndim, DR_MAX_DIMS);
        return -1;
    }
    long numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            dr_error(DR_ERR_SHAPE, "graph: value '%s' has dimension %d of size %d", name, i, shape[i]);
            return -1;
        }
        numel *= shape[i];
    }
    for (int i = 0; i < g->n_vals; i++) {
        if ((kind == DR_VAL_PARAM || kind == DR_VAL_BUFFER || kind == DR_VAL_INPUT) &&
            g->vals[i].kind == kind && strcmp(g->vals[i].name, name) == 0) {
            dr_error(DR_ERR_INVALID, "graph: two tensors are named '%s'", name);
            return -1;
        }
    }
    if (g->n_vals == g->cap_vals) {
        int cap = g->cap_vals ? 2 * g->cap_vals : 64;
        dr_val *v = realloc(g->vals, (size_t)cap * sizeof *v);
        if (!v) {
            dr_error(DR_ERR_NOMEM, "graph: out of host memory");
            return -1;
        }
        g->vals = v;
        g->cap_vals = cap;
    }
    int id = g->n_vals++;
    dr_val *v = &g->vals[id];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->kind = kind;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        v->shape[i] = shape[i];
    v->numel = numel;
    v->batched = batched;
    v->needs_grad = needs_grad;
    v->root = id;
    return id;
}

int dr_g_param(dr_graph *g, const char *node_name, const char *suffix, int ndim, const int *shape,
               dr_init init, float bound)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", node_name, suffix);
    int id = dr_g_value(g, DR_VAL_PARAM, name, ndim, shape, 0, 1);
    if (id >= 0) {
        g->vals[id].init = init;
        g->vals[id].bound = bound;
    }
    return id;
}

int dr_g_buffer(dr_graph *g, const char *node_name, const char *suffix, int ndim, const int *shape,
                dr_init init)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", node_name, suffix);
    int id = dr_g_value(g, DR_VAL_BUFFER, name, ndim, shape, 0, 0);
    if (id >= 0)
        g->vals[id].init = init;
    return id;
}

dr_node *dr_g_node(dr_graph *g, const dr_node_class *cls)
{
    const char *why;
    if (!dr_backend_supports_op(g->be, cls->name, &why)) {
        dr_error(DR_ERR_DEVICE, "%s: %s", cls->name, why);
        return NULL;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        dr_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            dr_error(DR_ERR_NOMEM, "graph: out of host memory");
            return NULL;
        }
        g->nodes = n;
        g->cap_nodes = cap;
    }
    dr_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->cls = cls;
    n->out = -1;
    for (int i = 0; i < DR_NODE_MAX_AUX; i++)
        n->aux[i] = -1;
    for (int i = 0; i < DR_NODE_MAX_PAR; i++)
        n->par[i] = -1;
    return n;
}

dr_status dr_graph_input(dr_graph *g, dr_value *out, const char *name, int ndim, const int *shape)
{
    out->id = dr_g_value(g, DR_VAL_INPUT, name, ndim, shape, 1, 0);
    return out->id < 0 ? DR_ERR_SHAPE : DR_OK;
}

dr_status dr_graph_input_differentiable(dr_graph *g, dr_value *out, const char *name, int ndim, const int *shape)
{
    out->id = dr_g_value(g, DR_VAL_INPUT, name, ndim, shape, 1, 1);
    return out->id < 0 ? DR_ERR_SHAPE : DR_OK;
}

/* --- planning -------------------------------------------------------------- */

static int dr_is_model_kind(dr_val_kind k) { return k == DR_VAL_PARAM || k == DR_VAL_BUFFER; }

static dr_status dr_plan_model(dr_graph *g)
{
    size_t np = 0, nb = 0;
    for (int i = 0; i < g->n_vals; i++) {
        dr_val *v = &g->vals[i];
        if (v->kind == DR_VAL_PARAM) {
            v->off = np;
            np += dr_align((size_t)v->numel);
        } else if (v->kind == DR_VAL_BUFFER) {
            v->off = nb;
            nb += dr_align((size_t)v->numel);
        }
    }
    g->param_floats = np;
    g->buffer_floats = nb;
    size_t total = 4 * np + nb;
    g->model = g->ops->alloc(g->be, (total ? total : 1) * sizeof(float));
    if (!g->model)
        return dr_error(DR_ERR_NOMEM, "graph: cannot allocate %zu bytes of parameters on %s",
                        total * sizeof(float), g->ops->name);
    g->ops->zero(g->be, g->model, total * sizeof(float));

    /* Initial values are drawn on the host from Philox, one stream per tensor, so
     * the CPU and the GPU start from the same weights. */
    for (int i = 0; i < g->n_vals; i++) {
        dr_val *v = &g->vals[i];
        if (!dr_is_model_kind(v->kind))
            continue;
        v->data = g->model + (v->kind == DR_VAL_PARAM ? v->off : 4 * np + v->off);
        if (v->kind == DR_VAL_PARAM)
            v->grad = g->model + np + v->off;
        if (v->init == DR_INIT_ZEROS)
            continue;
        float *host = malloc((size_t)v->numel * sizeof *host);
        if (!host)
            return dr_error(DR_ERR_NOMEM, "graph: out of host memory");
        for (long j = 0; j < v->numel; j++)
            host[j] = v->init == DR_INIT_ONES
                          ? 1.0f
                          : v->bound * (2.0f * dr_philox_uniform(g->seed, DR_INIT_STREAM + (uint32_t)i, 0, (uint64_t)j) - 1.0f);
        g->ops->to_device(g->be, v->data, host, (size_t)v->numel * sizeof *host);
        free(host);
    }
    return dr_backend_sync(g->be);
}

/* Which node is the last (in forward order) to read each value's memory: its
 * backward is the first to add into that gradient, so the gradient is cleared
 * right before it, while the memory is about to be used anyway. */
static dr_status dr_plan_grad_clearing(dr_graph *g)
{
    int *last = malloc((size_t)g->n_vals * sizeof *last);
    if (!last)
        return dr_error(DR_ERR_NOMEM, "graph: out of host memory");
    for (int i = 0; i < g->n_vals; i++)
        last[i] = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        dr_node *n = &g->nodes[k];
        n->n_zero = 0;
        for (int j = 0; j < n->n_in; j++)
            last[g->vals[n->in[j]].root] = k;
    }
    free(g->dangling);
    g->dangling = malloc((size_t)g->n_vals * sizeof *g->dangling);
    if (!g->dangling) {
        free(last);
        return dr_error(DR_ERR_NOMEM, "graph: out of host memory");
    }
    g->n_dangling = 0;
    for (int i = 0; i < g->n_vals; i++) {
        dr_val *v = &g->vals[i];
        if (v->root != i || !v->needs_grad || v->kind == DR_VAL_PARAM)
            continue;
        if (last[i] < 0) {
            g->dangling[g->n_dangling++] = i;
            continue;
        }
        dr_node *n = &g->nodes[last[i]];
        n->zero[n->n_zero++] = i;
    }
    free(last);
    return DR_OK;
}

dr_status dr_graph_plan(dr_graph *g, int max_batch)
{
    if (max_batch <= 0)
        return dr_error(DR_ERR_INVALID, "dr_graph_plan: batch size %d", max_batch);
    if (!g->model)
        DR_TRY(dr_plan_model(g));
    DR_TRY(dr_plan_grad_clearing(g));

    size_t off = 0;
    for (int i = 0; i < g->n_vals; i++) {
        dr_val *v = &g->vals[i];
        if (dr_is_model_kind(v->kind) || v->root != i)
            continue;
        size_t n = dr_align((size_t)v->numel * (v->batched ? (size_t)max_batch : 1));
        v->off = off;
        off += n;
        if (v->needs_grad) {
            v->goff = off;
            off += n;
        }
    }
    size_t scratch = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const dr_node *n = &g->nodes[k];
        if (n->cls->scratch) {
            size_t s = n->cls->scratch(g, n, max_batch);
            if (s > scratch)
                scratch = s;
        }
    }
    size_t total = off + dr_align(scratch);
    if (g->arena && total > g->arena_floats) {
        g->ops->free(g->be, g->arena);
        g->arena = NULL;
    }
    if (!g->arena) {
        g->arena = g->ops->alloc(g->be, (total ? total : 1) * sizeof(float));
        if (!g->arena)
            return dr_error(DR_ERR_NOMEM,
                            "graph: cannot allocate %.1f MiB of activations for batch %d on %s",
                            (double)total * sizeof(float) / 1048576.0, max_batch, g->ops->name);
        g->arena_floats = total;
    }
    g->scratch = g->arena + off;
    for (int i = 0; i < g->n_vals; i++) {
        dr_val *v = &g->vals[i];
        if (dr_is_model_kind(v->kind))
            continue;
        dr_val *r = &g->vals[v->root];
        v->data = g->arena + r->off;
        v->grad = r->needs_grad ? g->arena + r->goff : NULL;
    }
    g->max_batch = max_batch;
    g->batch = max_batch;
    return dr_g_steps_plan(g);
}

/* --- running --------------------------------------------------------------- */

dr_status dr_g_check_planned(const dr_graph *g, const char *what)
{
    if (!g->arena)
        return dr_error(DR_ERR_INVALID, "%s: call dr_graph_plan first", what);
    return DR_OK;
}

/* The input value to set with batch rows, or NULL with the error set. */
static dr_val *dr_input_val(dr_graph *g, dr_value in, int batch, const char *what)
{
    if (dr_g_check_planned(g, what) != DR_OK || dr_g_check_value(g, in, what) != DR_OK)
        return NULL;
    dr_val *v = &g->vals[in.id];
    if (v->kind != DR_VAL_INPUT) {
        dr_error(DR_ERR_INVALID, "%s: '%s' is not an input", what, v->name);
        return NULL;
    }
    if (batch <= 0 || batch > g->max_batch) {
        dr_error(DR_ERR_INVALID,
                 "%s: batch of %d rows but the graph was planned for 1..%d; "
                 "call dr_graph_plan with a larger size",
                 what, batch, g->max_batch);
        return NULL;
    }
    return v;
}

dr_status dr_graph_set_input(dr_graph *g, dr_value in, const float *host, int batch)
{
    dr_val *v = dr_input_val(g, in, batch, "dr_graph_set_input");
    if (!v)
        return DR_ERR_INVALID;
    g->batch = batch;
    g->ops->to_device(g->be, v->data, host, (size_t)v->numel * (size_t)batch * sizeof(float));
    return DR_OK;
}

dr_status dr_graph_set_input_async(dr_graph *g, dr_value in, const float *host, int batch)
{
    if (!g->ops->step)
        return dr_graph_set_input(g, in, host, batch);
    dr_val *v = dr_input_val(g, in, batch, "dr_graph_set_input_async");
    if (!v)
        return DR_ERR_INVALID;
    g->batch = batch;
    g->ops->step->to_device_async(g->be, v->data, host,
                                  (size_t)v->numel * (size_t)batch * sizeof(float));
    return DR_OK;
}

void dr_g_forward_nodes(dr_graph *g, dr_mode mode)
{
    g->mode = mode;
    for (int k = 0; k < g->n_nodes; k++) {
        double t0 = g->prof ? dr_now() : 0;
        g->nodes[k].cls->forward(g, &g->nodes[k], mode);
        if (g->prof)
            g->prof[k].forward += dr_g_prof_since(g, t0);
    }
}

dr_status dr_graph_forward(dr_graph *g, dr_mode mode)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_forward"));
    dr_g_forward_nodes(g, mode);
    if (mode == DR_MODE_TRAIN)
        g->step++;
    return dr_backend_sync(g->be);
}

/* The last node whose output is value id, or -1. */
static int dr_g_producer(const dr_graph *g, int id)
{
    for (int k = g->n_nodes - 1; k >= 0; k--)
        if (g->nodes[k].out == id)
            return k;
    return -1;
}

int dr_g_loss_node(dr_graph *g, dr_value loss, const char *what)
{
    if (dr_g_check_value(g, loss, what) != DR_OK)
        return -1;
    int from = dr_g_producer(g, loss.id);
    if (from < 0 || g->vals[loss.id].batched) {
        dr_error(DR_ERR_INVALID, "%s: '%s' is not a loss", what, g->vals[loss.id].name);
        return -1;
    }
    return from;
}

void dr_g_backward_nodes(dr_graph *g, int from, const float *seed)
{
    g->ops->zero(g->be, g->model + g->param_floats, g->param_floats * sizeof(float));
    for (int i = 0; i < g->n_dangling; i++)
        g->ops->zero(g->be, g->vals[g->dangling[i]].grad,
                     (size_t)dr_g_count(g, g->dangling[i]) * sizeof(float));
    /* Every node clears what it is the last reader of, even a node that does not
     * backpropagate (one after the loss, or without gradients): otherwise the
     * gradients it was due to clear would keep the previous step's values. */
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        dr_node *n = &g->nodes[k];
        double t0 = g->prof ? dr_now() : 0;
        for (int j = 0; j < n->n_zero; j++)
            g->ops->zero(g->be, g->vals[n->zero[j]].grad,
                         (size_t)dr_g_count(g, n->zero[j]) * sizeof(float));
        if (k == from && seed) /* its readers, all later, have cleared it by now */
            g->ops->to_device(g->be, g->vals[n->out].grad, seed, (size_t)dr_g_count(g, n->out) * sizeof(float));
        if (k <= from && g->vals[n->out].needs_grad) {
            if (g->mode == DR_MODE_EVAL && n->cls->backward_eval)
                n->cls->backward_eval(g, n);
            else
                n->cls->backward(g, n);
        }
        if (g->prof)
            g->prof[k].backward += dr_g_prof_since(g, t0);
    }
}

dr_status dr_graph_backward(dr_graph *g, dr_value loss)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_backward"));
    int from = dr_g_loss_node(g, loss, "dr_graph_backward");
    if (from < 0)
        return DR_ERR_INVALID;
    dr_g_backward_nodes(g, from, NULL);
    return dr_backend_sync(g->be);
}

dr_status dr_graph_backward_output(dr_graph *g, dr_value out)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_backward_output"));
    DR_TRY(dr_g_check_value(g, out, "dr_graph_backward_output"));
    const dr_val *v = &g->vals[out.id];
    int from = dr_g_producer(g, out.id);
    if (from < 0 || !v->batched || v->numel != 1 || !v->needs_grad || v->root != out.id)
        return dr_error(DR_ERR_INVALID, "dr_graph_backward_output: '%s' is not a per-sample scalar with a gradient",
                        v->name);
    if (g->mode != DR_MODE_EVAL)
        return dr_error(DR_ERR_INVALID, "dr_graph_backward_output: the last forward was in train mode");
    float *ones = malloc((size_t)g->batch * sizeof *ones);
    if (!ones)
        return dr_error(DR_ERR_NOMEM, "graph: out of host memory");
    for (int i = 0; i < g->batch; i++)
        ones[i] = 1.0f;
    dr_g_backward_nodes(g, from, ones);
    dr_status s = dr_backend_sync(g->be);
    free(ones);
    return s;
}

dr_status dr_graph_read_grad(dr_graph *g, dr_value v, float *host)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_read_grad"));
    DR_TRY(dr_g_check_value(g, v, "dr_graph_read_grad"));
    const float *grad = dr_g_grad(g, v.id);
    if (!grad)
        return dr_error(DR_ERR_INVALID, "dr_graph_read_grad: '%s' has no gradient", g->vals[v.id].name);
    g->ops->to_host(g->be, host, grad, (size_t)dr_g_count(g, v.id) * sizeof(float));
    return dr_backend_sync(g->be);
}

void dr_g_adam(dr_graph *g, const dr_adam_params *hp)
{
    size_t np = g->param_floats;
    double t0 = g->prof ? dr_now() : 0;
    g->ops->adam_update(g->be, g->model, g->model + np, g->model + 2 * np, g->model + 3 * np,
                        (long)np, hp);
    if (g->prof)
        g->prof_adam += dr_g_prof_since(g, t0);
}

dr_status dr_graph_adam_step(dr_graph *g, const dr_adam_params *hp)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_adam_step"));
    if (hp->step < 1)
        return dr_error(DR_ERR_INVALID, "dr_graph_adam_step: step %ld (counts from 1)", hp->step);
    dr_g_adam(g, hp);
    return dr_backend_sync(g->be);
}

dr_status dr_graph_read(dr_graph *g, dr_value v, float *host)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_read"));
    DR_TRY(dr_g_check_value(g, v, "dr_graph_read"));
    g->ops->to_host(g->be, host, g->vals[v.id].data, (size_t)dr_g_count(g, v.id) * sizeof(float));
    return dr_backend_sync(g->be);
}

/* --- inspection ------------------------------------------------------------ */

dr_backend *dr_graph_backend(const dr_graph *g) { return g->be; }
int dr_graph_batch(const dr_graph *g) { return g->batch; }
int dr_graph_max_batch(const dr_graph *g) { return g->max_batch; }
long dr_graph_numel(const dr_graph *g, dr_value v) { return g->vals[v.id].numel; }
const char *dr_graph_value_name(const dr_graph *g, dr_value v) { return g->vals[v.id].name; }
uint64_t dr_graph_step(const dr_graph *g) { return g->step; }
void dr_graph_set_step(dr_graph *g, uint64_t step) { g->step = step; }
float *dr_graph_grad_ptr(dr_graph *g, dr_value v) { return dr_g_grad(g, v.id); }
float *dr_graph_data_ptr(dr_graph *g, dr_value v) { return g->vals[v.id].data; }

long dr_graph_param_count(const dr_graph *g)
{
    long n = 0;
    for (int i = 0; i < g->n_vals; i++)
        if (g->vals[i].kind == DR_VAL_PARAM)
            n += g->vals[i].numel;
    return n;
}

static dr_val_kind dr_state_val_kind(dr_state_kind kind)
{
    return kind == DR_STATE_BUFFER ? DR_VAL_BUFFER : DR_VAL_PARAM;
}

int dr_graph_state_count(const dr_graph *g, dr_state_kind kind)
{
    int n = 0;
    for (int i = 0; i < g->n_vals; i++)
        n += g->vals[i].kind == dr_state_val_kind(kind);
    return n;
}

dr_status dr_graph_state_get(const dr_graph *g, dr_state_kind kind, int i, dr_state_tensor *out)
{
    if (!g->model)
        return dr_error(DR_ERR_INVALID, "dr_graph_state_get: call dr_graph_plan first");
    int seen = 0;
    for (int k = 0; k < g->n_vals; k++) {
        const dr_val *v = &g->vals[k];
        if (v->kind != dr_state_val_kind(kind) || seen++ != i)
            continue;
        out->name = v->name;
        out->ndim = v->ndim;
        for (int d = 0; d < DR_MAX_DIMS; d++)
            out->shape[d] = d < v->ndim ? v->shape[d] : 0;
        out->numel = v->numel;
        size_t np = g->param_floats;
        switch (kind) {
        case DR_STATE_PARAM: out->data = g->model + v->off; break;
        case DR_STATE_GRAD: out->data = g->model + np + v->off; break;
        case DR_STATE_ADAM_M: out->data = g->model + 2 * np + v->off; break;
        case DR_STATE_ADAM_V: out->data = g->model + 3 * np + v->off; break;
        case DR_STATE_BUFFER: out->data = g->model + 4 * np + v->off; break;
        }
        return DR_OK;
    }
    return dr_error(DR_ERR_INVALID, "dr_graph_state_get: no state tensor %d of kind %d", i, (int)kind);
}

dr_status dr_graph_state_read(dr_graph *g, const dr_state_tensor *t, float *host)
{
    g->ops->to_host(g->be, host, t->data, (size_t)t->numel * sizeof(float));
    return dr_backend_sync(g->be);
}

dr_status dr_graph_state_write(dr_graph *g, const dr_state_tensor *t, const float *host)
{
    g->ops->to_device(g->be, t->data, host, (size_t)t->numel * sizeof(float));
    return dr_backend_sync(g->be);
}
