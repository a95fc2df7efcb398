/* fp32 FMA peak of this machine: a loop of fused multiply-adds on registers only
 * (no loads or stores inside the loop), run on 1 thread and then on 2 threads at
 * once, one per core. The 2-thread number is the ceiling the op benchmark
 * (bench/ops_bench.c, which includes this file) divides by.
 *
 * Why the loop looks like this:
 * - Widest vector the build targets: 512-bit when -march=native gives AVX-512,
 *   else 256-bit (AVX2 + FMA; the AMD EPYC Zen 3 of the dev machine has no AVX-512).
 * - DR_PEAK_ACC independent accumulators: an FMA has ~4 cycles latency and up to 2
 *   issue per cycle, so at least 8 chains must be in flight; 12 leaves margin and
 *   still fits the 16 ymm registers next to the two operands.
 * - Intrinsics, not a*b+c: the build is ISO C11, where GCC does not contract
 *   a*b+c into an FMA (-ffp-contract=off), so plain arithmetic would measure
 *   separate multiplies and adds.
 * - acc = acc * m + c with m slightly below 1 converges to c/(1-m) and never
 *   overflows or turns denormal (which would slow some cores down).
 *
 * FLOPs counted: 2 per lane per FMA.
 *
 *   ./build/peak_bench [seconds-per-run]      (default 0.3) */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__)
typedef __m512 peak_vec;
#define PEAK_LANES 16
#define PEAK_ISA "AVX-512"
#define peak_set1 _mm512_set1_ps
#define peak_fma _mm512_fmadd_ps
#define peak_add _mm512_add_ps
#define peak_store _mm512_storeu_ps
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 peak_vec;
#define PEAK_LANES 8
#define PEAK_ISA "AVX2+FMA (256-bit; no AVX-512 on this build target)"
#define peak_set1 _mm256_set1_ps
#define peak_fma _mm256_fmadd_ps
#define peak_add _mm256_add_ps
#define peak_store _mm256_storeu_ps
#else
#error "peak_bench needs AVX2+FMA or AVX-512 (build with -march=native on x86-64)"
#endif

#define DR_PEAK_ACC 12

/* Wall clock by default; ops_bench's CPU-time mode switches the peak threads to
 * their own CPU time, which a loaded machine's time slicing does not inflate. */
static clockid_t peak_clock = CLOCK_MONOTONIC;

