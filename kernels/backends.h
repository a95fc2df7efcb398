/* The backends of this build, found by device name. The list is written by the
 * build (CMake's DR_BACKENDS: "cpu", and "cuda" where nvcc was found), so no
 * code names a backend it may not have. */
#ifndef DR_KERNELS_BACKENDS_H
#define DR_KERNELS_BACKENDS_H

#include "core/backend.h"

/* NULL-terminated, "cpu" first. */
extern const dr_backend_iface *const dr_backends[];

/* "cpu", "cuda" or "cuda:N" (any backend's "name" or "name:N"). A name this
 * build has no backend for, or a device the backend cannot open (no GPU), fails
 * with DR_ERR_DEVICE and says why. */
dr_status dr_backend_create(dr_backend **out, const char *device);

#endif
