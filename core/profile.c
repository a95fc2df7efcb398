/* Per-node timing of forward, backward and Adam (dr_graph_profile), summed per
 * op for the profile of a training step. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/graph_internal.h"

dr_status dr_graph_profile(dr_graph *g, int on)
{
    DR_TRY(dr_g_check_planned(g, "dr_graph_profile")); /* no node is added after planning */
    free(g->prof);
    g->prof = NULL;
    g->prof_adam = 0;
    if (!on)
        return DR_OK;
    g->prof = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *g->prof);
    return g->prof ? DR_OK : dr_error(DR_ERR_NOMEM, "graph: out of host memory for the profile");
}

double dr_g_prof_since(dr_graph *g, double t0)
{
    dr_backend_sync(g->be); /* the node's kernels, not only their launch */
    return dr_now() - t0;
}

int dr_graph_profile_ops(const dr_graph *g, dr_op_time *out, int cap)
{
    int n = 0;
    for (int k = 0; g->prof && k < g->n_nodes; k++) {
        const char *op = g->nodes[k].cls->name;
        int i = 0;
        while (i < n && strcmp(out[i].op, op) != 0)
            i++;
        if (i == n) {
            if (n == cap)
                return n;
            out[n++] = (dr_op_time){.op = op};
        }
        out[i].nodes++;
        out[i].forward_s += g->prof[k].forward;
        out[i].backward_s += g->prof[k].backward;
    }
    if (g->prof && n < cap)
        out[n++] = (dr_op_time){.op = "adam", .backward_s = g->prof_adam};
    return n;
}
