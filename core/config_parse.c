/* Entries from the TOML parser's events (core/toml_bridge.cpp): one walk
 * per file, override or dr_config_set_toml, every entry with its origin. */
#include "core/config_internal.h"

#include <stdlib.h>
#include <string.h>

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
    return cfg_put(b->cfg, b->comp, b->depth, v, &si);
}

static dr_status b_scalar(builder *b, const dr_toml_event *ev, cval *v)
{
    if (b->arr_depth > 0) {
        cval *a = b->arr[b->arr_depth - 1];
        cval *items = realloc(a->items, (size_t)(a->n + 1) * sizeof *items);
        if (!items) {
            cfg_cval_free(v);
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
    b->comp[b->depth] = cfg_xstrdup(ev->key);
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
        return cfg_put(b->cfg, b->comp, b->depth, NULL, &si);
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
        v.s = cfg_xstrdup(ev->s);
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
        cfg_cval_free(&b->top);
    b->arr_depth = 0;
}

dr_status cfg_walk(dr_config *cfg, source_info si, const char *name, const char *text, int *n_values)
{
    builder b = {.cfg = cfg, .si = si, .name = name};
    dr_status st = dr_toml_walk(text, strlen(text), name, on_event, &b);
    builder_cleanup(&b);
    if (n_values)
        *n_values = b.n_values;
    return st;
}
