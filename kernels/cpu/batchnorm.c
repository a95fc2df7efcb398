/* Batch normalisation on the CPU (contract in kernels/batchnorm.h).
 *   x [B, C, L], gamma [C], beta [C] -> out [B, C, L]; mean [C], rstd [C] saved
 * Channel c owns the n = B*L values x[b, c, l]. Statistics are taken in double
 * with two passes (mean, then sum of squared deviations), so a channel with a
 * large mean and a small spread keeps its variance (one-pass E[x^2] - E[x]^2
 * cancels catastrophically there). Channels are independent: OpenMP over them.
 *
 * Single value per channel (n = B*L = 1): the batch variance is 0 and the
 * unbiased estimate n/(n-1) var is 0/0 (PyTorch raises an error). Here the
 * running variance is left unchanged for that step (the running mean is still
 * updated): one value says nothing about the spread, and pulling the running
 * variance towards 0 would make eval mode divide by sqrt(eps). The output is
 * then beta (x - mean = 0) and the gradient to x is 0, as the formulas give. */
#include "kernels/batchnorm.h"

#include <math.h>

/* channel c of sample b: L contiguous floats */
static inline const float *dr_bn_row(const float *x, int b, int c, int C, int L)
{
    return x + ((long)b * C + c) * L;
}

void dr_cpu_batchnorm_forward_train(dr_backend *be, float *out, float *mean, float *rstd,
                                    float *running_mean, float *running_var, const float *x,
                                    const float *gamma, const float *beta, int B, int C, int L,
                                    float eps, float momentum)
{
    (void)be;
    DR_ASSERT(B > 0 && C > 0 && L > 0 && eps >= 0.0f);
    DR_ASSERT(out && mean && rstd && x && gamma && beta);
    const long n = (long)B * L;
#pragma omp parallel for schedule(static) if ((long)C * n >= 4096)
    for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int b = 0; b < B; b++) {
            const float *xr = dr_bn_row(x, b, c, C, L);
            for (int l = 0; l < L; l++)
                s += xr[l];
        }
        const double mu = s / (double)n;
        double ss = 0.0;
        for (int b = 0; b < B; b++) {
            const float *xr = dr_bn_row(x, b, c, C, L);
            for (int l = 0; l < L; l++) {
                double d = xr[l] - mu;
                ss += d * d;
            }
        }
        const double var = ss / (double)n; /* biased: what normalises the batch */
        const double rs = 1.0 / sqrt(var + (double)eps);
        mean[c] = (float)mu;
        rstd[c] = (float)rs;
        const double g = gamma[c], bt = beta[c];
        for (int b = 0; b < B; b++) {
            const float *xr = dr_bn_row(x, b, c, C, L);
            float *yr = out + ((long)b * C + c) * L;
            for (int l = 0; l < L; l++)
                yr[l] = (float)((xr[l] - mu) * rs * g + bt);
        }
        if (running_mean)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
        if (running_var && n > 1) /* n = 1: unchanged, see the top of the file */
            running_var[c] = (1.0f - momentum) * running_var[c] +
                             momentum * (float)(ss / (double)(n - 1));
    }
}

void dr_cpu_batchnorm_forward_eval(dr_backend *be, float *out, const float *x, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, int B, int C, int L, float eps)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && L > 0 && eps >= 0.0f);
    DR_ASSERT(out && x && gamma && beta && running_mean && running_var);
    const long rows = (long)B * C;
#pragma omp parallel for schedule(static) if (rows * L >= 32768)
    for (long r = 0; r < rows; r++) {
        int c = (int)(r % C);
        float scale = gamma[c] / sqrtf(running_var[c] + eps);
        float mu = running_mean[c], bt = beta[c];
        const float *xr = x + r * L;
        float *yr = out + r * L;
        for (int l = 0; l < L; l++)
            yr[l] = (xr[l] - mu) * scale + bt;
    }
}

/* With xhat = (x - mean) rstd and y = gamma xhat + beta, per channel:
 *   dbeta  = sum dy,   dgamma = sum dy xhat
 *   dx     = gamma rstd (dy - dbeta / n - xhat dgamma / n)
 * (the batch mean and variance depend on every x of the channel, hence the two
 * sums in dx). Sums in double; xhat is recomputed from the saved mean and rstd. */
void dr_cpu_batchnorm_backward(dr_backend *be, float *dx, float *dgamma, float *dbeta,
                               const float *dout, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int B, int C, int L)
{
    (void)be;
    DR_ASSERT(B > 0 && C > 0 && L > 0);
    DR_ASSERT(dgamma && dbeta && dout && x && mean && rstd && gamma);
    const long n = (long)B * L;
#pragma omp parallel for schedule(static) if ((long)C * n >= 4096)
    for (int c = 0; c < C; c++) {
        const double mu = mean[c], rs = rstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int b = 0; b < B; b++) {
            const float *xr = dr_bn_row(x, b, c, C, L), *dyr = dr_bn_row(dout, b, c, C, L);
            for (int l = 0; l < L; l++) {
                sdy += dyr[l];
                sdyx += dyr[l] * ((xr[l] - mu) * rs);
            }
        }
        dbeta[c] += (float)sdy;
        dgamma[c] += (float)sdyx;
        if (!dx)
            continue;
        const double k = gamma[c] * rs, mdy = sdy / (double)n, mdyx = sdyx / (double)n;
        for (int b = 0; b < B; b++) {
            const float *xr = dr_bn_row(x, b, c, C, L), *dyr = dr_bn_row(dout, b, c, C, L);
            float *dxr = dx + ((long)b * C + c) * L;
            for (int l = 0; l < L; l++)
                dxr[l] += (float)(k * (dyr[l] - mdy - (xr[l] - mu) * rs * mdyx));
        }
    }
}
