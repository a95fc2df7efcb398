/* CSV reader: see data/csv.h.
 *
 * Two phases per block of rows, for speed. (1) The tokeniser splits the block
 * into fields: quoted fields are unescaped in place (the text only shrinks), and
 * each field becomes an (offset, length) pair stored column-major for the whole
 * file, with the line each row starts on. (2) Each block of rows is converted column by column while its text is still
 * in cache: numbers by a fast exact decimal parser, dates, or categorical levels
 * through a hash table. Conversion errors are collected per column and the
 * earliest (by row, then by column) is reported. */
#include "data/csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const char *kind_name(dr_col_kind k)
{
    switch (k) {
    case DR_COL_NUMERIC: return "numeric";
    case DR_COL_CATEGORICAL: return "categorical";
    case DR_COL_DATE: return "date";
    case DR_COL_TARGET: return "target";
    case DR_COL_ID: return "id";
    case DR_COL_IGNORE: return "ignore";
    }
    return "?";
}

/* ---- phase 2: columns ---- */

/* Rows are converted in blocks of this many: all columns of a block are done
 * while its text (about 250 KB for a 78-column loan table: it stays in L2) is still in cache. A
 * column-at-a-time pass would stream the whole file from memory once per column. */
enum { BLOCK_ROWS = 512 };

enum { CE_OK = 0, CE_NOT_NUMBER, CE_NOT_DATE, CE_NOMEM };

typedef struct level_ref {
    const char *s;
    uint32_t len;
    int32_t code;
} level_ref;

