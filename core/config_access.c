/* Generic access (the keys of a section, a key's type, array elements as
 * TOML) and the check for keys nothing read. */
#include "core/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries with a file position in file order first (an overridden key keeps
 * its place), then the others in the order they came. */
static int order_cmp(const entry *a, const entry *b)
{
    bool fa = a->line > 0, fb = b->line > 0;
    if (fa != fb)
        return fa ? -1 : 1;
    if (fa) {
        if (a->line != b->line)
            return a->line < b->line ? -1 : 1;
        if (a->col != b->col)
            return a->col < b->col ? -1 : 1;
    }
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Indices of the entries in order (insertion sort: tens of entries). */
int *cfg_ordered(const dr_config *cfg)
{
    int *ix = malloc((size_t)(cfg->n > 0 ? cfg->n : 1) * sizeof *ix);
    if (!ix)
        return NULL;
    for (int k = 0; k < cfg->n; k++) {
        int j = k;
        while (j > 0 && order_cmp(&cfg->e[ix[j - 1]], &cfg->e[k]) > 0) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = k;
    }
    return ix;
}

static dr_config_type entry_type(const entry *e)
{
    return e->is_table ? DR_CONFIG_TABLE : e->v.type;
}

dr_status dr_config_keys(dr_config *cfg, const char *section, const dr_config_key **keys, int *n)
{
    if (!cfg || !section || !keys || !n)
        return dr_error(DR_ERR_INVALID, "dr_config_keys: cfg, section, keys and n must not be NULL");
    *keys = NULL;
    *n = 0;
    char **comp = NULL;
    int depth = 0;
    if (section[0] != '\0')
        DR_TRY(cfg_parse_key(section, &comp, &depth));
    entry *s = depth > 0 ? cfg_find(cfg, comp, depth) : NULL;
    if (s && !s->is_table) {
        char *path = cfg_canonical(comp, depth);
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is a value, but a section is expected",
                                cfg_where(cfg, s, true), path ? path : section);
        s->used = true;
        free(path);
        cfg_free_comp(comp, depth);
        return st;
    }
    if (s)
        s->used = true;
    cfg_mark_ancestors(cfg, comp, depth);
    int *ix = cfg_ordered(cfg);
    dr_config_key *out = malloc((size_t)(cfg->n > 0 ? cfg->n : 1) * sizeof *out);
    dr_status st = ix && out ? cfg_keep_ptr(cfg, out) : dr_error(DR_ERR_NOMEM, "config: out of memory");
    if (st != DR_OK) {
        if (!ix)
            free(out);
        free(ix);
        cfg_free_comp(comp, depth);
        return st;
    }
    int m = 0;
    for (int k = 0; k < cfg->n; k++) {
        const entry *e = &cfg->e[ix[k]];
        if (e->org == ORIG_DEFAULT || e->ncomp != depth + 1 || !cfg_comps_prefix(comp, depth, e->comp, e->ncomp))
            continue;
        out[m].name = e->comp[depth];
        out[m].path = e->path;
        out[m].type = entry_type(e);
        m++;
    }
    free(ix);
    cfg_free_comp(comp, depth);
    *keys = m > 0 ? out : NULL;
    *n = m;
    return DR_OK;
}

dr_config_type dr_config_type_of(const dr_config *cfg, const char *key)
{
    char **comp;
    int n;
    if (!cfg || cfg_parse_key(key, &comp, &n) != DR_OK)
        return DR_CONFIG_NONE;
    const entry *e = cfg_find(cfg, comp, n);
    cfg_free_comp(comp, n);
    return e ? entry_type(e) : DR_CONFIG_NONE;
}

/* Present value, marked as read; absent is an error (these have no default). */
static dr_status look_present(dr_config *cfg, const char *key, const char *fn, lookup *L)
{
    DR_TRY(cfg_look(cfg, key, fn, L));
    if (!L->e) {
        /* key, not L->path: gcc -O3 cannot see that cfg_look() left path set */
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is not set", fn, key);
        cfg_look_done(L);
        return st;
    }
    L->e->used = true;
    return DR_OK;
}

