#include "core/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "core/op_table.h"
#ifdef DR_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

static dr_status dr_parse_device(const char *device, dr_device_kind *kind, int *index)
{
    *index = 0;
    if (strcmp(device, "cpu") == 0) {
        *kind = DR_DEVICE_CPU;
        return DR_OK;
    }
    if (strncmp(device, "cuda", 4) == 0) {
        *kind = DR_DEVICE_CUDA;
        if (device[4] == '\0')
            return DR_OK;
        char *end;
        long i = device[4] == ':' ? strtol(device + 5, &end, 10) : -1;
        if (device[4] == ':' && end != device + 5 && *end == '\0' && i >= 0 && i < 1024) {
            *index = (int)i;
            return DR_OK;
        }
    }
    return dr_error(DR_ERR_INVALID, "device '%s': expected \"cpu\", \"cuda\" or \"cuda:N\"", device);
}

dr_status dr_backend_create(dr_backend **out, const char *device)
{
    *out = NULL;
    dr_device_kind kind;
    int index;
    DR_TRY(dr_parse_device(device, &kind, &index));
    dr_backend *be = calloc(1, sizeof *be);
    if (!be)
        return dr_error(DR_ERR_NOMEM, "dr_backend_create: out of host memory");
    be->kind = kind;
    be->device_index = index;
    if (kind == DR_DEVICE_CPU) {
        be->ops = &dr_cpu_ops;
        *out = be;
        return DR_OK;
    }
#ifdef DR_HAVE_CUDA
    dr_status s = dr_cuda_backend_init(be, index);
    if (s != DR_OK) {
        free(be);
        return s;
    }
    be->ops = &dr_cuda_ops;
    *out = be;
    return DR_OK;
#else
    free(be);
    return dr_error(DR_ERR_DEVICE, "device '%s': this build has no CUDA backend (nvcc was not found when "
                    "it was configured); use device = \"cpu\"", device);
#endif
}

void dr_backend_free(dr_backend *be)
{
    if (!be)
        return;
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        dr_cuda_backend_release(be);
#endif
    free(be);
}

dr_status dr_backend_sync(dr_backend *be)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_sync(be);
#endif
    (void)be;
    return DR_OK;
}

const char *dr_backend_kernels(const dr_backend *be)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_kernels(be);
#endif
    return be->ops->impl;
}

const char *const dr_backend_impl_ops[] = {"conv1d", "lstm", NULL};

const char *const *dr_backend_impl_names(const char *op)
{
    static const char *const conv1d[] = {"custom", "cudnn", NULL};
    static const char *const lstm[] = {"custom", "steps", "cudnn", NULL};
    if (op && strcmp(op, "conv1d") == 0)
        return conv1d;
    if (op && strcmp(op, "lstm") == 0)
        return lstm;
    return NULL;
}

dr_status dr_backend_set_impl(dr_backend *be, const char *op, const char *impl)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_set_impl(be, op, impl);
#endif
    if (!dr_backend_impl_names(op))
        return dr_error(DR_ERR_INVALID,
                        "implementation choice: unknown op \"%s\" (expected \"conv1d\" or \"lstm\")",
                        op ? op : "(null)");
    if (impl && strcmp(impl, "custom") == 0)
        return DR_OK;
    return dr_error(DR_ERR_INVALID, "%s implementation \"%s\": the CPU backend has only \"custom\"", op,
                    impl ? impl : "(null)");
}

const char *dr_backend_get_impl(const dr_backend *be, const char *op)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_get_impl(be, op);
#endif
    return dr_backend_impl_names(op) ? "custom" : NULL;
}

const char *const dr_backend_math_names[] = {"fp32", "tf32", "bf16", NULL};

dr_status dr_backend_set_math(dr_backend *be, const char *math)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_set_math(be, math);
#endif
    if (math && strcmp(math, "fp32") == 0)
        return DR_OK;
    return dr_error(DR_ERR_INVALID, "math \"%s\": the CPU backend has only \"fp32\"",
                    math ? math : "(null)");
}

const char *dr_backend_get_math(const dr_backend *be)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_get_math(be);
#endif
    (void)be;
    return "fp32";
}

int dr_backend_has_step_graphs(const dr_backend *be)
{
    return be->ops->step != NULL;
}

void *dr_backend_host_alloc(dr_backend *be, size_t bytes)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_host_alloc(be, bytes);
#endif
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        dr_error(DR_ERR_NOMEM, "out of host memory (%zu bytes)", bytes);
    return p;
}

void dr_backend_host_free(dr_backend *be, void *p)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA) {
        dr_cuda_host_free(be, p);
        return;
    }
#endif
    free(p);
}

const char *dr_backend_describe(const dr_backend *be)
{
#ifdef DR_HAVE_CUDA
    if (be->kind == DR_DEVICE_CUDA)
        return dr_cuda_backend_describe(be);
#endif
    static _Thread_local char buf[160];
    snprintf(buf, sizeof buf, "cpu (%d OpenBLAS threads; %s)", openblas_get_num_threads(), openblas_get_config());
    return buf;
}
