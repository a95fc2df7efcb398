/* Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011), counter-based: the numbers depend only on (key, counter), so the CPU
 * and the GPU draw the same stream and a resumed run continues it exactly.
 *
 * Project convention for the 4-word counter and 2-word key:
 *   key = { seed low 32 bits, seed high 32 bits }
 *   ctr = { block index, counter low, counter high, stream }
 * where "stream" separates users (a dropout node, the shuffler, an initialiser)
 * and "counter" is the user's call number (the training step). One block gives
 * four uint32, i.e. the values for elements 4*i .. 4*i+3. */
#ifndef DR_PHILOX_H
#define DR_PHILOX_H

#include <stdint.h>

#include "core/hd.h"

typedef struct dr_philox_u4 {
    uint32_t v[4];
} dr_philox_u4;

DR_HD dr_philox_u4 dr_philox4x32_10(dr_philox_u4 ctr, uint32_t k0, uint32_t k1)
{
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)M0 * ctr.v[0];
        uint64_t p1 = (uint64_t)M1 * ctr.v[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        dr_philox_u4 n;
        n.v[0] = hi1 ^ ctr.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ ctr.v[3] ^ k1;
        n.v[3] = lo0;
        ctr = n;
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

/* Block i of the stream (seed, stream, counter). */
DR_HD dr_philox_u4 dr_philox_block(uint64_t seed, uint32_t stream, uint64_t counter, uint32_t i)
{
    dr_philox_u4 c;
    c.v[0] = i;
    c.v[1] = (uint32_t)counter;
    c.v[2] = (uint32_t)(counter >> 32);
    c.v[3] = stream;
    return dr_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Uniform float in [0, 1) from the top 24 bits: exactly representable, so both
 * backends produce bit-identical values. */
DR_HD float dr_uniform01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Element j of the uniform stream (seed, stream, counter). */
DR_HD float dr_philox_uniform(uint64_t seed, uint32_t stream, uint64_t counter, uint64_t j)
{
    dr_philox_u4 b = dr_philox_block(seed, stream, counter, (uint32_t)(j >> 2));
    return dr_uniform01(b.v[j & 3]);
}

#endif
