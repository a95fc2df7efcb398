/* Experiment configuration (core/config.h): a flat list of entries, one per
 * table and per value, each knowing where it came from (file position,
 * override, dr_config_set, or a getter's default) and whether anything read it.
 * toml++ only parses (core/toml_bridge.cpp); every rule lives here in C.
 *
 * A configuration holds some tens of keys, so lookups are linear scans over the
 * entries by canonical path: simple, and far below any measurable cost. */
#include "core/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    char *path; /* canonical dotted key: components quoted where TOML needs it */
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

/* --- small helpers --------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void cval_free(cval *v)
{
    if (v->type == DR_CONFIG_STRING)
        free(v->s);
    if (v->type == DR_CONFIG_ARRAY) {
        for (int k = 0; k < v->n; k++)
            cval_free(&v->items[k]);
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
        d->s = xstrdup(s->s);
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

static bool cval_equal(const cval *a, const cval *b)
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
            if (!cval_equal(&a->items[k], &b->items[k]))
                return false;
        return true;
    default: return false;
    }
}

static dr_status keep_ptr(dr_config *cfg, void *p)
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

/* A growable string for messages and the resolved file. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
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

static void sb_append(sbuf *b, const char *data, size_t len)
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
static void sb_quoted(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': sb_printf(b, "\\\""); break;
        case '\\': sb_printf(b, "\\\\"); break;
        case '\b': sb_printf(b, "\\b"); break;
        case '\t': sb_printf(b, "\\t"); break;
        case '\n': sb_printf(b, "\\n"); break;
        case '\f': sb_printf(b, "\\f"); break;
        case '\r': sb_printf(b, "\\r"); break;
        default:
            if (*c < 0x20 || *c == 0x7f)
                sb_printf(b, "\\u%04x", *c);
            else
                sb_printf(b, "%c", *c);
        }
    }
    sb_printf(b, "\"");
}

static void sb_key(sbuf *b, char *const *comp, int n)
{
    for (int k = 0; k < n; k++) {
        if (k)
            sb_printf(b, ".");
        if (is_bare(comp[k]))
            sb_printf(b, "%s", comp[k]);
        else
            sb_quoted(b, comp[k]);
    }
}

/* Shortest %.Ng that reads back to the same double, spelled as a TOML float. */
static void sb_float(sbuf *b, double f)
{
    if (isnan(f)) {
        sb_printf(b, "nan");
        return;
    }
    if (isinf(f)) {
        sb_printf(b, f > 0 ? "inf" : "-inf");
        return;
    }
    char t[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, f);
        if (strtod(t, NULL) == f)
            break;
    }
    sb_printf(b, "%s%s", t, strpbrk(t, ".eE") ? "" : ".0");
}

static void sb_value(sbuf *b, const cval *v)
{
    switch (v->type) {
    case DR_CONFIG_INT: sb_printf(b, "%" PRId64, v->i); break;
    case DR_CONFIG_FLOAT: sb_float(b, v->f); break;
    case DR_CONFIG_BOOL: sb_printf(b, "%s", v->b ? "true" : "false"); break;
    case DR_CONFIG_STRING: sb_quoted(b, v->s); break;
    case DR_CONFIG_ARRAY:
        sb_printf(b, "[");
        for (int k = 0; k < v->n; k++) {
            sb_printf(b, k ? ", " : "");
            sb_value(b, &v->items[k]);
        }
        sb_printf(b, "]");
        break;
    default: sb_printf(b, "?"); break;
    }
}

static const char *type_article(dr_config_type t)
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
static const char *where(const dr_config *cfg, const entry *e, bool at_value)
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

/* --- keys -------------------------------------------------------------------- */

static void free_comp(char **comp, int n)
{
    for (int k = 0; k < n; k++)
        free(comp[k]);
    free(comp);
}

static void put_utf8(sbuf *b, uint32_t cp)
{
    if (cp < 0x80)
        sb_printf(b, "%c", (char)cp);
    else if (cp < 0x800)
        sb_printf(b, "%c%c", (char)(0xc0 | (cp >> 6)), (char)(0x80 | (cp & 0x3f)));
    else if (cp < 0x10000)
        sb_printf(b, "%c%c%c", (char)(0xe0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3f)),
                  (char)(0x80 | (cp & 0x3f)));
    else
        sb_printf(b, "%c%c%c%c", (char)(0xf0 | (cp >> 18)), (char)(0x80 | ((cp >> 12) & 0x3f)),
                  (char)(0x80 | ((cp >> 6) & 0x3f)), (char)(0x80 | (cp & 0x3f)));
}

/* Parses a TOML dotted key ("a.b", 'search."model.units"', "x.'lit'") into
 * components. */
