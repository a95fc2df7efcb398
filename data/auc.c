#include "data/auc.h"

#include <math.h>
#include <stdlib.h>

typedef struct auc_pair {
    double s;
    float y;
} auc_pair;

static int auc_cmp(const void *a, const void *b)
{
    double x = ((const auc_pair *)a)->s, y = ((const auc_pair *)b)->s;
    return (x > y) - (x < y);
}

/* Shared body: pairs are filled by the typed wrappers. Takes ownership of p. */
static dr_status auc_pairs(auc_pair *p, long n, double *auc)
{
    long npos = 0;
    for (long i = 0; i < n; i++) {
        if (isnan(p[i].s)) {
            free(p);
            return dr_error(DR_ERR_NUMERIC, "auc: score[%ld] is NaN", i);
        }
        if (p[i].y != 0.0f && p[i].y != 1.0f) {
            double bad = p[i].y;
            free(p);
            return dr_error(DR_ERR_INVALID, "auc: label[%ld] = %g, expected 0 or 1", i, bad);
        }
        npos += p[i].y == 1.0f;
    }
    long nneg = n - npos;
    if (npos == 0 || nneg == 0) {
        free(p);
        return dr_error(DR_ERR_INVALID, "auc: needs both classes (%ld positives, %ld negatives)",
                        npos, nneg);
    }
    qsort(p, (size_t)n, sizeof *p, auc_cmp);
    /* Ranks are 1-based; a tie group [i, j) gets the mean rank (i + 1 + j) / 2. */
    double rank_sum = 0.0;
    for (long i = 0; i < n;) {
        long j = i + 1;
        while (j < n && p[j].s == p[i].s)
            j++;
        long pos = 0;
        for (long k = i; k < j; k++)
            pos += p[k].y == 1.0f;
        rank_sum += (double)pos * 0.5 * (double)(i + 1 + j);
        i = j;
    }
    free(p);
    *auc = (rank_sum - 0.5 * (double)npos * (double)(npos + 1)) / ((double)npos * (double)nneg);
    return DR_OK;
}

dr_status dr_auc(const float *score, const float *label, long n, double *auc)
{
    if (!score || !label || !auc || n <= 0)
        return dr_error(DR_ERR_INVALID, "auc: null argument or n = %ld", n);
    auc_pair *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return dr_error(DR_ERR_NOMEM, "auc: %ld pairs", n);
    for (long i = 0; i < n; i++) {
        p[i].s = score[i];
        p[i].y = label[i];
    }
    return auc_pairs(p, n, auc);
}

dr_status dr_auc_f64(const double *score, const float *label, long n, double *auc)
{
    if (!score || !label || !auc || n <= 0)
        return dr_error(DR_ERR_INVALID, "auc: null argument or n = %ld", n);
    auc_pair *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return dr_error(DR_ERR_NOMEM, "auc: %ld pairs", n);
    for (long i = 0; i < n; i++) {
        p[i].s = score[i];
        p[i].y = label[i];
    }
    return auc_pairs(p, n, auc);
}
