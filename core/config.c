/* Experiment configuration (core/config.h): a flat list of entries, one per
 * table and per value, each knowing cfg_where it came from (file position,
 * override, dr_config_set, or a getter's default) and whether anything read it.
 * toml++ only parses (core/toml_bridge.cpp); every rule lives here in C.
 *
 * A configuration holds some tens of keys, so lookups are linear scans over the
 * entries by cfg_canonical path: simple, and far below any measurable cost. */
#include "core/config_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small helpers --------------------------------------------------------- */

char *cfg_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void cfg_cval_free(cval *v)
{
    if (v->type == DR_CONFIG_STRING)
        free(v->s);
    if (v->type == DR_CONFIG_ARRAY) {
        for (int k = 0; k < v->n; k++)
            cfg_cval_free(&v->items[k]);
        free(v->items);
    }
    memset(v, 0, sizeof *v);
}

static dr_status cval_copy(cval *d, const cval *s)
{
    *d = *s;
    d->s = NULL;
    d->items = NULL;
    if (s->type == DR_CONFIG_STRING) {
        d->s = cfg_xstrdup(s->s);
        if (!d->s)
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    if (s->type == DR_CONFIG_ARRAY && s->n > 0) {
        d->items = calloc((size_t)s->n, sizeof *d->items);
        if (!d->items) {
            d->n = 0;
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        for (int k = 0; k < s->n; k++) {
            dr_status st = cval_copy(&d->items[k], &s->items[k]);
            if (st != DR_OK) {
                d->n = k + 1;
                return st;
            }
        }
    }
    return DR_OK;
}

bool cfg_cval_equal(const cval *a, const cval *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case DR_CONFIG_INT: return a->i == b->i;
    case DR_CONFIG_FLOAT: return a->f == b->f || (isnan(a->f) && isnan(b->f));
    case DR_CONFIG_BOOL: return a->b == b->b;
    case DR_CONFIG_STRING: return strcmp(a->s, b->s) == 0;
    case DR_CONFIG_ARRAY:
        if (a->n != b->n)
            return false;
        for (int k = 0; k < a->n; k++)
            if (!cfg_cval_equal(&a->items[k], &b->items[k]))
                return false;
        return true;
    default: return false;
    }
}

dr_status cfg_keep_ptr(dr_config *cfg, void *p)
{
    if (cfg->n_keep == cfg->cap_keep) {
        int cap = cfg->cap_keep ? 2 * cfg->cap_keep : 16;
        void **k = realloc(cfg->keep, (size_t)cap * sizeof *k);
        if (!k) {
            free(p);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        cfg->keep = k;
        cfg->cap_keep = cap;
    }
    cfg->keep[cfg->n_keep++] = p;
    return DR_OK;
}

static dr_status keep_old(dr_config *cfg, cval *v)
{
    if (cfg->n_old == cfg->cap_old) {
        int cap = cfg->cap_old ? 2 * cfg->cap_old : 8;
        cval *o = realloc(cfg->old, (size_t)cap * sizeof *o);
        if (!o)
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        cfg->old = o;
        cfg->cap_old = cap;
    }
    cfg->old[cfg->n_old++] = *v;
    memset(v, 0, sizeof *v);
    return DR_OK;
}

/* --- adding entries ----------------------------------------------------------- */

static void entry_free(entry *e)
{
    cfg_free_comp(e->comp, e->ncomp);
    free(e->path);
    free(e->org_text);
    cfg_cval_free(&e->v);
}

static const char *src_name(const source_info *si, char *buf, size_t cap)
{
    switch (si->org) {
    case ORIG_OVERRIDE: snprintf(buf, cap, "command-line override '%s'", si->text); break;
    case ORIG_SET: snprintf(buf, cap, "dr_config_set"); break;
    case ORIG_DEFAULT: snprintf(buf, cap, "default"); break;
    default: snprintf(buf, cap, "line %d:%d", si->vline, si->vcol); break;
    }
    return buf;
}

/* Adds or replaces the table (v == NULL) or value at comp. The value is moved
 * in (v is cleared on success and on failure alike). A value never replaces a
 * table nor the reverse, and nothing goes below a value. */
dr_status cfg_put(dr_config *cfg, char *const *comp, int n, cval *v, const source_info *si)
{
    char sb[1100];
    dr_status st = DR_OK;
    char *path = cfg_canonical(comp, n);
    if (!path) {
        st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        goto done;
    }
    entry *same = cfg_find(cfg, comp, n);
    if (same && v && same->is_table) {
        st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a value: it is a table (%s)",
                      src_name(si, sb, sizeof sb), path, cfg_where(cfg, same, false));
        goto done;
    }
    for (int k = 0; k < cfg->n; k++) {
        entry *x = &cfg->e[k];
        if (!x->is_table && x->ncomp < n && cfg_is_prefix_of(x, comp, n)) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s: %s is a value (%s), not a table",
                          src_name(si, sb, sizeof sb), path, x->path, cfg_where(cfg, x, false));
            goto done;
        }
        if (v && x->ncomp > n && cfg_comps_prefix(comp, n, x->comp, x->ncomp)) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a value: it is a table (%s)",
                          src_name(si, sb, sizeof sb), path, cfg_where(cfg, x, false));
            goto done;
        }
    }
    entry *x = cfg_find(cfg, comp, n);
    if (x) {
        if (x->is_table && !v)
            goto done; /* table already there */
        if (x->is_table != !v) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a %s: it is a %s (%s)",
                          src_name(si, sb, sizeof sb), path, v ? "value" : "table",
                          x->is_table ? "table" : "value", cfg_where(cfg, x, false));
            goto done;
        }
        char *text = si->text ? cfg_xstrdup(si->text) : NULL;
        if (si->text && !text) {
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
            goto done;
        }
        st = keep_old(cfg, &x->v); /* a caller may still hold x's old string */
        if (st != DR_OK) {
            free(text);
            goto done;
        }
        x->v = *v;
        memset(v, 0, sizeof *v);
        free(x->org_text);
        x->org_text = text;
        x->org = si->org;
        if (si->org == ORIG_FILE) { /* else keep the file position: it orders the entry */
            x->line = si->line;
            x->col = si->col;
            x->vline = si->vline;
            x->vcol = si->vcol;
        }
        goto done;
    }
    if (cfg->n == cfg->cap) {
        int cap = cfg->cap ? 2 * cfg->cap : 32;
        entry *e2 = realloc(cfg->e, (size_t)cap * sizeof *e2);
        if (!e2) {
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
            goto done;
        }
        cfg->e = e2;
        cfg->cap = cap;
    }
    entry *e = &cfg->e[cfg->n];
    memset(e, 0, sizeof *e);
    e->comp = calloc((size_t)n, sizeof *e->comp);
    if (!e->comp) {
        st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        goto done;
    }
    e->ncomp = n;
    for (int k = 0; k < n; k++) {
        e->comp[k] = cfg_xstrdup(comp[k]);
        if (!e->comp[k]) {
            entry_free(e);
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
            goto done;
        }
    }
    if (si->text && !(e->org_text = cfg_xstrdup(si->text))) {
        entry_free(e);
        st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        goto done;
    }
    e->path = path;
    path = NULL;
    e->is_table = !v;
    if (v) {
        e->v = *v;
        memset(v, 0, sizeof *v);
    }
    e->org = si->org;
    e->line = si->line;
    e->col = si->col;
    e->vline = si->vline;
    e->vcol = si->vcol;
    e->seq = cfg->next_seq++;
    e->used = si->org == ORIG_DEFAULT;
    cfg->n++;
