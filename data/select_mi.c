/* Mutual information of each feature with a binary label (data/select.h says
 * which estimator and why). One sort per feature; features in parallel. */
#include "data/select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct mi_pair {
    float x;
    int y;
} mi_pair;

static int mi_cmp(const void *a, const void *b)
{
    float x = ((const mi_pair *)a)->x, y = ((const mi_pair *)b)->x;
    return (x > y) - (x < y);
}

/* MI of one sorted column; p holds (value, label) sorted by value. */
static double mi_sorted(const mi_pair *p, long n, int bins, long *cnt /* [2 * (n_bins)] */)
{
    long distinct = 1;
    for (long i = 1; i < n; i++)
        distinct += p[i].x != p[i - 1].x;
    /* Bin index per row: the distinct value's index when few, else the
     * equal-frequency bin of the first row of its tie group. */
    int nb = distinct <= bins ? (int)distinct : bins;
    memset(cnt, 0, (size_t)2 * (size_t)nb * sizeof *cnt);
    int b = 0;
    for (long i = 0; i < n; i++) {
        if (i > 0 && p[i].x != p[i - 1].x)
            b = distinct <= bins ? b + 1 : (int)((double)i * bins / (double)n);
        cnt[2 * b + p[i].y]++;
    }
    long ny[2] = {0, 0};
    for (int k = 0; k < nb; k++) {
        ny[0] += cnt[2 * k];
        ny[1] += cnt[2 * k + 1];
    }
    double I = 0;
    int mx = 0, mxy = 0, my = (ny[0] > 0) + (ny[1] > 0);
    for (int k = 0; k < nb; k++) {
        long nk = cnt[2 * k] + cnt[2 * k + 1];
        mx += nk > 0;
        for (int c = 0; c < 2; c++) {
            long nkc = cnt[2 * k + c];
            if (nkc == 0)
                continue;
            mxy++;
            I += (double)nkc / (double)n *
                 log((double)nkc * (double)n / ((double)nk * (double)ny[c]));
        }
    }
    return I + ((mx - 1) + (my - 1) - (mxy - 1)) / (2.0 * (double)n);
}

dr_status dr_select_mi(const float *X, long n, int d, const float *y, int bins, double *mi)
{
    if (!X || !y || !mi || n < 2 || d < 1)
        return dr_error(DR_ERR_INVALID, "select_mi: null argument or n = %ld, d = %d", n, d);
    if (bins <= 0)
        bins = 16;
    if (bins < 2)
        return dr_error(DR_ERR_INVALID, "select_mi: bins = %d, need >= 2", bins);
    for (long i = 0; i < n; i++)
        if (y[i] != 0.0f && y[i] != 1.0f)
            return dr_error(DR_ERR_INVALID, "select_mi: y[%ld] = %g, expected 0 or 1", i,
                            (double)y[i]);
    for (long i = 0; i < n * (long)d; i++)
        if (!isfinite(X[i]))
            return dr_error(DR_ERR_NUMERIC, "select_mi: X[%ld, %ld] is %g; impute first", i / d,
                            i % d, (double)X[i]);
    int failed = 0;
#pragma omp parallel
    {
        mi_pair *p = malloc((size_t)n * sizeof *p);
        long *cnt = malloc((size_t)2 * (size_t)(bins > 1 ? bins : 2) * sizeof *cnt);
        if (!p || !cnt) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < d; j++) {
            if (!p || !cnt)
                continue;
            for (long i = 0; i < n; i++) {
                p[i].x = X[i * d + j];
                p[i].y = y[i] == 1.0f;
            }
            qsort(p, (size_t)n, sizeof *p, mi_cmp);
            mi[j] = mi_sorted(p, n, bins, cnt);
        }
        free(p);
        free(cnt);
    }
    if (failed)
        return dr_error(DR_ERR_NOMEM, "select_mi: %ld rows", n);
    return DR_OK;
}

void dr_select_rank(const double *score, int d, int *order)
{
    /* Insertion sort: stable (ties keep index order) and reentrant, unlike qsort
     * with a global; d is at most a few thousand. */
    for (int j = 0; j < d; j++) {
        int k = j;
        while (k > 0 && score[order[k - 1]] < score[j]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = j;
    }
}
