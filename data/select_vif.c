/* Iterative VIF removal (data/select.h). The correlation matrix is built once in
 * double from standardised rows (BLAS syrk, in chunks); each round inverts the
 * kept block by Cholesky and drops the feature with the largest diag(C^-1). */
#include "data/select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "core/linalg.h"

#define VIF_CHUNK 1024

/* diag((L L^T)^-1) = column sums of squares of L^-1; L^-1 column by column by
 * forward substitution. */
static void inv_diag(const double *L, int k, double *col, double *out)
{
    for (int j = 0; j < k; j++)
        out[j] = 0;
    for (int c = 0; c < k; c++) {
        /* solve L z = e_c; z is zero above c */
        for (int i = 0; i < k; i++) {
            if (i < c) {
                col[i] = 0;
                continue;
            }
            double v = i == c ? 1.0 : 0.0;
            for (int m = c; m < i; m++)
                v -= L[i * k + m] * col[m];
            col[i] = v / L[i * k + i];
        }
        /* (L^-1)_{ic} = col[i]; diag of L^-T L^-1 at j sums (L^-1)_{ij}^2 over i */
        for (int i = c; i < k; i++)
            out[c] += col[i] * col[i];
    }
}

dr_status dr_select_vif(const float *X, long n, int d, const char *const *names, double threshold,
                        long max_rows, int *keep, double *vif, FILE *log)
{
    if (!X || !keep || n < 2 || d < 1)
        return dr_error(DR_ERR_INVALID, "select_vif: null argument or n = %ld, d = %d", n, d);
    if (threshold <= 0)
        threshold = 10;
    long m = max_rows > 0 && max_rows < n ? max_rows : n;
    /* rows used: evenly spaced, row(r) = r * n / m */
    double *mean = calloc((size_t)d, sizeof *mean);
    double *sd = calloc((size_t)d, sizeof *sd);
    double *C = calloc((size_t)d * (size_t)d, sizeof *C);
    double *Z = malloc((size_t)VIF_CHUNK * (size_t)d * sizeof *Z);
    double *S = malloc((size_t)d * (size_t)d * sizeof *S);
    double *col = malloc((size_t)d * sizeof *col);
    double *dg = malloc((size_t)d * sizeof *dg);
    int *idx = malloc((size_t)d * sizeof *idx);
    double *v = malloc((size_t)d * sizeof *v);
    dr_status st = DR_OK;
    if (!mean || !sd || !C || !Z || !S || !col || !dg || !idx || !v) {
        st = dr_error(DR_ERR_NOMEM, "select_vif: d = %d", d);
        goto done;
    }
    for (long r = 0; r < m; r++) {
        const float *x = X + (r * n / m) * (long)d;
        for (int j = 0; j < d; j++) {
            if (!isfinite(x[j])) {
                st = dr_error(DR_ERR_NUMERIC, "select_vif: X[%ld, %d] (%s) is %g; impute first",
                              r * n / m, j, names ? names[j] : "?", (double)x[j]);
                goto done;
            }
            mean[j] += x[j];
        }
    }
    for (int j = 0; j < d; j++)
        mean[j] /= (double)m;
    for (long r = 0; r < m; r++) {
        const float *x = X + (r * n / m) * (long)d;
        for (int j = 0; j < d; j++)
            sd[j] += (x[j] - mean[j]) * (x[j] - mean[j]);
    }
    for (int j = 0; j < d; j++)
        sd[j] = sqrt(sd[j] / (double)m);

    /* C = Z^T Z / m over standardised rows (constant columns give zeros). */
    for (long r0 = 0; r0 < m; r0 += VIF_CHUNK) {
        int rows = (int)(m - r0 < VIF_CHUNK ? m - r0 : VIF_CHUNK);
        for (int r = 0; r < rows; r++) {
            const float *x = X + ((r0 + r) * n / m) * (long)d;
            for (int j = 0; j < d; j++)
                Z[(long)r * d + j] = sd[j] > 0 ? (x[j] - mean[j]) / sd[j] : 0;
        }
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, rows, 1.0, Z, d, 1.0, C, d);
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            C[i * d + j] /= (double)m;
            C[j * d + i] = C[i * d + j];
        }

    int k = 0;
    for (int j = 0; j < d; j++) {
        keep[j] = sd[j] > 0;
        v[j] = keep[j] ? 1.0 : INFINITY;
        if (keep[j])
            idx[k++] = j;
        else if (log)
            fprintf(log, "vif: drop %s (constant column: VIF undefined, taken as inf)\n",
                    names ? names[j] : "?");
    }
    while (k >= 2) {
        double eps = 0;
        for (;;) {
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    S[a * k + b] = C[idx[a] * d + idx[b]] + (a == b ? eps : 0);
            if (dr_cholesky(S, k))
                break;
            eps = eps == 0 ? 1e-12 : eps * 10;
            if (eps > 1) {
                st = dr_error(DR_ERR_NUMERIC,
                              "select_vif: correlation block of %d features not "
                              "invertible even with a ridge of 1",
                              k);
                goto done;
            }
        }
        inv_diag(S, k, col, dg);
        int worst = 0;
        for (int a = 0; a < k; a++) {
            v[idx[a]] = dg[a];
            if (dg[a] > dg[worst])
                worst = a;
        }
        if (!(dg[worst] > threshold))
            break;
        int j = idx[worst];
        keep[j] = 0;
        if (log)
            fprintf(log, "vif: drop %s (VIF %.4g > %g%s; %d features left)\n",
                    names ? names[j] : "?", dg[worst], threshold,
                    eps > 0 ? ", singular: ridge-regularised inverse" : "", k - 1);
        memmove(idx + worst, idx + worst + 1, (size_t)(k - worst - 1) * sizeof *idx);
        k--;
    }
    if (k == 1)
        v[idx[0]] = 1.0;
    if (log) {
        double mx = 0;
        for (int a = 0; a < k; a++)
            mx = fmax(mx, v[idx[a]]);
        fprintf(log, "vif: kept %d of %d features (largest VIF %.3g <= %g), %ld rows\n", k, d, mx,
                threshold, m);
    }
    if (vif)
        memcpy(vif, v, (size_t)d * sizeof *v);
done:
    free(mean);
    free(sd);
    free(C);
    free(Z);
    free(S);
    free(col);
    free(dg);
    free(idx);
    free(v);
    return st;
}
