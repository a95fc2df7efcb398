/* The [model] section of an experiment file, for the hybrid network. */
#include <string.h>

#include "core/config.h"
#include "models/hybrid.h"

dr_status dr_hybrid_config_read(dr_config *cfg, dr_hybrid_config *out)
{
    memset(out, 0, sizeof *out);
    const int *v;
    int n;
    DR_TRY(dr_config_int_list(cfg, "model.filters", (const int[]){64, 128, 256}, 3, 1, 4096, 3, 3, &v, &n));
    memcpy(out->filters, v, sizeof out->filters);
    DR_TRY(dr_config_int_list(cfg, "model.kernel_sizes", (const int[]){3, 3, 3}, 3, 1, 31, 3, 3, &v, &n));
    memcpy(out->kernel, v, sizeof out->kernel);
    DR_TRY(dr_config_int(cfg, "model.pool", 2, 1, 64, &out->pool));
    DR_TRY(dr_config_int(cfg, "model.lstm_units", 128, 1, 4096, &out->lstm_units));
    DR_TRY(dr_config_int(cfg, "model.attention_dim", 128, 1, 4096, &out->attention_dim));
    DR_TRY(dr_config_int_list(cfg, "model.fc", (const int[]){256, 64}, 2, 1, 65536, 0, DR_HYBRID_MAX_FC, &v, &n));
    out->n_fc = n;
    memcpy(out->fc, v, (size_t)n * sizeof *v);
    double d;
    DR_TRY(dr_config_float(cfg, "model.dropout", 0.5, 0.0, 0.95, &d));
    out->dropout = (float)d;
    DR_TRY(dr_config_float(cfg, "train.loss_alpha", 0.7, 0.0, 1.0, &d));
    out->loss.a = (float)d;
    DR_TRY(dr_config_float(cfg, "train.focal_gamma", 2.0, 0.0, 10.0, &d));
    out->loss.gamma = (float)d;
    /* a weight above 1 on defaults trades precision for recall */
    DR_TRY(dr_config_float(cfg, "train.pos_weight", 1.0, 1e-3, 1e3, &d));
    out->loss.w_pos = (float)d;
    out->loss.w_neg = 1.0f;
    return DR_OK;
}
