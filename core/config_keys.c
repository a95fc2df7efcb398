/* Dotted keys (core/config.h): parsed into components as TOML spells them,
 * written back in canonical form, and looked up among the entries. */
#include "core/config_internal.h"

#include <stdlib.h>
#include <string.h>

void cfg_free_comp(char **comp, int n)
{
    for (int k = 0; k < n; k++)
        free(comp[k]);
    free(comp);
}

static void put_utf8(sbuf *b, uint32_t cp)
{
    if (cp < 0x80)
        cfg_sb_printf(b, "%c", (char)cp);
    else if (cp < 0x800)
        cfg_sb_printf(b, "%c%c", (char)(0xc0 | (cp >> 6)), (char)(0x80 | (cp & 0x3f)));
    else if (cp < 0x10000)
        cfg_sb_printf(b, "%c%c%c", (char)(0xe0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3f)),
                  (char)(0x80 | (cp & 0x3f)));
    else
        cfg_sb_printf(b, "%c%c%c%c", (char)(0xf0 | (cp >> 18)), (char)(0x80 | ((cp >> 12) & 0x3f)),
                  (char)(0x80 | ((cp >> 6) & 0x3f)), (char)(0x80 | (cp & 0x3f)));
}

/* Parses a TOML dotted key ("a.b", 'search."model.units"', "x.'lit'") into
 * components. */
dr_status cfg_parse_key(const char *key, char ***out, int *nout)
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
        cfg_sb_printf(&b, "%s", ""); /* an empty quoted component is still a string */
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\') {
                    p++;
                    char c = *p ? *p++ : 0;
                    switch (c) {
                    case '"': cfg_sb_printf(&b, "\""); break;
                    case '\\': cfg_sb_printf(&b, "\\"); break;
                    case 'b': cfg_sb_printf(&b, "\b"); break;
                    case 't': cfg_sb_printf(&b, "\t"); break;
                    case 'n': cfg_sb_printf(&b, "\n"); break;
                    case 'f': cfg_sb_printf(&b, "\f"); break;
                    case 'r': cfg_sb_printf(&b, "\r"); break;
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
                    cfg_sb_printf(&b, "%c", *p++);
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
            cfg_sb_printf(&b, "%.*s", (int)(p - s), s);
        }
        if (b.oom) {
            free(b.p);
            cfg_free_comp(comp, n);
            return dr_error(DR_ERR_NOMEM, "config: out of memory");
        }
        char **c2 = realloc(comp, (size_t)(n + 1) * sizeof *c2);
        if (!c2) {
            free(b.p);
            cfg_free_comp(comp, n);
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
        cfg_free_comp(comp, n);
        return dr_error(DR_ERR_INVALID,
                        "config: malformed key '%s' (expected dotted TOML key components: bare "
                        "A-Za-z0-9_- or quoted)",
                        key);
    }
    *out = comp;
    *nout = n;
    return DR_OK;
}

char *cfg_canonical(char *const *comp, int n)
{
    sbuf b = {0};
    cfg_sb_printf(&b, "%s", "");
    cfg_sb_key(&b, comp, n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* a[0 .. na-1] equals b[0 .. na-1] */
bool cfg_comps_prefix(char *const *a, int na, char *const *b, int nb)
{
    if (na > nb)
        return false;
    for (int k = 0; k < na; k++)
        if (strcmp(a[k], b[k]) != 0)
            return false;
    return true;
}

/* e's components equal comp[0 .. e->ncomp-1] */
bool cfg_is_prefix_of(const entry *e, char *const *comp, int n)
{
    return cfg_comps_prefix(e->comp, e->ncomp, comp, n);
}

entry *cfg_find(const dr_config *cfg, char *const *comp, int n)
{
    for (int k = 0; k < cfg->n; k++)
        if (cfg->e[k].ncomp == n && cfg_is_prefix_of(&cfg->e[k], comp, n))
            return &cfg->e[k];
    return NULL;
}

void cfg_mark_ancestors(dr_config *cfg, char *const *comp, int n)
{
    for (int k = 0; k < cfg->n; k++)
        if (cfg->e[k].is_table && cfg->e[k].ncomp < n && cfg_is_prefix_of(&cfg->e[k], comp, n))
            cfg->e[k].used = true;
}