/* Per-column conversion state, kept across blocks. */
typedef struct col_state {
    int infer; /* kind not given: numeric, else date, else categorical */
    int err;
    long bad_row;
    /* categorical: hash table of level indices (open addressing), levels by code */
    int32_t *table;
    size_t tcap;
    level_ref *lv;
    int nl, lcap;
} col_state;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int cmp_level(const void *a, const void *b)
{
    const level_ref *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int rehash(col_state *st, size_t ncap)
{
    int32_t *nt = malloc(ncap * sizeof *nt);
    if (!nt)
        return CE_NOMEM;
    memset(nt, 0xff, ncap * sizeof *nt);
    for (int k = 0; k < st->nl; k++) {
        size_t g = (size_t)hash_bytes(st->lv[k].s, st->lv[k].len) & (ncap - 1);
        while (nt[g] >= 0)
            g = (g + 1) & (ncap - 1);
        nt[g] = k;
    }
    free(st->table);
    st->table = nt;
    st->tcap = ncap;
    return CE_OK;
}

/* Codes in order of first appearance for rows r0..r1-1; sorted at the end. */
static int cat_range(const parser *p, const field_ref *f, dr_column *c, col_state *st, long r0,
                     long r1)
{
    if (!c->cat && !(c->cat = malloc((size_t)p->cap_rows * sizeof *c->cat)))
        return CE_NOMEM;
    if (!st->table && rehash(st, 64) != CE_OK)
        return CE_NOMEM;
    for (long i = r0; i < r1; i++) {
        const char *s = p->b + f[i].off;
        uint32_t len = f[i].len;
        if (csv_is_missing(s, len)) {
            c->cat[i] = -1;
            continue;
        }
        size_t h = (size_t)hash_bytes(s, len) & (st->tcap - 1);
        while (st->table[h] >= 0) {
            const level_ref *l = &st->lv[st->table[h]];
            if (l->len == len && memcmp(l->s, s, len) == 0)
                break;
            h = (h + 1) & (st->tcap - 1);
        }
        if (st->table[h] >= 0) {
            c->cat[i] = st->table[h];
            continue;
        }
        if (st->nl == st->lcap) {
            int ncap = st->lcap ? st->lcap * 2 : 16;
            level_ref *g = realloc(st->lv, (size_t)ncap * sizeof *g);
            if (!g)
                return CE_NOMEM;
            st->lv = g;
            st->lcap = ncap;
        }
        st->lv[st->nl] = (level_ref){s, len, st->nl};
        st->table[h] = st->nl;
        c->cat[i] = st->nl++;
        if ((size_t)st->nl * 2 > st->tcap && rehash(st, st->tcap * 4) != CE_OK)
            return CE_NOMEM;
    }
    return CE_OK;
}

/* Sorts the levels (byte order, so codes do not depend on row order) and remaps. */
static int cat_finish(const parser *p, dr_column *c, col_state *st)
{
    int nl = st->nl;
    if (nl > 1)
        qsort(st->lv, (size_t)nl, sizeof *st->lv, cmp_level);
    int32_t *remap = malloc((size_t)(nl > 0 ? nl : 1) * sizeof *remap);
    c->levels = calloc((size_t)(nl > 0 ? nl : 1), sizeof *c->levels);
    if (!remap || !c->levels) {
        free(remap);
        return CE_NOMEM;
    }
    c->n_levels = nl;
    for (int k = 0; k < nl; k++) {
        remap[st->lv[k].code] = k;
        if (!(c->levels[k] = malloc(st->lv[k].len + 1))) {
            free(remap);
            return CE_NOMEM;
        }
        memcpy(c->levels[k], st->lv[k].s, st->lv[k].len);
        c->levels[k][st->lv[k].len] = '\0';
    }
    for (long i = 0; i < p->n_rows; i++)
        if (c->cat[i] >= 0)
            c->cat[i] = remap[c->cat[i]];
    free(remap);
    return CE_OK;
}

/* Numbers (date = 0) or dates (date = 1) for rows r0..r1-1; *bad_row gets the
 * first value that is neither missing nor of the kind. */
static int doubles_range(const parser *p, const field_ref *f, dr_column *c, int date, long r0,
                         long r1, long *bad_row)
{
    if (!c->num && !(c->num = malloc((size_t)p->cap_rows * sizeof *c->num)))
        return CE_NOMEM;
    for (long i = r0; i < r1; i++) {
        const char *s = p->b + f[i].off;
        size_t len = f[i].len;
        double v;
        int ok = date ? dr_parse_date(s, len, &v) : dr_csv_parse_number(s, len, &v);
        if (!ok) {
            if (!csv_is_missing(s, len)) {
                *bad_row = i;
                return date ? CE_NOT_DATE : CE_NOT_NUMBER;
            }
            v = NAN;
        }
        c->num[i] = v;
    }
    return CE_OK;
}

/* Rows r0..r1-1 of column j. An inferred column that meets a value not of its
 * current kind falls back (numeric -> date -> categorical) and converts rows
 * 0..r1-1 again: in real files that happens on the first row. */
static void convert_block(const parser *p, int j, dr_column *c, col_state *st, long r0, long r1)
{
    const field_ref *f = p->f + (size_t)j * (size_t)p->cap_rows;
    long bad = -1;
    int e = CE_OK;
    switch ((int)c->kind) {
    case DR_COL_NUMERIC:
        e = doubles_range(p, f, c, 0, r0, r1, &bad);
        if (e == CE_NOT_NUMBER && st->infer) {
            c->kind = DR_COL_DATE;
            e = doubles_range(p, f, c, 1, 0, r1, &bad);
        }
        if (e == CE_NOT_DATE && st->infer) {
            free(c->num);
            c->num = NULL;
            c->kind = DR_COL_CATEGORICAL;
            e = cat_range(p, f, c, st, 0, r1);
        }
        break;
    case DR_COL_DATE:
        e = doubles_range(p, f, c, 1, r0, r1, &bad);
        if (e == CE_NOT_DATE && st->infer) {
            free(c->num);
            c->num = NULL;
            c->kind = DR_COL_CATEGORICAL;
            e = cat_range(p, f, c, st, 0, r1);
        }
        break;
    case DR_COL_CATEGORICAL:
    case DR_COL_TARGET:
    case DR_COL_ID: e = cat_range(p, f, c, st, r0, r1); break;
    default: break; /* ignore */
    }
    st->err = e;
    st->bad_row = bad;
}

static dr_status convert_all(parser *p, dr_table *t, const dr_csv_options *opt)
{
    int nc = p->n_cols;
    t->n_rows = 0;
    t->n_cols = nc;
    t->cols = calloc((size_t)nc, sizeof *t->cols);
    col_state *st = calloc((size_t)nc, sizeof *st);
    if (!t->cols || !st) {
        free(st);
        return dr_error(DR_ERR_NOMEM, "%s: out of memory", p->name);
    }
    for (int j = 0; j < nc; j++) {
        t->cols[j].name = p->header[j];
        p->header[j] = NULL;
        t->cols[j].kind = DR_COL_NUMERIC;
        st[j].infer = 1;
    }
    for (int k = 0; opt && k < opt->n_overrides; k++) {
        int j = dr_table_find(t, opt->overrides[k].column);
        t->cols[j].kind = opt->overrides[k].kind;
        st[j].infer = 0;
    }
    if (opt && opt->target) {
        int j = dr_table_find(t, opt->target);
        t->cols[j].kind = DR_COL_TARGET;
        st[j].infer = 0;
    }
    int worst = -1;
    dr_status s = DR_OK;
    while (worst < 0) {
        long r0 = p->n_rows;
        s = csv_tokenise_rows(p, BLOCK_ROWS);
        long r1 = p->n_rows;
        if (s != DR_OK || r1 == r0)
            break;
        /* Serial on purpose: a parallel loop per block measured 3x slower on a
         * shared 2-core machine (threads spin at ~300 barriers), and the serial
         * tokeniser bounds the speed anyway. */
        for (int j = 0; j < nc; j++)
            convert_block(p, j, &t->cols[j], &st[j], r0, r1);
        /* the earliest bad value (by row, then column); out of memory first */
        for (int j = 0; j < nc; j++) {
            if (st[j].err == CE_OK)
                continue;
            if (worst < 0 || st[j].err == CE_NOMEM ||
                (st[worst].err != CE_NOMEM && st[j].bad_row < st[worst].bad_row))
                worst = j;
        }
    }
    t->n_rows = p->n_rows;
    if (s == DR_OK && worst < 0 && p->n_rows == 0)
        s = dr_error(DR_ERR_PARSE, "%s:%ld:1: no data rows after the header", p->name, p->line);
    for (int j = 0; j < nc && worst < 0 && s == DR_OK; j++) {
        if (t->cols[j].cat && (st[j].err = cat_finish(p, &t->cols[j], &st[j])) != CE_OK)
            worst = j;
    }
    if (s == DR_OK && worst >= 0) {
        const col_state *r = &st[worst];
        const dr_column *c = &t->cols[worst];
        if (r->err == CE_NOMEM) {
            s = dr_error(DR_ERR_NOMEM, "%s: out of memory converting column '%s'", p->name,
                         c->name);
        } else {
            const field_ref *f = &p->f[(size_t)worst * (size_t)p->cap_rows + (size_t)r->bad_row];
            int shown = f->len > 40 ? 40 : (int)f->len;
            s = dr_error(DR_ERR_PARSE, "%s:%d:%d: column '%s' is declared %s but holds '%.*s%s'",
                         p->name, p->row_line[r->bad_row], worst + 1, c->name,
                         kind_name(c->kind), shown, p->b + f->off, f->len > 40 ? "..." : "");
        }
    }
    for (int j = 0; j < nc; j++) {
        free(st[j].table);
        free(st[j].lv);
    }
    free(st);
    if (s == DR_OK && opt && opt->target) {
        int j = dr_table_find(t, opt->target);
        const dr_column *c = &t->cols[j];
        if (c->n_levels < 2)
            s = dr_error(DR_ERR_PARSE,
                         "%s:1:%d: target column '%s' has %s%s%s in %ld data rows; a binary "
                         "target needs two classes",
                         p->name, j + 1, c->name,
                         c->n_levels == 0 ? "no values" : "only one class ('",
                         c->n_levels == 0 ? "" : c->levels[0], c->n_levels == 0 ? "" : "')",
                         t->n_rows);
    }
    return s;
}

static dr_status check_options(const parser *p, const dr_csv_options *opt)
{
    if (!opt)
        return DR_OK;
    for (int k = 0; k < opt->n_overrides; k++) {
        const char *nm = opt->overrides[k].column;
        int found = 0;
        for (int j = 0; nm && j < p->n_cols && !found; j++)
            found = strcmp(p->header[j], nm) == 0;
        if (!nm || !found)
            return dr_error(DR_ERR_PARSE,
                            "%s:1: override (%s) names column '%s', which the header lacks",
                            p->name, kind_name(opt->overrides[k].kind), nm ? nm : "(null)");
        if ((unsigned)opt->overrides[k].kind > DR_COL_IGNORE)
            return dr_error(DR_ERR_INVALID, "%s: override of column '%s' has unknown kind %d",
                            p->name, nm, (int)opt->overrides[k].kind);
    }
    if (opt->target) {
        int found = 0;
        for (int j = 0; j < p->n_cols && !found; j++)
            found = strcmp(p->header[j], opt->target) == 0;
        if (!found)
            return dr_error(DR_ERR_PARSE, "%s:1: no target column '%s' in the header (%d columns)",
                            p->name, opt->target, p->n_cols);
    }
    return DR_OK;
}

static void parser_free(parser *p)
{
    if (p->header)
        for (int j = 0; j < p->n_cols; j++)
            free(p->header[j]);
    free(p->header);
    free(p->f);
    free(p->row_line);
    free(p->b);
}

/* Takes ownership of buf (len bytes, with room for a NUL at buf[len]). */
/* Takes ownership of buf: freed with free(), or munmap() when mapped. The
 * parser never reads past buf[len - 1]. */
static dr_status parse_owned(dr_table *out, char *buf, size_t len, int mapped, const char *name,
                             const dr_csv_options *opt)
{
    memset(out, 0, sizeof *out);
    parser p = {0};
    p.name = name;
    p.b = buf;
    p.len = len;
    p.delim = opt && opt->delimiter ? opt->delimiter : ',';
    p.stop[(unsigned char)p.delim] = p.stop['\n'] = p.stop['\r'] = 1;
    dr_status s;
    if (len >= UINT32_MAX) {
        s = dr_error(DR_ERR_UNSUPPORTED, "%s: CSV files of 4 GiB or more are not supported",
                     name);
    } else if (p.delim == '"' || p.delim == '\n' || p.delim == '\r') {
        s = dr_error(DR_ERR_INVALID, "%s: delimiter cannot be a quote or line end", name);
    } else {
        s = csv_tokenise_header(&p);
        if (s == DR_OK)
            s = check_options(&p, opt);
        if (s == DR_OK)
            s = convert_all(&p, out, opt);
    }
    if (s == DR_OK) {
        size_t n = strlen(name) + 1;
        if ((out->source = malloc(n)))
            memcpy(out->source, name, n);
        else
            s = dr_error(DR_ERR_NOMEM, "%s: out of memory", name);
    }
    if (mapped) {
        munmap(p.b, len);
        p.b = NULL;
    }
    parser_free(&p);
    if (s != DR_OK)
        dr_table_free(out);
    return s;
}

dr_status dr_csv_parse(dr_table *out, const char *buf, size_t len, const char *name,
                       const dr_csv_options *opt)
{
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1);
    if (!copy)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory (%zu bytes)", name, len);
    if (len)
        memcpy(copy, buf, len);
    return parse_owned(out, copy, len, 0, name, opt);
}

dr_status dr_csv_read(dr_table *out, const char *path, const dr_csv_options *opt)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dr_error(DR_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    /* A private writable mapping: no copy of the file, and the in-place
     * unescaping of quoted fields copies only the pages it touches. Pipes and
     * empty files take the read() path below. */
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
                       fileno(fp), 0);
        if (m != MAP_FAILED) {
            fclose(fp);
            posix_madvise(m, (size_t)st.st_size, POSIX_MADV_SEQUENTIAL);
            return parse_owned(out, m, (size_t)st.st_size, 1, path, opt);
        }
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long sz = ftell(fp);
        if (sz > 0)
            cap = (size_t)sz + 1;
        rewind(fp);
    }
    for (;;) { /* also works for pipes, whose size is unknown */
        if (!buf || len + 1 >= cap) {
            cap = !buf && cap ? cap : cap ? cap * 2 : 1 << 16;
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(fp);
                return dr_error(DR_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = g;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        free(buf);
        return dr_error(DR_ERR_IO, "%s: read error", path);
    }
    if (!buf && !(buf = malloc(1)))
        return dr_error(DR_ERR_NOMEM, "%s: out of memory", path);
    return parse_owned(out, buf, len, 0, path, opt);
}
