/* Graph internals shared by core/graph.c and the node files in core/nodes/.
 * Nothing outside core/ includes this. */
#ifndef DR_GRAPH_INTERNAL_H
#define DR_GRAPH_INTERNAL_H

#include <stddef.h>

#include "core/graph.h"
#include "core/op_table.h"

typedef enum dr_val_kind {
    DR_VAL_ACT = 0, /* a node's output: arena, batched unless a scalar */
    DR_VAL_INPUT,   /* set from the host: arena, batched, a gradient only when differentiable */
    DR_VAL_SAVED,   /* state a node keeps from forward to backward: arena */
    DR_VAL_PARAM,   /* trainable: model block, with gradient and Adam moments */
    DR_VAL_BUFFER   /* persistent, not trained (running statistics): model block */
} dr_val_kind;

typedef enum dr_init { DR_INIT_ZEROS = 0, DR_INIT_ONES, DR_INIT_UNIFORM } dr_init;

typedef struct dr_val {
    char name[64];
    dr_val_kind kind;
    int ndim;
    int shape[DR_MAX_DIMS];
    long numel;    /* per sample when batched, else in total */
    int batched;
    int needs_grad;
    int root;      /* value whose memory this one uses (itself unless a reshape view) */
    dr_init init;
    float bound;   /* DR_INIT_UNIFORM: U(-bound, bound) */
    size_t off;    /* floats into the arena or the model block */
    size_t goff;   /* gradient offset, when needs_grad */
    float *data;
    float *grad;
} dr_val;

typedef struct dr_node dr_node;

typedef struct dr_node_class {
    const char *name;
    void (*forward)(dr_graph *g, dr_node *n, dr_mode mode);
    void (*backward)(dr_graph *g, dr_node *n);
    /* floats of temporary memory needed at this batch size (NULL: none) */
    size_t (*scratch)(const dr_graph *g, const dr_node *n, int batch);
    /* backward after an eval forward, where it differs (batch norm, dropout);
     * NULL: backward */
    void (*backward_eval)(dr_graph *g, dr_node *n);
} dr_node_class;

enum { DR_NODE_MAX_IN = 16, DR_NODE_MAX_AUX = 4, DR_NODE_MAX_PAR = 4 };

struct dr_node {
    const dr_node_class *cls;
    int in[DR_NODE_MAX_IN];
    int n_in;
    int out;
    int aux[DR_NODE_MAX_AUX]; /* saved state and buffers */
    int par[DR_NODE_MAX_PAR];
    int ia[4];                /* integer attributes (kernel size, ...) */
    float fa[2];              /* float attributes (dropout p, ...) */
    dr_loss_params loss;
    int zero[DR_NODE_MAX_IN]; /* gradients to clear before this node's backward */
    int n_zero;
};

/* One batch size's captured training step (core/step.c). */
enum { DR_STEP_SLOTS = 2 }; /* the full batch and an epoch's short last batch */
typedef struct dr_step_slot {
    int batch;         /* rows; 0: slot unused */
    int loss;          /* the loss value backward starts from */
    int warmed;        /* one step ran op by op: the next is captured */
    dr_step_graph *sg; /* the captured step, or NULL */
} dr_step_slot;

struct dr_graph {
    dr_backend *be;
    const dr_op_table *ops;
    uint64_t seed;
    uint64_t step;
    dr_val *vals;
    int n_vals, cap_vals;
    dr_node *nodes;
    int n_nodes, cap_nodes;
    int batch, max_batch;
    dr_mode mode; /* of the last forward */
    /* model block: params | grads | adam m | adam v | buffers */
    float *model;
    size_t param_floats, buffer_floats;
    /* arena: activations, their gradients, saved state; then scratch */
    float *arena;
    size_t arena_floats;
    float *scratch;
    int *dangling; /* gradients that no node writes, cleared at each backward */
    int n_dangling;
    /* whole training steps (core/step.c) */
    int step_graphs; /* capture and replay steps (only on a backend with step ops) */
    dr_step_slot slots[DR_STEP_SLOTS];
    dr_step_metrics *metrics_dev; /* with step ops: summed on the device */
    dr_step_metrics metrics_host; /* without: summed here */
    dr_step_stats stats;
    /* dr_graph_profile: seconds per node, and of Adam; NULL when off */
    struct dr_node_time {
        double forward, backward;
    } *prof;
    double prof_adam;
};

static inline dr_val *dr_g_val(dr_graph *g, int id) { return &g->vals[id]; }
static inline float *dr_g_data(dr_graph *g, int id) { return g->vals[id].data; }
/* NULL when the value needs no gradient, which the kernels read as "skip". */
static inline float *dr_g_grad(dr_graph *g, int id) { return g->vals[id].needs_grad ? g->vals[id].grad : NULL; }
static inline long dr_g_count(const dr_graph *g, int id)
{
    return g->vals[id].batched ? g->vals[id].numel * g->batch : g->vals[id].numel;
}

/* Seconds since t0 (dr_now()) once the device has finished (core/profile.c). */
double dr_g_prof_since(dr_graph *g, double t0);

/* The node loops of forward, backward and Adam, queued with no wait for the
 * device (core/graph.c). Backward runs from node `from`, in the mode of the
 * last forward; with seed (host, one float per row), node from's output
 * gradient is set to it first. */
void dr_g_forward_nodes(dr_graph *g, dr_mode mode);
void dr_g_backward_nodes(dr_graph *g, int from, const float *seed);
void dr_g_adam(dr_graph *g, const dr_adam_params *hp);
/* The node whose output is the loss, or -1 with the error set. */
int dr_g_loss_node(dr_graph *g, dr_value loss, const char *what);
dr_status dr_g_check_planned(const dr_graph *g, const char *what);
/* Step state (core/step.c): at planning, captured steps are dropped (they
 * point into the arena) and the device metrics made once; freed with the graph. */
dr_status dr_g_steps_plan(dr_graph *g);
void dr_g_steps_free(dr_graph *g);

/* Builders' helpers: each returns a value id, or -1 with the error set. */
int dr_g_value(dr_graph *g, dr_val_kind kind, const char *name, int ndim, const int *shape,
               int batched, int needs_grad);
int dr_g_param(dr_graph *g, const char *node_name, const char *suffix, int ndim, const int *shape,
               dr_init init, float bound);
int dr_g_buffer(dr_graph *g, const char *node_name, const char *suffix, int ndim, const int *shape,
                dr_init init);
dr_node *dr_g_node(dr_graph *g, const dr_node_class *cls);
dr_status dr_g_check_value(const dr_graph *g, dr_value v, const char *op);
/* "[64, 20]" into buf, for shape errors. */
const char *dr_g_shape_str(const dr_val *v, char *buf, size_t cap);
/* The node's own name: the given one, or "op<index>". */
void dr_g_node_name(const dr_graph *g, const char *given, const char *op, char *buf, size_t cap);

#endif
