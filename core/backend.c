#include "core/backend.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/op_table.h"

dr_status dr_backend_open(dr_backend **out, const dr_backend_iface *iface, int device_index)
{
    *out = NULL;
    dr_backend *be = calloc(1, sizeof *be);
    if (!be)
        return dr_error(DR_ERR_NOMEM, "dr_backend_open: out of host memory");
    be->iface = iface;
    be->ops = iface->ops;
    be->device_index = device_index;
    dr_status s = iface->init ? iface->init(be, device_index) : DR_OK;
    if (s != DR_OK) {
        free(be);
        return s;
    }
    *out = be;
    return DR_OK;
}

void dr_backend_free(dr_backend *be)
{
    if (!be)
        return;
    if (be->iface->release)
        be->iface->release(be);
    free(be);
}

dr_status dr_backend_sync(dr_backend *be)
{
    return be->iface->sync ? be->iface->sync(be) : DR_OK;
}

const char *dr_backend_describe(const dr_backend *be)
{
    return be->iface->describe ? be->iface->describe(be) : be->iface->name;
}

const char *dr_backend_kernels(const dr_backend *be)
{
    return be->iface->kernels ? be->iface->kernels(be) : be->ops->impl;
}

int dr_backend_async_copies(const dr_backend *be)
{
    return be->iface->async_copies;
}

int dr_backend_threads(const dr_backend *be)
{
    return be->iface->threads ? be->iface->threads(be) : 1;
}

/* The implementation choices and the GEMM arithmetic are the experiment file's
 * vocabulary (cuda.conv1d, cuda.lstm, cuda.math), known whatever backends this
 * build has, so a file written for a GPU is still checked on a CPU-only build. */
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
    if (be->iface->set_impl)
        return be->iface->set_impl(be, op, impl);
    if (!dr_backend_impl_names(op))
        return dr_error(DR_ERR_INVALID,
                        "implementation choice: unknown op \"%s\" (expected \"conv1d\" or \"lstm\")",
                        op ? op : "(null)");
    if (impl && strcmp(impl, "custom") == 0)
        return DR_OK;
    return dr_error(DR_ERR_INVALID, "%s implementation \"%s\": the %s backend has only \"custom\"", op,
                    impl ? impl : "(null)", be->iface->name);
}

const char *dr_backend_get_impl(const dr_backend *be, const char *op)
{
    if (be->iface->get_impl)
        return be->iface->get_impl(be, op);
    return dr_backend_impl_names(op) ? "custom" : NULL;
}

const char *const dr_backend_math_names[] = {"fp32", "tf32", "bf16", NULL};

dr_status dr_backend_set_math(dr_backend *be, const char *math)
{
    if (be->iface->set_math)
        return be->iface->set_math(be, math);
    if (math && strcmp(math, "fp32") == 0)
        return DR_OK;
    return dr_error(DR_ERR_INVALID, "math \"%s\": the %s backend has only \"fp32\"", math ? math : "(null)",
                    be->iface->name);
}

const char *dr_backend_get_math(const dr_backend *be)
{
    return be->iface->get_math ? be->iface->get_math(be) : "fp32";
}

int dr_backend_has_step_graphs(const dr_backend *be)
{
    return be->ops->step != NULL;
}

void *dr_backend_host_alloc(dr_backend *be, size_t bytes)
{
    if (be->iface->host_alloc)
        return be->iface->host_alloc(be, bytes);
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        dr_error(DR_ERR_NOMEM, "out of host memory (%zu bytes)", bytes);
    return p;
}

void dr_backend_host_free(dr_backend *be, void *p)
{
    if (be->iface->host_free)
        be->iface->host_free(be, p);
    else
        free(p);
}

int dr_backend_supports_op(const dr_backend *be, const char *op, const char **why)
{
    static _Thread_local char reason[160];
    const dr_op_kernels *k = dr_op_kernels_find(op);
    if (!k) {
        snprintf(reason, sizeof reason, "no graph op is named \"%s\"", op ? op : "(null)");
        *why = reason;
        return 0;
    }
    for (int i = 0; i < DR_OP_MAX_KERNELS && k->kernel[i].name; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)be->ops + k->kernel[i].offset, sizeof fn);
        if (!fn) {
            snprintf(reason, sizeof reason, "the %s backend has no %s kernel", be->iface->name,
                     k->kernel[i].name);
            *why = reason;
            return 0;
        }
    }
    return be->iface->supports_op ? be->iface->supports_op(be, op, why) : 1;
}
