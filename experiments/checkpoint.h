/* Checkpoints: HDF5, readable from h5py, layout versioned (see exp/README.md).
 *
 *   /            attrs: format = "defrisk-checkpoint", version, epoch, adam_step,
 *                graph_step (the dropout counter), lr, plateau_best, plateau_bad,
 *                best_auc, best_epoch, es_wait, stopped
 *   /params/NAME, /adam_m/NAME, /adam_v/NAME, /buffers/NAME   current state
 *   /best/params/NAME, /best/buffers/NAME                     best weights so far
 *   /history/{train_loss, val_loss, val_auc, lr, seconds}     one entry per epoch
 *   anything the caller's extra writer adds (the preprocessing transform)
 *
 * Written to a temporary and renamed into place, so a kill at any moment leaves
 * the previous checkpoint whole. */
#ifndef DR_EXPERIMENTS_CHECKPOINT_H
#define DR_EXPERIMENTS_CHECKPOINT_H

#include "core/h5.h"
#include "experiments/train.h"

enum { DR_CHECKPOINT_VERSION = 1 };

dr_status dr_checkpoint_save(const char *path, dr_graph *g, const dr_train_state *st, dr_h5_writer_fn *extra,
                             void *extra_ctx);
/* Restores the graph's state and st (whose history arrays it allocates for at
 * least max_epochs epochs). A file of
 * another format or version, or one missing a tensor of this graph, is
 * DR_ERR_FORMAT naming the file and what is wrong. */
dr_status dr_checkpoint_load(const char *path, dr_graph *g, dr_train_state *st, int max_epochs);
/* Loads only the best weights (for prediction from a finished run). */
dr_status dr_checkpoint_load_best(const char *path, dr_graph *g);

#endif
