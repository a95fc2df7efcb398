/* The LSTM recurrence in one launch per direction, with w_hh on chip for the
 * whole sequence (cuda.lstm = "custom"; the contract is core/ops/lstm.h).
 *
 * w_hh (4H x H floats, 256 KiB at H = 128) is larger than one SM's shared
 * memory, so a thread-block cluster (Hopper, sm_90) shares it: each of the C
 * blocks of a cluster owns H/C hidden units, keeps their 4H/C rows of w_hh in
 * its shared memory, and the cluster runs a tile of NB samples through all T
 * steps. Between steps the blocks exchange through distributed shared memory:
 *   forward:  each block computes h_t for its units and stores it into every
 *             block's copy of h_t, then one cluster barrier;
 *   backward: each block computes the gate gradients of its units, multiplies
 *             them by its rows of w_hh (its share of dh_{t-1} for all H units)
 *             and stores each share into the block that owns those units; one
 *             cluster barrier; the owner sums the C shares in rank order.
 * Both exchange buffers are double-buffered by step parity, so one barrier per
 * step suffices: a buffer is written again only two steps later, after every
 * block has passed the barrier that ends its reads. Summation orders are fixed,
 * so results repeat bit for bit.
 *
 * The input products x w_ih^T (all steps, one GEMM) and the weight gradients
 * (after the recurrence) stay cuBLAS GEMMs in lstm.cu; only the sequential part
 * moves here. The cell math is the CPU's (kernels/math.h's dr_fast_*), in the
 * CPU's order: pre-activation = (x w_ih^T + h w_hh^T) + b.
 *
 * A shape runs here when its plan fits (kernels/cuda/lstm_plan.h, make_plan):
 * a card with clusters, shared memory for the slice and buffers, at most 256
 * units per block; otherwise lstm.cu launches step by step. */
#include <cooperative_groups.h>

#include "kernels/cuda/common.cuh"

#include <stdio.h>

namespace cg = cooperative_groups;

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define DR_HAVE_CLUSTERS 1
#endif

/* Copies this block's rows of w_hh (gate g, unit q*Hc + jl -> row rl = g*Hc + jl)
 * into ws[k][rl] and zeroes the exchange buffers. */
static __device__ void load_slice(float *sm, const float *w_hh, int H, int Hc, int q, int NBp)
{
    const int R = 4 * Hc, WS = R + 1;
    for (int i = threadIdx.x; i < R * H; i += blockDim.x) {
        int rl = i / H, k = i % H; /* along k: coalesced reads of w_hh's rows */
        int g = rl / Hc, jl = rl % Hc;
        sm[k * WS + rl] = w_hh[(size_t)(g * H + q * Hc + jl) * H + k];
    }
    float *buffers = sm + dr_lstm_ws_floats(H, R);
    size_t n = 2 * (size_t)H * NBp + (size_t)R * NBp;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x)
        buffers[i] = 0.0f;
}

/* One cluster per tile of NB samples; block rank q owns units [q Hc, (q+1) Hc).
 * Thread (jl, ng) owns unit q Hc + jl for samples ng S .. ng S + S - 1 of the tile,
 * and keeps their c_{t-1} in registers. gates holds x w_ih^T on entry. */
