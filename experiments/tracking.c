#include "experiments/tracking.h"

#include <stdio.h>
#include <stdlib.h>

#include "experiments/experiment.h"

dr_status dr_tracking_open(const char *run_dir, dr_tfevents **w, int *created)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/events.out.tfevents.defrisk", run_dir);
    return dr_tfevents_open(w, path, created);
}

/* The given keys of section: numbers as numbers, the rest (lists, strings,
 * booleans) as their TOML text. */
static dr_status dr_section_hparams(dr_config *cfg, const char *section, dr_hparam *hp, int cap, int *n)
{
    const dr_config_key *keys;
    int k;
    DR_TRY(dr_config_keys(cfg, section, &keys, &k));
    for (int i = 0; i < k && *n < cap; i++) {
        if (keys[i].type == DR_CONFIG_TABLE)
            continue;
        const char *text;
        DR_TRY(dr_config_value_toml(cfg, keys[i].path, -1, &text));
        int number = keys[i].type == DR_CONFIG_INT || keys[i].type == DR_CONFIG_FLOAT;
        hp[*n] = (dr_hparam){.name = keys[i].path, .text = number ? NULL : text, .number = number ? atof(text) : 0};
        (*n)++;
    }
    return DR_OK;
}

dr_status dr_tracking_start(dr_experiment *e)
{
    dr_tfevents *w;
    int created;
    DR_TRY(dr_tracking_open(e->run.dir, &w, &created));
    enum { CAP = 128 };
    dr_hparam hp[CAP];
    int n = 0;
    dr_status s = dr_section_hparams(e->cfg, "model", hp, CAP, &n);
    if (s == DR_OK)
        s = dr_section_hparams(e->cfg, "train", hp, CAP, &n);
    /* a resumed run's file has them already */
    if (s == DR_OK && created)
        s = dr_tfevents_hparams_start(w, hp, n);
    dr_status c = dr_tfevents_close(w);
    return s != DR_OK ? s : c;
}

dr_status dr_tracking_results(dr_experiment *e, const double *table)
{
    dr_tfevents *w;
    DR_TRY(dr_tracking_open(e->run.dir, &w, NULL));
    dr_status s = DR_OK;
    for (int i = 0; i < e->n_models && s == DR_OK; i++)
        for (int c = 0; c < DR_N_COLS && s == DR_OK; c++) {
            char tag[160];
            snprintf(tag, sizeof tag, "test_%s/%s", dr_result_columns[c], e->models[i].name);
            s = dr_tfevents_scalar(w, tag, 0, table[i * DR_N_COLS + c]);
        }
    dr_status c = dr_tfevents_close(w);
    return s != DR_OK ? s : c;
}

dr_status dr_tracking_end(const char *run_dir, int success)
{
    dr_tfevents *w;
    DR_TRY(dr_tracking_open(run_dir, &w, NULL));
    dr_status s = dr_tfevents_hparams_end(w, success);
    dr_status c = dr_tfevents_close(w);
    return s != DR_OK ? s : c;
}
