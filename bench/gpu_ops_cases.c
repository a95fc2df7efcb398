/* The op cases of bench/gpu_ops_bench.c (contract in gpu_ops_cases.h): every op
 * the hybrid network calls in a training step at batch 256, each call through the
 * backend's op table, with the work it does per call.
 *
 * Work per call (B = 256 rows; fp32 and int32 are 4 bytes; FLOP = 2 per
 * multiply-add, element-wise math and bias terms not counted, so GFLOP/s are a
 * lower bound of the arithmetic done):
 *   conv1d    F = 2 B L Cout Cin K; fwd F; bwd 2F (dW and dX products), F where
 *             dx is NULL (the Cin = 1 layers, whose input is data)
 *   linear    F = 2 B C OC; fwd F; bwd 2F (dW, dX)
 *   lstm      fwd 2 B T 4H I + 2 B (T-1) 4H H (input product at every step,
 *             recurrent product from the second: h_{-1} = 0);
 *             bwd 2 B T 4H I (dW_ih; x 2 with dx) + 2 x 2 B (T-1) 4H H (dh_{t-1}, dW_hh)
 *   attention fwd 2 B T A H + 2 B T (A + H) (projection, scores, context);
 *             bwd 4 B T A H + 2 B T A + 4 B T H (dW and dh products, dv, dalpha and
 *             the context's dh)
 * Memory-bound ops: the bytes each call must read and write once at least, n the
 * elements of the activation:
 *   batchnorm fwd 8n (read x, write out; the statistics' second read of x not
 *             counted); bwd 16n (read dout, x; read-modify-write dx)
 *   relu      fwd 8n; bwd 16n (read dout, out; read-modify-write dx)
 *   add       (the residual) fwd 12n (read a, b; write out); bwd 24n (two axpy:
 *             dA += dout, dB += dout, each read dout, dX, write dX)
 *   maxpool   m = n / K outputs; fwd 4n + 8m (read x; write out, argmax);
 *             bwd 16m (read dout, argmax; read-modify-write dx at the argmax)
 *   dropout   fwd 12n (read x; write out, mask; the random numbers are computed);
 *             bwd 16n (read dout, mask; read-modify-write dx)
 *   copy2d    (concat into / slice from a wider row) fwd 8 rows cols; bwd 12 rows cols
 *   sigmoid   8n (fwd only: the probability node)
 *   loss      fwd 12B + 4 (read z, y; write per-sample, loss); bwd 16B (read z, y;
 *             read-modify-write dz)
 *   adam      28 P (read p, g, m, v; write p, m, v), P = the network's parameter
 *             count (built here with models/hybrid.c on the CPU backend)
 *
 * Shapes (models/hybrid.c with bench/train_compare.sh's data: four feature groups
 * of 20, a 12 x 2 history, filters 64/128/256, kernel 3, pool 2, LSTM 128,
 * attention 128, FC 256/64, dropout 0.5). Per branch, three residual blocks
 * conv(3) -> BN -> ReLU, + 1x1 conv projection, + add, all at L = 20; max-pool 2
 * to L = 10, then max-pool 10 to the branch summary; LSTM over the history
 * (T = 12, I = 2, its input is data: no dx); attention over its 12 steps; concat
 * of 4 x 256 summaries and the 128 context -> FC 1152 -> 256 -> 64 -> 1 with BN,
 * ReLU and dropout; composite loss; Adam. "calls" is how often a training step
 * makes the call (4: once per branch). Not timed: the gradient memsets and input
 * copies of a step (cudaMemsetAsync / cudaMemcpyAsync, no project kernel). */
#include "bench/gpu_ops_cases.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "kernels/backends.h"
#include "kernels/cuda_backend.h"
#include "models/hybrid.h"

/* ---- a case's buffers, in rotating sets ---- */
static void buf(opcase *c, int i, size_t floats, fill_kind fill, float scale)
{
    if (i + 1 > c->nbuf)
        c->nbuf = i + 1;
    c->floats[i] = floats, c->fill[i] = fill, c->scale[i] = scale;
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; } /* 256-byte aligned pointers */

void gpu_ops_free_sets(opcase *c)
{
    for (int s = 0; s < c->nsets; s++)
        c->ops->free(c->be, c->block[s]);
    c->ops->free(c->be, c->scratch);
    c->nsets = 0, c->scratch = NULL;
}