static __global__ void __launch_bounds__(DR_LSTM_MAX_THREADS)
lstm_persistent_forward_kernel(float *h, float *c, float *gates, const float *w_hh, const float *b,
                               int B, int T, int H, int Hc, int NB, int NBp, int S)
{
#ifdef DR_HAVE_CLUSTERS
    cg::cluster_group cluster = cg::this_cluster();
    const int C = (int)cluster.num_blocks(), q = (int)cluster.block_rank();
    const int R = 4 * Hc, WS = R + 1, G = 4 * H;
    extern __shared__ float4 smem4[];
    float *ws = (float *)smem4;
    float *hbuf = ws + dr_lstm_ws_floats(H, R);
    load_slice(ws, w_hh, H, Hc, q, NBp);
    cluster.sync(); /* every block's buffers are zero before anyone stores into them */

    const int jl = threadIdx.x % Hc, ng = threadIdx.x / Hc, j = q * Hc + jl;
    const long n0 = (long)(blockIdx.x / C) * NB; /* the tile's first sample */
    const int live = dr_lstm_live_samples(ng, S, NB, n0, B);
    float bias[4], cprev[DR_LSTM_MAX_S];
#pragma unroll
    for (int g = 0; g < 4; g++)
        bias[g] = b[g * H + j];
#pragma unroll
    for (int s = 0; s < DR_LSTM_MAX_S; s++)
        cprev[s] = 0.0f;

    for (int t = 0; t < T; t++) {
        float acc[DR_LSTM_MAX_S][4];
#pragma unroll
        for (int s = 0; s < DR_LSTM_MAX_S; s++) {
            long n = n0 + ng * S + s;
#pragma unroll
            for (int g = 0; g < 4; g++)
                acc[s][g] = s < live ? gates[(n * T + t) * G + g * H + j] : 0.0f;
        }
        if (t > 0 && live > 0) {
            /* + h_{t-1} w_hh^T over this block's rows */
            const float *hp = hbuf + (size_t)((t - 1) & 1) * H * NBp + ng * S;
            float part[DR_LSTM_MAX_S][4] = {};
            for (int k = 0; k < H; k++) {
                const float *wk = ws + k * WS + jl;
                float w0 = wk[0], w1 = wk[Hc], w2 = wk[2 * Hc], w3 = wk[3 * Hc];
#pragma unroll
                for (int s = 0; s < DR_LSTM_MAX_S; s++) {
                    if (s < live) {
                        float hv = hp[(size_t)k * NBp + s];
                        part[s][0] = fmaf(hv, w0, part[s][0]);
                        part[s][1] = fmaf(hv, w1, part[s][1]);
                        part[s][2] = fmaf(hv, w2, part[s][2]);
                        part[s][3] = fmaf(hv, w3, part[s][3]);
                    }
                }
            }
#pragma unroll
            for (int s = 0; s < DR_LSTM_MAX_S; s++)
#pragma unroll
                for (int g = 0; g < 4; g++)
                    acc[s][g] += part[s][g];
        }
        float *hn = hbuf + (size_t)(t & 1) * H * NBp;
#pragma unroll
        for (int s = 0; s < DR_LSTM_MAX_S; s++) {
            if (s >= live)
                continue;
            int nl = ng * S + s;
            long row = (n0 + nl) * T + t;
            float ig = dr_fast_sigmoidf(acc[s][0] + bias[0]);
            float fg = dr_fast_sigmoidf(acc[s][1] + bias[1]);
            float gg = dr_fast_tanhf(acc[s][2] + bias[2]);
            float og = dr_fast_sigmoidf(acc[s][3] + bias[3]);
            float *gr = gates + row * G;
            gr[j] = ig, gr[H + j] = fg, gr[2 * H + j] = gg, gr[3 * H + j] = og;
            float ct = ig * gg;
            if (t > 0)
                ct += fg * cprev[s];
            cprev[s] = ct;
            float ht = og * dr_fast_tanhf(ct);
            c[row * H + j] = ct;
            h[row * H + j] = ht;
            for (int p = 0; p < C; p++)
                cluster.map_shared_rank(hn, p)[(size_t)j * NBp + nl] = ht;
        }
        cluster.sync();
    }
#else
    __trap(); /* compiled for a card without clusters: make_plan never launches it */
#endif
}

/* Backpropagation through time; same ownership as the forward. dgates (the
 * op's scratch) receives every step's pre-activation gradients for the weight
 * GEMMs that follow in lstm.cu. */
