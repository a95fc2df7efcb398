/* Phase 1 of the CSV reader: the header, then each block of rows split into
 * fields, quoted ones unescaped in place. */
#include "data/csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
dr_status csv_tokenise_header(parser *p)
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
dr_status csv_tokenise_rows(parser *p, long max_rows)
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