int gpu_ops_alloc_sets(opcase *c, size_t l2_bytes)
{
    size_t set_floats = 0;
    for (int i = 0; i < c->nbuf; i++)
        set_floats += align64(c->floats[i]);
    size_t set_bytes = set_floats * sizeof(float);
    size_t want_bytes = 2 * l2_bytes, cap = (size_t)1 << 30;
    long nsets = (long)((want_bytes + set_bytes - 1) / set_bytes);
    if (nsets > MAXSETS)
        nsets = MAXSETS;
    if ((size_t)nsets * set_bytes > cap)
        nsets = (long)(cap / set_bytes);
    if (nsets < 1)
        nsets = 1;
    c->in_l2 = (size_t)nsets * set_bytes < want_bytes;
    c->nsets = 0;
    c->scratch = NULL;
    if (c->scratch_floats) {
        c->scratch = c->ops->alloc(c->be, c->scratch_floats * sizeof(float));
        if (!c->scratch)
            goto fail;
    }
    for (int s = 0; s < nsets; s++) {
        c->block[s] = c->ops->alloc(c->be, set_bytes);
        if (!c->block[s])
            goto fail;
        c->nsets = s + 1;
        size_t off = 0;
        for (int i = 0; i < c->nbuf; i++) {
            c->p[s][i] = c->floats[i] ? c->block[s] + off : NULL;
            off += align64(c->floats[i]);
        }
    }
    size_t most = 1;
    for (int i = 0; i < c->nbuf; i++)
        most = c->floats[i] > most ? c->floats[i] : most;
    float *h = malloc(most * sizeof *h);
    if (!h) {
        fprintf(stderr, "gpu_ops_bench: out of host memory\n");
        gpu_ops_free_sets(c);
        return 0;
    }
    for (int i = 0; i < c->nbuf; i++) {
        if (!c->floats[i])
            continue;
        for (size_t j = 0; j < c->floats[i]; j++) {
            float u = dr_philox_uniform(7u, (uint32_t)(100 + i), 0, (uint64_t)j);
            h[j] = c->fill[i] == FILL_ZERO      ? 0.0f
                   : c->fill[i] == FILL_ONE     ? 1.0f
                   : c->fill[i] == FILL_LABEL   ? (u < 0.187f ? 1.0f : 0.0f)
                                                : c->scale[i] * (2.0f * u - 1.0f);
        }
        c->ops->to_device(c->be, c->p[0][i], h, c->floats[i] * sizeof(float));
    }
    free(h);
    for (int s = 1; s < c->nsets; s++)
        c->ops->copy(c->be, c->block[s], c->block[0], set_bytes);
    if (c->scratch)
        c->ops->zero(c->be, c->scratch, c->scratch_floats * sizeof(float));
    if (dr_backend_sync(c->be) != DR_OK)
        goto fail;
    return 1;
fail:
    printf("%-9s %-6s %-26s FAILED to set up: %s\n", c->op, c->impl, c->shape, dr_last_error());
    gpu_ops_free_sets(c);
    return 0;
}

/* ---- the ops: each call through the backend's op table ---- */
enum { CV_X, CV_W, CV_B, CV_OUT, CV_DOUT, CV_DX, CV_DW, CV_DB };
static void conv_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, Cin, Cout, L, K, need_dx */
    c->ops->conv1d_forward(c->be, p[CV_OUT], c->scratch, p[CV_X], p[CV_W], p[CV_B], a[0], a[1],
                           a[2], a[3], a[4]);
}
static void conv_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    c->ops->conv1d_backward(c->be, p[CV_DX], p[CV_DW], p[CV_DB], c->scratch, p[CV_DOUT], p[CV_X],
                            p[CV_W], a[0], a[1], a[2], a[3], a[4]);
}

enum { LN_X, LN_W, LN_B, LN_OUT, LN_DOUT, LN_DX, LN_DW, LN_DB };
static void lin_fwd(opcase *c, float *const *p)
{
    c->ops->linear_forward(c->be, p[LN_OUT], p[LN_X], p[LN_W], p[LN_B], c->ia[0], c->ia[1],
                           c->ia[2]);
}
static void lin_bwd(opcase *c, float *const *p)
{
    c->ops->linear_backward(c->be, p[LN_DX], p[LN_DW], p[LN_DB], p[LN_DOUT], p[LN_X], p[LN_W],
                            c->ia[0], c->ia[1], c->ia[2]);
}

