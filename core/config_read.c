/* The typed getters: a key's value or its default, checked against the
 * caller's type, range or list of names, with errors that say where. */
#include "core/config_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_look_done(lookup *L)
{
    cfg_free_comp(L->comp, L->n);
    free(L->path);
    memset(L, 0, sizeof *L);
}

/* Parses key, finds it, marks its tables as read; a table cfg_where a value is
 * wanted is an error. */
dr_status cfg_look(dr_config *cfg, const char *key, const char *fn, lookup *L)
{
    memset(L, 0, sizeof *L);
    if (!cfg)
        return dr_error(DR_ERR_INVALID, "%s: cfg is NULL", fn);
    DR_TRY(cfg_parse_key(key, &L->comp, &L->n));
    L->path = cfg_canonical(L->comp, L->n);
    if (!L->path) {
        cfg_look_done(L);
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    }
    L->e = cfg_find(cfg, L->comp, L->n);
    cfg_mark_ancestors(cfg, L->comp, L->n);
    if (L->e && L->e->is_table) {
        dr_status st = dr_error(DR_ERR_INVALID, "%s: %s is a table, but a value is expected here",
                                cfg_where(cfg, L->e, true), L->path);
        L->e->used = true; /* reported once, not again as unknown */
        cfg_look_done(L);
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
        cfg_sb_printf(b, "an integer in [%" PRId64 ", %" PRId64 "]", sp->ilo, sp->ihi);
        break;
    case DR_CONFIG_FLOAT: cfg_sb_printf(b, "a float in [%g, %g]", sp->flo, sp->fhi); break;
    case DR_CONFIG_BOOL: cfg_sb_printf(b, "a boolean (true or false)"); break;
    case DR_CONFIG_STRING:
        if (!sp->allowed) {
            cfg_sb_printf(b, "a string");
            break;
        }
        cfg_sb_printf(b, "one of ");
        for (int k = 0; sp->allowed[k]; k++) {
            cfg_sb_printf(b, k ? ", " : "");
            cfg_sb_quoted(b, sp->allowed[k]);
        }
        break;
    default: cfg_sb_printf(b, "?"); break;
    }
}

static void sb_got(sbuf *b, const cval *v)
{
    cfg_sb_printf(b, "%s", cfg_type_article(v->type));
    if (v->type != DR_CONFIG_ARRAY) {
        cfg_sb_printf(b, " (");
        cfg_sb_value(b, v);
        cfg_sb_printf(b, ")");
    }
}

static dr_status spec_error(const char *wh, const char *path, const char *elem, const sbuf *msg)
{
    dr_status st = dr_error(DR_ERR_INVALID, "%s: %s%s: %s", wh, path, elem,
                            msg->oom || !msg->p ? "(out of memory formatting)" : msg->p);
    return st;
}

/* Checks one element against sp; an integer becomes a float cfg_where a float is
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
        cfg_sb_printf(&m, "expected ");
        sb_expect(&m, sp);
        cfg_sb_printf(&m, ", got ");
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
        cfg_sb_printf(&m, "value ");
        cfg_sb_value(&m, v);
        cfg_sb_printf(&m, " is %s: expected ", sp->type == DR_CONFIG_STRING ? "not allowed" : "out of range");
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
        cfg_sb_printf(&m, "expected an array of %d to %d elements, each ", min_n, max_n);
        sb_expect(&m, sp);
        cfg_sb_printf(&m, ", got ");
        if (v->type == DR_CONFIG_ARRAY)
            cfg_sb_printf(&m, "an array of %d elements", v->n);
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
    dr_status st = cfg_look(cfg, key, fn, L);
    if (st != DR_OK) {
        cfg_cval_free(def);
        return st;
    }
    if (!def && !L->e) { /* required key */
        sbuf m = {0};
        if (list)
            cfg_sb_printf(&m, "an array of %d to %d elements, each ", min_n, max_n);
        sb_expect(&m, sp);
        st = dr_error(DR_ERR_INVALID, "%s: missing required key %s (expected %s)",
                      cfg->source ? cfg->source : "configuration", L->path,
                      m.p && !m.oom ? m.p : "?");
        free(m.p);
        cfg_look_done(L);
        return st;
    }
    if (!def) {
        st = check_value(&L->e->v, sp, list, min_n, max_n, cfg_where(cfg, L->e, true), L->path);
        L->e->used = true;
        if (st != DR_OK)
            cfg_look_done(L);
        return st;
    }
    /* a default outside its own range is the reading module's bug */
    char wh[1200];
    snprintf(wh, sizeof wh, "%s: the program's default", fn);
    st = check_value(def, sp, list, min_n, max_n, wh, L->path);
    if (st == DR_OK && !L->e) {
        source_info si = {.org = ORIG_DEFAULT};
        st = cfg_put(cfg, L->comp, L->n, def, &si);
        L->e = cfg_find(cfg, L->comp, L->n);
    } else if (st == DR_OK && L->e->org == ORIG_DEFAULT && !cfg_cval_equal(&L->e->v, def)) {
        sbuf m = {0};
        cfg_sb_value(&m, &L->e->v);
        cfg_sb_printf(&m, " and ");
        cfg_sb_value(&m, def);
        st = dr_error(DR_ERR_INVALID,
                      "%s: %s is read twice with different defaults (%s): the modules reading "
                      "it disagree",
                      fn, L->path, m.p ? m.p : "?");
        free(m.p);
    }
    cfg_cval_free(def);
    if (st == DR_OK) {
        st = check_value(&L->e->v, sp, list, min_n, max_n, cfg_where(cfg, L->e, true), L->path);
        L->e->used = true;
    }
    if (st != DR_OK)
        cfg_look_done(L);
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
    cfg_look_done(&L);
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
    cfg_look_done(&L);
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
    cfg_look_done(&L);
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
    cfg_look_done(&L);
    return DR_OK;
}

dr_status dr_config_string(dr_config *cfg, const char *key, const char *def,
                           const char *const *allowed, const char **out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_config_string: out is NULL");
    spec sp = {.type = DR_CONFIG_STRING, .allowed = allowed};
    cval d = {.type = DR_CONFIG_STRING, .s = def ? cfg_xstrdup(def) : NULL};
    if (def && !d.s)
        return dr_error(DR_ERR_NOMEM, "config: out of memory");
    lookup L;
    DR_TRY(get_checked(cfg, key, "dr_config_string", def ? &d : NULL, &sp, false, 0, 0, &L));
    *out = L.e->v.s;
    cfg_look_done(&L);
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
        if (t == DR_CONFIG_STRING && !(it->s = cfg_xstrdup(strs[k]))) {
            it->type = DR_CONFIG_INT; /* nothing to free */
            cfg_cval_free(d);
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
        dr_status st = a ? cfg_keep_ptr(cfg, a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            cfg_look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = (int)L.e->v.items[k].i;
    }
    *out = a;
    *n = m;
    cfg_look_done(&L);
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
        dr_status st = a ? cfg_keep_ptr(cfg, a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            cfg_look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = L.e->v.items[k].f;
    }
    *out = a;
    *n = m;
    cfg_look_done(&L);
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
        dr_status st = a ? cfg_keep_ptr(cfg, (void *)a) : dr_error(DR_ERR_NOMEM, "config: out of memory");
        if (st != DR_OK) {
            cfg_look_done(&L);
            return st;
        }
        for (int k = 0; k < m; k++)
            a[k] = L.e->v.items[k].s;
    }
    *out = a;
    *n = m;
    cfg_look_done(&L);
    return DR_OK;
}
