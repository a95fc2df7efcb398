/* CSV reader: see data/csv.h.
 *
 * Two phases per block of rows, for speed. (1) The tokeniser splits the block
 * into fields: quoted fields are unescaped in place (the text only shrinks), and
 * each field becomes an (offset, length) pair stored column-major for the whole
 * file, with the line each row starts on. (2) Each block of rows is converted column by column while its text is still
 * in cache: numbers by a fast exact decimal parser, dates, or categorical levels
 * through a hash table. Conversion errors are collected per column and the
 * earliest (by row, then by column) is reported. */
#include "data/csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct field_ref {
    uint32_t off, len;
} field_ref;

typedef struct parser {
    const char *name;
    char *b; /* owned copy, NUL-terminated */
    size_t len;
    char delim;
    unsigned char stop[256]; /* 1 for the delimiter, CR and LF: ends an unquoted field */
    int n_cols;
    char **header;
    size_t pos; /* tokeniser position and line */
    long line;
    long n_rows, cap_rows;
    field_ref *f; /* column-major: f[j * cap_rows + row] */
    int32_t *row_line;
} parser;

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

/* ---- values ---- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int is_missing(const char *s, size_t n)
{
    trim(&s, &n);
    return n == 0 || (n == 2 && memcmp(s, "NA", 2) == 0) || (n == 3 && memcmp(s, "NaN", 3) == 0) ||
           (n == 4 && memcmp(s, "null", 4) == 0);
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Strict decimal: [+-] digits [. digits] [(e|E) [+-] digits], at least one
 * mantissa digit, surrounding spaces allowed, nothing else (no inf, nan, hex).
 * Clinger's fast path is exact: a mantissa below 2^53 times or divided by an
 * exactly representable power of ten (<= 1e22) is one correctly rounded
 * operation. Anything else goes to strtod, so results always equal strtod's. */
int dr_csv_parse_number(const char *s, size_t n, double *out)
{
    trim(&s, &n);
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    uint64_t m = 0;
    int sig = 0, digits = 0;
    long e10 = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        if (sig < 19) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            sig += m != 0;
        } else {
            e10++;
            sig++;
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (sig < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                sig += m != 0;
                e10--;
            } else {
                sig++;
            }
        }
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        long ex = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (ex < 100000)
                ex = ex * 10 + (s[i] - '0');
        e10 += eneg ? -ex : ex;
    }
    if (i != n)
        return 0;
    double v;
    if (m == 0) {
        v = 0.0;
    } else if (sig <= 19 && m < (1ull << 53) && e10 >= -22 && e10 <= 22) {
        v = e10 >= 0 ? (double)m * pow10_tab[e10] : (double)m / pow10_tab[-e10];
    } else {
        char small[128];
        char *tmp = n < sizeof small ? small : malloc(n + 1);
        if (!tmp)
            return 0;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        errno = 0;
        v = strtod(tmp, NULL);
        if (tmp != small)
            free(tmp);
        if (!isfinite(v))
            return 0;
        *out = v; /* strtod applied the sign */
        return 1;
    }
    *out = neg ? -v : v;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void dr_date_from_days(double days, int *year, int *month, int *day)
{
    long z = (long)floor(days) + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(y + (m <= 2));
    *month = m;
    *day = d;
}