static dr_status parse_key(const char *key, char ***out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (!key)
        return dr_error(DR_ERR_INVALID, "config: key is NULL");
    char **comp = NULL;
    int n = 0;
    const char *p = key;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        sbuf b = {0};
        sb_printf(&b, "%s", ""); /* an empty quoted component is still a string */
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\') {
                    p++;
                    char c = *p ? *p++ : 0;
                    switch (c) {
                    case '"': sb_printf(&b, "\""); break;
                    case '\\': sb_printf(&b, "\\"); break;
                    case 'b': sb_printf(&b, "\b"); break;
                    case 't': sb_printf(&b, "\t"); break;
                    case 'n': sb_printf(&b, "\n"); break;
                    case 'f': sb_printf(&b, "\f"); break;
                    case 'r': sb_printf(&b, "\r"); break;
                    case 'u':
                    case 'U': {
                        int len = c == 'u' ? 4 : 8;
                        uint32_t cp = 0;
                        for (int k = 0; k < len; k++, p++) {
                            char h = *p;
                            int d = h >= '0' && h <= '9'   ? h - '0'
                                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                           : -1;
                            if (d < 0)
                                goto bad;
                            cp = cp * 16 + (uint32_t)d;
                        }
                        if (cp == 0 || cp > 0x10ffff)
                            goto bad;
                        put_utf8(&b, cp);
                        break;
                    }
                    default: goto bad;
                    }
                } else {
                    sb_printf(&b, "%c", *p++);
                }
            }
            if (*p != q)
                goto bad;
            p++;
        } else {
            const char *s = p;
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
                p++;
            if (p == s)
                goto bad;
            sb_printf(&b, "%.*s", (int)(p - s), s);
        }
        if (b.oom) {
            free(b.p);
            free_comp(comp, n);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        char **c2 = realloc(comp, (size_t)(n + 1) * sizeof *c2);
        if (!c2) {
            free(b.p);
            free_comp(comp, n);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        comp = c2;
        comp[n++] = b.p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p != '.')
            goto bad_noclean;
        p++;
        continue;
    bad:
        free(b.p);
    bad_noclean:
        free_comp(comp, n);
        return dr_error(DR_ERR_INVALID,
                        "config: malformed key '%s' (expected dotted TOML key components: bare "
                        "A-Za-z0-9_- or quoted)",
                        key);
    }
    *out = comp;
    *nout = n;
    return DR_OK;
}

static char *canonical(char *const *comp, int n)
{
    sbuf b = {0};
    sb_printf(&b, "%s", "");
    sb_key(&b, comp, n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* a[0 .. na-1] equals b[0 .. na-1] */
static bool comps_prefix(char *const *a, int na, char *const *b, int nb)
{
    if (na > nb)
        return false;
    for (int k = 0; k < na; k++)
        if (strcmp(a[k], b[k]) != 0)
            return false;
    return true;
}

/* e's components equal comp[0 .. e->ncomp-1] */
static bool is_prefix_of(const entry *e, char *const *comp, int n)
{
    return comps_prefix(e->comp, e->ncomp, comp, n);
}

static entry *find(const dr_config *cfg, char *const *comp, int n)
{
    for (int k = 0; k < cfg->n; k++)
        if (cfg->e[k].ncomp == n && is_prefix_of(&cfg->e[k], comp, n))
            return &cfg->e[k];
    return NULL;
}

static void mark_ancestors(dr_config *cfg, char *const *comp, int n)
{
    for (int k = 0; k < cfg->n; k++)
        if (cfg->e[k].is_table && cfg->e[k].ncomp < n && is_prefix_of(&cfg->e[k], comp, n))
            cfg->e[k].used = true;
}

/* --- adding entries ----------------------------------------------------------- */

typedef struct source_info {
    origin org;
    const char *text; /* override text */
    int line, col, vline, vcol;
} source_info;

static void entry_free(entry *e)
{
    free_comp(e->comp, e->ncomp);
    free(e->path);
    free(e->org_text);
    cval_free(&e->v);
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
static dr_status put(dr_config *cfg, char *const *comp, int n, cval *v, const source_info *si)
{
    char sb[1100];
    dr_status st = DR_OK;
    char *path = canonical(comp, n);
    if (!path) {
        st = dr_error(DR_ERR_NOMEM, "config: out of memory");
        goto done;
    }
    entry *same = find(cfg, comp, n);
    if (same && v && same->is_table) {
        st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a value: it is a table (%s)",
                      src_name(si, sb, sizeof sb), path, where(cfg, same, false));
        goto done;
    }
    for (int k = 0; k < cfg->n; k++) {
        entry *x = &cfg->e[k];
        if (!x->is_table && x->ncomp < n && is_prefix_of(x, comp, n)) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s: %s is a value (%s), not a table",
                          src_name(si, sb, sizeof sb), path, x->path, where(cfg, x, false));
            goto done;
        }
        if (v && x->ncomp > n && comps_prefix(comp, n, x->comp, x->ncomp)) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a value: it is a table (%s)",
                          src_name(si, sb, sizeof sb), path, where(cfg, x, false));
            goto done;
        }
    }
    entry *x = find(cfg, comp, n);
    if (x) {
        if (x->is_table && !v)
            goto done; /* table already there */
        if (x->is_table != !v) {
            st = dr_error(DR_ERR_INVALID, "%s: cannot set %s to a %s: it is a %s (%s)",
                          src_name(si, sb, sizeof sb), path, v ? "value" : "table",
                          x->is_table ? "table" : "value", where(cfg, x, false));
            goto done;
        }
        char *text = si->text ? xstrdup(si->text) : NULL;
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
        e->comp[k] = xstrdup(comp[k]);
        if (!e->comp[k]) {
            entry_free(e);
            st = dr_error(DR_ERR_NOMEM, "config: out of memory");
            goto done;
        }
    }
    if (si->text && !(e->org_text = xstrdup(si->text))) {
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
        cval_free(v);
    return st;
}