static __global__ void __launch_bounds__(DR_LSTM_MAX_THREADS)
lstm_persistent_backward_kernel(float *dgates, const float *dh, const float *gates, const float *c,
                                const float *w_hh, int B, int T, int H, int Hc, int NB, int NBp,
                                int S)
{
#ifdef DR_HAVE_CLUSTERS
    cg::cluster_group cluster = cg::this_cluster();
    const int C = (int)cluster.num_blocks(), q = (int)cluster.block_rank();
    const int R = 4 * Hc, WS = R + 1, G = 4 * H;
    extern __shared__ float4 smem4[];
    float *ws = (float *)smem4;
    float *shares = ws + dr_lstm_ws_floats(H, R);       /* [2][C][Hc][NBp] */
    float *dgs = shares + 2 * (size_t)H * NBp;    /* [R][NBp], 16-byte aligned */
    load_slice(ws, w_hh, H, Hc, q, NBp);
    cluster.sync();

    const int jl = threadIdx.x % Hc, ng = threadIdx.x / Hc, j = q * Hc + jl;
    const long n0 = (long)(blockIdx.x / C) * NB;
    const int live = dr_lstm_live_samples(ng, S, NB, n0, B);
    float dc[DR_LSTM_MAX_S];
#pragma unroll
    for (int s = 0; s < DR_LSTM_MAX_S; s++)
        dc[s] = 0.0f;

    for (int t = T - 1; t >= 0; t--) {
        const float *in = shares + (size_t)((t + 1) & 1) * H * NBp;
#pragma unroll
        for (int s = 0; s < DR_LSTM_MAX_S; s++) {
            if (s >= live)
                continue;
            int nl = ng * S + s;
            float dhn = 0.0f; /* dh_t from step t + 1: the C shares, in rank order */
            if (t < T - 1)
                for (int p = 0; p < C; p++)
                    dhn += in[((size_t)p * Hc + jl) * NBp + nl];
            long row = (n0 + nl) * T + t;
            const float *g = gates + row * G;
            float ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
            float tc = dr_fast_tanhf(c[row * H + j]);
            float dhj = dh[row * H + j] + dhn;
            float dcv = dhj * og * (1.0f - tc * tc) + dc[s];
            float d0 = dcv * gg * ig * (1.0f - ig);
            /* the forget gate's factor is c_{t-1}, zero at the first step */
            float d1 = t > 0 ? dcv * fg * (1.0f - fg) * c[(row - 1) * H + j] : 0.0f;
            float d2 = dcv * ig * (1.0f - gg * gg);
            float d3 = dhj * tc * og * (1.0f - og);
            dc[s] = dcv * fg;
            float *dg = dgates + row * G;
            dg[j] = d0, dg[H + j] = d1, dg[2 * H + j] = d2, dg[3 * H + j] = d3;
            dgs[(size_t)jl * NBp + nl] = d0;
            dgs[(size_t)(Hc + jl) * NBp + nl] = d1;
            dgs[(size_t)(2 * Hc + jl) * NBp + nl] = d2;
            dgs[(size_t)(3 * Hc + jl) * NBp + nl] = d3;
        }
        if (t > 0) {
            __syncthreads(); /* dgs complete */
            /* this block's share of dh_{t-1}[n][k] = sum over its rows rl of
             * dgs[rl][n] w_hh[rl][k], DR_LSTM_SB (8) samples per thread, stored into the
             * block owning unit k */
            float *out = shares + (size_t)(t & 1) * H * NBp;
            const int groups = (NB + DR_LSTM_SB - 1) / DR_LSTM_SB;
            for (int o = threadIdx.x; o < H * groups; o += blockDim.x) {
                int k = o % H, grp = o / H;
                const float4 *dv = (const float4 *)(dgs + grp * DR_LSTM_SB);
                float acc[DR_LSTM_SB] = {};
                for (int rl = 0; rl < R; rl++) {
                    float w = ws[k * WS + rl];
                    float4 a = dv[(size_t)rl * (NBp / 4)], e = dv[(size_t)rl * (NBp / 4) + 1];
                    acc[0] = fmaf(a.x, w, acc[0]), acc[1] = fmaf(a.y, w, acc[1]);
                    acc[2] = fmaf(a.z, w, acc[2]), acc[3] = fmaf(a.w, w, acc[3]);
                    acc[4] = fmaf(e.x, w, acc[4]), acc[5] = fmaf(e.y, w, acc[5]);
                    acc[6] = fmaf(e.z, w, acc[6]), acc[7] = fmaf(e.w, w, acc[7]);
                }
                float *dst = cluster.map_shared_rank(out, k / Hc) +
                             ((size_t)q * Hc + k % Hc) * NBp + grp * DR_LSTM_SB;
#pragma unroll
                for (int s = 0; s < DR_LSTM_SB; s++)
                    if (grp * DR_LSTM_SB + s < NB)
                        dst[s] = acc[s];
            }
        }
        cluster.sync(); /* shares delivered; dgs free for the next step */
    }
#else
    __trap();
#endif
}

