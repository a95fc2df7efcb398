/* Whole training steps on the GPU (contract in core/ops/step.h): the loss metrics
 * summed on the device, and one step captured as a CUDA graph and replayed.
 *
 * Capture runs on the backend's one non-blocking stream in thread-local mode: a
 * call of this thread that is illegal while capturing (a synchronisation, an
 * allocation) invalidates the capture instead of running; capture_end reports
 * it, and core runs the step op by op instead. */
#include "kernels/cuda/common.cuh"

#include <stdlib.h>

struct dr_step_graph {
    cudaGraphExec_t exec;
};

/* advance = 0: *st = v, the host's values for the next replay; advance = 1: the
 * last node of a captured step, counter + 1 and t + 1 for the next one. */
static __global__ void step_state_kernel(dr_cuda_step_state *st, dr_cuda_step_state v, int advance)
{
    if (advance) {
        st->counter++;
        st->adam.step++;
    } else {
        *st = v;
    }
}

/* One thread: the sum runs in step order, in double, as the CPU's does. */
static __global__ void step_metrics_kernel(dr_step_metrics *m, const float *loss, int rows,
                                           long long step, const dr_cuda_step_state *st)
{
    const float l = *loss;
    m->loss_sum += (double)l * rows;
    if (!isfinite(l) && m->bad_step == 0) {
        m->bad_step = st ? st->adam.step : step;
        m->bad_loss = l;
    }
}

extern "C" void dr_cuda_step_metrics_add(dr_backend *be, dr_step_metrics *m, const float *loss,
                                         int rows, long step)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    const dr_cuda_step_state *st = ctx->capturing ? ctx->step_dev : NULL;
    step_metrics_kernel<<<1, 1, 0, ctx->stream>>>(m, loss, rows, step, st);
    DR_CUDA_LAUNCH_CHECK(ctx, "step_metrics_kernel");
}

/* Capture and replay report their own failures at once, so an error recorded
 * before them (by an op; the next sync reports it) must not pass for theirs:
 * they do not start while one is pending, and leave it in place. */
static dr_status refuse_if_pending(dr_cuda_context *ctx, const char *what)
{
    if (ctx->err == DR_OK)
        return DR_OK;
    return dr_error(DR_ERR_DEVICE, "cuda:%d: %s not started: an earlier error is pending: %s",
                    ctx->device, what, ctx->err_msg);
}

extern "C" dr_status dr_cuda_step_capture_begin(dr_backend *be)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    DR_TRY(refuse_if_pending(ctx, "step capture"));
    /* step_state_kernel is first launched inside the capture, where a driver
     * older than CUDA 12.3 cannot load a kernel (lazy loading): load it now. */
    cudaFuncAttributes fa;
    if (!DR_CUDA_CHECK(ctx, cudaFuncGetAttributes(&fa, step_state_kernel)))
        return dr_cuda_take_error(ctx);
    /* a leftover runtime error that no op recorded must not fail the capture's
     * first launch check (recorded errors were refused above) */
    cudaGetLastError();
    if (!DR_CUDA_CHECK(ctx, cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal)))
        return dr_cuda_take_error(ctx);
    ctx->capturing = 1;
    return DR_OK;
}

extern "C" dr_status dr_cuda_step_capture_end(dr_backend *be, dr_step_graph **out)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    *out = NULL;
    dr_cuda_step_state unused;
    memset(&unused, 0, sizeof unused);
    step_state_kernel<<<1, 1, 0, ctx->stream>>>(ctx->step_dev, unused, 1);
    DR_CUDA_LAUNCH_CHECK(ctx, "step_state_kernel (advance)");
    /* Ended even after an error, so that the stream runs work again; an
     * invalidated capture ends with an error and no graph. */
    cudaGraph_t graph = NULL;
    DR_CUDA_CHECK(ctx, cudaStreamEndCapture(ctx->stream, &graph));
    cudaGraphExec_t exec = NULL;
    if (ctx->err == DR_OK)
        DR_CUDA_CHECK(ctx, cudaGraphInstantiate(&exec, graph, 0));
    if (graph) /* the executable graph does not need its template */
        DR_CUDA_CHECK(ctx, cudaGraphDestroy(graph));
    dr_step_graph *sg = ctx->err == DR_OK ? (dr_step_graph *)malloc(sizeof *sg) : NULL;
    if (ctx->err == DR_OK && !sg)
        DR_CUDA_FAIL(ctx, DR_ERR_NOMEM, "out of host memory");
    if (ctx->err != DR_OK && exec)
        DR_CUDA_CHECK(ctx, cudaGraphExecDestroy(exec));
    ctx->capturing = 0;
    if (ctx->err != DR_OK)
        return dr_cuda_take_error(ctx);
    sg->exec = exec;
    *out = sg;
    return DR_OK;
}

static int same_state(const dr_cuda_step_state *a, const dr_cuda_step_state *b)
{
    return a->counter == b->counter && a->adam.step == b->adam.step && a->adam.lr == b->adam.lr &&
           a->adam.beta1 == b->adam.beta1 && a->adam.beta2 == b->adam.beta2 &&
           a->adam.eps == b->adam.eps && a->adam.weight_decay == b->adam.weight_decay;
}

extern "C" dr_status dr_cuda_step_replay(dr_backend *be, dr_step_graph *sg,
                                         const dr_step_scalars *sc)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    DR_TRY(refuse_if_pending(ctx, "step replay"));
    dr_cuda_step_state want;
    memset(&want, 0, sizeof want);
    want.counter = sc->counter;
    want.adam.lr = sc->adam.lr;
    want.adam.beta1 = sc->adam.beta1;
    want.adam.beta2 = sc->adam.beta2;
    want.adam.eps = sc->adam.eps;
    want.adam.weight_decay = sc->adam.weight_decay;
    want.adam.step = sc->adam.step;
    /* Usually the previous replay's advance has left exactly this; otherwise
     * (the first replay, a new lr, eager steps in between) it is set, in stream
     * order and from a launch argument: no host buffer to keep, no wait. */
    if (!ctx->mirror_valid || !same_state(&ctx->step_mirror, &want)) {
        step_state_kernel<<<1, 1, 0, ctx->stream>>>(ctx->step_dev, want, 0);
        ctx->mirror_valid = DR_CUDA_LAUNCH_CHECK(ctx, "step_state_kernel (set)");
        ctx->step_mirror = want;
    }
    if (ctx->mirror_valid && DR_CUDA_CHECK(ctx, cudaGraphLaunch(sg->exec, ctx->stream))) {
        ctx->step_mirror.counter++;
        ctx->step_mirror.adam.step++;
        return DR_OK;
    }
    ctx->mirror_valid = 0;
    return dr_cuda_take_error(ctx);
}

extern "C" void dr_cuda_step_graph_free(dr_backend *be, dr_step_graph *sg)
{
    if (!sg)
        return;
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    /* a replay still running finishes first (the driver defers the release) */
    DR_CUDA_CHECK(ctx, cudaGraphExecDestroy(sg->exec));
    free(sg);
}

extern "C" const dr_step_ops dr_cuda_step_ops = {
    .to_device_async = dr_cuda_to_device_async,
    .metrics_add = dr_cuda_step_metrics_add,
    .capture_begin = dr_cuda_step_capture_begin,
    .capture_end = dr_cuda_step_capture_end,
    .replay = dr_cuda_step_replay,
    .graph_free = dr_cuda_step_graph_free,
};