/* --- building entries from the bridge's events ---------------------------------- */

enum { MAX_DEPTH = 64 };

typedef struct builder {
    dr_config *cfg;
    source_info si;   /* origin for everything this walk adds */
    const char *name; /* source name for messages */
    char *comp[MAX_DEPTH];
    int depth;
    cval *arr[MAX_DEPTH]; /* arrays being built, outermost first */
    int arr_depth;
    cval top; /* the outermost array */
    int top_line, top_col, top_kline, top_kcol;
    int n_values; /* values added */
} builder;

static dr_status b_add_value(builder *b, cval *v, int kline, int kcol, int line, int col)
{
    source_info si = b->si;
    if (si.org == ORIG_FILE) {
        si.line = kline;
        si.col = kcol;
        si.vline = line;
        si.vcol = col;
    }
    b->n_values++;
    return put(b->cfg, b->comp, b->depth, v, &si);
}

static dr_status b_scalar(builder *b, const dr_toml_event *ev, cval *v)
{
    if (b->arr_depth > 0) {
        cval *a = b->arr[b->arr_depth - 1];
        cval *items = realloc(a->items, (size_t)(a->n + 1) * sizeof *items);
        if (!items) {
            cval_free(v);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        a->items = items;
        a->items[a->n++] = *v;
        return DR_OK;
    }
    return b_add_value(b, v, ev->key_line, ev->key_col, ev->line, ev->col);
}

static dr_status b_push_key(builder *b, const dr_toml_event *ev)
{
    if (b->depth >= MAX_DEPTH)
        return dr_error(DR_ERR_UNSUPPORTED, "%s:%d:%d: tables nested deeper than %d levels",
                        b->name, ev->line, ev->col, MAX_DEPTH);
    b->comp[b->depth] = xstrdup(ev->key);
    if (!b->comp[b->depth])
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    b->depth++;
    return DR_OK;
}

static void b_pop_key(builder *b)
{
    b->depth--;
    free(b->comp[b->depth]);
}

static dr_status on_event(void *ctx, const dr_toml_event *ev)
{
    builder *b = ctx;
    dr_status st;
    cval v = {0};
    if (b->arr_depth == 0 && ev->key) {
        if (ev->kind == DR_TOML_TABLE_BEGIN || ev->kind == DR_TOML_ARRAY_BEGIN ||
            ev->kind == DR_TOML_INT || ev->kind == DR_TOML_FLOAT || ev->kind == DR_TOML_BOOL ||
            ev->kind == DR_TOML_STRING || ev->kind == DR_TOML_OTHER) {
            DR_TRY(b_push_key(b, ev));
        }
    }
    switch (ev->kind) {
    case DR_TOML_TABLE_BEGIN: {
        if (b->arr_depth > 0)
            return dr_error(DR_ERR_UNSUPPORTED,
                            "%s:%d:%d: tables inside arrays (arrays of tables, [[...]]) are not "
                            "supported in experiment files",
                            b->name, ev->line, ev->col);
        source_info si = b->si;
        if (si.org == ORIG_FILE) {
            si.line = si.vline = ev->line;
            si.col = si.vcol = ev->col;
        }
        return put(b->cfg, b->comp, b->depth, NULL, &si);
    }
    case DR_TOML_TABLE_END: b_pop_key(b); return DR_OK;
    case DR_TOML_ARRAY_BEGIN:
        if (b->arr_depth >= MAX_DEPTH)
            return dr_error(DR_ERR_UNSUPPORTED, "%s:%d:%d: arrays nested deeper than %d levels",
                            b->name, ev->line, ev->col, MAX_DEPTH);
        if (b->arr_depth == 0) {
            memset(&b->top, 0, sizeof b->top);
            b->top.type = DR_CONFIG_ARRAY;
            b->arr[0] = &b->top;
            b->top_line = ev->line;
            b->top_col = ev->col;
            b->top_kline = ev->key_line;
            b->top_kcol = ev->key_col;
        } else {
            cval *a = b->arr[b->arr_depth - 1];
            cval *items = realloc(a->items, (size_t)(a->n + 1) * sizeof *items);
            if (!items)
                return dr_error(DR_ERR_NOMEM, "config: out of memory");
            a->items = items;
            memset(&a->items[a->n], 0, sizeof a->items[a->n]);
            a->items[a->n].type = DR_CONFIG_ARRAY;
            b->arr[b->arr_depth] = &a->items[a->n];
            a->n++;
        }
        b->arr_depth++;
        return DR_OK;
    case DR_TOML_ARRAY_END:
        b->arr_depth--;
        if (b->arr_depth > 0)
            return DR_OK;
        st = b_add_value(b, &b->top, b->top_kline, b->top_kcol, b->top_line, b->top_col);
        b_pop_key(b);
        return st;
    case DR_TOML_INT: v.type = DR_CONFIG_INT; v.i = ev->i; break;
    case DR_TOML_FLOAT: v.type = DR_CONFIG_FLOAT; v.f = ev->f; break;
    case DR_TOML_BOOL: v.type = DR_CONFIG_BOOL; v.b = ev->b != 0; break;
    case DR_TOML_STRING:
        if (memchr(ev->s, 0, ev->s_len))
            return dr_error(DR_ERR_UNSUPPORTED, "%s:%d:%d: strings holding U+0000 are not supported",
                            b->name, ev->line, ev->col);
        v.type = DR_CONFIG_STRING;
        v.s = xstrdup(ev->s);
        if (!v.s)
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        break;
    case DR_TOML_OTHER:
        return dr_error(DR_ERR_UNSUPPORTED,
                        "%s:%d:%d: TOML %s values are not supported in experiment files (write "
                        "the date as a string)",
                        b->name, ev->line, ev->col, ev->type_name ? ev->type_name : "?");
    }
    st = b_scalar(b, ev, &v);
    if (b->arr_depth == 0)
        b_pop_key(b);
    return st;
}

static void builder_cleanup(builder *b)
{
    while (b->depth > 0)
        b_pop_key(b);
    if (b->arr_depth > 0)
        cval_free(&b->top);
    b->arr_depth = 0;
}

static dr_status walk(builder *b, const char *text)
{
    dr_status st = dr_toml_walk(text, strlen(text), b->name, on_event, b);
    builder_cleanup(b);
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
        cval_free(&cfg->old[k]);
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
    cfg->source = xstrdup(source_name ? source_name : "(string)");
    if (!cfg->source) {
        dr_config_free(cfg);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    builder b = {.cfg = cfg, .si = {.org = ORIG_FILE}, .name = cfg->source};
    dr_status st = walk(&b, text);
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
        sb_append(&b, chunk, got);
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
    if (cfg->source && !(c->source = xstrdup(cfg->source)))
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
        d->path = xstrdup(s->path);
        d->org_text = s->org_text ? xstrdup(s->org_text) : NULL;
        memset(&d->v, 0, sizeof d->v);
        c->n = k + 1;
        bool ok = d->comp && d->path && (d->org_text || !s->org_text);
        for (int j = 0; ok && j < s->ncomp; j++)
            ok = (d->comp[j] = xstrdup(s->comp[j])) != NULL;
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
    builder b = {.cfg = cfg, .si = {.org = ORIG_OVERRIDE, .text = text}, .name = name};
    dr_status st = walk(&b, text);
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
    if (b.n_values == 0)
        return dr_error(DR_ERR_INVALID, "%s sets no value (expected section.key=value)", name);
    return DR_OK;
}

static dr_status set_value(dr_config *cfg, const char *key, cval *v)
{
    char **comp;
    int n;
    dr_status st = parse_key(key, &comp, &n);
    if (st != DR_OK) {
        cval_free(v);
        return st;
    }
    source_info si = {.org = ORIG_SET};
    st = put(cfg, comp, n, v, &si);
    free_comp(comp, n);
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
    cval v = {.type = DR_CONFIG_STRING, .s = xstrdup(x)};
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
    DR_TRY(parse_key(key, &comp, &n)); /* refuse a key that would smuggle in more TOML */
    free_comp(comp, n);
    sbuf t = {0};
    sb_printf(&t, "%s = %s\n", key, value);
    if (t.oom) {
        free(t.p);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    char name[600];
    snprintf(name, sizeof name, "dr_config_set_toml(%.200s, %.200s)", key, value);
    builder b = {.cfg = cfg, .si = {.org = ORIG_SET}, .name = name};
    dr_status st = walk(&b, t.p);
    free(t.p);
    if (st == DR_OK && b.n_values != 1)
        st = dr_error(DR_ERR_INVALID, "%s: expected exactly one value", name);
    return st;
}

/* --- reading: lookup, defaults, validation ---------------------------------------- */

typedef struct lookup {
    char **comp;
    int n;
    char *path;
    entry *e; /* NULL while absent */
} lookup;

static void look_done(lookup *L)
{
    free_comp(L->comp, L->n);
    free(L->path);
    memset(L, 0, sizeof *L);
}

/* Parses key, finds it, marks its tables as read; a table where a value is
 * wanted is an error. */
static dr_status look(dr_config *cfg, const char *key, const char *fn, lookup *L)
{
    memset(L, 0, sizeof *L);
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "%s: cfg is NULL", fn);
    DR_TRY(parse_key(key, &L->comp, &L->n));
    L->path = canonical(L->comp, L->n);
    if (!L->path) {
        look_done(L);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    L->e = find(cfg, L->comp, L->n);
    mark_ancestors(cfg, L->comp, L->n);
    if (L->e && L->e->is_table) {
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is a table, but a value is expected here",
                                where(cfg, L->e, true), L->path);
        L->e->used = true; /* reported once, not again as unknown */
        look_done(L);
        return st;
    }
    return DR_OK;
}

/* What one element must be. */
typedef struct spec {
    dr_config_type type; /* INT, FLOAT, BOOL or STRING */
    int64_t ilo, ihi;
    double flo, fhi;
    const char *const *allowed;
} spec;

static void sb_expect(sbuf *b, const spec *sp)
{
    switch (sp->type) {
    case DR_CONFIG_INT:
        sb_printf(b, "an integer in [%" PRId64 ", %" PRId64 "]", sp->ilo, sp->ihi);
        break;
    case DR_CONFIG_FLOAT: sb_printf(b, "a float in [%g, %g]", sp->flo, sp->fhi); break;
    case DR_CONFIG_BOOL: sb_printf(b, "a boolean (true or false)"); break;
    case DR_CONFIG_STRING:
        if (!sp->allowed) {
            sb_printf(b, "a string");
            break;
        }
        sb_printf(b, "one of ");
        for (int k = 0; sp->allowed[k]; k++) {
            sb_printf(b, k ? ", " : "");
            sb_quoted(b, sp->allowed[k]);
        }
        break;
    default: sb_printf(b, "?"); break;
    }
}

static void sb_got(sbuf *b, const cval *v)
{
    sb_printf(b, "%s", type_article(v->type));
    if (v->type != DR_CONFIG_ARRAY) {
        sb_printf(b, " (");
        sb_value(b, v);
        sb_printf(b, ")");
    }
}

static dr_status spec_error(const char *wh, const char *path, const char *elem, const sbuf *msg)
{
    dr_status st = dr_error(DR_ERR_INVALID, "%s: %s%s: %s", wh, path, elem,
                            msg->oom || !msg->p ? "(out of memory formatting)" : msg->p);
    return st;
}

/* Checks one element against sp; an integer becomes a float where a float is
 * wanted. elem names the element of a list ("" for a single value). */
static dr_status check_elem(cval *v, const spec *sp, const char *wh, const char *path,
                            const char *elem)
{
    sbuf m = {0};
    dr_status st = DR_OK;
    if (sp->type == DR_CONFIG_FLOAT && v->type == DR_CONFIG_INT) {
        v->type = DR_CONFIG_FLOAT;
        v->f = (double)v->i;
    }
    if (v->type != sp->type) {
        sb_printf(&m, "expected ");
        sb_expect(&m, sp);
        sb_printf(&m, ", got ");
        sb_got(&m, v);
        st = spec_error(wh, path, elem, &m);
        free(m.p);
        return st;
    }
    bool ok = true;
    switch (sp->type) {
    case DR_CONFIG_INT: ok = v->i >= sp->ilo && v->i <= sp->ihi; break;
    case DR_CONFIG_FLOAT: ok = !isnan(v->f) && v->f >= sp->flo && v->f <= sp->fhi; break;
    case DR_CONFIG_STRING:
        if (sp->allowed) {
            ok = false;
            for (int k = 0; sp->allowed[k]; k++)
                ok = ok || strcmp(sp->allowed[k], v->s) == 0;
        }
        break;
    default: break;
    }
    if (!ok) {
        sb_printf(&m, "value ");
        sb_value(&m, v);
        sb_printf(&m, " is %s: expected ", sp->type == DR_CONFIG_STRING ? "not allowed" : "out of range");
        sb_expect(&m, sp);
        st = spec_error(wh, path, elem, &m);
    }
    free(m.p);
    return st;
}

static dr_status check_value(cval *v, const spec *sp, bool list, int min_n, int max_n,
                             const char *wh, const char *path)
{
    if (!list)
        return check_elem(v, sp, wh, path, "");
    if (v->type != DR_CONFIG_ARRAY || v->n < min_n || v->n > max_n) {
        sbuf m = {0};
        sb_printf(&m, "expected an array of %d to %d elements, each ", min_n, max_n);
        sb_expect(&m, sp);
        sb_printf(&m, ", got ");
        if (v->type == DR_CONFIG_ARRAY)
            sb_printf(&m, "an array of %d elements", v->n);
        else
            sb_got(&m, v);
        dr_status st = spec_error(wh, path, "", &m);
        free(m.p);
        return st;
    }
    for (int k = 0; k < v->n; k++) {
        char elem[32];
        snprintf(elem, sizeof elem, "[%d]", k);
        DR_TRY(check_elem(&v->items[k], sp, wh, path, elem));
    }
    return DR_OK;
}

/* The common path of every typed getter: def is moved in. On DR_OK, L->e is
 * the checked entry, marked as read. */
static dr_status get_checked(dr_config *cfg, const char *key, const char *fn, cval *def,
                             const spec *sp, bool list, int min_n, int max_n, lookup *L)
{
    dr_status st = look(cfg, key, fn, L);
    if (st != DR_OK) {
        cval_free(def);
        return st;
    }
    if (!def && !L->e) { /* required key */
        sbuf m = {0};
        if (list)
            sb_printf(&m, "an array of %d to %d elements, each ", min_n, max_n);
        sb_expect(&m, sp);
        st = dr_error(DR_ERR_INVALID, "%s: missing required key %s (expected %s)",
                      cfg->source ? cfg->source : "configuration", L->path,
                      m.p && !m.oom ? m.p : "?");
        free(m.p);
        look_done(L);
        return st;
    }
    if (!def) {
        st = check_value(&L->e->v, sp, list, min_n, max_n, where(cfg, L->e, true), L->path);
        L->e->used = true;
        if (st != DR_OK)
            look_done(L);
        return st;
    }
    /* a default outside its own range is the reading module's bug */
    char wh[1200];
    snprintf(wh, sizeof wh, "%s: the program's default", fn);
    st = check_value(def, sp, list, min_n, max_n, wh, L->path);
    if (st == DR_OK && !L->e) {
        source_info si = {.org = ORIG_DEFAULT};
        st = put(cfg, L->comp, L->n, def, &si);
        L->e = find(cfg, L->comp, L->n);
    } else if (st == DR_OK && L->e->org == ORIG_DEFAULT && !cval_equal(&L->e->v, def)) {
        sbuf m = {0};
        sb_value(&m, &L->e->v);
        sb_printf(&m, " and ");
        sb_value(&m, def);
        st = dr_error(DR_ERR_INVALID,
                      "%s: %s is read twice with different defaults (%s): the modules reading "
                      "it disagree",
                      fn, L->path, m.p ? m.p : "?");
        free(m.p);
    }
    cval_free(def);
    if (st == DR_OK) {
        st = check_value(&L->e->v, sp, list, min_n, max_n, where(cfg, L->e, true), L->path);
        L->e->used = true;
    }
    if (st != DR_OK)
        look_done(L);
    return st;
}

dr_status dr_config_int64(dr_config *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                          int64_t *out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_int64: out is NULL");
    spec sp = {.type = DR_CONFIG_INT, .ilo = lo, .ihi = hi};
    cval d = {.type = DR_CONFIG_INT, .i = def};
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_int64", &d, &sp, false, 0, 0, &L));
    *out = L.e->v.i;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_int(dr_config *cfg, const char *key, int def, int lo, int hi, int *out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_int: out is NULL");
    spec sp = {.type = DR_CONFIG_INT, .ilo = lo, .ihi = hi};
    cval d = {.type = DR_CONFIG_INT, .i = def};
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_int", &d, &sp, false, 0, 0, &L));
    *out = (int)L.e->v.i;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_float(dr_config *cfg, const char *key, double def, double lo, double hi,
                          double *out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_float: out is NULL");
    spec sp = {.type = DR_CONFIG_FLOAT, .flo = lo, .fhi = hi};
    cval d = {.type = DR_CONFIG_FLOAT, .f = def};
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_float", &d, &sp, false, 0, 0, &L));
    *out = L.e->v.f;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_bool(dr_config *cfg, const char *key, bool def, bool *out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_bool: out is NULL");
    spec sp = {.type = DR_CONFIG_BOOL};
    cval d = {.type = DR_CONFIG_BOOL, .b = def};
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_bool", &d, &sp, false, 0, 0, &L));
    *out = L.e->v.b;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_string(dr_config *cfg, const char *key, const char *def,
                           const char *const *allowed, const char **out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_string: out is NULL");
    spec sp = {.type = DR_CONFIG_STRING, .allowed = allowed};
    cval d = {.type = DR_CONFIG_STRING, .s = def ? xstrdup(def) : NULL};
    if (def && !d.s)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_string", def ? &d : NULL, &sp, false, 0, 0, &L));
    *out = L.e->v.s;
    look_done(&L);
    return DR_OK;
}

static dr_status list_default(cval *d, dr_config_type t, int n, const int *ints,
                              const double *floats, const char *const *strs)
{
    memset(d, 0, sizeof *d);
    d->type = DR_CONFIG_ARRAY;
    if (n <= 0)
        return DR_OK;
    d->items = calloc((size_t)n, sizeof *d->items);
    if (!d->items)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    for (int k = 0; k < n; k++, d->n++) {
        cval *it = &d->items[k];
        it->type = t;
        if (t == DR_CONFIG_INT)
            it->i = ints[k];
        if (t == DR_CONFIG_FLOAT)
            it->f = floats[k];
        if (t == DR_CONFIG_STRING && !(it->s = xstrdup(strs[k]))) {
            it->type = DR_CONFIG_INT; /* nothing to free */
            cval_free(d);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
    }
    return DR_OK;
}

static dr_status list_args(const char *fn, const void *def, int n_def, int min_n, int max_n,
                           const void *out, const int *n)
{
    if (!out || !n || (!def && n_def != 0) || n_def < 0 || min_n < 0 || max_n < min_n)
        return dr_error(DR_ERR_INVALID,
                        "%s: needs out and n, n_def = 0 when def is NULL (required key), and "
                        "0 <= min_n <= max_n",
                        fn);
    return DR_OK;
}

dr_status dr_config_int_list(dr_config *cfg, const char *key, const int *def, int n_def, int lo,
                             int hi, int min_n, int max_n, const int **out, int *n)
{
    DR_TRY(list_args("dr_config_int_list", def, n_def, min_n, max_n, out, n));
    spec sp = {.type = DR_CONFIG_INT, .ilo = lo, .ihi = hi};
    cval d;
    DR_TRY(list_default(&d, DR_CONFIG_INT, n_def, def, NULL, NULL));
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_int_list", def ? &d : NULL, &sp, true, min_n, max_n, &L));
    int m = L.e->v.n;
    int *a = NULL;
    if (m > 0) {
        a = malloc((size_t)m * sizeof *a);
        dr_status st = a ? keep_ptr(cfg, a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = (int)L.e->v.items[k].i;
    }
    *out = a;
    *n = m;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_float_list(dr_config *cfg, const char *key, const double *def, int n_def,
                               double lo, double hi, int min_n, int max_n, const double **out,
                               int *n)
{
    DR_TRY(list_args("dr_config_float_list", def, n_def, min_n, max_n, out, n));
    spec sp = {.type = DR_CONFIG_FLOAT, .flo = lo, .fhi = hi};
    cval d;
    DR_TRY(list_default(&d, DR_CONFIG_FLOAT, n_def, NULL, def, NULL));
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_float_list", def ? &d : NULL, &sp, true, min_n, max_n, &L));
    int m = L.e->v.n;
    double *a = NULL;
    if (m > 0) {
        a = malloc((size_t)m * sizeof *a);
        dr_status st = a ? keep_ptr(cfg, a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = L.e->v.items[k].f;
    }
    *out = a;
    *n = m;
    look_done(&L);
    return DR_OK;
}

dr_status dr_config_string_list(dr_config *cfg, const char *key, const char *const *def,
                                int n_def, const char *const *allowed, int min_n, int max_n,
                                const char *const **out, int *n)
{
    DR_TRY(list_args("dr_config_string_list", def, n_def, min_n, max_n, out, n));
    for (int k = 0; k < n_def; k++)
        if (!def[k])
            return dr_error(DR_ERR_INVALID, "dr_config_string_list: def[%d] is NULL", k);
    spec sp = {.type = DR_CONFIG_STRING, .allowed = allowed};
    cval d;
    DR_TRY(list_default(&d, DR_CONFIG_STRING, n_def, NULL, NULL, def));
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_string_list", def ? &d : NULL, &sp, true, min_n, max_n, &L));
    int m = L.e->v.n;
    const char **a = NULL;
    if (m > 0) {
        a = malloc((size_t)m * sizeof *a);
        dr_status st = a ? keep_ptr(cfg, (void *)a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = L.e->v.items[k].s;
    }
    *out = a;
    *n = m;
    look_done(&L);
    return DR_OK;
}

/* --- generic access ------------------------------------------------------------------ */

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
static int *ordered(const dr_config *cfg)
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
        DR_TRY(parse_key(section, &comp, &depth));
    entry *s = depth > 0 ? find(cfg, comp, depth) : NULL;
    if (s && !s->is_table) {
        char *path = canonical(comp, depth);
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is a value, but a section is expected",
                                where(cfg, s, true), path ? path : section);
        s->used = true;
        free(path);
        free_comp(comp, depth);
        return st;
    }
    if (s)
        s->used = true;
    mark_ancestors(cfg, comp, depth);
    int *ix = ordered(cfg);
    dr_config_key *out = malloc((size_t)(cfg->n > 0 ? cfg->n : 1) * sizeof *out);
    dr_status st = ix && out ? keep_ptr(cfg, out) : dr_error(DR_ERR_NOMEM, "config: out of memory");
    if (st != DR_OK) {
        if (!ix)
            free(out);
        free(ix);
        free_comp(comp, depth);
        return st;
    }
    int m = 0;
    for (int k = 0; k < cfg->n; k++) {
        const entry *e = &cfg->e[ix[k]];
        if (e->org == ORIG_DEFAULT || e->ncomp != depth + 1 || !comps_prefix(comp, depth, e->comp, e->ncomp))
            continue;
        out[m].name = e->comp[depth];
        out[m].path = e->path;
        out[m].type = entry_type(e);
        m++;
    }
    free(ix);
    free_comp(comp, depth);
    *keys = m > 0 ? out : NULL;
    *n = m;
    return DR_OK;
}

dr_config_type dr_config_type_of(const dr_config *cfg, const char *key)
{
    char **comp;
    int n;
    if (!cfg || parse_key(key, &comp, &n) != DR_OK)
        return DR_CONFIG_NONE;
    const entry *e = find(cfg, comp, n);
    free_comp(comp, n);
    return e ? entry_type(e) : DR_CONFIG_NONE;
}

/* Present value, marked as read; absent is an error (these have no default). */
static dr_status look_present(dr_config *cfg, const char *key, const char *fn, lookup *L)
{
    DR_TRY(look(cfg, key, fn, L));
    if (!L->e) {
        /* key, not L->path: gcc -O3 cannot see that look() left path set */
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is not set", fn, key);
        look_done(L);
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
        st = dr_error(DR_ERR_INVALID, "%s: %s: expected an array, got %s", where(cfg, L.e, true),
                      L.path, type_article(L.e->v.type));
    else
        *n = L.e->v.n;
    look_done(&L);
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
                          where(cfg, L.e, true), L.path, index, type_article(v->type),
                          v->type == DR_CONFIG_ARRAY ? " too short" : "");
        else
            v = &v->items[index];
    }
    if (st == DR_OK) {
        sbuf b = {0};
        sb_value(&b, v);
        st = b.oom ? dr_error(DR_ERR_NOMEM, "config: out of memory") : keep_ptr(cfg, b.p);
        if (st == DR_OK)
            *out = b.p;
        else if (b.oom)
            free(b.p);
    }
    look_done(&L);
    return st;
}

const char *dr_config_where(const dr_config *cfg, const char *key)
{
    char **comp;
    int n;
    if (!cfg || parse_key(key, &comp, &n) != DR_OK)
        return "(absent)";
    const entry *e = find(cfg, comp, n);
    free_comp(comp, n);
    return e ? where(cfg, e, true) : "(absent)";
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
            char *cand = canonical(e->comp, len);
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
    int *ix = ordered(cfg);
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
                          where(cfg, e, false), e->path, hint);
        else
            st = dr_error(DR_ERR_INVALID, "%s: unknown key %s: no module reads it%s",
                          where(cfg, e, false), e->path, hint);
        break;
    }
    free(ix);
    return st;
}

/* --- the resolved file ------------------------------------------------------------------ */

static bool same_parent(const entry *a, const entry *b)
{
    return a->ncomp == b->ncomp && comps_prefix(a->comp, a->ncomp - 1, b->comp, b->ncomp);
}

static void write_group(const dr_config *cfg, const int *ix, bool *done, int first, sbuf *b)
{
    const entry *g = &cfg->e[ix[first]];
    if (g->ncomp > 1) {
        sb_printf(b, "\n[");
        sb_key(b, g->comp, g->ncomp - 1);
        sb_printf(b, "]\n");
    }
    for (int k = first; k < cfg->n; k++) {
        const entry *e = &cfg->e[ix[k]];
        if (done[k] || e->is_table || !e->used || !same_parent(g, e))
            continue;
        done[k] = true;
        sb_key(b, &e->comp[e->ncomp - 1], 1);
        sb_printf(b, " = ");
        sb_value(b, &e->v);
        if (e->org == ORIG_DEFAULT)
            sb_printf(b, "  # default");
        else if (e->org == ORIG_OVERRIDE)
            sb_printf(b, "  # command-line override");
        else if (e->org == ORIG_SET)
            sb_printf(b, "  # set by the program");
        sb_printf(b, "\n");
    }
}

dr_status dr_config_write_resolved(const dr_config *cfg, const char *path)
{
    if (!cfg || !path)
        return dr_error(DR_ERR_INVALID, "dr_config_write_resolved: cfg and path must not be NULL");
    int *ix = ordered(cfg);
    bool *done = calloc((size_t)(cfg->n > 0 ? cfg->n : 1), sizeof *done);
    if (!ix || !done) {
        free(ix);
        free(done);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    sbuf b = {0};
    sb_printf(&b, "# Resolved configuration: every key the run read, with the value it used.\n"
                  "# Values the experiment file did not give are marked; rerunning with this\n"
                  "# file reproduces the settings.\n");
    if (cfg->source)
        sb_printf(&b, "# source: %s\n", cfg->source);
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
