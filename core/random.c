#include "core/random.h"

void dr_philox_shuffle(long *a, long n, uint64_t seed, uint32_t stream, uint64_t counter)
{
    for (long i = n - 1; i > 0; i--) {
        dr_philox_u4 r = dr_philox_block(seed, stream, counter, (uint32_t)i);
        uint64_t x = ((uint64_t)r.v[0] << 32) | r.v[1];
        long j = (long)(x % (uint64_t)(i + 1));
        long t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
