/* The card's fp32 and memory ceilings, measured the same way in every run of
 * bench/gpu_ops_bench.c (the median of runs event-timed calls after warm-ups,
 * runs at most GPU_CEILING_MAX_RUNS). Both return < 0 on failure, the failed
 * call printed to stderr. */
#ifndef DR_BENCH_GPU_CEILINGS_H
#define DR_BENCH_GPU_CEILINGS_H

#include <stddef.h>

#include <cuda_runtime_api.h>

enum { GPU_CEILING_MAX_RUNS = 62 };

/* GFLOP/s of an n x n x n cuBLAS SGEMM on random data, CUBLAS_DEFAULT_MATH (plain
 * fp32, no TF32), 2 FLOP per multiply-add. */
double gpu_ceiling_sgemm_gflops(int n, int runs);
/* GB/s (1e9 bytes) of a device-to-device copy of bytes, read + write counted. */
double gpu_ceiling_copy_gbps(size_t bytes, int runs);

/* A CUDA runtime call's result: 1 on success, else 0 with the call, file and
 * line on stderr. */
int bench_cuda_ok(cudaError_t e, const char *call, const char *file, int line);
#define BENCH_CUDA_OK(call) bench_cuda_ok((call), #call, __FILE__, __LINE__)

#endif
