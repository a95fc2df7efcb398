/* Host-side draws from Philox streams (core/philox.h): words read in order from
 * one stream (seed, stream, counter), and the Fisher-Yates shuffle every split
 * and epoch order uses. */
#ifndef DR_RANDOM_H
#define DR_RANDOM_H

#include <stdint.h>

#include "core/philox.h"

typedef struct dr_philox_stream {
    uint64_t seed, counter;
    uint32_t stream, block;
    int used; /* words of buf already read */
    dr_philox_u4 buf;
} dr_philox_stream;

static inline void dr_philox_stream_init(dr_philox_stream *r, uint64_t seed, uint32_t stream, uint64_t counter)
{
    r->seed = seed;
    r->stream = stream;
    r->counter = counter;
    r->block = 0;
    r->used = 4;
}

/* The stream's next 32-bit word: block 0's four words, then block 1's, ... */
static inline uint32_t dr_philox_stream_word(dr_philox_stream *r)
{
    if (r->used == 4) {
        r->buf = dr_philox_block(r->seed, r->stream, r->counter, r->block++);
        r->used = 0;
    }
    return r->buf.v[r->used++];
}

/* Fisher-Yates over a[0 .. n): swap k draws from block k of (seed, stream,
 * counter), its first two words as one 64-bit number reduced modulo k + 1
 * (bias below n / 2^64). The order depends only on the key, not on what was
 * drawn before: a resumed run sees the same epochs. */
void dr_philox_shuffle(long *a, long n, uint64_t seed, uint32_t stream, uint64_t counter);

#endif
