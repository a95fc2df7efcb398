/* One field's value: trimmed, a missing marker, a number (exact decimal
 * parsing) or a date. */
#include "data/csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dates.h"

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
    csv_trim(&s, &n);
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
    csv_trim(&s, &n);
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
    *days = (double)dr_days_from_civil(y, m, d);
    return 1;
}
