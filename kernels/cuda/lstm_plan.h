/* The persistent LSTM's plan (kernels/cuda/lstm_persistent.cu): how a batch of B
 * samples with H units is cut into thread-block clusters, tiles and threads, and
 * the shared memory each block needs. Plain C: the card's answers (clusters,
 * shared memory, occupancy) come in as numbers, so the CPU tests
 * (tests/test_lstm_plan.c) check every plan's invariants without a GPU. */
#ifndef DR_KERNELS_CUDA_LSTM_PLAN_H
#define DR_KERNELS_CUDA_LSTM_PLAN_H

#include <stddef.h>

#include "core/hd.h"

enum {
    DR_LSTM_MAX_S = 4,         /* samples per thread in the cell mapping (registers) */
    DR_LSTM_SB = 8,            /* samples per thread in the backward share product */
    DR_LSTM_MAX_THREADS = 256, /* per block, and so at most 256 units per block */
    DR_LSTM_MAX_CLUSTER = 8,   /* the portable cluster size */
};

/* How the persistent kernels run B samples with H units; ok = 0 when they
 * cannot (lstm.cu then launches per step), why says why. */
typedef struct dr_cuda_lstm_plan {
    int B, H, ok;
    int C;        /* blocks per cluster; each owns Hc = H / C units */
    int Hc;
    int NB, NBp;  /* samples per cluster, and padded to a multiple of DR_LSTM_SB */
    int S;        /* samples per thread */
    int threads;  /* per block: Hc * (threads / Hc) */
    int clusters; /* ceil(B / NB) */
    size_t smem;  /* dynamic shared memory per block, bytes */
    char why[128]; /* ok = 0: why not */
} dr_cuda_lstm_plan;

/* Shared memory of one block, in floats, for the plan's sizes (R = 4 Hc rows):
 *   ws   [H][R + 1]        its rows of w_hh, transposed (k-major) and padded by one
 *                          so that threads reading along k or along rows hit
 *                          distinct banks
 *   xbuf [2][H][NBp]       forward: h_t of all units; backward: the C shares
 *                          of dh_{t-1} for its own units ([2][C][Hc][NBp], as many)
 *   dgs  [R][NBp]          backward: this step's gate gradients of its units */
DR_HD size_t dr_lstm_ws_floats(int H, int R)
{
    return ((size_t)H * (R + 1) + 3) / 4 * 4; /* the buffers after it start 16-byte aligned */
}

/* How many of samples ng S .. ng S + S - 1 of the tile starting at sample n0
 * exist (within the tile of NB and within the batch of B): the kernels' thread
 * (jl, ng) handles that many, a prefix. */
DR_HD int dr_lstm_live_samples(int ng, int S, int NB, long n0, int B)
{
    long first = (long)ng * S, end = NB < B - n0 ? NB : B - n0;
    long n = end - first;
    return n < 0 ? 0 : n > S ? S : (int)n;
}

static inline size_t dr_lstm_smem_bytes(int H, int R, int NBp)
{
    return (dr_lstm_ws_floats(H, R) + 2 * (size_t)H * NBp + (size_t)R * NBp) * sizeof(float);
}

static inline int dr_lstm_pad(int NB) { return (NB + DR_LSTM_SB - 1) / DR_LSTM_SB * DR_LSTM_SB; }

/* The cluster for H units and the largest tile the thread mapping takes: C is
 * the largest power of two up to 8 dividing H, a block's threads are Hc units
 * times NG sample groups of up to DR_LSTM_MAX_S samples. Sets p->C, Hc,
 * threads, and NB, NBp, smem for that largest tile (at most B samples); 0
 * when a block would own more than DR_LSTM_MAX_THREADS units. */
static inline int dr_lstm_plan_cluster(dr_cuda_lstm_plan *p)
{
    int C = DR_LSTM_MAX_CLUSTER;
    while (p->H % C)
        C /= 2;
    const int Hc = p->H / C;
    if (Hc > DR_LSTM_MAX_THREADS)
        return 0;
    const int NG = DR_LSTM_MAX_THREADS / Hc;
    p->C = C, p->Hc = Hc, p->threads = Hc * NG;
    p->NB = NG * DR_LSTM_MAX_S < p->B ? NG * DR_LSTM_MAX_S : p->B;
    p->NBp = dr_lstm_pad(p->NB);
    p->smem = dr_lstm_smem_bytes(p->H, 4 * Hc, p->NBp);
    return 1;
}

/* Spreads the batch over the `resident` clusters (>= 1) that the card runs at
 * once with dr_lstm_plan_cluster's largest tile, so that it runs in one wave
 * where it can: the tile only shrinks, so that tile's shared memory and
 * occupancy still hold. Sets NB, NBp, S, clusters, smem and ok. */
static inline void dr_lstm_plan_spread(dr_cuda_lstm_plan *p, int resident)
{
    const int NG = p->threads / p->Hc;
    int NB = (p->B + resident - 1) / resident;
    if (NB < p->NB)
        p->NB = NB;
    p->NBp = dr_lstm_pad(p->NB);
    p->S = (p->NB + NG - 1) / NG;
    p->clusters = (p->B + p->NB - 1) / p->NB;
    p->smem = dr_lstm_smem_bytes(p->H, 4 * p->Hc, p->NBp);
    p->ok = 1;
}

#endif
