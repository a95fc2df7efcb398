#include "models/platt.h"

#include <math.h>

/* Cross-entropy of sigmoid(a s + b) against the smoothed targets, computed
 * without overflow (Lin, Lin and Weng 2007, "A note on Platt's probabilistic
 * outputs for support vector machines"). */
static double dr_platt_objective(const float *score, const float *label, long n, double tpos, double tneg, double a,
                                 double b)
{
    double f = 0;
    for (long i = 0; i < n; i++) {
        double z = a * score[i] + b, t = label[i] > 0.5f ? tpos : tneg;
        /* -t log p - (1 - t) log(1 - p) = (1 - t) z + log(1 + e^-z) = -t z + log(1 + e^z) */
        f += z >= 0 ? (1 - t) * z + log1p(exp(-z)) : -t * z + log1p(exp(z));
    }
    return f;
}

dr_status dr_platt_fit(const float *score, const float *label, long n, double *A, double *B)
{
    double npos = 0;
    for (long i = 0; i < n; i++)
        npos += label[i] > 0.5f;
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0)
        return dr_error(DR_ERR_INVALID, "Platt scaling needs both classes (%g positive of %ld)", npos, n);
    double tpos = (npos + 1) / (npos + 2), tneg = 1 / (nneg + 2);
    double a = 0, b = log((npos + 1) / (nneg + 1)); /* the base rate's logit */
    double f = dr_platt_objective(score, label, n, tpos, tneg, a, b);
    for (int it = 0; it < 100; it++) {
        /* gradient and Hessian in (a, b); the small ridge keeps the Hessian
         * invertible when the scores barely vary */
        double ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12;
        for (long i = 0; i < n; i++) {
            double s = score[i], t = label[i] > 0.5f ? tpos : tneg;
            double p = 1 / (1 + exp(-(a * s + b)));
            double w = p * (1 - p);
            ga += (p - t) * s;
            gb += p - t;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        if (fabs(ga) + fabs(gb) < 1e-9)
            break;
        double det = haa * hbb - hab * hab;
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        /* backtracking: a full Newton step can overshoot far from the optimum */
        double step = 1;
        while (step > 1e-10) {
            double fn = dr_platt_objective(score, label, n, tpos, tneg, a - step * da, b - step * db);
            if (fn < f + 1e-4 * step * (ga * -da + gb * -db)) {
                a -= step * da;
                b -= step * db;
                f = fn;
                break;
            }
            step /= 2;
        }
        if (step <= 1e-10)
            break;
    }
    if (!isfinite(a) || !isfinite(b))
        return dr_error(DR_ERR_NUMERIC, "Platt scaling did not converge");
    *A = a;
    *B = b;
    return DR_OK;
}

void dr_platt_apply(float *prob, const float *score, long n, double A, double B)
{
    for (long i = 0; i < n; i++)
        prob[i] = (float)(1 / (1 + exp(-(A * score[i] + B))));
}
