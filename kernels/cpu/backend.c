/* The CPU backend: the host's memory, OpenMP threads and OpenBLAS. */
#include <stdio.h>

#include <cblas.h>
#include <omp.h>

#include "kernels/cpu/ops.h"

static const char *dr_cpu_describe(const dr_backend *be)
{
    (void)be;
    static _Thread_local char buf[160];
    snprintf(buf, sizeof buf, "cpu (%d OpenBLAS threads; %s)", openblas_get_num_threads(), openblas_get_config());
    return buf;
}

static int dr_cpu_threads(const dr_backend *be)
{
    (void)be;
    return omp_get_max_threads();
}

const dr_backend_iface dr_cpu_backend = {
    .name = "cpu",
    .ops = &dr_cpu_ops,
    .describe = dr_cpu_describe,
    .threads = dr_cpu_threads,
};