enum { BN_X, BN_OUT, BN_MEAN, BN_RSTD, BN_RM, BN_RV, BN_G, BN_BETA, BN_DOUT, BN_DX, BN_DG, BN_DB };
static void bn_fwd(opcase *c, float *const *p)
{
    c->ops->batchnorm_forward_train(c->be, p[BN_OUT], p[BN_MEAN], p[BN_RSTD], p[BN_RM], p[BN_RV],
                                    p[BN_X], p[BN_G], p[BN_BETA], c->ia[0], c->ia[1], c->ia[2],
                                    1e-5f, 0.1f);
}
static void bn_bwd(opcase *c, float *const *p)
{
    c->ops->batchnorm_backward(c->be, p[BN_DX], p[BN_DG], p[BN_DB], p[BN_DOUT], p[BN_X], p[BN_MEAN],
                               p[BN_RSTD], p[BN_G], c->ia[0], c->ia[1], c->ia[2]);
}

enum { RL_X, RL_OUT, RL_DOUT, RL_DX };
static void relu_fwd(opcase *c, float *const *p)
{
    c->ops->relu_forward(c->be, p[RL_OUT], p[RL_X], c->n);
}
static void relu_bwd(opcase *c, float *const *p)
{
    c->ops->relu_backward(c->be, p[RL_DX], p[RL_DOUT], p[RL_OUT], c->n);
}
static void sigmoid_fwd(opcase *c, float *const *p)
{
    c->ops->sigmoid_forward(c->be, p[RL_OUT], p[RL_X], c->n);
}

/* the residual add; its backward is the graph's: one axpy into each input's gradient */
enum { AD_A, AD_B, AD_OUT, AD_DOUT, AD_DA, AD_DB };
static void add_fwd(opcase *c, float *const *p)
{
    c->ops->add(c->be, p[AD_OUT], p[AD_A], p[AD_B], c->n);
}
static void add_bwd(opcase *c, float *const *p)
{
    c->ops->axpy(c->be, p[AD_DA], 1.0f, p[AD_DOUT], c->n);
    c->ops->axpy(c->be, p[AD_DB], 1.0f, p[AD_DOUT], c->n);
}

enum { MP_X, MP_OUT, MP_ARG, MP_DOUT, MP_DX };
static void pool_fwd(opcase *c, float *const *p)
{
    c->ops->maxpool1d_forward(c->be, p[MP_OUT], (int32_t *)p[MP_ARG], p[MP_X], c->ia[0], c->ia[1],
                              c->ia[2], c->ia[3]);
}
static void pool_bwd(opcase *c, float *const *p)
{
    c->ops->maxpool1d_backward(c->be, p[MP_DX], p[MP_DOUT], (const int32_t *)p[MP_ARG], c->ia[0],
                               c->ia[1], c->ia[2], c->ia[3]);
}

enum { DO_X, DO_OUT, DO_MASK, DO_DOUT, DO_DX };
static void drop_fwd(opcase *c, float *const *p)
{
    c->ops->dropout_forward(c->be, p[DO_OUT], p[DO_MASK], p[DO_X], c->n, 0.5f, 1u, 7u,
                            c->counter++);
}
static void drop_bwd(opcase *c, float *const *p)
{
    c->ops->dropout_backward(c->be, p[DO_DX], p[DO_DOUT], p[DO_MASK], c->n);
}

/* concat: a [rows, cols] block into columns off.. of a [rows, ld] row (fwd) and
 * its gradient back (bwd, accumulated); slice: the reverse, forward only */
enum { CP_SMALL, CP_BIG, CP_DSMALL, CP_DBIG };
static void concat_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* rows, cols, ld, off */
    c->ops->copy2d(c->be, p[CP_BIG] + a[3], a[2], p[CP_SMALL], a[1], a[0], a[1], 0);
}
static void concat_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    c->ops->copy2d(c->be, p[CP_DSMALL], a[1], p[CP_DBIG] + a[3], a[2], a[0], a[1], 1);
}
static void slice_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    c->ops->copy2d(c->be, p[CP_SMALL], a[1], p[CP_BIG] + a[3], a[2], a[0], a[1], 0);
}

