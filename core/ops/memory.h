/* Device memory: every pointer a kernel receives comes from these. */
#ifndef DR_KERNELS_MEMORY_H
#define DR_KERNELS_MEMORY_H

#include <stddef.h>

#include "core/backend.h"

typedef void *dr_alloc_fn(dr_backend *be, size_t bytes);       /* NULL on failure */
typedef void dr_free_fn(dr_backend *be, void *p);
typedef void dr_zero_fn(dr_backend *be, void *p, size_t bytes);
typedef void dr_to_device_fn(dr_backend *be, void *dst, const void *host_src, size_t bytes);
typedef void dr_to_host_fn(dr_backend *be, void *host_dst, const void *src, size_t bytes);
/* Copy within one device. */
typedef void dr_copy_fn(dr_backend *be, void *dst, const void *src, size_t bytes);

dr_alloc_fn dr_cpu_alloc, dr_cuda_alloc;
dr_free_fn dr_cpu_free, dr_cuda_free;
dr_zero_fn dr_cpu_zero, dr_cuda_zero;
dr_to_device_fn dr_cpu_to_device, dr_cuda_to_device;
dr_to_host_fn dr_cpu_to_host, dr_cuda_to_host;
dr_copy_fn dr_cpu_copy, dr_cuda_copy;

#endif