done:
    free(path);
    if (v)
        cfg_cval_free(v);
    return st;
}

/* --- creating and freeing ---------------------------------------------------------- */

dr_status dr_config_create(dr_config **out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    return DR_OK;
}

void dr_config_free(dr_config *cfg)
{
    if (!cfg)
        return;
    for (int k = 0; k < cfg->n; k++)
        entry_free(&cfg->e[k]);
    free(cfg->e);
    for (int k = 0; k < cfg->n_keep; k++)
        free(cfg->keep[k]);
    free(cfg->keep);
    for (int k = 0; k < cfg->n_old; k++)
        cfg_cval_free(&cfg->old[k]);
    free(cfg->old);
    free(cfg->source);
    free(cfg);
}

dr_status dr_config_load_string(dr_config **out, const char *text, const char *source_name)
{
    if (!out || !text)
        return dr_error(DR_ERR_INVALID, "dr_config_load_string: out and text must not be NULL");
    *out = NULL;
    dr_config *cfg;
    DR_TRY(dr_config_create(&cfg));
    cfg->source = cfg_xstrdup(source_name ? source_name : "(string)");
    if (!cfg->source) {
        dr_config_free(cfg);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    dr_status st = cfg_walk(cfg, (source_info){.org = ORIG_FILE}, cfg->source, text, NULL);
    if (st != DR_OK) {
        dr_config_free(cfg);
        return st;
    }
    *out = cfg;
    return DR_OK;
}

dr_status dr_config_load(dr_config **out, const char *path)
{
    if (!out || !path)
        return dr_error(DR_ERR_INVALID, "dr_config_load: out and path must not be NULL");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot open experiment file %s: %s", path, strerror(errno));
    sbuf b = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        cfg_sb_append(&b, chunk, got);
    bool err = ferror(f) != 0;
    fclose(f);
    if (err || b.oom) {
        free(b.p);
        return err ? dr_error(DR_ERR_IO, "cannot read experiment file %s", path)
                   : dr_error(DR_ERR_NOMEM, "config: out of memory reading %s", path);
    }
    if (b.p && strlen(b.p) != b.n) {
        free(b.p);
        return dr_error(DR_ERR_PARSE, "%s: the file holds a NUL byte (not a text file?)", path);
    }
    dr_status st = dr_config_load_string(out, b.p ? b.p : "", path);
    free(b.p);
    return st;
}

dr_status dr_config_clone(dr_config **out, const dr_config *cfg)
{
    if (!out || !cfg)
        return dr_error(DR_ERR_INVALID, "dr_config_clone: out and cfg must not be NULL");
    *out = NULL;
    dr_config *c;
    DR_TRY(dr_config_create(&c));
    dr_status st = DR_OK;
    if (cfg->source && !(c->source = cfg_xstrdup(cfg->source)))
        st = dr_error(DR_ERR_NOMEM, "config: out of memory");
    if (st == DR_OK && cfg->n > 0) {
        c->e = calloc((size_t)cfg->n, sizeof *c->e);
        if (!c->e)
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        else
            c->cap = cfg->n;
    }
    for (int k = 0; st == DR_OK && k < cfg->n; k++) {
        const entry *s = &cfg->e[k];
        entry *d = &c->e[k];
        *d = *s;
        d->comp = calloc((size_t)s->ncomp, sizeof *d->comp);
        d->path = cfg_xstrdup(s->path);
        d->org_text = s->org_text ? cfg_xstrdup(s->org_text) : NULL;
        memset(&d->v, 0, sizeof d->v);
        c->n = k + 1;
        bool ok = d->comp && d->path && (d->org_text || !s->org_text);
        for (int j = 0; ok && j < s->ncomp; j++)
            ok = (d->comp[j] = cfg_xstrdup(s->comp[j])) != NULL;
        if (!d->comp)
            d->ncomp = 0; /* entry_free must not walk a missing array */
        if (!ok)
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        else if (!s->is_table)
            st = cval_copy(&d->v, &s->v);
    }
    c->next_seq = cfg->next_seq;
    if (st != DR_OK) {
        dr_config_free(c);
        return st;
    }
    *out = c;
    return DR_OK;
}

/* --- overrides and setting --------------------------------------------------------- */

dr_status dr_config_override(dr_config *cfg, const char *text)
{
    if (!cfg || !text)
        return dr_error(DR_ERR_INVALID, "dr_config_override: cfg and text must not be NULL");
    char name[1100];
    snprintf(name, sizeof name, "command-line override '%s'", text);
    int n_values = 0;
    dr_status st = cfg_walk(cfg, (source_info){.org = ORIG_OVERRIDE, .text = text}, name, text, &n_values);
    if (st == DR_ERR_PARSE) {
        char msg[1600];
        snprintf(msg, sizeof msg, "%s", dr_last_error());
        return dr_error(DR_ERR_INVALID,
                        "%s (an override is one TOML line key=value; strings need quotes: "
                        "output.dir=\"runs/a\")",
                        msg);
    }
    if (st != DR_OK)
        return st;
    if (n_values == 0)
        return dr_error(DR_ERR_INVALID, "%s sets no value (expected section.key=value)", name);
    return DR_OK;
}

static dr_status set_value(dr_config *cfg, const char *key, cval *v)
{
    char **comp;
    int n;
    dr_status st = cfg_parse_key(key, &comp, &n);
    if (st != DR_OK) {
        cfg_cval_free(v);
        return st;
    }
    source_info si = {.org = ORIG_SET};
    st = cfg_put(cfg, comp, n, v, &si);
    cfg_free_comp(comp, n);
    return st;
}

dr_status dr_config_set_int(dr_config *cfg, const char *key, int64_t x)
{
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "dr_config_set_int: cfg is NULL");
    cval v = {.type = DR_CONFIG_INT, .i = x};
    return set_value(cfg, key, &v);
}

