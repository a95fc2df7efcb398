/* Host memory for the CPU backend (contract in core/ops/memory.h). The "device" is
 * the host, so transfers are plain copies. */
#include "core/ops/memory.h"
#include "kernels/cpu/ops.h"

#include <stdlib.h>
#include <string.h>

/* 64 bytes: one cache line and one AVX-512 register, so a block from here never
 * splits a vector load and two threads' blocks never share a line. */
enum { DR_CPU_ALIGN = 64 };

void *dr_cpu_alloc(dr_backend *be, size_t bytes)
{
    (void)be;
    /* round up to the alignment (a zero-byte request still gets a unique block) */
    if (bytes > (size_t)-1 - DR_CPU_ALIGN)
        return NULL;
    size_t size = (bytes + DR_CPU_ALIGN - 1) / DR_CPU_ALIGN * DR_CPU_ALIGN;
    if (size == 0)
        size = DR_CPU_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, DR_CPU_ALIGN, size) != 0)
        return NULL;
    return p;
}

void dr_cpu_free(dr_backend *be, void *p)
{
    (void)be;
    free(p);
}

void dr_cpu_zero(dr_backend *be, void *p, size_t bytes)
{
    (void)be;
    if (bytes)
        memset(p, 0, bytes);
}

void dr_cpu_to_device(dr_backend *be, void *dst, const void *host_src, size_t bytes)
{
    (void)be;
    if (bytes && dst != host_src)
        memcpy(dst, host_src, bytes);
}

void dr_cpu_to_host(dr_backend *be, void *host_dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes && host_dst != src)
        memcpy(host_dst, src, bytes);
}

/* memmove: a graph may copy a value onto itself (dropout in eval mode when its
 * output aliases its input), which memcpy leaves undefined. */
void dr_cpu_copy(dr_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes && dst != src)
        memmove(dst, src, bytes);
}