/* --- plans --------------------------------------------------------------------- */

/* The plan does not fit: keeps why and says it (once per shape). */
static void note_fallback(dr_cuda_context *ctx, dr_cuda_lstm_plan *p, const char *why)
{
    snprintf(p->why, sizeof p->why, "%s", why);
    if (!ctx->capturing)
        fprintf(stderr, "defrisk cuda:%d: lstm B=%d H=%d: per-step launches (%s)\n", ctx->device,
                p->B, p->H, why);
}

/* A launch of blocks blocks of threads threads in clusters of C, with smem bytes of
 * dynamic shared memory; attr must outlive the config. */
static cudaLaunchConfig_t cluster_config(cudaLaunchAttribute *attr, int C, int blocks, int threads,
                                         size_t smem, cudaStream_t stream)
{
    *attr = cudaLaunchAttribute{};
    attr->id = cudaLaunchAttributeClusterDimension;
    attr->val.clusterDim.x = (unsigned)C, attr->val.clusterDim.y = 1, attr->val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)blocks), cfg.blockDim = dim3((unsigned)threads);
    cfg.dynamicSmemBytes = smem, cfg.stream = stream, cfg.attrs = attr, cfg.numAttrs = 1;
    return cfg;
}

/* How many clusters of this launch can be resident at once (0: none). The
 * kernel's dynamic shared memory limit is raised to the card's maximum (not to
 * this plan's size, which another plan's launch may exceed). */
template <typename K>
static int max_clusters(const dr_cuda_context *ctx, K kernel, int C, int threads, size_t smem)
{
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = cluster_config(&attr, C, C, threads, smem, 0);
    int n = 0;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)ctx->prop.sharedMemPerBlockOptin) != cudaSuccess ||
        cudaOccupancyMaxActiveClusters(&n, kernel, &cfg) != cudaSuccess) {
        cudaGetLastError(); /* a refusal here means "does not fit", not an op failure */
        return 0;
    }
    return n;
}

static void make_plan(dr_cuda_context *ctx, dr_cuda_lstm_plan *p)
{
    p->ok = 0;
    if (ctx->prop.major < 9 || !ctx->prop.clusterLaunch) {
        note_fallback(ctx, p, "the card has no thread-block clusters (sm_90 and later)");
        return;
    }
    /* a build for older cards only has the kernels' empty bodies (JIT from their PTX) */
    cudaFuncAttributes fa;
    if (cudaFuncGetAttributes(&fa, lstm_persistent_forward_kernel) != cudaSuccess ||
        fa.ptxVersion < 90) {
        cudaGetLastError();
        note_fallback(ctx, p, "this build has no sm_90 code for the kernel");
        return;
    }
    char why[128];
    if (!dr_lstm_plan_cluster(p)) {
        snprintf(why, sizeof why, "more than %d units per block of the cluster",
                 DR_LSTM_MAX_THREADS);
        note_fallback(ctx, p, why);
        return;
    }
    if (p->smem > ctx->prop.sharedMemPerBlockOptin) {
        snprintf(why, sizeof why, "needs %zu KiB of shared memory per block, the card has %zu",
                 p->smem >> 10, ctx->prop.sharedMemPerBlockOptin >> 10);
        note_fallback(ctx, p, why);
        return;
    }
    int f = max_clusters(ctx, lstm_persistent_forward_kernel, p->C, p->threads, p->smem);
    int b = max_clusters(ctx, lstm_persistent_backward_kernel, p->C, p->threads, p->smem);
    int resident = f < b ? f : b;
    if (resident < 1) {
        note_fallback(ctx, p, "no cluster of this size fits on the card");
        return;
    }
    dr_lstm_plan_spread(p, resident);
}

