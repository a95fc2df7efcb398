/* The clock and the median the benchmark programs share (each NAME_bench.c in
 * bench/ is a program of its own; this header is all they have in common). */
#ifndef DR_BENCH_CLOCK_H
#define DR_BENCH_CLOCK_H

#include <stdlib.h>

#include "core/clock.h" /* dr_now: seconds on the monotonic clock */

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of t[0 .. n) (sorts t; the upper one of an even count). */
static inline double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    return t[n / 2];
}

#endif