enum { LS_X, LS_WIH, LS_WHH, LS_B, LS_H, LS_C, LS_G, LS_DH, LS_DWIH, LS_DWHH, LS_DB };
static void lstm_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, T, I, H */
    c->ops->lstm_forward(c->be, p[LS_H], p[LS_C], p[LS_G], p[LS_X], p[LS_WIH], p[LS_WHH], p[LS_B],
                         a[0], a[1], a[2], a[3]);
}
static void lstm_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    c->ops->lstm_backward(c->be, NULL, p[LS_DWIH], p[LS_DWHH], p[LS_DB], c->scratch, p[LS_DH],
                          p[LS_X], p[LS_H], p[LS_C], p[LS_G], p[LS_WIH], p[LS_WHH], a[0], a[1],
                          a[2], a[3]);
}

enum { AT_H, AT_W, AT_B, AT_V, AT_CTX, AT_ALPHA, AT_U, AT_DCTX, AT_DH, AT_DW, AT_DB, AT_DV };
static void att_fwd(opcase *c, float *const *p)
{
    const int *a = c->ia; /* B, T, H, A */
    c->ops->attention_forward(c->be, p[AT_CTX], p[AT_ALPHA], p[AT_U], p[AT_H], p[AT_W], p[AT_B],
                              p[AT_V], a[0], a[1], a[2], a[3]);
}
static void att_bwd(opcase *c, float *const *p)
{
    const int *a = c->ia;
    c->ops->attention_backward(c->be, p[AT_DH], p[AT_DW], p[AT_DB], p[AT_DV], c->scratch,
                               p[AT_DCTX], p[AT_H], p[AT_W], p[AT_V], p[AT_U], p[AT_ALPHA], a[0],
                               a[1], a[2], a[3]);
}

enum { LO_Z, LO_Y, LO_PER, LO_LOSS, LO_DZ };
static void loss_fwd(opcase *c, float *const *p)
{
    c->ops->loss_forward(c->be, p[LO_LOSS], p[LO_PER], p[LO_Z], p[LO_Y], c->ia[0], c->lp);
}
static void loss_bwd(opcase *c, float *const *p)
{
    c->ops->loss_backward(c->be, p[LO_DZ], p[LO_Z], p[LO_Y], c->ia[0], c->lp, 1.0f);
}

enum { AM_P, AM_G, AM_M, AM_V };
static void adam_upd(opcase *c, float *const *p)
{
    c->hp.step++;
    c->ops->adam_update(c->be, p[AM_P], p[AM_G], p[AM_M], p[AM_V], c->n, &c->hp);
}

