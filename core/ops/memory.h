/* Device memory: every pointer a kernel receives comes from these. */
#ifndef DR_CORE_OPS_MEMORY_H
#define DR_CORE_OPS_MEMORY_H

#include <stddef.h>

#include "core/backend.h"

typedef void *dr_alloc_fn(dr_backend *be, size_t bytes);       /* NULL on failure */
typedef void dr_free_fn(dr_backend *be, void *p);
typedef void dr_zero_fn(dr_backend *be, void *p, size_t bytes);
typedef void dr_to_device_fn(dr_backend *be, void *dst, const void *host_src, size_t bytes);
typedef void dr_to_host_fn(dr_backend *be, void *host_dst, const void *src, size_t bytes);
/* Copy within one device. */
typedef void dr_copy_fn(dr_backend *be, void *dst, const void *src, size_t bytes);

#endif