dr_status dr_config_array_len(dr_config *cfg, const char *key, int *n)
{
    if (!n)
        return dr_error(DR_ERR_INVALID, "dr_config_array_len: n is NULL");
    lookup L;
    DR_TRY(look_present(cfg, key, "dr_config_array_len", &L));
    dr_status st = DR_OK;
    if (L.e->v.type != DR_CONFIG_ARRAY)
        st = dr_error(DR_ERR_INVALID, "%s: %s: expected an array, got %s", cfg_where(cfg, L.e, true),
                      L.path, cfg_type_article(L.e->v.type));
    else
        *n = L.e->v.n;
    cfg_look_done(&L);
    return st;
}

dr_status dr_config_value_toml(dr_config *cfg, const char *key, int index, const char **out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_value_toml: out is NULL");
    lookup L;
    DR_TRY(look_present(cfg, key, "dr_config_value_toml", &L));
    const cval *v = &L.e->v;
    dr_status st = DR_OK;
    if (index >= 0) {
        if (v->type != DR_CONFIG_ARRAY || index >= v->n)
            st = dr_error(DR_ERR_INVALID, "%s: %s: element %d requested, but the value is %s%s",
                          cfg_where(cfg, L.e, true), L.path, index, cfg_type_article(v->type),
                          v->type == DR_CONFIG_ARRAY ? " too short" : "");
        else
            v = &v->items[index];
    }
    if (st == DR_OK) {
        sbuf b = {0};
        cfg_sb_value(&b, v);
        st = b.oom ? dr_error(DR_ERR_NOMEM, "config: out of memory") : cfg_keep_ptr(cfg, b.p);
        if (st == DR_OK)
            *out = b.p;
        else if (b.oom)
            free(b.p);
    }
    cfg_look_done(&L);
    return st;
}

const char *dr_config_where(const dr_config *cfg, const char *key)
{
    char **comp;
    int n;
    if (!cfg || cfg_parse_key(key, &comp, &n) != DR_OK)
        return "(absent)";
    const entry *e = cfg_find(cfg, comp, n);
    cfg_free_comp(comp, n);
    return e ? cfg_where(cfg, e, true) : "(absent)";
}

/* --- unknown keys ---------------------------------------------------------------------- */

static int edit_distance(const char *a, const char *b)
{
    enum { CAP = 128 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= CAP || lb >= CAP)
        return 1 << 20;
    int prev[CAP], cur[CAP];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* The read key (or a section above one) closest in spelling to path, when it
 * is within two edits. Written into buf, "" when none. */
static void nearest_used(const dr_config *cfg, const char *path, char *buf, size_t cap)
{
    int best = 3;
    buf[0] = '\0';
    for (int k = 0; k < cfg->n; k++) {
        const entry *e = &cfg->e[k];
        if (!e->used)
            continue;
        for (int len = 1; len <= e->ncomp; len++) {
            char *cand = cfg_canonical(e->comp, len);
            if (!cand)
                return;
            int d = edit_distance(path, cand);
            if (d < best && strcmp(cand, path) != 0) {
                best = d;
                snprintf(buf, cap, "%s", cand);
            }
            free(cand);
        }
    }
}

dr_status dr_config_check_unused(const dr_config *cfg)
{
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "dr_config_check_unused: cfg is NULL");
    int *ix = cfg_ordered(cfg);
    if (!ix)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    dr_status st = DR_OK;
    for (int k = 0; k < cfg->n; k++) {
        const entry *e = &cfg->e[ix[k]];
        if (e->used)
            continue;
        char near[512], hint[600] = "";
        nearest_used(cfg, e->path, near, sizeof near);
        if (near[0])
            snprintf(hint, sizeof hint, "; did you mean %s?", near);
        if (e->is_table)
            st = dr_error(DR_ERR_INVALID, "%s: unknown section [%s]: no module reads it%s",
                          cfg_where(cfg, e, false), e->path, hint);
        else
            st = dr_error(DR_ERR_INVALID, "%s: unknown key %s: no module reads it%s",
                          cfg_where(cfg, e, false), e->path, hint);
        break;
    }
    free(ix);
    return st;
}
