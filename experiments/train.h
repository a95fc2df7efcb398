/* Training of a graph model: seeded shuffling, Adam, learning rate x factor when
 * the validation loss plateaus, early stopping on validation AUC restoring the
 * best weights, a progress bar, one JSON line per epoch in metrics.jsonl, and a
 * checkpoint after every epoch from which a killed run resumes exactly. */
#ifndef DR_EXPERIMENTS_TRAIN_H
#define DR_EXPERIMENTS_TRAIN_H

#include <stdio.h>

#include "core/graph.h"
#include "core/h5.h"
#include "models/model_io.h"

/* Rows of one split as the network reads them. */
typedef struct dr_rows {
    long n;
    int n_features;
    const float *x;   /* [n, n_features] */
    int seq_len, seq_channels;
    const float *seq; /* [n, seq_len, seq_channels] or NULL */
    const float *y;   /* [n], 0 or 1 */
} dr_rows;

typedef struct dr_train_config {
    int epochs;
    int batch_size;
    double lr, beta1, beta2, eps, weight_decay;
    int plateau_patience;  /* epochs without a lower validation loss before lr *= factor */
    double plateau_factor;
    int early_stop_patience; /* epochs without a higher validation AUC before stopping */
    uint64_t seed;         /* shuffling */
    int progress;          /* draw the progress bar on stderr */
    int cuda_graphs;       /* replay steps from a captured graph where the backend can */
    /* Called while each checkpoint is written, to store what prediction needs
     * besides the weights (the preprocessing transform); may be NULL. */
    dr_h5_writer_fn *checkpoint_extra;
    void *checkpoint_extra_ctx;
    /* Called after every epoch with its validation AUC (a search trial reports
     * it for pruning); *stop = 1 ends training there, with the best weights so
     * far, as early stopping does. May be NULL. */
    dr_status (*epoch_end)(void *ctx, int epoch, double val_auc, int *stop);
    void *epoch_end_ctx;
} dr_train_config;

/* Everything that makes a resumed run continue exactly. */
typedef struct dr_train_state {
    int epoch;             /* epochs completed */
    long adam_step;
    double lr;
    double plateau_best;   /* lowest validation loss so far */
    int plateau_bad;
    double best_auc;
    int best_epoch;
    int es_wait;
    int stopped;           /* early stopping fired */
    /* history, one entry per completed epoch */
    double *train_loss, *val_loss, *val_auc, *hist_lr, *seconds;
    /* best weights so far (host copies of parameters and buffers) */
    float *best_params, *best_buffers;
    long n_param_floats, n_buffer_floats;
} dr_train_state;

struct dr_config;
/* Reads [train]: epochs, batch_size, lr, beta1, beta2, eps, weight_decay,
 * plateau_patience, plateau_factor, early_stopping_patience, seed, progress,
 * cuda_graphs. */
dr_status dr_train_config_read(struct dr_config *cfg, dr_train_config *tc);

/* Trains m on train, validating on val after every epoch. With run_dir, writes
 * run_dir/metrics.jsonl and run_dir/checkpoint.h5 each epoch; with resume, loads
 * that checkpoint first and continues. Ends with the best weights loaded.
 * Within an epoch the host waits for the device only to read the loss: at the
 * end of the epoch and when the progress bar is redrawn. */
dr_status dr_train(const dr_model_io *m, const dr_train_config *tc, const dr_rows *train, const dr_rows *val,
                   const char *run_dir, int resume, dr_train_state *st);
void dr_train_state_free(dr_train_state *st);

/* Probabilities for every row (eval mode, batches of the planned size). */
dr_status dr_predict(const dr_model_io *m, const dr_rows *rows, float *prob, double *mean_loss);
/* The same with the logits beside the probabilities. */
dr_status dr_predict_logit(const dr_model_io *m, const dr_rows *rows, float *prob, float *logit);

#endif
