/* Binary-classification metrics (experiments/metrics.h). The ranking metrics
 * come from one sweep over the samples sorted by decreasing score, taking one
 * ROC point per distinct score; counts are integers held exactly in double
 * (below 2^53), so AUC with ties is exact up to the final division. */
#include "experiments/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct pair {
    float s, y;
} pair;

static dr_status check_inputs(const char *fn, const float *score, const float *label, long n,
                              bool prob, long *n_pos)
{
    if (!score || !label || n <= 0)
        return dr_error(DR_ERR_INVALID, "%s: needs score and label arrays and n > 0 (n = %ld)", fn,
                        n);
    long p = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(score[i]))
            return dr_error(DR_ERR_NUMERIC, "%s: score[%ld] = %g is not finite", fn, i,
                            (double)score[i]);
        if (prob && (score[i] < 0.0f || score[i] > 1.0f))
            return dr_error(DR_ERR_INVALID, "%s: score[%ld] = %g is not a probability in [0, 1]",
                            fn, i, (double)score[i]);
        if (label[i] != 0.0f && label[i] != 1.0f)
            return dr_error(DR_ERR_INVALID, "%s: label[%ld] = %g is not 0 or 1", fn, i,
                            (double)label[i]);
        p += label[i] == 1.0f;
    }
    *n_pos = p;
    return DR_OK;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = ((const pair *)a)->s, y = ((const pair *)b)->s;
    return (x < y) - (x > y);
}

/* What one sweep over the distinct scores yields. */
typedef struct sweep_out {
    double auc, ap, ks, ks_thr, best_f1, best_thr;
} sweep_out;

/* Ranking sweep; fpr/tpr/thr (room for n + 1) may be NULL. */
static dr_status sweep(const char *fn, const float *score, const float *label, long n,
                       sweep_out *o, double *fpr, double *tpr, double *thr, long *n_points)
{
    long P;
    DR_TRY(check_inputs(fn, score, label, n, false, &P));
    long N = n - P;
    if (P == 0 || N == 0)
        return dr_error(DR_ERR_INVALID,
                        "%s: needs both classes, got %ld positives and %ld negatives of %ld", fn, P,
                        N, n);
    pair *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory for %ld samples", fn, n);
    for (long i = 0; i < n; i++)
        v[i] = (pair){score[i], label[i]};
    qsort(v, (size_t)n, sizeof *v, cmp_desc);

    double tp = 0, fp = 0, area = 0;
    long m = 0;
    *o = (sweep_out){0};
    o->ks_thr = INFINITY;
    o->best_thr = INFINITY;
    if (fpr) {
        fpr[0] = tpr[0] = 0;
        thr[0] = INFINITY;
        m = 1;
    }
    for (long i = 0; i < n;) {
        float s = v[i].s;
        double dtp = 0, dfp = 0;
        for (; i < n && v[i].s == s; i++) {
            dtp += v[i].y;
            dfp += 1.0 - v[i].y;
        }
        /* trapezoid over this group: ties count one half */
        area += dfp * (tp + 0.5 * dtp);
        tp += dtp;
        fp += dfp;
        o->ap += (dtp / (double)P) * (tp / (tp + fp));
        double ks = fabs(tp / (double)P - fp / (double)N);
        if (ks > o->ks) {
            o->ks = ks;
            o->ks_thr = s;
        }
        double f1 = tp > 0 ? 2.0 * tp / (2.0 * tp + fp + ((double)P - tp)) : 0.0;
        if (f1 > o->best_f1) {
            o->best_f1 = f1;
            o->best_thr = s;
        }
        if (fpr) {
            fpr[m] = fp / (double)N;
            tpr[m] = tp / (double)P;
            thr[m] = s;
            m++;
        }
    }
    o->auc = area / ((double)P * (double)N);
    if (n_points)
        *n_points = m;
    free(v);
    return DR_OK;
}

dr_status dr_metrics_confusion(const float *score, const float *label, long n, double threshold,
                               dr_confusion *out)
{
    long P;
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_metrics_confusion: out is NULL");
    DR_TRY(check_inputs("dr_metrics_confusion", score, label, n, false, &P));
    if (isnan(threshold))
        return dr_error(DR_ERR_INVALID, "dr_metrics_confusion: threshold is NaN");
    dr_confusion c = {0};
    for (long i = 0; i < n; i++) {
        bool pred = (double)score[i] >= threshold;
        bool pos = label[i] == 1.0f;
        c.tp += pred && pos;
        c.fp += pred && !pos;
        c.fn += !pred && pos;
        c.tn += !pred && !pos;
    }
    *out = c;
    return DR_OK;
}

