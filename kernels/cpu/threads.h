/* How the CPU kernels share out work: one OpenMP region per call, each thread a
 * contiguous range of items, and OpenBLAS single-threaded inside the region
 * (OpenBLAS is the pthread build: its pool spinning next to OpenMP's threads put
 * two busy threads on each core). */
#ifndef DR_CPU_THREADS_H
#define DR_CPU_THREADS_H

#include <cblas.h>
#include <omp.h>

/* This thread's share [lo, hi) of n items. */
static inline void dr_thread_range(int n, int *lo, int *hi)
{
    int parts = omp_get_num_threads(), i = omp_get_thread_num();
    *lo = (int)((long)n * i / parts);
    *hi = (int)((long)n * (i + 1) / parts);
}

/* Switch OpenBLAS to one thread for a region; returns what to restore. */
static inline int dr_blas_single_begin(void)
{
    int keep = openblas_get_num_threads();
    if (keep != 1)
        openblas_set_num_threads(1);
    return keep;
}

static inline void dr_blas_single_end(int keep)
{
    if (keep != 1)
        openblas_set_num_threads(keep);
}

#endif
