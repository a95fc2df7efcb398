/* The card's ceilings for bench/gpu_ops_bench.c (contract in gpu_ceilings.h):
 * cuBLAS and the CUDA runtime called directly, on a stream of this file's own,
 * each call timed with CUDA events. */
#include "bench/gpu_ceilings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>

#include "bench/bench_clock.h"
#include "core/philox.h"

int bench_cuda_ok(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess)
        return 1;
    fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", file, line, call, cudaGetErrorString(e),
            cudaGetErrorName(e));
    return 0;
}

static int cublas_ok(cublasStatus_t s, const char *call, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 1;
    fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, line, call, cublasGetStatusString(s));
    return 0;
}
#define CUBLAS_OK(call) cublas_ok((call), #call, __LINE__)

/* n floats of uniform(-1, 1) at d: one random megafloat from Philox, repeated. */
static int fill_random_device(float *d, size_t n, cudaStream_t st)
{
    enum { CHUNK = 1 << 20 };
    float *h = malloc(CHUNK * sizeof *h);
    if (!h)
        return 0;
    for (size_t i = 0; i < CHUNK; i++)
        h[i] = 2.0f * dr_philox_uniform(11u, 1u, 0, (uint64_t)i) - 1.0f;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        ok = BENCH_CUDA_OK(cudaMemcpyAsync(d + i, h, k * sizeof *h, cudaMemcpyHostToDevice, st));
    }
    ok = ok && BENCH_CUDA_OK(cudaStreamSynchronize(st));
    free(h);
    return ok;
}

/* Median seconds of one event-timed call of what(ctx) on st, after warm-ups. */
typedef int event_fn(void *ctx, cudaStream_t st);

static double event_median(event_fn *what, void *ctx, cudaStream_t st, int warm, int runs)
{
    double t[GPU_CEILING_MAX_RUNS];
    if (runs < 1 || runs > GPU_CEILING_MAX_RUNS)
        return -1.0;
    cudaEvent_t e0 = NULL, e1 = NULL;
    double res = -1.0;
    if (!BENCH_CUDA_OK(cudaEventCreate(&e0)) || !BENCH_CUDA_OK(cudaEventCreate(&e1)))
        goto out;
    for (int i = 0; i < warm; i++)
        if (!what(ctx, st))
            goto out;
    for (int i = 0; i < runs; i++) {
        float ms = 0.0f;
        if (!BENCH_CUDA_OK(cudaEventRecord(e0, st)) || !what(ctx, st) ||
            !BENCH_CUDA_OK(cudaEventRecord(e1, st)) || !BENCH_CUDA_OK(cudaEventSynchronize(e1)) ||
            !BENCH_CUDA_OK(cudaEventElapsedTime(&ms, e0, e1)))
            goto out;
        t[i] = 1e-3 * ms;
    }
    res = bench_median(t, runs);
out:
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    return res;
}

typedef struct {
    cublasHandle_t h;
    int n;
    const float *a, *b;
    float *c;
} sgemm_ctx;

static int sgemm_call(void *p, cudaStream_t st)
{
    sgemm_ctx *s = p;
    (void)st; /* the handle is on st */
    const float one = 1.0f, zero = 0.0f;
    return CUBLAS_OK(cublasSgemm(s->h, CUBLAS_OP_N, CUBLAS_OP_N, s->n, s->n, s->n, &one, s->a,
                                 s->n, s->b, s->n, &zero, s->c, s->n));
}

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} copy_ctx;

static int copy_call(void *p, cudaStream_t st)
{
    copy_ctx *c = p;
    return BENCH_CUDA_OK(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, st));
}

double gpu_ceiling_sgemm_gflops(int n, int runs)
{
    cudaStream_t st = NULL;
    sgemm_ctx s = {.n = n};
    float *a = NULL, *b = NULL, *c = NULL;
    double res = -1.0, sec;
    size_t bytes = (size_t)n * n * sizeof(float);
    if (!BENCH_CUDA_OK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking)) ||
        !CUBLAS_OK(cublasCreate(&s.h)) || !CUBLAS_OK(cublasSetStream(s.h, st)) ||
        !CUBLAS_OK(cublasSetMathMode(s.h, CUBLAS_DEFAULT_MATH)))
        goto out;
    if (!BENCH_CUDA_OK(cudaMalloc((void **)&a, bytes)) || !BENCH_CUDA_OK(cudaMalloc((void **)&b, bytes)) ||
        !BENCH_CUDA_OK(cudaMalloc((void **)&c, bytes)))
        goto out;
    if (!fill_random_device(a, (size_t)n * n, st) || !fill_random_device(b, (size_t)n * n, st))
        goto out;
    s.a = a, s.b = b, s.c = c;
    sec = event_median(sgemm_call, &s, st, 2, runs);
    if (sec > 0)
        res = 2.0 * n * (double)n * n / sec * 1e-9;
out:
    if (s.h)
        cublasDestroy(s.h);
    cudaFree(a), cudaFree(b), cudaFree(c);
    if (st)
        cudaStreamDestroy(st);
    return res;
}

double gpu_ceiling_copy_gbps(size_t bytes, int runs)
{
    cudaStream_t st = NULL;
    void *src = NULL, *dst = NULL;
    double res = -1.0, sec;
    if (!BENCH_CUDA_OK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking)) ||
        !BENCH_CUDA_OK(cudaMalloc(&src, bytes)) || !BENCH_CUDA_OK(cudaMalloc(&dst, bytes)) ||
        !BENCH_CUDA_OK(cudaMemsetAsync(src, 0x3c, bytes, st)) ||
        !BENCH_CUDA_OK(cudaMemsetAsync(dst, 0, bytes, st)))
        goto out;
    copy_ctx c = {.dst = dst, .src = src, .bytes = bytes};
    sec = event_median(copy_call, &c, st, 3, runs);
    if (sec > 0)
        res = 2.0 * (double)bytes / sec * 1e-9;
out:
    cudaFree(src), cudaFree(dst);
    if (st)
        cudaStreamDestroy(st);
    return res;
}