void dr_metrics_from_confusion(const dr_confusion *cm, double *accuracy, double *precision,
                               double *recall, double *f1)
{
    double tp = (double)cm->tp, fp = (double)cm->fp, tn = (double)cm->tn, fn = (double)cm->fn;
    double n = tp + fp + tn + fn;
    if (accuracy)
        *accuracy = n > 0 ? (tp + tn) / n : 0.0;
    if (precision)
        *precision = tp + fp > 0 ? tp / (tp + fp) : 0.0;
    if (recall)
        *recall = tp + fn > 0 ? tp / (tp + fn) : 0.0;
    /* 2PR/(P+R) written on counts: the same value, no 0/0 when tp = 0 */
    if (f1)
        *f1 = tp > 0 ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

dr_status dr_metrics_best_f1_threshold(const float *score, const float *label, long n,
                                       double *threshold, double *f1)
{
    if (!threshold)
        return dr_error(DR_ERR_INVALID, "dr_metrics_best_f1_threshold: threshold is NULL");
    sweep_out o;
    DR_TRY(sweep("dr_metrics_best_f1_threshold", score, label, n, &o, NULL, NULL, NULL, NULL));
    *threshold = o.best_thr;
    if (f1)
        *f1 = o.best_f1;
    return DR_OK;
}

dr_status dr_metrics_average_precision(const float *score, const float *label, long n,
                                       double *ap)
{
    if (!ap)
        return dr_error(DR_ERR_INVALID, "dr_metrics_average_precision: ap is NULL");
    sweep_out o;
    DR_TRY(sweep("dr_metrics_average_precision", score, label, n, &o, NULL, NULL, NULL, NULL));
    *ap = o.ap;
    return DR_OK;
}

dr_status dr_metrics_ks(const float *score, const float *label, long n, double *ks,
                        double *threshold)
{
    if (!ks)
        return dr_error(DR_ERR_INVALID, "dr_metrics_ks: ks is NULL");
    sweep_out o;
    DR_TRY(sweep("dr_metrics_ks", score, label, n, &o, NULL, NULL, NULL, NULL));
    *ks = o.ks;
    if (threshold)
        *threshold = o.ks_thr;
    return DR_OK;
}

dr_status dr_metrics_roc(const float *score, const float *label, long n, double *fpr, double *tpr,
                         double *thr, long *n_points)
{
    if (!fpr || !tpr || !thr || !n_points)
        return dr_error(DR_ERR_INVALID, "dr_metrics_roc: fpr, tpr, thr and n_points must not be NULL");
    sweep_out o;
    return sweep("dr_metrics_roc", score, label, n, &o, fpr, tpr, thr, n_points);
}

dr_status dr_metrics_brier(const float *score, const float *label, long n, double *brier)
{
    long P;
    if (!brier)
        return dr_error(DR_ERR_INVALID, "dr_metrics_brier: brier is NULL");
    DR_TRY(check_inputs("dr_metrics_brier", score, label, n, true, &P));
    double sum = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)score[i] - (double)label[i];
        sum += d * d;
    }
    *brier = sum / (double)n;
    return DR_OK;
}

dr_status dr_metrics_log_loss(const float *score, const float *label, long n, double *log_loss)
{
    long P;
    if (!log_loss)
        return dr_error(DR_ERR_INVALID, "dr_metrics_log_loss: log_loss is NULL");
    DR_TRY(check_inputs("dr_metrics_log_loss", score, label, n, true, &P));
    double sum = 0;
    for (long i = 0; i < n; i++) {
        /* 1 - p of a float is exact in double; clip the probability of the
         * true class, not p, so that 1 - eps is never formed */
        double q = label[i] == 1.0f ? (double)score[i] : 1.0 - (double)score[i];
        sum -= log(q > DR_METRICS_LOG_EPS ? q : DR_METRICS_LOG_EPS);
    }
    *log_loss = sum / (double)n;
    return DR_OK;
}

dr_status dr_metrics_compute(const float *score, const float *label, long n, double threshold,
                             dr_metrics *out)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "dr_metrics_compute: out is NULL");
    dr_metrics m = {0};
    sweep_out o;
    DR_TRY(sweep("dr_metrics_compute", score, label, n, &o, NULL, NULL, NULL, NULL));
    DR_TRY(dr_metrics_confusion(score, label, n, threshold, &m.cm));
    DR_TRY(dr_metrics_brier(score, label, n, &m.brier));
    DR_TRY(dr_metrics_log_loss(score, label, n, &m.log_loss));
    dr_metrics_from_confusion(&m.cm, &m.accuracy, &m.precision, &m.recall, &m.f1);
    m.n = n;
    m.n_pos = m.cm.tp + m.cm.fn;
    m.threshold = threshold;
    m.auc = o.auc;
    m.gini = 2.0 * o.auc - 1.0;
    m.ks = o.ks;
    m.ks_threshold = o.ks_thr;
    m.pr_auc = o.ap;
    *out = m;
    return DR_OK;
}

void dr_metrics_format(const dr_metrics *m, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return;
    snprintf(buf, cap,
             "auc %.4f gini %.4f ks %.4f pr_auc %.4f | acc %.4f prec %.4f rec %.4f f1 %.4f "
             "@%.4g | brier %.4f logloss %.4f | n %ld pos %ld",
             m->auc, m->gini, m->ks, m->pr_auc, m->accuracy, m->precision, m->recall, m->f1,
             m->threshold, m->brier, m->log_loss, m->n, m->n_pos);
}
