/* Batch normalisation on the CPU (contract in core/ops/batchnorm.h).
 *   x [B, C, L], gamma [C], beta [C] -> out [B, C, L]; mean [C], rstd [C] saved
 * Channel c owns the n = B*L values x[b, c, l].
 *
 * Statistics in one pass over shifted values: with K_c = x[0, c, 0], the sums
 * of (x - K_c) and (x - K_c)^2 in double give mean and variance without the
 * cancellation of E[x^2] - E[x]^2 when a channel's mean is large against its
 * spread (K_c is one of the channel's values, so x - K_c is of the order of the
 * spread). The L-runs are summed in SIMD lanes (reordered double sums).
 *
 * Memory order: each thread owns a range of channels and walks the samples in
 * order, reading its channels' block of each sample contiguously. Walking one
 * channel over all samples instead reads B runs of L floats that lie C*L floats
 * apart (20 KiB at C = 256, L = 20: every run in the same cache set), and the
 * kernel ran at under 2 GB/s. Channel ranges keep every sum independent of the
 * thread count.
 *
 * Single value per channel (n = B*L = 1): the batch variance is 0 and the
 * unbiased estimate n/(n-1) var is 0/0 (PyTorch raises an error). Here the
 * running variance is left unchanged for that step (the running mean is still
 * updated): one value says nothing about the spread, and pulling the running
 * variance towards 0 would make eval mode divide by sqrt(eps). The output is
 * then beta (x - mean = 0) and the gradient to x is 0, as the formulas give. */
#include "core/ops/batchnorm.h"

#include <math.h>

#include "kernels/cpu/threads.h"
#include "kernels/cpu/ops.h"

/* Threads only when there is enough work to pay for waking them. */
static int dr_bn_threads(long elements)
{
    return elements >= 32768 ? omp_get_max_threads() : 1;
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
#pragma omp parallel num_threads(dr_bn_threads((long)C * n))
    {
        int c0, c1;
        dr_thread_range(C, &c0, &c1);
        /* this thread's channels: sum and sum of squares of x - K_c (on the stack:
         * no allocation inside a training step) */
        double acc[2 * (c1 - c0) + 1];
        for (int i = 0; i < 2 * (c1 - c0); i++)
            acc[i] = 0.0;
        for (int b = 0; b < B; b++)
            for (int c = c0; c < c1; c++) {
                const float *xr = x + ((long)b * C + c) * L;
                const double k = x[(long)c * L];
                double s = 0.0, q = 0.0;
#pragma omp simd reduction(+ : s, q)
                for (int l = 0; l < L; l++) {
                    double d = xr[l] - k;
                    s += d;
                    q += d * d;
                }
                acc[2 * (c - c0)] += s;
                acc[2 * (c - c0) + 1] += q;
            }
        for (int c = c0; c < c1; c++) {
            const double ds = acc[2 * (c - c0)] / (double)n, k = x[(long)c * L];
            const double mu = k + ds;
            const double ss = fmax(acc[2 * (c - c0) + 1] - (double)n * ds * ds, 0.0); /* sum (x - mu)^2 */
            const double rs = 1.0 / sqrt(ss / (double)n + (double)eps); /* biased variance */
            mean[c] = (float)mu;
            rstd[c] = (float)rs;
            acc[2 * (c - c0)] = mu; /* the output pass normalises in double, like the statistics */
            acc[2 * (c - c0) + 1] = rs * gamma[c];
            if (running_mean)
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mu;
            if (running_var && n > 1) /* n = 1: unchanged, see the top of the file */
                running_var[c] = (1.0f - momentum) * running_var[c] +
                                 momentum * (float)(ss / (double)(n - 1));
        }
        for (int b = 0; b < B; b++)
            for (int c = c0; c < c1; c++) {
                const float *xr = x + ((long)b * C + c) * L;
                float *yr = out + ((long)b * C + c) * L;
                const double mu = acc[2 * (c - c0)], g = acc[2 * (c - c0) + 1], t = beta[c];
                for (int l = 0; l < L; l++)
                    yr[l] = (float)((xr[l] - mu) * g + t);
            }
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

void dr_cpu_batchnorm_backward_eval(dr_backend *be, float *dx, const float *dout, const float *gamma,
                                    const float *running_var, int B, int C, int L, float eps)
{
    (void)be;
    DR_ASSERT(B >= 0 && C > 0 && L > 0 && eps >= 0.0f);
    DR_ASSERT(dx && dout && gamma && running_var);
    const long rows = (long)B * C;
#pragma omp parallel for schedule(static) if (rows * L >= 32768)
    for (long r = 0; r < rows; r++) {
        int c = (int)(r % C);
        float scale = gamma[c] / sqrtf(running_var[c] + eps);
        for (int l = 0; l < L; l++)
            dx[r * L + l] += dout[r * L + l] * scale;
    }
}

/* With xhat = (x - mean) rstd and y = gamma xhat + beta, per channel:
 *   dbeta  = sum dy,   dgamma = sum dy xhat
 *   dx     = gamma rstd (dy - dbeta / n - xhat dgamma / n)
 * (the batch mean and variance depend on every x of the channel, hence the two
 * sums in dx). Sums and dx in double, as the statistics; xhat is recomputed
 * from the saved mean and rstd. Same memory order as the forward. */
void dr_cpu_batchnorm_backward(dr_backend *be, float *dx, float *dgamma, float *dbeta,
                               const float *dout, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int B, int C, int L)
{
    (void)be;
    DR_ASSERT(B > 0 && C > 0 && L > 0);
    DR_ASSERT(dgamma && dbeta && dout && x && mean && rstd && gamma);
    const long n = (long)B * L;
#pragma omp parallel num_threads(dr_bn_threads((long)C * n))
    {
        int c0, c1;
        dr_thread_range(C, &c0, &c1);
        double acc[2 * (c1 - c0) + 1]; /* sum dy, sum dy xhat */
        for (int i = 0; i < 2 * (c1 - c0); i++)
            acc[i] = 0.0;
        for (int b = 0; b < B; b++)
            for (int c = c0; c < c1; c++) {
                const float *xr = x + ((long)b * C + c) * L, *dyr = dout + ((long)b * C + c) * L;
                const double mu = mean[c], rs = rstd[c];
                double s = 0.0, sx = 0.0;
#pragma omp simd reduction(+ : s, sx)
                for (int l = 0; l < L; l++) {
                    s += dyr[l];
                    sx += dyr[l] * ((xr[l] - mu) * rs);
                }
                acc[2 * (c - c0)] += s;
                acc[2 * (c - c0) + 1] += sx;
            }
        for (int c = c0; c < c1; c++) {
            dbeta[c] += (float)acc[2 * (c - c0)];
            dgamma[c] += (float)acc[2 * (c - c0) + 1];
        }
        for (int b = 0; dx && b < B; b++)
            for (int c = c0; c < c1; c++) {
                const float *xr = x + ((long)b * C + c) * L, *dyr = dout + ((long)b * C + c) * L;
                float *dxr = dx + ((long)b * C + c) * L;
                const double mu = mean[c], rs = rstd[c], k = gamma[c] * rs;
                const double mdy = acc[2 * (c - c0)] / (double)n, mdyx = acc[2 * (c - c0) + 1] / (double)n;
                for (int l = 0; l < L; l++)
                    dxr[l] += (float)(k * (dyr[l] - mdy - (xr[l] - mu) * rs * mdyx));
            }
    }
}
