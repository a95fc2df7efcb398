/* Internals of the experiment configuration, shared by core/config*.c and
 * nothing else: the entries, their values and origins, and the helpers each
 * part uses from the others.
 *   config.c        entries: adding, creating, loading, cloning, overrides, setting
 *   config_keys.c   dotted keys: parsing, cfg_canonical form, lookup
 *   config_parse.c  entries from the TOML parser's events (core/toml_bridge.cpp)
 *   config_read.c   typed getters with defaults and validation
 *   config_access.c generic access: keys of a section, types, arrays; unknown keys
 *   config_write.c  TOML text: quoting, values, messages' positions, the resolved file */
#ifndef DR_CONFIG_INTERNAL_H
#define DR_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

typedef struct cval {
    dr_config_type type; /* INT, FLOAT, BOOL, STRING or ARRAY */
    int64_t i;
    double f;
    bool b;
    char *s;
    struct cval *items; /* ARRAY */
    int n;
} cval;

typedef enum origin { ORIG_FILE = 0, ORIG_OVERRIDE, ORIG_SET, ORIG_DEFAULT } origin;

typedef struct entry {
    char **comp; /* key components, unquoted */
    int ncomp;
    char *path; /* cfg_canonical dotted key: components quoted cfg_where TOML needs it */
    bool is_table;
    cval v; /* values only */
    origin org;
    char *org_text;  /* ORIG_OVERRIDE: the override as typed */
    int line, col;   /* ORIG_FILE: the key (values) or the header (tables) */
    int vline, vcol; /* ORIG_FILE: the value */
    long seq;        /* insertion order: file order for ties, later sources after */
    bool used;
} entry;

struct dr_config {
    char *source; /* file name for messages; NULL for dr_config_create */
    entry *e;
    int n, cap;
    long next_seq;
    /* Memory handed to callers, or values replaced while a caller may still
     * hold a pointer into them: freed by dr_config_free only. */
    void **keep;
    int n_keep, cap_keep;
    cval *old;
    int n_old, cap_old;
};

/* A growable string for messages and the resolved file. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

typedef struct source_info {
    origin org;
    const char *text; /* override text */
    int line, col, vline, vcol;
} source_info;

typedef struct lookup {
    char **comp;
    int n;
    char *path;
    entry *e; /* NULL while absent */
} lookup;

/* config.c */
char *cfg_xstrdup(const char *s);
void cfg_cval_free(cval *v);
bool cfg_cval_equal(const cval *a, const cval *b);
dr_status cfg_keep_ptr(dr_config *cfg, void *p);
dr_status cfg_put(dr_config *cfg, char *const *comp, int n, cval *v, const source_info *si);

/* config_keys.c */
void cfg_free_comp(char **comp, int n);
dr_status cfg_parse_key(const char *key, char ***out, int *nout);
char *cfg_canonical(char *const *comp, int n);
bool cfg_comps_prefix(char *const *a, int na, char *const *b, int nb);
bool cfg_is_prefix_of(const entry *e, char *const *comp, int n);
entry *cfg_find(const dr_config *cfg, char *const *comp, int n);
void cfg_mark_ancestors(dr_config *cfg, char *const *comp, int n);

/* config_parse.c */
/* Adds the entries of TOML text, all with origin si; name is the source in messages. */
dr_status cfg_walk(dr_config *cfg, source_info si, const char *name, const char *text, int *n_values);

/* config_read.c */
void cfg_look_done(lookup *L);
dr_status cfg_look(dr_config *cfg, const char *key, const char *fn, lookup *L);

/* config_access.c */
int *cfg_ordered(const dr_config *cfg);

/* config_write.c */
void cfg_sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_sb_append(sbuf *b, const char *data, size_t len);
void cfg_sb_quoted(sbuf *b, const char *s);
void cfg_sb_key(sbuf *b, char *const *comp, int n);
void cfg_sb_value(sbuf *b, const cval *v);
const char *cfg_type_article(dr_config_type t);
const char *cfg_where(const dr_config *cfg, const entry *e, bool at_value);

#endif
