/* The space of a study: which experiment keys a trial sets and to what, read from
 * a table of the experiment file (search.space), one entry per key:
 *
 *   [search.space]
 *   "train.lr"         = { type = "float", low = 1e-4, high = 1e-2, log = true }
 *   "model.dropout"    = { type = "float", low = 0.3, high = 0.7 }
 *   "train.batch_size" = { type = "int", low = 64, high = 512, step = 64 }
 *   "model.filters"    = { type = "categorical", choices = [[32, 64, 128], [64, 128, 256]] }
 *   "features.select"  = { type = "bool" }
 *   "features.vif_threshold" = { type = "float", low = 5.0, high = 20.0,
 *                                when = "features.select", equals = true }
 *
 * A conditional parameter (when / equals) exists only in trials where the
 * categorical or bool parameter it names takes one of the values of equals (a
 * value or a list). The sampler works on dr_tpe coordinates: floats as they are,
 * stepped numbers as the index of their step, categorical and bool choices as
 * their index. Each value reaches the trial as TOML text (dr_config_set_toml),
 * so any key of any type can be searched; whether the key exists and accepts the
 * value is checked by the module that reads it (the study's check run). */
#ifndef DR_EXPERIMENTS_SEARCH_SPACE_H
#define DR_EXPERIMENTS_SEARCH_SPACE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/config.h"
#include "experiments/tpe.h"

typedef enum dr_search_kind { DR_SEARCH_FLOAT, DR_SEARCH_INT, DR_SEARCH_CATEGORICAL, DR_SEARCH_BOOL } dr_search_kind;

typedef struct dr_search_param {
    char key[DR_TPE_NAME_CAP]; /* the experiment key a trial sets */
    char where[256];           /* where the entry is written (file:line:column) */
    dr_search_kind kind;
    double lo, hi, step; /* numbers; step 0 = continuous float (ints: step >= 1) */
    int log;
    int n_choices;                            /* categorical, bool (2) */
    const char *choice[DR_TPE_MAX_CHOICES];   /* TOML text of each choice */
    int parent;                               /* index of the parameter of `when`, or -1 */
    int n_enabling, enabling[DR_TPE_MAX_CHOICES]; /* the parent's choices that enable it */
} dr_search_param;

typedef struct dr_search_space {
    int n;
    dr_search_param p[DR_TPE_MAX_PARAMS];
    dr_tpe_space tpe; /* the same parameters in sampler coordinates */
} dr_search_space;

/* Reads every entry of table `section`; errors name the entry's key and position.
 * An empty or missing table is an error naming the section. */
dr_status dr_search_space_read(dr_config *cfg, const char *section, dr_search_space *sp);
/* A sensitivity grid: each key of table `section` lists its values
 * ("model.lstm_units" = [64, 128, 256]); each becomes a categorical parameter. */
dr_status dr_search_space_read_grid(dr_config *cfg, const char *section, dr_search_space *sp);
/* Index of the parameter that sets key, or -1. */
int dr_search_space_find(const dr_search_space *sp, const char *key);
/* Sets to NaN the parameters whose condition does not hold in v (sampler
 * coordinates), so that they are neither applied nor modelled. */
void dr_search_space_deactivate(const dr_search_space *sp, double *v);
/* The value of parameter j at sampler coordinate v, as TOML text. */
const char *dr_search_value_toml(const dr_search_space *sp, int j, double v, char *buf, size_t cap);
/* Optuna's internal representation of that value (floats and ints: the value;
 * categorical: the index) and its distribution as Optuna's JSON
 * (optuna.distributions.distribution_to_json). List choices appear to Optuna
 * as their TOML text, since its categorical choices must be scalars. */
double dr_search_value_internal(const dr_search_space *sp, int j, double v);
/* A new cJSON object (NULL when out of memory); the caller deletes it. */
cJSON *dr_search_distribution(const dr_search_space *sp, int j);
/* The sampler coordinate of Optuna's internal value (the inverse of the above),
 * for a journal read back; DR_ERR_FORMAT when it lies outside the space. */
dr_status dr_search_value_from_internal(const dr_search_space *sp, int j, double internal, double *v);

#endif