static double peak_now(void)
{
    struct timespec ts;
    clock_gettime(peak_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* iters iterations of DR_PEAK_ACC independent FMAs; returns a value that depends on
 * every accumulator so the compiler cannot drop the work. */
static float peak_kernel(long iters, float seed)
{
    peak_vec acc[DR_PEAK_ACC];
    for (int i = 0; i < DR_PEAK_ACC; i++)
        acc[i] = peak_set1(seed + 0.01f * (float)i);
    const peak_vec m = peak_set1(0.999999f), c = peak_set1(1e-6f);
    for (long it = 0; it < iters; it++) {
        /* written out so every FMA of one iteration is independent of the others */
        acc[0] = peak_fma(acc[0], m, c);
        acc[1] = peak_fma(acc[1], m, c);
        acc[2] = peak_fma(acc[2], m, c);
        acc[3] = peak_fma(acc[3], m, c);
        acc[4] = peak_fma(acc[4], m, c);
        acc[5] = peak_fma(acc[5], m, c);
        acc[6] = peak_fma(acc[6], m, c);
        acc[7] = peak_fma(acc[7], m, c);
        acc[8] = peak_fma(acc[8], m, c);
        acc[9] = peak_fma(acc[9], m, c);
        acc[10] = peak_fma(acc[10], m, c);
        acc[11] = peak_fma(acc[11], m, c);
    }
    peak_vec s = acc[0];
    for (int i = 1; i < DR_PEAK_ACC; i++)
        s = peak_add(s, acc[i]);
    float out[PEAK_LANES];
    peak_store(out, s);
    float r = 0.0f;
    for (int i = 0; i < PEAK_LANES; i++)
        r += out[i];
    return r;
}

static double peak_flops_per_iter(void) { return 2.0 * PEAK_LANES * DR_PEAK_ACC; }

typedef struct peak_job {
    long iters;
    int cpu; /* core to pin to, or -1 */
    pthread_barrier_t *start;
    double seconds;
    float sink;
} peak_job;

static void *peak_thread(void *arg)
{
    peak_job *j = arg;
    if (j->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(j->cpu, &set);
        /* best effort: a failed pin only makes the number noisier */
        (void)sched_setaffinity(0, sizeof set, &set);
    }
    pthread_barrier_wait(j->start);
    double t0 = peak_now();
    j->sink = peak_kernel(j->iters, 1.0f + (float)j->cpu);
    j->seconds = peak_now() - t0;
    return NULL;
}

/* Runs the loop on nthreads threads at once (thread i pinned to core i when the
 * machine has that many) and returns the total GFLOP/s: all threads' FLOPs over
 * the slowest thread's time. Returns a negative number if threads cannot start. */
static double peak_run(int nthreads, long iters)
{
    enum { PEAK_MAX_THREADS = 64 };
    if (nthreads < 1 || nthreads > PEAK_MAX_THREADS)
        return -1.0;
    pthread_t tid[PEAK_MAX_THREADS];
    peak_job job[PEAK_MAX_THREADS];
    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, (unsigned)nthreads) != 0)
        return -1.0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < nthreads; i++) {
        job[i] = (peak_job){.iters = iters, .cpu = i < ncpu ? i : -1, .start = &start};
        if (pthread_create(&tid[i], NULL, peak_thread, &job[i]) != 0) {
            fprintf(stderr, "peak: pthread_create failed\n");
            exit(1); /* a benchmark program, not library code */
        }
    }
    double worst = 0.0;
    float sink = 0.0f;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tid[i], NULL);
        if (job[i].seconds > worst)
            worst = job[i].seconds;
        sink += job[i].sink;
    }
    pthread_barrier_destroy(&start);
    if (sink == 12345.678f) /* never true; keeps the results observable */
        printf("sink\n");
    return (double)nthreads * (double)iters * peak_flops_per_iter() / worst * 1e-9;
}

static int peak_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of runs repeats, each about seconds long (calibrated on one thread);
 * the fastest run goes to *best when best is not NULL. */
static double peak_measure(int nthreads, double seconds, int runs, double *best)
{
    long iters = 1L << 20;
    double t0 = peak_now();
    /* warm-up and calibration; the result goes to a volatile so the call is kept */
    volatile float keep = peak_kernel(iters, 1.0f);
    (void)keep;
    double dt = peak_now() - t0;
    if (dt > 0)
        iters = (long)((double)iters * seconds / dt);
    if (iters < 1000)
        iters = 1000;
    if (iters > (1L << 34)) /* a broken clock must not make a run last hours */
        iters = 1L << 34;
    double r[32];
    if (runs > 32)
        runs = 32;
    for (int i = 0; i < runs; i++)
        r[i] = peak_run(nthreads, iters);
    qsort(r, (size_t)runs, sizeof r[0], peak_cmp);
    if (best)
        *best = r[runs - 1];
    return r[runs / 2];
}

#ifndef DR_PEAK_NO_MAIN
int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    if (!(seconds > 0))
        seconds = 0.3;
    const int runs = 7;
    printf("fp32 FMA peak: %s, %d accumulators, %d lanes, median of %d runs of ~%.2f s\n",
           PEAK_ISA, DR_PEAK_ACC, PEAK_LANES, runs, seconds);
    double one_best, two_best;
    double one = peak_measure(1, seconds, runs, &one_best);
    double two = peak_measure(2, seconds, runs, &two_best);
    printf("1 thread : %8.1f GFLOP/s (best run %.1f)\n", one, one_best);
    printf("2 threads: %8.1f GFLOP/s total, %.1f GFLOP/s per core (best run %.1f total)\n", two,
           two / 2.0, two_best);
    return 0;
}
#endif
