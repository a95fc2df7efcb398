/* The [train] section of an experiment file. */
#include <string.h>

#include "core/config.h"
#include "experiments/train.h"

dr_status dr_train_config_read(dr_config *cfg, dr_train_config *tc)
{
    int64_t seed;
    bool progress, cuda_graphs;
    memset(tc, 0, sizeof *tc);
    DR_TRY(dr_config_int(cfg, "train.epochs", 100, 1, 100000, &tc->epochs));
    DR_TRY(dr_config_int(cfg, "train.batch_size", 256, 1, 1 << 20, &tc->batch_size));
    DR_TRY(dr_config_float(cfg, "train.lr", 1e-3, 1e-7, 10.0, &tc->lr));
    DR_TRY(dr_config_float(cfg, "train.beta1", 0.9, 0.0, 0.999999, &tc->beta1));
    DR_TRY(dr_config_float(cfg, "train.beta2", 0.999, 0.0, 0.99999999, &tc->beta2));
    DR_TRY(dr_config_float(cfg, "train.eps", 1e-8, 1e-12, 1.0, &tc->eps));
    DR_TRY(dr_config_float(cfg, "train.weight_decay", 0.0, 0.0, 1.0, &tc->weight_decay));
    DR_TRY(dr_config_int(cfg, "train.plateau_patience", 5, 0, 1000, &tc->plateau_patience));
    DR_TRY(dr_config_float(cfg, "train.plateau_factor", 0.1, 1e-6, 1.0, &tc->plateau_factor));
    DR_TRY(dr_config_int(cfg, "train.early_stopping_patience", 10, 1, 100000, &tc->early_stop_patience));
    DR_TRY(dr_config_int64(cfg, "train.seed", 42, 0, INT64_MAX, &seed));
    DR_TRY(dr_config_bool(cfg, "train.progress", true, &progress));
    DR_TRY(dr_config_bool(cfg, "train.cuda_graphs", true, &cuda_graphs));
    tc->seed = (uint64_t)seed;
    tc->progress = progress;
    tc->cuda_graphs = cuda_graphs;
    return DR_OK;
}
