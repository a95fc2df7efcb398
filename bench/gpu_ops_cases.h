/* The op cases bench/gpu_ops_bench.c times: one op at one shape, called through
 * the backend's op table, its buffers in rotating sets; and the list of them that
 * makes one training step of the paper's network at batch 256. What each case's
 * work per call is and the network's shapes: the header of bench/gpu_ops_cases.c;
 * how the cases are timed: the header of bench/gpu_ops_bench.c. */
#ifndef DR_BENCH_GPU_OPS_CASES_H
#define DR_BENCH_GPU_OPS_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/op_table.h"

enum { BATCH = 256, MAXBUF = 12, MAXSETS = 64 };

typedef enum { FILL_ZERO, FILL_UNIFORM, FILL_ONE, FILL_LABEL } fill_kind;

typedef struct opcase opcase;
/* One call on the buffers of one set (p[i] is buffer i, NULL if not allocated). */
typedef void op_fn(opcase *c, float *const *p);

struct opcase {
    dr_backend *be; /* the backend the calls go to */
    const dr_op_table *ops;
    const char *op;   /* the op table's op */
    const char *impl; /* the implementation choice timed, "-" for an op without one */
    char shape[64];
    int calls; /* calls per training step in the network */
    int ia[6]; /* sizes, per op */
    long n;
    int nbuf;
    size_t floats[MAXBUF];
    fill_kind fill[MAXBUF];
    float scale[MAXBUF];
    float *block[MAXSETS];
    float *p[MAXSETS][MAXBUF];
    int nsets, in_l2;
    float *scratch; /* shared by the sets: its contents are undefined between calls */
    size_t scratch_floats;
    op_fn *fwd, *bwd;   /* bwd NULL: forward only */
    const char *pass[2]; /* "fwd", "bwd" (adam: "update") */
    double work[2];      /* per call: FLOP if flop, else bytes */
    int flop;
    int bwd_pair;       /* time bwd as (fwd + bwd pairs) - fwd (see lstm_case) */
    double fwd_us[2];   /* the fwd pass's eager and graph us, for bwd_pair */
    uint64_t counter;   /* dropout's Philox counter, one per call */
    dr_loss_params lp;
    dr_adam_params hp;
    int is_default; /* counted in the per-step sum */
};

/* Allocates the sets (at least 2 x l2_bytes in total where MAXSETS sets allow it,
 * at most 1 GiB) and fills them: set 0 from Philox on the host, the others copied
 * from it on the device. 0 on failure (message printed). */
int gpu_ops_alloc_sets(opcase *c, size_t l2_bytes);
void gpu_ops_free_sets(opcase *c);

/* The parameter count of the paper's network; -1 on failure (message on stderr). */
long gpu_ops_network_params(void);

/* Runs one case (all its implementations); 0 when the context is dead. */
typedef int gpu_ops_run_fn(opcase c);
/* Hands run every case of one training step on be, in the table's order, for the
 * ops whose name starts with only ("": all); params is the Adam update's size.
 * Stops at the first run that returns 0 and returns 0 then, else 1. */
int gpu_ops_network_cases(dr_backend *be, const char *only, long params, gpu_ops_run_fn *run);

#endif