static int digits_at(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

int dr_parse_date(const char *s, size_t n, double *days)
{
    trim(&s, &n);
    int y, m, d = 1;
    if (n != 7 && n != 10)
        return 0;
    if (!digits_at(s, 4, &y) || s[4] != '-' || !digits_at(s + 5, 2, &m) || m < 1 || m > 12)
        return 0;
    if (n == 10) {
        static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (s[7] != '-' || !digits_at(s + 8, 2, &d) || d < 1 || d > mdays[m - 1] ||
            (m == 2 && d == 29 && !leap))
            return 0;
    }
    *days = (double)days_from_civil(y, m, d);
    return 1;
}

/* ---- phase 1: tokenising (interleaved with phase 2, one block at a time) ---- */

/* Reads one field at *pos; on return *pos is at the delimiter, line end or end
 * of buffer. Unescapes a quoted field in place. */
static dr_status read_field(parser *p, size_t *pos, long *line, int field_no, field_ref *out)
{
    char *b = p->b;
    size_t i = *pos, n = p->len;
    if (i < n && b[i] == '"') {
        long open_line = *line;
        size_t w = i + 1, q = i + 1;
        for (;;) {
            if (q >= n)
                return dr_error(DR_ERR_PARSE,
                                "%s:%ld:%d: unterminated quoted field (the quote opened here "
                                "is never closed)",
                                p->name, open_line, field_no);
            char c = b[q];
            if (c == '"') {
                if (q + 1 < n && b[q + 1] == '"') {
                    b[w++] = '"';
                    q += 2;
                    continue;
                }
                q++;
                break;
            }
            if (c == '\n')
                (*line)++;
            b[w++] = c;
            q++;
        }
        out->off = (uint32_t)(i + 1);
        out->len = (uint32_t)(w - (i + 1));
        if (q < n && b[q] != p->delim && b[q] != '\n' && b[q] != '\r')
            return dr_error(DR_ERR_PARSE,
                            "%s:%ld:%d: unexpected character '%c' after a closing quote "
                            "(a quote inside a quoted field is written \"\")",
                            p->name, *line, field_no, b[q]);
        *pos = q;
        return DR_OK;
    }
    size_t s = i;
    const unsigned char *stop = p->stop;
    while (i < n && !stop[(unsigned char)b[i]])
        i++;
    out->off = (uint32_t)s;
    out->len = (uint32_t)(i - s);
    *pos = i;
    return DR_OK;
}

/* Skips a line end at *pos (CRLF, LF or a lone CR) and counts it. */
static void skip_eol(const parser *p, size_t *pos, long *line)
{
    size_t i = *pos;
    if (i < p->len && p->b[i] == '\r') {
        i++;
        if (i < p->len && p->b[i] == '\n')
            i++;
        (*line)++;
    } else if (i < p->len && p->b[i] == '\n') {
        i++;
        (*line)++;
    }
    *pos = i;
}

static void skip_blank_lines(const parser *p, size_t *pos, long *line)
{
    while (*pos < p->len && (p->b[*pos] == '\n' || p->b[*pos] == '\r'))
        skip_eol(p, pos, line);
}

static dr_status read_header(parser *p, size_t *pos, long *line)
{
    int cap = 16, n = 0;
    field_ref *h = malloc((size_t)cap * sizeof *h);
    if (!h)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory", p->name);
    for (;;) {
        if (n == cap) {
            field_ref *g = realloc(h, (size_t)(cap *= 2) * sizeof *h);
            if (!g) {
                free(h);
                return dr_error(DR_ERR_NOMEM, "%s: out of memory", p->name);
            }
            h = g;
        }
        dr_status s = read_field(p, pos, line, n + 1, &h[n]);
        if (s != DR_OK) {
            free(h);
            return s;
        }
        n++;
        if (*pos < p->len && p->b[*pos] == p->delim) {
            (*pos)++;
            continue;
        }
        break;
    }
    skip_eol(p, pos, line);
    p->header = calloc((size_t)n, sizeof *p->header);
    if (!p->header) {
        free(h);
        return dr_error(DR_ERR_NOMEM, "%s: out of memory", p->name);
    }
    p->n_cols = n;
    for (int j = 0; j < n; j++) {
        char *nm = malloc(h[j].len + 24);
        if (!nm) {
            free(h);
            return dr_error(DR_ERR_NOMEM, "%s: out of memory", p->name);
        }
        if (h[j].len == 0) /* R's write.csv(row.names = TRUE) leaves the first name empty */
            snprintf(nm, h[j].len + 24, "column_%d", j + 1);
        else {
            memcpy(nm, p->b + h[j].off, h[j].len);
            nm[h[j].len] = '\0';
        }
        p->header[j] = nm;
    }
    free(h);
    for (int j = 0; j < n; j++)
        for (int k = 0; k < j; k++)
            if (strcmp(p->header[j], p->header[k]) == 0)
                return dr_error(DR_ERR_PARSE, "%s:1:%d: column name '%s' repeats column %d",
                                p->name, j + 1, p->header[j], k + 1);
    return DR_OK;
}

/* End of an unquoted field starting at i: the first delimiter, CR or LF, or the
 * end of the buffer. SSE2 (x86-64 baseline) tests 16 bytes per step, so a
 * typical short field costs one compare-and-branch instead of one per byte. */
static size_t scan_unquoted(const parser *p, size_t i)
{
    const unsigned char *b = (const unsigned char *)p->b;
#ifdef __SSE2__
    const __m128i vd = _mm_set1_epi8(p->delim), vn = _mm_set1_epi8('\n'),
                  vr = _mm_set1_epi8('\r');
    while (i + 16 <= p->len) {
        __m128i x = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                                   _mm_cmpeq_epi8(x, vr));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < p->len && !p->stop[b[i]])
        i++;
    return i;
}

