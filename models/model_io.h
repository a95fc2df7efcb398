/* The graph values of a network that training feeds and reads
 * (experiments/train.h): every network builder in models/ fills one. */
#ifndef DR_MODELS_MODEL_IO_H
#define DR_MODELS_MODEL_IO_H

#include "core/graph.h"

typedef struct dr_model_io {
    dr_graph *g;
    dr_value x, seq, y, logit, prob, loss; /* seq.id < 0 without a sequence */
} dr_model_io;

#endif
