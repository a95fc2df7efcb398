/* Pruning on the per-epoch validation AUC, with Optuna's rules:
 *   median: MedianPruner (PercentilePruner at 50): after `startup` completed
 *           reference trials and `warmup` steps, stop a trial whose best value so
 *           far is worse than the median of the completed trials' values at this
 *           step;
 *   asha:   SuccessiveHalvingPruner: at rung r (step min_resource * reduction^r)
 *           a trial goes on only when its value is among the best 1/reduction of
 *           the values at that rung (its own included); min_resource 0 is
 *           Optuna's "auto", the longest completed trial's steps / 100, at least 1.
 * The reference trials are the study's finished slots the caller hands over (for
 * determinism, the same ones whatever is running: see experiments/study.h). */
#include <math.h>
#include <stdlib.h>

#include "experiments/journal.h"
#include "experiments/study.h"

static double dr_step_value(const dr_journal_trial *t, int step)
{
    return step < t->n_steps ? t->steps[step] : NAN;
}

static int dr_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile(v, 50) with linear interpolation; v is sorted in place */
static double dr_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, dr_cmp_double);
    double pos = 0.5 * (n - 1);
    int lo = (int)floor(pos);
    int hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

static int dr_median_prune(const dr_pruner *p, int maximize, const dr_journal_trial *const *refs, int n_refs,
                           const dr_journal_trial *t, int step, double *buf)
{
    int n_complete = 0, n = 0;
    for (int i = 0; i < n_refs; i++)
        if (refs[i]->state == DR_TRIAL_COMPLETE) {
            n_complete++;
            double v = dr_step_value(refs[i], step);
            if (!isnan(v))
                buf[n++] = v;
        }
    if (n_complete < p->startup || step < p->warmup || n == 0)
        return 0;
    double best = NAN;
    for (int s = 0; s <= step && s < t->n_steps; s++)
        if (!isnan(t->steps[s]) && (isnan(best) || (maximize ? t->steps[s] > best : t->steps[s] < best)))
            best = t->steps[s];
    if (isnan(best))
        return 1;
    double m = dr_median(buf, n);
    return maximize ? best < m : best > m;
}

static int dr_asha_prune(const dr_pruner *p, int maximize, const dr_journal_trial *const *refs, int n_refs,
                         const dr_journal_trial *t, int step, double *buf)
{
    long min_resource = p->min_resource;
    if (min_resource == 0) {
        int longest = -1;
        for (int i = 0; i < n_refs; i++)
            if (refs[i]->state == DR_TRIAL_COMPLETE && refs[i]->n_steps - 1 > longest)
                longest = refs[i]->n_steps - 1;
        if (longest < 0)
            return 0;
        min_resource = longest / 100 > 1 ? longest / 100 : 1;
    }
    long rung_step = min_resource;
    while (rung_step < step)
        rung_step *= p->reduction;
    if (rung_step != step)
        return 0;
    double value = dr_step_value(t, step);
    if (isnan(value))
        return 1;
    int n = 0;
    for (int i = 0; i < n_refs; i++) {
        double v = dr_step_value(refs[i], step);
        if (!isnan(v))
            buf[n++] = v;
    }
    buf[n++] = value;
    qsort(buf, (size_t)n, sizeof *buf, dr_cmp_double);
    int idx = n / p->reduction - 1;
    if (idx < 0)
        idx = 0;
    return maximize ? !(value >= buf[n - 1 - idx]) : !(value <= buf[idx]);
}

int dr_pruner_prune(const dr_pruner *p, int maximize, const dr_journal_trial *const *refs, int n_refs,
                    const dr_journal_trial *t, int step)
{
    if (p->kind == DR_PRUNER_NONE)
        return 0;
    double *buf = malloc((size_t)(n_refs + 1) * sizeof *buf);
    if (!buf)
        return 0; /* not pruning is always safe */
    int prune = p->kind == DR_PRUNER_MEDIAN ? dr_median_prune(p, maximize, refs, n_refs, t, step, buf)
                                            : dr_asha_prune(p, maximize, refs, n_refs, t, step, buf);
    free(buf);
    return prune;
}
