/* Whole training steps (graph.h, core/ops/step.h): forward, backward and Adam
 * queued with no host wait, the batch loss summed where the step runs, and on a
 * backend with step graphs one captured graph per batch size, replayed.
 *
 * Per batch size: the first step runs op by op, so that kernels are loaded and
 * cuBLAS has chosen its algorithms outside any capture; the second is captured
 * and replayed, later ones are replayed. A capture or replay that fails has run
 * nothing of the step, which then runs op by op: no step is lost or doubled.
 * The graph's later steps run op by op too (a second failure is likely), after
 * one line on stderr. */
#include "core/graph_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Captured steps point into the arena: dropped whenever it is laid out. */
static void dr_forget_captures(dr_graph *g)
{
    for (int i = 0; i < DR_STEP_SLOTS; i++)
        if (g->slots[i].sg)
            g->ops->step->graph_free(g->be, g->slots[i].sg);
    memset(g->slots, 0, sizeof g->slots);
}

void dr_g_steps_free(dr_graph *g)
{
    dr_forget_captures(g);
    if (g->metrics_dev)
        g->ops->free(g->be, g->metrics_dev);
    g->metrics_dev = NULL;
}

dr_status dr_g_steps_plan(dr_graph *g)
{
    dr_forget_captures(g);
    if (!g->ops->step || g->metrics_dev)
        return DR_OK;
    g->metrics_dev = g->ops->alloc(g->be, sizeof *g->metrics_dev);
    if (!g->metrics_dev)
        return dr_error_context(DR_ERR_NOMEM, "graph: step metrics: ");
    g->ops->zero(g->be, g->metrics_dev, sizeof *g->metrics_dev);
    return DR_OK;
}

void dr_graph_use_step_graphs(dr_graph *g, int on)
{
    g->step_graphs = on && g->ops->step;
    if (!g->step_graphs)
        dr_forget_captures(g);
}

const dr_step_stats *dr_graph_step_stats(const dr_graph *g) { return &g->stats; }

/* A backend without step ops (the CPU) runs the step in place and has the loss
 * on the host at once: a non-finite one stops the step before backward. */
static dr_status dr_host_step(dr_graph *g, int from, int loss, const dr_adam_params *hp)
{
    dr_g_forward_nodes(g, DR_MODE_TRAIN);
    g->step++;
    g->stats.eager++;
    float l;
    g->ops->to_host(g->be, &l, g->vals[loss].data, sizeof l);
    dr_step_metrics *m = &g->metrics_host;
    m->loss_sum += (double)l * g->batch;
    if (!isfinite(l)) {
        if (!m->bad_step) {
            m->bad_step = hp->step;
            m->bad_loss = l;
        }
        return dr_error(DR_ERR_NUMERIC, "the loss is %g at step %ld", (double)l, hp->step);
    }
    dr_g_backward_nodes(g, from, NULL);
    dr_g_adam(g, hp);
    return DR_OK;
}

/* One step's ops on a backend with step ops: run at once, or recorded while
 * capturing. The caller advances g->step (the dropout counter). */
static void dr_queue_step(dr_graph *g, int from, int loss, const dr_adam_params *hp)
{
    dr_g_forward_nodes(g, DR_MODE_TRAIN);
    g->ops->step->metrics_add(g->be, g->metrics_dev, g->vals[loss].data, g->batch, hp->step);
    dr_g_backward_nodes(g, from, NULL);
    dr_g_adam(g, hp);
}

/* The slot of the current batch size, or NULL when two others have theirs. */
static dr_step_slot *dr_slot(dr_graph *g, int loss)
{
    for (int i = 0; i < DR_STEP_SLOTS; i++)
        if (g->slots[i].batch == g->batch && g->slots[i].loss == loss)
            return &g->slots[i];
    for (int i = 0; i < DR_STEP_SLOTS; i++)
        if (g->slots[i].batch == 0) {
            g->slots[i] = (dr_step_slot){.batch = g->batch, .loss = loss};
            return &g->slots[i];
        }
    return NULL;
}

static dr_status dr_capture(dr_graph *g, dr_step_slot *sl, int from, int loss,
                            const dr_adam_params *hp)
{
    const dr_step_ops *so = g->ops->step;
    DR_TRY(so->capture_begin(g->be));
    dr_queue_step(g, from, loss, hp);
    DR_TRY(so->capture_end(g->be, &sl->sg));
    g->stats.captured++;
    return DR_OK;
}

static void dr_step_graphs_failed(dr_graph *g, const char *what)
{
    snprintf(g->stats.failure, sizeof g->stats.failure, "step graph %s failed: %s", what,
             dr_last_error());
    fprintf(stderr, "defrisk: warning: %s; training steps run op by op from now on\n",
            g->stats.failure);
    dr_graph_use_step_graphs(g, 0);
}

/* Runs the step as a replay when its slot is warm; returns 0 when it must run
 * op by op instead (warm-up, no slot, or a failure). */
static int dr_replayed(dr_graph *g, int from, int loss, const dr_adam_params *hp)
{
    dr_step_slot *sl = dr_slot(g, loss);
    if (!sl)
        return 0;
    if (!sl->warmed) {
        sl->warmed = 1;
        return 0;
    }
    if (!sl->sg && dr_capture(g, sl, from, loss, hp) != DR_OK) {
        dr_step_graphs_failed(g, "capture");
        return 0;
    }
    dr_step_scalars sc = {.counter = g->step, .adam = *hp};
    if (g->ops->step->replay(g->be, sl->sg, &sc) != DR_OK) {
        dr_step_graphs_failed(g, "replay");
        return 0;
    }
    return 1;
}

dr_status dr_graph_train_step(dr_graph *g, dr_value loss, const dr_adam_params *hp)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_train_step"));
    int from = dr_g_loss_node(g, loss, "dr_graph_train_step");
    if (from < 0)
        return DR_ERR_INVALID;
    if (hp->step < 1)
        return dr_error(DR_ERR_INVALID, "dr_graph_train_step: step %ld (counts from 1)", hp->step);
    if (!g->ops->step)
        return dr_host_step(g, from, loss.id, hp);
    if (g->step_graphs && !g->prof && dr_replayed(g, from, loss.id, hp)) { /* a profile times op by op */
        g->stats.replayed++;
    } else {
        dr_queue_step(g, from, loss.id, hp);
        g->stats.eager++;
    }
    g->step++;
    return DR_OK;
}

dr_status dr_graph_step_metrics_reset(dr_graph *g)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_step_metrics_reset"));
    memset(&g->metrics_host, 0, sizeof g->metrics_host);
    if (g->metrics_dev)
        g->ops->zero(g->be, g->metrics_dev, sizeof *g->metrics_dev);
    return DR_OK;
}

dr_status dr_graph_step_metrics(dr_graph *g, dr_step_metrics *out)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_step_metrics"));
    if (!g->metrics_dev) {
        *out = g->metrics_host;
        return DR_OK;
    }
    g->ops->to_host(g->be, out, g->metrics_dev, sizeof *out);
    return dr_backend_sync(g->be);
}
