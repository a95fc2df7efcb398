/* Experiment configuration: a TOML 1.0 file read through typed getters.
 *
 * Darknet's idea (one file describes the run) made strict:
 *   - every module reads its keys with a typed getter that names a default and
 *     the valid range; a wrong type or an out-of-range value is an error naming
 *     file:line:column, the key and what was expected;
 *   - each getter marks the key as read and records the value actually used
 *     (the default when the file has none), so dr_config_write_resolved() writes
 *     a config.toml that reproduces the run;
 *   - once every module has read its keys, dr_config_check_unused() fails on the
 *     first key or section of the file that nothing read (a typo is an error,
 *     not a silently ignored setting).
 *
 * Keys are TOML dotted paths: "train.epochs", "model.branch.filters",
 * 'search."model.lstm_units"' (a quoted component may hold dots). Values are
 * integers, floats, booleans, strings and arrays of them (arrays may nest);
 * dates and arrays of tables are refused at load with their position.
 *
 * Typical use:
 *   dr_config *cfg;
 *   DR_TRY(dr_config_load(&cfg, "exp/quickstart.toml"));
 *   for (i = 0; i < n_overrides; i++) DR_TRY(dr_config_override(cfg, argv_override[i]));
 *   int epochs;
 *   DR_TRY(dr_config_int(cfg, "train.epochs", 100, 1, 100000, &epochs));
 *   ... every module reads its keys ...
 *   DR_TRY(dr_config_check_unused(cfg));
 *   DR_TRY(dr_config_write_resolved(cfg, "runs/x/config.toml"));
 *   dr_config_free(cfg);
 *
 * Strings and lists returned by getters belong to the config and stay valid
 * until dr_config_free(), even if the key is set again later. A dr_config is not
 * thread-safe; give each thread (or TPE trial) its own dr_config_clone(). */
