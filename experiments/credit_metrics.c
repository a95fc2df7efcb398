/* Credit-risk measures; the definitions are in credit_metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/compare.h"
#include "experiments/credit_metrics.h"

static dr_status check_finite(const char *what, const float *x, long n)
{
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return dr_error(DR_ERR_NUMERIC, "%s: value %ld is %g", what, i, (double)x[i]);
    return DR_OK;
}

/* --- PSI ----------------------------------------------------------------------- */

static int psi_bin(const float *cut, int n_cuts, float v)
{
    int lo = 0, hi = n_cuts; /* first cut >= v */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cut[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

dr_status dr_psi(const float *reference, long n_ref, const float *actual, long n_act, double *psi)
{
    if (n_ref < 1 || n_act < 1)
        return dr_error(DR_ERR_INVALID, "psi: empty sample (%ld reference, %ld actual values)", n_ref, n_act);
    DR_TRY(check_finite("psi: reference", reference, n_ref));
    DR_TRY(check_finite("psi: actual", actual, n_act));
    float *sorted = malloc((size_t)n_ref * sizeof *sorted);
    if (!sorted)
        return dr_error(DR_ERR_NOMEM, "psi: out of host memory");
    memcpy(sorted, reference, (size_t)n_ref * sizeof *sorted);
    qsort(sorted, (size_t)n_ref, sizeof *sorted, dr_cmp_float);
    float cut[DR_PSI_BINS - 1];
    int n_cuts = 0;
    for (int k = 1; k < DR_PSI_BINS; k++) {
        long at = (long)ceil((double)k * (double)n_ref / DR_PSI_BINS) - 1; /* the inverted CDF's quantile */
        float c = sorted[at < 0 ? 0 : at];
        if (n_cuts == 0 || c > cut[n_cuts - 1])
            cut[n_cuts++] = c;
    }
    free(sorted);
    long e[DR_PSI_BINS] = {0}, a[DR_PSI_BINS] = {0};
    for (long i = 0; i < n_ref; i++)
        e[psi_bin(cut, n_cuts, reference[i])]++;
    for (long i = 0; i < n_act; i++)
        a[psi_bin(cut, n_cuts, actual[i])]++;
    double sum = 0;
    for (int b = 0; b <= n_cuts; b++) {
        double pe = fmax((double)e[b] / (double)n_ref, DR_PSI_FLOOR);
        double pa = fmax((double)a[b] / (double)n_act, DR_PSI_FLOOR);
        sum += (pa - pe) * log(pa / pe);
    }
    *psi = sum;
    return DR_OK;
}

/* --- rows sorted by probability --------------------------------------------------- */

typedef struct ranked {
    float p;
    float y;
    long i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static dr_status rank_rows(const char *what, const float *prob, const float *label, long n, ranked **out)
{
    if (n < 1)
        return dr_error(DR_ERR_INVALID, "%s: no rows", what);
    DR_TRY(check_finite(what, prob, n));
    for (long i = 0; i < n; i++)
        if (label[i] != 0 && label[i] != 1)
            return dr_error(DR_ERR_INVALID, "%s: label %ld is %g, not 0 or 1", what, i, (double)label[i]);
    ranked *r = malloc((size_t)n * sizeof *r);
    if (!r)
        return dr_error(DR_ERR_NOMEM, "%s: out of host memory", what);
    for (long i = 0; i < n; i++)
        r[i] = (ranked){prob[i], label[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    *out = r;
    return DR_OK;
}

/* --- reliability ------------------------------------------------------------------- */

dr_status dr_reliability_table(const float *prob, const float *label, long n, dr_reliability *out)
{
    ranked *r;
    DR_TRY(rank_rows("reliability", prob, label, n, &r));
    memset(out, 0, sizeof *out);
    int nb = n < DR_RELIABILITY_BINS ? (int)n : DR_RELIABILITY_BINS;
    out->n_bins = nb;
    for (int b = 0; b < nb; b++) {
        long lo = (long)((double)b * (double)n / nb), hi = (long)((double)(b + 1) * (double)n / nb);
        double sp = 0, sy = 0;
        for (long k = lo; k < hi; k++) {
            sp += r[k].p;
            sy += r[k].y;
        }
        long m = hi - lo;
        out->count[b] = m;
        out->mean_predicted[b] = sp / (double)m;
        out->observed_rate[b] = sy / (double)m;
        out->ece += (double)m / (double)n * fabs(out->mean_predicted[b] - out->observed_rate[b]);
        double var = sp * (1.0 - sp / (double)m); /* E (1 - E / n_b) */
        if (var > 0)
            out->hosmer_lemeshow += (sy - sp) * (sy - sp) / var;
    }
    free(r);
    return DR_OK;
}

/* --- isotonic calibration ----------------------------------------------------------- */

dr_status dr_isotonic_fit(const float *score, const float *label, long n, dr_isotonic *out)
{
    memset(out, 0, sizeof *out);
    ranked *r;
    DR_TRY(rank_rows("isotonic calibration", score, label, n, &r));
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    double *w = malloc((size_t)n * sizeof *w);
    long *first = malloc((size_t)n * sizeof *first); /* PAV block -> its first distinct score */
    if (!x || !y || !w || !first) {
        free(r), free(x), free(y), free(w), free(first);
        return dr_error(DR_ERR_NOMEM, "isotonic calibration: out of host memory");
    }
    long u = 0; /* distinct scores, each with the mean label of its rows */
    for (long i = 0; i < n; i++) {
        if (u > 0 && (float)x[u - 1] == r[i].p) {
            y[u - 1] += r[i].y;
            w[u - 1] += 1;
        } else {
            x[u] = r[i].p, y[u] = r[i].y, w[u] = 1, u++;
        }
    }
    free(r);
    /* pool adjacent violators over the distinct scores: blocks (value, weight) */
    double *bv = malloc((size_t)u * sizeof *bv), *bw = malloc((size_t)u * sizeof *bw);
    if (!bv || !bw) {
        free(x), free(y), free(w), free(first), free(bv), free(bw);
        return dr_error(DR_ERR_NOMEM, "isotonic calibration: out of host memory");
    }
    long nb = 0;
    for (long j = 0; j < u; j++) {
        bv[nb] = y[j] / w[j], bw[nb] = w[j], first[nb] = j, nb++;
        while (nb > 1 && bv[nb - 2] >= bv[nb - 1]) {
            double tw = bw[nb - 2] + bw[nb - 1];
            bv[nb - 2] = (bv[nb - 2] * bw[nb - 2] + bv[nb - 1] * bw[nb - 1]) / tw;
            bw[nb - 2] = tw;
            nb--;
        }
    }
    for (long b = 0; b < nb; b++) {
        long end = b + 1 < nb ? first[b + 1] : u;
        for (long j = first[b]; j < end; j++)
            y[j] = bv[b];
    }
    free(w), free(first), free(bv), free(bw);
    out->k = u;
    out->x = x;
    out->y = y;
    return DR_OK;
}

void dr_isotonic_apply(const dr_isotonic *m, const float *score, long n, float *prob)
{
    for (long i = 0; i < n; i++) {
        double s = score[i];
        if (s <= m->x[0]) {
            prob[i] = (float)m->y[0];
            continue;
        }
        if (s >= m->x[m->k - 1]) {
            prob[i] = (float)m->y[m->k - 1];
            continue;
        }
        long lo = 0, hi = m->k - 1; /* x[lo] <= s < x[hi] */
        while (hi - lo > 1) {
            long mid = (lo + hi) / 2;
            if (m->x[mid] <= s)
                lo = mid;
            else
                hi = mid;
        }
        double t = (s - m->x[lo]) / (m->x[hi] - m->x[lo]);
        prob[i] = (float)(m->y[lo] + t * (m->y[hi] - m->y[lo]));
    }
}

void dr_isotonic_free(dr_isotonic *m)
{
    free(m->x);
    free(m->y);
    memset(m, 0, sizeof *m);
}

/* --- EMP ------------------------------------------------------------------------------ */

typedef struct roc_point {
    double x, y; /* share of good loans rejected, share of defaulters rejected */
} roc_point;

/* The ROC's upper convex hull from (0, 0) to (1, 1), rejecting the loans of
 * highest probability first; *m gets its vertex count. */
static dr_status roc_hull(const float *prob, const float *label, long n, roc_point **out, long *m)
{
    ranked *r;
    DR_TRY(rank_rows("emp", prob, label, n, &r));
    double pos = 0;
    for (long i = 0; i < n; i++)
        pos += r[i].y;
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0) {
        free(r);
        return dr_error(DR_ERR_INVALID, "emp: needs defaults and good loans (%.0f of %ld rows default)", pos, n);
    }
    roc_point *h = malloc((size_t)(n + 1) * sizeof *h);
    if (!h) {
        free(r);
        return dr_error(DR_ERR_NOMEM, "emp: out of host memory");
    }
    long k = 0;
    double tp = 0, fp = 0;
    h[k++] = (roc_point){0, 0};
    for (long i = n - 1; i >= 0; i--) {
        tp += r[i].y;
        fp += 1 - r[i].y;
        if (i > 0 && r[i - 1].p == r[i].p)
            continue; /* a tie is rejected together */
        roc_point p = {fp / neg, tp / pos};
        while (k >= 2) {
            roc_point o = h[k - 2], a = h[k - 1];
            if ((a.x - o.x) * (p.y - o.y) - (a.y - o.y) * (p.x - o.x) < 0)
                break; /* a turns clockwise: it stays on the upper hull */
            k--;
        }
        h[k++] = p;
    }
    free(r);
    *out = h;
    *m = k;
    return DR_OK;
}

dr_status dr_emp(const float *prob, const float *label, long n, double p0, double p1, double roi, double *emp,
                 double *reject)
{
    if (!(p0 >= 0 && p1 >= 0 && p0 + p1 <= 1) || !(roi > 0))
        return dr_error(DR_ERR_INVALID, "emp: p0 %g, p1 %g need p0, p1 >= 0 and p0 + p1 <= 1; roi %g > 0", p0, p1,
                        roi);
    roc_point *h = NULL;
    long m = 0;
    DR_TRY(roc_hull(prob, label, n, &h, &m));
    double pi0 = 0;
    for (long i = 0; i < n; i++)
        pi0 += label[i];
    pi0 /= (double)n;
    double pi1 = 1 - pi0, dens = 1 - p0 - p1;
    /* Vertex i is the best cut-off for lambda in (l_i, l_{i+1}]: l_0 = 0 and
     * l_i = roi pi1 dx / (pi0 dy) for the hull's edge into vertex i; the edges'
     * slopes fall, so the l_i rise. */
    double profit = 0, rejected = 0, lo = 0;
    for (long i = 0; i < m; i++) {
        double hi = INFINITY;
        if (i + 1 < m) {
            double dx = h[i + 1].x - h[i].x, dy = h[i + 1].y - h[i].y;
            hi = dy > 0 ? roi * pi1 * dx / (pi0 * dy) : INFINITY;
        }
        double a = fmin(lo, 1), b = fmin(hi, 1);
        profit += dens * (pi0 * h[i].y * (b * b - a * a) / 2 - roi * pi1 * h[i].x * (b - a));
        rejected += dens * (pi0 * h[i].y + pi1 * h[i].x) * (b - a);
        if (lo < 1 && hi >= 1) { /* the point mass at lambda = 1 */
            profit += p1 * (pi0 * h[i].y - roi * pi1 * h[i].x);
            rejected += p1 * (pi0 * h[i].y + pi1 * h[i].x);
        }
        lo = hi;
    }
    free(h);
    *emp = profit;
    *reject = rejected;
    return DR_OK;
}

/* --- scorecard --------------------------------------------------------------------------- */

void dr_scorecard_points(const float *prob, long n, double pdo, double base_score, double base_odds,
                         float *points)
{
    double factor = pdo / log(2.0), offset = base_score - factor * log(base_odds);
    for (long i = 0; i < n; i++) {
        double p = fmin(fmax((double)prob[i], 1e-9), 1 - 1e-9);
        points[i] = (float)(offset + factor * log((1 - p) / p));
    }
}