/* ---- the network's cases ---- */
static opcase new_case(dr_backend *be, const char *op, int calls, op_fn *fwd, op_fn *bwd)
{
    opcase c;
    memset(&c, 0, sizeof c);
    c.be = be, c.ops = be->ops;
    c.op = op, c.impl = "-", c.calls = calls, c.fwd = fwd, c.bwd = bwd;
    c.pass[0] = "fwd", c.pass[1] = "bwd";
    c.is_default = 1;
    c.lp = (dr_loss_params){.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f};
    c.hp = (dr_adam_params){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    return c;
}

static opcase conv_case(dr_backend *be, int Cin, int Cout, int K)
{
    const int B = BATCH, L = 20, need_dx = Cin > 1; /* Cin = 1: the input is data */
    opcase c = new_case(be, "conv1d", 4, conv_fwd, conv_bwd);
    memcpy(c.ia, (int[]){B, Cin, Cout, L, K, need_dx}, sizeof(int) * 6);
    snprintf(c.shape, sizeof c.shape, "%d->%d L=%d K=%d%s", Cin, Cout, L, K, need_dx ? "" : " no dx");
    size_t nx = (size_t)B * Cin * L, ny = (size_t)B * Cout * L, nw = (size_t)Cout * Cin * K;
    float bound = 1.0f / sqrtf((float)(Cin * K));
    buf(&c, CV_X, nx, FILL_UNIFORM, 1), buf(&c, CV_W, nw, FILL_UNIFORM, bound);
    buf(&c, CV_B, Cout, FILL_UNIFORM, bound), buf(&c, CV_OUT, ny, FILL_ZERO, 0);
    buf(&c, CV_DOUT, ny, FILL_UNIFORM, 1), buf(&c, CV_DX, need_dx ? nx : 0, FILL_ZERO, 0);
    buf(&c, CV_DW, nw, FILL_ZERO, 0), buf(&c, CV_DB, Cout, FILL_ZERO, 0);
    c.scratch_floats = c.ops->conv1d_scratch(B, Cin, Cout, L, K);
    double F = 2.0 * B * L * Cout * Cin * K;
    c.flop = 1, c.work[0] = F, c.work[1] = need_dx ? 2 * F : F;
    return c;
}

static opcase linear_case(dr_backend *be, int C, int OC)
{
    opcase c = new_case(be, "linear", 1, lin_fwd, lin_bwd);
    memcpy(c.ia, (int[]){BATCH, C, OC}, sizeof(int) * 3);
    snprintf(c.shape, sizeof c.shape, "%d->%d", C, OC);
    size_t nx = (size_t)BATCH * C, ny = (size_t)BATCH * OC, nw = (size_t)OC * C;
    float bound = 1.0f / sqrtf((float)C);
    buf(&c, LN_X, nx, FILL_UNIFORM, 1), buf(&c, LN_W, nw, FILL_UNIFORM, bound);
    buf(&c, LN_B, OC, FILL_UNIFORM, bound), buf(&c, LN_OUT, ny, FILL_ZERO, 0);
    buf(&c, LN_DOUT, ny, FILL_UNIFORM, 1), buf(&c, LN_DX, nx, FILL_ZERO, 0);
    buf(&c, LN_DW, nw, FILL_ZERO, 0), buf(&c, LN_DB, OC, FILL_ZERO, 0);
    double F = 2.0 * BATCH * C * OC;
    c.flop = 1, c.work[0] = F, c.work[1] = 2 * F;
    return c;
}

static opcase bn_case(dr_backend *be, int C, int L, int calls)
{
    opcase c = new_case(be, "batchnorm", calls, bn_fwd, bn_bwd);
    memcpy(c.ia, (int[]){BATCH, C, L}, sizeof(int) * 3);
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d", C, L);
    size_t n = (size_t)BATCH * C * L;
    buf(&c, BN_X, n, FILL_UNIFORM, 1), buf(&c, BN_OUT, n, FILL_ZERO, 0);
    buf(&c, BN_MEAN, C, FILL_ZERO, 0), buf(&c, BN_RSTD, C, FILL_ZERO, 0);
    buf(&c, BN_RM, C, FILL_ZERO, 0), buf(&c, BN_RV, C, FILL_ONE, 0);
    buf(&c, BN_G, C, FILL_ONE, 0), buf(&c, BN_BETA, C, FILL_ZERO, 0);
    buf(&c, BN_DOUT, n, FILL_UNIFORM, 1), buf(&c, BN_DX, n, FILL_ZERO, 0);
    buf(&c, BN_DG, C, FILL_ZERO, 0), buf(&c, BN_DB, C, FILL_ZERO, 0);
    c.work[0] = 8.0 * n, c.work[1] = 16.0 * n;
    return c;
}

static opcase relu_case(dr_backend *be, int C, int L, int calls)
{
    opcase c = new_case(be, "relu", calls, relu_fwd, relu_bwd);
    c.n = (long)BATCH * C * L;
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d", C, L);
    buf(&c, RL_X, (size_t)c.n, FILL_UNIFORM, 1), buf(&c, RL_OUT, (size_t)c.n, FILL_ZERO, 0);
    buf(&c, RL_DOUT, (size_t)c.n, FILL_UNIFORM, 1), buf(&c, RL_DX, (size_t)c.n, FILL_ZERO, 0);
    c.work[0] = 8.0 * c.n, c.work[1] = 16.0 * c.n;
    return c;
}

static opcase add_case(dr_backend *be, int C, int L)
{
    opcase c = new_case(be, "add", 4, add_fwd, add_bwd);
    c.n = (long)BATCH * C * L;
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d (residual)", C, L);
    size_t n = (size_t)c.n;
    buf(&c, AD_A, n, FILL_UNIFORM, 1), buf(&c, AD_B, n, FILL_UNIFORM, 1);
    buf(&c, AD_OUT, n, FILL_ZERO, 0), buf(&c, AD_DOUT, n, FILL_UNIFORM, 1);
    buf(&c, AD_DA, n, FILL_ZERO, 0), buf(&c, AD_DB, n, FILL_ZERO, 0);
    c.work[0] = 12.0 * c.n, c.work[1] = 24.0 * c.n;
    return c;
}

static opcase pool_case(dr_backend *be, int C, int L, int K)
{
    opcase c = new_case(be, "maxpool1d", 4, pool_fwd, pool_bwd);
    memcpy(c.ia, (int[]){BATCH, C, L, K}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "C=%d L=%d K=%d", C, L, K);
    size_t nx = (size_t)BATCH * C * L, ny = (size_t)BATCH * C * dr_maxpool1d_out_len(L, K);
    buf(&c, MP_X, nx, FILL_UNIFORM, 1), buf(&c, MP_OUT, ny, FILL_ZERO, 0);
    buf(&c, MP_ARG, ny, FILL_ZERO, 0), buf(&c, MP_DOUT, ny, FILL_UNIFORM, 1);
    buf(&c, MP_DX, nx, FILL_ZERO, 0);
    c.work[0] = 4.0 * nx + 8.0 * ny, c.work[1] = 16.0 * ny;
    return c;
}

static opcase dropout_case(dr_backend *be, int C)
{
    opcase c = new_case(be, "dropout", 1, drop_fwd, drop_bwd);
    c.n = (long)BATCH * C;
    snprintf(c.shape, sizeof c.shape, "n=%dx%d p=0.5", BATCH, C);
    size_t n = (size_t)c.n;
    buf(&c, DO_X, n, FILL_UNIFORM, 1), buf(&c, DO_OUT, n, FILL_ZERO, 0);
    buf(&c, DO_MASK, n, FILL_ZERO, 0), buf(&c, DO_DOUT, n, FILL_UNIFORM, 1);
    buf(&c, DO_DX, n, FILL_ZERO, 0);
    c.work[0] = 12.0 * c.n, c.work[1] = 16.0 * c.n;
    return c;
}

/* concat (slice = 0): [B, cols] into columns off.. of [B, ld]; slice: the reverse */
static opcase copy2d_case(dr_backend *be, int cols, int ld, int off, int calls, int slice)
{
    opcase c =
        new_case(be, "copy2d", calls, slice ? slice_fwd : concat_fwd, slice ? NULL : concat_bwd);
    memcpy(c.ia, (int[]){BATCH, cols, ld, off}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "%s %d of %d", slice ? "slice" : "concat", cols, ld);
    size_t ns = (size_t)BATCH * cols, nb = (size_t)BATCH * ld;
    buf(&c, CP_SMALL, ns, FILL_UNIFORM, 1), buf(&c, CP_BIG, nb, FILL_UNIFORM, 1);
    if (!slice)
        buf(&c, CP_DSMALL, ns, FILL_ZERO, 0), buf(&c, CP_DBIG, nb, FILL_UNIFORM, 1);
    c.work[0] = 8.0 * ns, c.work[1] = 12.0 * ns;
    return c;
}

static opcase lstm_case(dr_backend *be)
{
    const int B = BATCH, T = 12, I = 2, H = 128, G = 4 * H;
    opcase c = new_case(be, "lstm", 1, lstm_fwd, lstm_bwd);
    memcpy(c.ia, (int[]){B, T, I, H}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "T=%d I=%d H=%d no dx", T, I, H);
    size_t nx = (size_t)B * T * I, nh = (size_t)B * T * H;
    float k = 1.0f / sqrtf((float)H); /* PyTorch's initial scale */
    buf(&c, LS_X, nx, FILL_UNIFORM, 1), buf(&c, LS_WIH, (size_t)G * I, FILL_UNIFORM, k);
    buf(&c, LS_WHH, (size_t)G * H, FILL_UNIFORM, k), buf(&c, LS_B, G, FILL_UNIFORM, k);
    buf(&c, LS_H, nh, FILL_ZERO, 0), buf(&c, LS_C, nh, FILL_ZERO, 0);
    buf(&c, LS_G, 4 * nh, FILL_ZERO, 0), buf(&c, LS_DH, nh, FILL_UNIFORM, 1);
    buf(&c, LS_DWIH, (size_t)G * I, FILL_ZERO, 0), buf(&c, LS_DWHH, (size_t)G * H, FILL_ZERO, 0);
    buf(&c, LS_DB, G, FILL_ZERO, 0);
    c.scratch_floats = dr_lstm_scratch_floats(B, T, I, H);
    /* cuDNN's LSTM ("cudnn") keeps one forward's state per shape and refuses a
     * backward of any other forward: the rotating sets' backwards would fail */
    c.bwd_pair = 1;
    c.flop = 1;
    c.work[0] = 2.0 * B * T * G * I + 2.0 * B * (T - 1) * G * H;
    c.work[1] = 2.0 * B * T * G * I + 2.0 * 2.0 * B * (T - 1) * G * H; /* no dx */
    printf("lstm \"custom\" at B=%d H=%d: %s\n", B, H, dr_cuda_lstm_plan_text(be, B, H));
    return c;
}

static opcase attention_case(dr_backend *be)
{
    const int B = BATCH, T = 12, H = 128, A = 128;
    opcase c = new_case(be, "attention", 1, att_fwd, att_bwd);
    memcpy(c.ia, (int[]){B, T, H, A}, sizeof(int) * 4);
    snprintf(c.shape, sizeof c.shape, "T=%d H=%d A=%d", T, H, A);
    size_t nh = (size_t)B * T * H;
    float k = 1.0f / sqrtf((float)H);
    buf(&c, AT_H, nh, FILL_UNIFORM, 1), buf(&c, AT_W, (size_t)A * H, FILL_UNIFORM, k);
    buf(&c, AT_B, A, FILL_UNIFORM, k), buf(&c, AT_V, A, FILL_UNIFORM, k);
    buf(&c, AT_CTX, (size_t)B * H, FILL_ZERO, 0), buf(&c, AT_ALPHA, (size_t)B * T, FILL_ZERO, 0);
    buf(&c, AT_U, (size_t)B * T * A, FILL_ZERO, 0), buf(&c, AT_DCTX, (size_t)B * H, FILL_UNIFORM, 1);
    buf(&c, AT_DH, nh, FILL_ZERO, 0), buf(&c, AT_DW, (size_t)A * H, FILL_ZERO, 0);
    buf(&c, AT_DB, A, FILL_ZERO, 0), buf(&c, AT_DV, A, FILL_ZERO, 0);
    c.scratch_floats = dr_attention_scratch_floats(B, T, H, A);
    c.flop = 1;
    c.work[0] = 2.0 * B * T * A * H + 2.0 * B * T * (A + H);
    c.work[1] = 4.0 * B * T * A * H + 2.0 * B * T * A + 4.0 * B * T * H;
    return c;
}

static opcase sigmoid_case(dr_backend *be)
{
    opcase c = new_case(be, "sigmoid", 1, sigmoid_fwd, NULL);
    c.n = BATCH;
    snprintf(c.shape, sizeof c.shape, "n=%d (probability)", BATCH);
    buf(&c, RL_X, BATCH, FILL_UNIFORM, 3), buf(&c, RL_OUT, BATCH, FILL_ZERO, 0);
    c.work[0] = 8.0 * BATCH;
    return c;
}

static opcase loss_case(dr_backend *be)
{
    opcase c = new_case(be, "loss", 1, loss_fwd, loss_bwd);
    c.ia[0] = BATCH;
    snprintf(c.shape, sizeof c.shape, "B=%d a=0.7 gamma=2", BATCH);
    buf(&c, LO_Z, BATCH, FILL_UNIFORM, 3), buf(&c, LO_Y, BATCH, FILL_LABEL, 0);
    buf(&c, LO_PER, BATCH, FILL_ZERO, 0), buf(&c, LO_LOSS, 1, FILL_ZERO, 0);
    buf(&c, LO_DZ, BATCH, FILL_ZERO, 0);
    c.work[0] = 12.0 * BATCH + 4, c.work[1] = 16.0 * BATCH;
    return c;
}

static opcase adam_case(dr_backend *be, long params)
{
    opcase c = new_case(be, "adam", 1, adam_upd, NULL);
    c.pass[0] = "update";
    c.n = params;
    snprintf(c.shape, sizeof c.shape, "P=%ld (all params)", params);
    buf(&c, AM_P, (size_t)params, FILL_UNIFORM, 0.1f), buf(&c, AM_G, (size_t)params, FILL_UNIFORM, 1);
    buf(&c, AM_M, (size_t)params, FILL_ZERO, 0), buf(&c, AM_V, (size_t)params, FILL_ZERO, 0);
    c.work[0] = 28.0 * params;
    return c;
}

/* The parameter count of the paper's network, from models/hybrid.c itself (built
 * on the CPU backend for one row: nothing on the GPU). */
long gpu_ops_network_params(void)
{
    dr_hybrid_config cfg = {.n_groups = 4, .group_size = {20, 20, 20, 20}, .filters = {64, 128, 256},
                            .kernel = {3, 3, 3}, .pool = 2, .lstm_units = 128, .attention_dim = 128,
                            .seq_len = 12, .seq_channels = 2, .n_fc = 2, .fc = {256, 64},
                            .dropout = 0.5f,
                            .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1.0f, .w_neg = 1.0f}};
    dr_backend *cpu = NULL;
    dr_hybrid m;
    if (dr_backend_create(&cpu, "cpu") != DR_OK || dr_hybrid_build(&m, cpu, &cfg, 1, 1) != DR_OK) {
        fprintf(stderr, "gpu_ops_bench: building the network for its parameter count: %s\n",
                dr_last_error());
        dr_backend_free(cpu);
        return -1;
    }
    long n = dr_graph_param_count(m.g);
    dr_hybrid_free(&m);
    dr_backend_free(cpu);
    return n;
}

