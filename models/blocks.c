#include "models/blocks.h"

#include <stdio.h>

dr_status dr_fc_block(dr_graph *g, dr_value *out, dr_value x, int units, float dropout, const char *name)
{
    char nm[48];
    dr_value a, b, r;
    DR_TRY(dr_graph_linear(g, &a, x, units, name));
    snprintf(nm, sizeof nm, "%s.bn", name);
    DR_TRY(dr_graph_batchnorm(g, &b, a, nm));
    DR_TRY(dr_graph_relu(g, &r, b));
    return dr_graph_dropout(g, out, r, dropout);
}