dr_status dr_config_set_float(dr_config *cfg, const char *key, double x)
{
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "dr_config_set_float: cfg is NULL");
    cval v = {.type = DR_CONFIG_FLOAT, .f = x};
    return set_value(cfg, key, &v);
}

dr_status dr_config_set_bool(dr_config *cfg, const char *key, bool x)
{
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "dr_config_set_bool: cfg is NULL");
    cval v = {.type = DR_CONFIG_BOOL, .b = x};
    return set_value(cfg, key, &v);
}

dr_status dr_config_set_string(dr_config *cfg, const char *key, const char *x)
{
    if (!cfg || !x)
        return dr_error(DR_ERR_INVALID, "dr_config_set_string: cfg and value must not be NULL");
    cval v = {.type = DR_CONFIG_STRING, .s = cfg_xstrdup(x)};
    if (!v.s)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    return set_value(cfg, key, &v);
}

dr_status dr_config_set_toml(dr_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value)
        return dr_error(DR_ERR_INVALID, "dr_config_set_toml: cfg, key and value must not be NULL");
    char **comp;
    int n;
    DR_TRY(cfg_parse_key(key, &comp, &n)); /* refuse a key that would smuggle in more TOML */
    cfg_free_comp(comp, n);
    sbuf t = {0};
    cfg_sb_printf(&t, "%s = %s\n", key, value);
    if (t.oom) {
        free(t.p);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    char name[600];
    snprintf(name, sizeof name, "dr_config_set_toml(%.200s, %.200s)", key, value);
    int n_values = 0;
    dr_status st = cfg_walk(cfg, (source_info){.org = ORIG_SET}, name, t.p, &n_values);
    free(t.p);
    if (st == DR_OK && n_values != 1)
        st = dr_error(DR_ERR_INVALID, "%s: expected exactly one value", name);
    return st;
}