static int want(const char *op, const char *only) { return strncmp(op, only, strlen(only)) == 0; }

int gpu_ops_network_cases(dr_backend *be, const char *only, long params, gpu_ops_run_fn *run)
{
    int alive = 1;
    /* one CNN branch (x4): three residual blocks, the conv and its 1x1 projection */
    const int io[3][2] = {{1, 64}, {64, 128}, {128, 256}};
    for (int i = 0; i < 3 && alive && want("conv1d", only); i++)
        alive = run(conv_case(be, io[i][0], io[i][1], 3)) &&
                run(conv_case(be, io[i][0], io[i][1], 1));
    for (int i = 0; i < 3 && alive && want("batchnorm", only); i++)
        alive = run(bn_case(be, io[i][1], 20, 4));
    for (int i = 0; i < 3 && alive && want("relu", only); i++)
        alive = run(relu_case(be, io[i][1], 20, 4));
    for (int i = 0; i < 3 && alive && want("add", only); i++)
        alive = run(add_case(be, io[i][1], 20));
    if (alive && want("maxpool1d", only))
        alive = run(pool_case(be, 256, 20, 2)) && run(pool_case(be, 256, 10, 10));
    if (alive && want("copy2d", only))
        alive = run(copy2d_case(be, 20, 80, 20, 4, 1)) &&
                run(copy2d_case(be, 256, 4 * 256 + 128, 256, 4, 0)) &&
                run(copy2d_case(be, 128, 4 * 256 + 128, 4 * 256, 1, 0));
    if (alive && want("lstm", only))
        alive = run(lstm_case(be));
    if (alive && want("attention", only))
        alive = run(attention_case(be));
    /* the head: FC 1152 -> 256 -> 64 (BN, ReLU, dropout each) -> 1 */
    const int fc[3][2] = {{4 * 256 + 128, 256}, {256, 64}, {64, 1}};
    for (int i = 0; i < 3 && alive && want("linear", only); i++)
        alive = run(linear_case(be, fc[i][0], fc[i][1]));
    for (int i = 0; i < 2 && alive && want("batchnorm", only); i++)
        alive = run(bn_case(be, fc[i][1], 1, 1));
    for (int i = 0; i < 2 && alive && want("relu", only); i++)
        alive = run(relu_case(be, fc[i][1], 1, 1));
    for (int i = 0; i < 2 && alive && want("dropout", only); i++)
        alive = run(dropout_case(be, fc[i][1]));
    if (alive && want("sigmoid", only))
        alive = run(sigmoid_case(be));
    if (alive && want("loss", only))
        alive = run(loss_case(be));
    if (alive && want("adam", only))
        alive = run(adam_case(be, params));
    return alive;
}