#ifndef DR_CONFIG_H
#define DR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#ifdef __cplusplus
extern "C" { /* core/toml_bridge.cpp includes this header */
#endif

typedef struct dr_config dr_config;

typedef enum dr_config_type {
    DR_CONFIG_NONE = 0, /* key absent */
    DR_CONFIG_INT,
    DR_CONFIG_FLOAT,
    DR_CONFIG_BOOL,
    DR_CONFIG_STRING,
    DR_CONFIG_ARRAY,
    DR_CONFIG_TABLE
} dr_config_type;

/* --- loading --------------------------------------------------------------- */

/* Reads and parses path. A missing file is DR_ERR_IO; malformed TOML is
 * DR_ERR_PARSE "path:line:column: <toml++'s description>"; dates, times and
 * arrays of tables are DR_ERR_UNSUPPORTED with their position. */
dr_status dr_config_load(dr_config **out, const char *path);
/* Same from text in memory; source_name stands for the file in messages. */
dr_status dr_config_load_string(dr_config **out, const char *text, const char *source_name);
/* An empty configuration: every getter returns its default. */
dr_status dr_config_create(dr_config **out);
/* Deep copy, read marks included (one per TPE trial or thread). */
dr_status dr_config_clone(dr_config **out, const dr_config *cfg);
void dr_config_free(dr_config *cfg);

/* Applies a command-line override "section.key=value" on top of the file. The
 * text is parsed as one TOML key/value line, so strings need quotes
 * (output.dir="runs/a") and arrays brackets (search.seeds=[1,2]). An override
 * may add a key the file lacks; a malformed one, or one that would turn a table
 * into a value (or a value into a table), fails with DR_ERR_INVALID quoting the
 * override. Later errors about the key name the override instead of a line. */
dr_status dr_config_override(dr_config *cfg, const char *text);

/* --- typed getters -------------------------------------------------------------
 * Each returns DR_OK and the value in *out, the default when the key is absent.
 * Errors (DR_ERR_INVALID) name where the value came from (file:line:column, the
 * override, or dr_config_set), the key, and the expected type and range. An
 * integer is accepted where a float is expected (and recorded as a float); a
 * float is never accepted where an integer is expected. Ranges are inclusive.
 * Reading one absent key twice with different defaults is an error: two
 * modules would disagree about the run. */

dr_status dr_config_int(dr_config *cfg, const char *key, int def, int lo, int hi, int *out);
dr_status dr_config_int64(dr_config *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                          int64_t *out);
/* NaN is always refused; infinities only when the range includes them. */
dr_status dr_config_float(dr_config *cfg, const char *key, double def, double lo, double hi,
                          double *out);
dr_status dr_config_bool(dr_config *cfg, const char *key, bool def, bool *out);
/* allowed: NULL-terminated list of accepted values, or NULL for any string.
 * def NULL makes the key required: absent, it is an error naming the key. */
dr_status dr_config_string(dr_config *cfg, const char *key, const char *def,
                           const char *const *allowed, const char **out);

/* Lists: every element in [lo, hi] (or in allowed), length in [min_n, max_n].
 * *out points to *n elements owned by the config (NULL when *n == 0).
 * def NULL (with n_def 0) makes the key required; an empty default list is a
 * non-NULL def with n_def 0. */
dr_status dr_config_int_list(dr_config *cfg, const char *key, const int *def, int n_def, int lo,
                             int hi, int min_n, int max_n, const int **out, int *n);
dr_status dr_config_float_list(dr_config *cfg, const char *key, const double *def, int n_def,
                               double lo, double hi, int min_n, int max_n, const double **out,
                               int *n);
dr_status dr_config_string_list(dr_config *cfg, const char *key, const char *const *def,
                                int n_def, const char *const *allowed, int min_n, int max_n,
                                const char *const **out, int *n);

/* --- generic access (search and sensitivity sections name other keys) ------- */

typedef struct dr_config_key {
    const char *name; /* last component, unquoted: model.lstm_units */
    const char *path; /* full key usable with the getters: search."model.lstm_units" */
    dr_config_type type;
} dr_config_key;

/* The direct children (keys and sub-tables) of section ("" for the top level)
 * given by the file, overrides or dr_config_set, in file order. A missing
 * section gives *n = 0. Marks the section as read; the children are not marked
 * until a getter reads them. */
dr_status dr_config_keys(dr_config *cfg, const char *section, const dr_config_key **keys,
                         int *n);
/* Type of a key without marking it; DR_CONFIG_NONE when absent. A malformed key
 * also gives DR_CONFIG_NONE. */
dr_config_type dr_config_type_of(const dr_config *cfg, const char *key);
/* Length of an array value (marks the key as read). */
dr_status dr_config_array_len(dr_config *cfg, const char *key, int *n);
/* The value (or, with index >= 0, element index of an array value) written as
 * TOML text, e.g. "[64, 128, 256]" or "0.001"; marks the key as read and keeps
 * the value as it is in the resolved file. The string belongs to the config. */
dr_status dr_config_value_toml(dr_config *cfg, const char *key, int index, const char **out);
/* "path:line:column", "command-line override 'k=v'", "dr_config_set" or
 * "default": where the key's value came from, for a module's own checks across
 * keys ("train.batch_size must be <= data rows"). "(absent)" when absent.
 * The text lives in a per-thread buffer, valid until the next call. */
const char *dr_config_where(const dr_config *cfg, const char *key);

/* --- setting values (TPE trials, sensitivity grids) ----------------------------
 * Replaces or adds the value of key; same table/value rules as overrides. Set
 * before the modules read the key: the getter validates it then. */
dr_status dr_config_set_int(dr_config *cfg, const char *key, int64_t v);
dr_status dr_config_set_float(dr_config *cfg, const char *key, double v);
dr_status dr_config_set_bool(dr_config *cfg, const char *key, bool v);
dr_status dr_config_set_string(dr_config *cfg, const char *key, const char *v);
/* value as TOML text: "[64, 128, 256]", "\"adam\"", "{ low = 0.1, high = 0.5 }" */
dr_status dr_config_set_toml(dr_config *cfg, const char *key, const char *value);

/* --- after the modules have read their keys ----------------------------------- */

/* DR_ERR_INVALID naming the first (in file order) key or section nothing read,
 * with its file:line:column (or its override), and the nearest read key when
 * one is close in spelling. */
dr_status dr_config_check_unused(const dr_config *cfg);
/* Writes every key read, with the value used (defaults included, marked with a
 * comment), grouped by section, as TOML. Written to path.tmp and renamed into
 * place, so a complete file is either there or not. */
dr_status dr_config_write_resolved(const dr_config *cfg, const char *path);

/* --- internal: the TOML bridge (core/toml_bridge.cpp), for config.c only ------
 * toml++ is C++; this small C ABI is all that crosses. dr_toml_walk parses text
 * and reports the tree depth-first as events; a parse error becomes
 * DR_ERR_PARSE "source:line:column: description". Table children come in
 * toml++'s order (sorted by key), so positions are reported for sorting. */
typedef enum dr_toml_event_kind {
    DR_TOML_TABLE_BEGIN = 0, /* a table or inline table (not the root) */
    DR_TOML_TABLE_END,
    DR_TOML_ARRAY_BEGIN,
    DR_TOML_ARRAY_END,
    DR_TOML_INT,
    DR_TOML_FLOAT,
    DR_TOML_BOOL,
    DR_TOML_STRING,
    DR_TOML_OTHER /* date, time, date-time: type_name says which */
} dr_toml_event_kind;

typedef struct dr_toml_event {
    dr_toml_event_kind kind;
    const char *key; /* key of this node in its table; NULL for array elements and *_END */
    int key_line, key_col;
    int line, col; /* where the node (value or table header) starts */
    int64_t i;
    double f;
    int b;
    const char *s; /* DR_TOML_STRING: s_len bytes, NUL-terminated */
    size_t s_len;
    const char *type_name;
} dr_toml_event;

typedef dr_status (*dr_toml_event_fn)(void *ctx, const dr_toml_event *ev);

dr_status dr_toml_walk(const char *text, size_t len, const char *source_name, dr_toml_event_fn fn,
                       void *ctx);

#ifdef __cplusplus
}
#endif

#endif
