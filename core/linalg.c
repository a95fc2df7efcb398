#include "core/linalg.h"

#include <math.h>

int dr_cholesky(double *A, int k)
{
    for (int j = 0; j < k; j++) {
        double s = A[j * k + j];
        for (int m = 0; m < j; m++)
            s -= A[j * k + m] * A[j * k + m];
        if (!(s > 0))
            return 0;
        double l = sqrt(s);
        A[j * k + j] = l;
        for (int i = j + 1; i < k; i++) {
            double v = A[i * k + j];
            for (int m = 0; m < j; m++)
                v -= A[i * k + m] * A[j * k + m];
            A[i * k + j] = v / l;
        }
    }
    return 1;
}

void dr_cholesky_solve(const double *L, double *b, int k)
{
    for (int i = 0; i < k; i++) { /* L y = b */
        for (int p = 0; p < i; p++)
            b[i] -= L[i * k + p] * b[p];
        b[i] /= L[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) { /* L^T x = y */
        for (int p = i + 1; p < k; p++)
            b[i] -= L[p * k + i] * b[p];
        b[i] /= L[i * k + i];
    }
}