/* The plan for (B, H), made at the shape's first call and kept (the last
 * DR_CUDA_LSTM_PLANS shapes): a step captured later finds it without querying. */
static const dr_cuda_lstm_plan *find_plan(dr_cuda_context *ctx, int B, int H)
{
    for (int i = 0; i < ctx->n_lstm_plans && i < DR_CUDA_LSTM_PLANS; i++)
        if (ctx->lstm_plans[i].B == B && ctx->lstm_plans[i].H == H)
            return &ctx->lstm_plans[i];
    dr_cuda_lstm_plan *p = &ctx->lstm_plans[ctx->n_lstm_plans++ % DR_CUDA_LSTM_PLANS];
    p->B = B, p->H = H;
    make_plan(ctx, p);
    return p;
}

const dr_cuda_lstm_plan *dr_cuda_lstm_plan_get(dr_cuda_context *ctx, int B, int H)
{
    const dr_cuda_lstm_plan *p = find_plan(ctx, B, H);
    return p->ok ? p : NULL;
}

extern "C" const char *dr_cuda_lstm_plan_text(dr_backend *be, int B, int H)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    const dr_cuda_lstm_plan *p = find_plan(ctx, B, H);
    if (p->ok)
        snprintf(ctx->lstm_plan_text, sizeof ctx->lstm_plan_text,
                 "one launch: %d clusters of %d blocks x %d threads, %d samples each, %zu KiB "
                 "shared memory per block", p->clusters, p->C, p->threads, p->NB, p->smem >> 10);
    else
        snprintf(ctx->lstm_plan_text, sizeof ctx->lstm_plan_text, "per-step launches: %s", p->why);
    return ctx->lstm_plan_text;
}

template <typename K, typename... Args>
static int launch(dr_cuda_context *ctx, const dr_cuda_lstm_plan *p, K kernel, const char *name,
                  Args... args)
{
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg =
        cluster_config(&attr, p->C, p->clusters * p->C, p->threads, p->smem, ctx->stream);
    return dr_cuda_check_(ctx, cudaLaunchKernelEx(&cfg, kernel, args...), name, __FILE__, __LINE__,
                          __func__);
}

int dr_cuda_lstm_persistent_forward(dr_cuda_context *ctx, const dr_cuda_lstm_plan *p, float *h,
                                    float *c, float *gates, const float *w_hh, const float *b, int T)
{
    return launch(ctx, p, lstm_persistent_forward_kernel, "launch of lstm_persistent_forward_kernel",
                  h, c, gates, w_hh, b, p->B, T, p->H, p->Hc, p->NB, p->NBp, p->S);
}

int dr_cuda_lstm_persistent_backward(dr_cuda_context *ctx, const dr_cuda_lstm_plan *p,
                                     float *dgates, const float *dh, const float *gates,
                                     const float *c, const float *w_hh, int T)
{
    return launch(ctx, p, lstm_persistent_backward_kernel,
                  "launch of lstm_persistent_backward_kernel", dgates, dh, gates, c, w_hh, p->B, T,
                  p->H, p->Hc, p->NB, p->NBp, p->S);
}
