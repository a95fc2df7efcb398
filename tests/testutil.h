/* Shared helpers for the cmocka suites: seeded random fills, NaN poisoning,
 * tolerance checks that print the first mismatches, and a central finite-
 * difference gradient check whose loss is accumulated in double. */
#ifndef DR_TESTUTIL_H
#define DR_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/backend.h"
#include "core/graph.h"

/* Seed for this run: $DR_TEST_SEED if set, else a fixed default; printed once. */
uint64_t tu_seed(void);
/* A CPU backend on the stack's lifetime: kernels get a valid dr_backend. */
dr_backend *tu_cpu(void);

void tu_fill_uniform(float *x, long n, float lo, float hi, uint64_t seed, uint32_t stream);
void tu_fill_nan(float *x, long n);
float *tu_alloc(long n); /* NaN-filled; free with free() */
/* AUC by counting every (positive, negative) pair, ties half: a check of the
 * framework's sort-based AUC that shares no code with it. label in {0, 1}. */
double tu_pairwise_auc(const double *score, const float *label, long n);

/* Counts entries with |got - want| > atol + rtol * |want| (or a NaN in got),
 * printing the first few; returns the count. */
long tu_compare(const char *what, const float *got, const float *want, long n, double atol,
                double rtol);

/* Central difference: perturbs x[i] by +-eps, calls loss(ctx) (which must run the
 * forward pass and return sum_j r_j * out_j in double), and compares with
 * analytic[i]. Checks every entry when n <= max_checks, else max_checks entries
 * spread over x. Returns the largest error |a - fd| / max(|a| + |fd|, floor) and
 * prints it with the worst index. x is restored on return. */
double tu_grad_check(const char *what, float *x, long n, const float *analytic,
                     double (*loss)(void *ctx), void *ctx, double eps, long max_checks,
                     double floor);

/* For functions with kinks (ReLU, max-pooling): the largest error
 * |a - fd| / max(|a| + |fd|, floor) of analytic against central differences of f
 * (which reads x) in each of x[0 .. n), with step h = 1e-2; points where the
 * one-sided slopes disagree by more than 2 % (a kink within the step) are
 * skipped. Adds to *checked and *skipped; x is restored. */
double tu_grad_check_kinks(float *x, const float *analytic, long n, double (*f)(void *), void *ctx, double floor,
                           long *checked, long *skipped);
/* The sum of a graph's per-row logits over batch rows of inputs, in eval mode,
 * where rows are independent: its gradient in row b is d logit_b / d x_b. */
double tu_logit_sum(dr_graph *g, dr_value x, dr_value logit, const float *inputs, int batch);

/* sum_j r[j] * out[j] in double */
double tu_dot(const float *r, const float *out, long n);

#endif
