/* Layer blocks the networks of models/ share. */
#ifndef DR_MODELS_BLOCKS_H
#define DR_MODELS_BLOCKS_H

#include "core/graph.h"

/* linear (units) -> batch norm -> ReLU -> dropout; parameters named NAME.w,
 * NAME.b and NAME.bn.*, so checkpoints of either network keep their names. */
dr_status dr_fc_block(dr_graph *g, dr_value *out, dr_value x, int units, float dropout, const char *name);

#endif
