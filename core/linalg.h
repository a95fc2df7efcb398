/* Dense symmetric positive definite systems in double, row-major, small
 * enough for plain loops (the regressions of LIME and Kernel SHAP, VIF's
 * correlation blocks). */
#ifndef DR_CORE_LINALG_H
#define DR_CORE_LINALG_H

/* Cholesky factor L of A [k, k] in its lower triangle, in place; the upper
 * triangle is not read. Returns 0 when A is not positive definite. */
int dr_cholesky(double *A, int k);
/* Solves L L^T x = b in place of b, with L from dr_cholesky. */
void dr_cholesky_solve(const double *L, double *b, int k);

#endif
