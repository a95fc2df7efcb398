/* Seconds on the monotonic clock (wall time): the run log's timings. */
#ifndef DR_CORE_CLOCK_H
#define DR_CORE_CLOCK_H

#include <time.h>

static inline double dr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