/* BOM, blank lines, the header; then room for every row the file can hold. */
static dr_status tokenise_header(parser *p)
{
    p->pos = 0;
    p->line = 1;
    if (p->len >= 3 && memcmp(p->b, "\xEF\xBB\xBF", 3) == 0)
        p->pos = 3;
    skip_blank_lines(p, &p->pos, &p->line);
    if (p->pos >= p->len)
        return dr_error(DR_ERR_PARSE, "%s:%ld:1: empty file (no header row)", p->name, p->line);
    DR_TRY(read_header(p, &p->pos, &p->line));
    /* Each row but the last ends with LF, CRLF or a lone CR, so line ends + 1
     * bounds the row count: arrays are allocated once and never grow. */
    long nl = 1;
    const char *end = p->b + p->len;
    for (const char *c = p->b + p->pos; (c = memchr(c, '\n', (size_t)(end - c))); c++)
        nl++;
    for (const char *c = p->b + p->pos; (c = memchr(c, '\r', (size_t)(end - c))); c++)
        nl += c + 1 == end || c[1] != '\n';
    p->cap_rows = nl;
    p->f = malloc((size_t)p->cap_rows * (size_t)p->n_cols * sizeof *p->f);
    p->row_line = malloc((size_t)p->cap_rows * sizeof *p->row_line);
    if (!p->f || !p->row_line)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory for %ld rows x %d columns", p->name,
                        p->cap_rows, p->n_cols);
    return DR_OK;
}

/* Splits up to max_rows more rows into fields; stops early at the end. */
static dr_status tokenise_rows(parser *p, long max_rows)
{
    const int nc = p->n_cols;
    const size_t cap = (size_t)p->cap_rows;
    for (long k = 0; k < max_rows; k++) {
        skip_blank_lines(p, &p->pos, &p->line);
        if (p->pos >= p->len)
            return DR_OK;
        DR_ASSERT(p->n_rows < p->cap_rows);
        long row = p->n_rows, row_line = p->line;
        int j = 0;
        for (;;) {
            field_ref fr;
            size_t i = p->pos;
            if (i < p->len && p->b[i] != '"') { /* unquoted: the common case, inline */
                size_t e = scan_unquoted(p, i);
                fr.off = (uint32_t)i;
                fr.len = (uint32_t)(e - i);
                p->pos = e;
            } else {
                DR_TRY(read_field(p, &p->pos, &p->line, j + 1, &fr));
            }
            if (j < nc)
                p->f[(size_t)j * cap + (size_t)row] = fr;
            j++;
            if (p->pos < p->len && p->b[p->pos] == p->delim) {
                p->pos++;
                continue;
            }
            break;
        }
        if (j != nc)
            return dr_error(DR_ERR_PARSE, "%s:%ld:%d: ragged row: %d fields, the header has %d",
                            p->name, row_line, j < nc ? j + 1 : nc + 1, j, nc);
        skip_eol(p, &p->pos, &p->line);
        p->row_line[row] = (int32_t)(row_line < INT32_MAX ? row_line : INT32_MAX);
        p->n_rows++;
    }
    return DR_OK;
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
        if (is_missing(s, len)) {
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
            if (!is_missing(s, len)) {
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
        s = tokenise_rows(p, BLOCK_ROWS);
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
        s = tokenise_header(&p);
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
