/* TOML text: quoting, keys and values as TOML spells them, the positions
 * that messages name, and the resolved file (config.toml of a run). */
#include "core/config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_list ap;
        va_start(ap, fmt);
        int k = room ? vsnprintf(b->p + b->n, room, fmt, ap) : -2;
        va_end(ap);
        if (k == -1) {
            b->oom = true;
            return;
        }
        if (k >= 0 && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (k >= 0 && cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

void cfg_sb_append(sbuf *b, const char *data, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static bool is_bare(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* TOML basic string with the escapes TOML defines. */
void cfg_sb_quoted(sbuf *b, const char *s)
{
    cfg_sb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': cfg_sb_printf(b, "\\\""); break;
        case '\\': cfg_sb_printf(b, "\\\\"); break;
        case '\b': cfg_sb_printf(b, "\\b"); break;
        case '\t': cfg_sb_printf(b, "\\t"); break;
        case '\n': cfg_sb_printf(b, "\\n"); break;
        case '\f': cfg_sb_printf(b, "\\f"); break;
        case '\r': cfg_sb_printf(b, "\\r"); break;
        default:
            if (*c < 0x20 || *c == 0x7f)
                cfg_sb_printf(b, "\\u%04x", *c);
            else
                cfg_sb_printf(b, "%c", *c);
        }
    }
    cfg_sb_printf(b, "\"");
}

void cfg_sb_key(sbuf *b, char *const *comp, int n)
{
    for (int k = 0; k < n; k++) {
        if (k)
            cfg_sb_printf(b, ".");
        if (is_bare(comp[k]))
            cfg_sb_printf(b, "%s", comp[k]);
        else
            cfg_sb_quoted(b, comp[k]);
    }
}

/* Shortest %.Ng that reads back to the same double, spelled as a TOML float. */
static void sb_float(sbuf *b, double f)
{
    if (isnan(f)) {
        cfg_sb_printf(b, "nan");
        return;
    }
    if (isinf(f)) {
        cfg_sb_printf(b, f > 0 ? "inf" : "-inf");
        return;
    }
    char t[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, f);
        if (strtod(t, NULL) == f)
            break;
    }
    cfg_sb_printf(b, "%s%s", t, strpbrk(t, ".eE") ? "" : ".0");
}

void cfg_sb_value(sbuf *b, const cval *v)
{
    switch (v->type) {
    case DR_CONFIG_INT: cfg_sb_printf(b, "%" PRId64, v->i); break;
    case DR_CONFIG_FLOAT: sb_float(b, v->f); break;
    case DR_CONFIG_BOOL: cfg_sb_printf(b, "%s", v->b ? "true" : "false"); break;
    case DR_CONFIG_STRING: cfg_sb_quoted(b, v->s); break;
    case DR_CONFIG_ARRAY:
        cfg_sb_printf(b, "[");
        for (int k = 0; k < v->n; k++) {
            cfg_sb_printf(b, k ? ", " : "");
            cfg_sb_value(b, &v->items[k]);
        }
        cfg_sb_printf(b, "]");
        break;
    default: cfg_sb_printf(b, "?"); break;
    }
}

const char *cfg_type_article(dr_config_type t)
{
    switch (t) {
    case DR_CONFIG_INT: return "an integer";
    case DR_CONFIG_FLOAT: return "a float";
    case DR_CONFIG_BOOL: return "a boolean";
    case DR_CONFIG_STRING: return "a string";
    case DR_CONFIG_ARRAY: return "an array";
    case DR_CONFIG_TABLE: return "a table";
    default: return "nothing";
    }
}

/* Where a value came from, for messages. Thread-local so const callers work. */
const char *cfg_where(const dr_config *cfg, const entry *e, bool at_value)
{
    static _Thread_local char buf[1024];
    switch (e->org) {
    case ORIG_FILE:
        snprintf(buf, sizeof buf, "%s:%d:%d", cfg->source ? cfg->source : "(config)",
                 at_value ? e->vline : e->line, at_value ? e->vcol : e->col);
        break;
    case ORIG_OVERRIDE: snprintf(buf, sizeof buf, "command-line override '%s'", e->org_text); break;
    case ORIG_SET: snprintf(buf, sizeof buf, "dr_config_set"); break;
    case ORIG_DEFAULT: snprintf(buf, sizeof buf, "default"); break;
    }
    return buf;
}

/* --- the resolved file ------------------------------------------------------------------ */

static bool same_parent(const entry *a, const entry *b)
{
    return a->ncomp == b->ncomp && cfg_comps_prefix(a->comp, a->ncomp - 1, b->comp, b->ncomp);
}

static void write_group(const dr_config *cfg, const int *ix, bool *done, int first, sbuf *b)
{
    const entry *g = &cfg->e[ix[first]];
    if (g->ncomp > 1) {
        cfg_sb_printf(b, "\n[");
        cfg_sb_key(b, g->comp, g->ncomp - 1);
        cfg_sb_printf(b, "]\n");
    }
    for (int k = first; k < cfg->n; k++) {
        const entry *e = &cfg->e[ix[k]];
        if (done[k] || e->is_table || !e->used || !same_parent(g, e))
            continue;
        done[k] = true;
        cfg_sb_key(b, &e->comp[e->ncomp - 1], 1);
        cfg_sb_printf(b, " = ");
        cfg_sb_value(b, &e->v);
        if (e->org == ORIG_DEFAULT)
            cfg_sb_printf(b, "  # default");
        else if (e->org == ORIG_OVERRIDE)
            cfg_sb_printf(b, "  # command-line override");
        else if (e->org == ORIG_SET)
            cfg_sb_printf(b, "  # set by the program");
        cfg_sb_printf(b, "\n");
    }
}

dr_status dr_config_write_resolved(const dr_config *cfg, const char *path)
{
    if (!cfg || !path)
        return dr_error(DR_ERR_INVALID, "dr_config_write_resolved: cfg and path must not be NULL");
    int *ix = cfg_ordered(cfg);
    bool *done = calloc((size_t)(cfg->n > 0 ? cfg->n : 1), sizeof *done);
    if (!ix || !done) {
        free(ix);
        free(done);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    sbuf b = {0};
    cfg_sb_printf(&b, "# Resolved configuration: every key the run read, with the value it used.\n"
                  "# Values the experiment file did not give are marked; rerunning with this\n"
                  "# file reproduces the settings.\n");
    if (cfg->source)
        cfg_sb_printf(&b, "# source: %s\n", cfg->source);
    /* top-level keys must come before any [section] header */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < cfg->n; k++) {
            const entry *e = &cfg->e[ix[k]];
            if (!done[k] && !e->is_table && e->used && (pass == 0) == (e->ncomp == 1))
                write_group(cfg, ix, done, k, &b);
        }
    free(ix);
    free(done);
    if (b.oom) {
        free(b.p);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(b.p);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    dr_status st = DR_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = dr_error(DR_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        bool ok = fwrite(b.p, 1, b.n, f) == b.n;
        ok = (fclose(f) == 0) && ok;
        if (!ok)
            st = dr_error(DR_ERR_IO, "writing %s failed: %s", tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            st = dr_error(DR_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (st != DR_OK)
            remove(tmp);
    }
    free(tmp);
    free(b.p);
    return st;
}
