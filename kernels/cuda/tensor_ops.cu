/* Data movement and sums on the GPU (contract in core/ops/tensor_ops.h), plus the
 * column-sum helper the bias gradients use. All memory-bound: one pass, grid-
 * stride loops, coalesced along the contiguous dimension. */
#include "kernels/cuda/common.cuh"

/* Columns per block and row-slices per column: a block of 32 x 8 threads sums 32
 * adjacent columns (coalesced rows), each of the 8 thread rows taking every 8th
 * matrix row; the 8 partial sums are then added in shared memory in a fixed order. */
enum { CS_COLS = 32, CS_ROWS = 8 };

static __global__ void colsum_add_kernel(float *out, const float *m, long rows, int cols, long ld)
{
    __shared__ float part[CS_ROWS][CS_COLS];
    int c = blockIdx.x * CS_COLS + threadIdx.x;
    float s = 0.0f;
    if (c < cols)
        for (long r = threadIdx.y; r < rows; r += CS_ROWS)
            s += m[r * ld + c];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float t = 0.0f;
        for (int k = 0; k < CS_ROWS; k++)
            t += part[k][threadIdx.x];
        out[c] += t;
    }
}

int dr_cuda_colsum_add(dr_cuda_context *ctx, float *out, const float *m, long rows, int cols,
                       long ld)
{
    if (rows <= 0 || cols <= 0)
        return 1;
    dim3 block(CS_COLS, CS_ROWS);
    unsigned grid = (unsigned)((cols + CS_COLS - 1) / CS_COLS);
    colsum_add_kernel<<<grid, block, 0, ctx->stream>>>(out, m, rows, cols, ld);
    return DR_CUDA_LAUNCH_CHECK(ctx, "colsum_add_kernel");
}

static __global__ void copy2d_kernel(float *dst, long ld_dst, const float *src, long ld_src,
                                     long rows, long cols, int accumulate)
{
    GRID_LOOP(i, rows * cols)
    {
        long r = i / cols, c = i % cols;
        float v = src[r * ld_src + c];
        if (accumulate)
            dst[r * ld_dst + c] += v;
        else
            dst[r * ld_dst + c] = v;
    }
}

extern "C" void dr_cuda_copy2d(dr_backend *be, float *dst, long ld_dst, const float *src,
                               long ld_src, long rows, long cols, int accumulate)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (rows <= 0 || cols <= 0)
        return;
    if (!accumulate) {
        if (dst == src && ld_dst == ld_src)
            return; /* in place: nothing to move (the CPU skips it too) */
        DR_CUDA_CHECK(ctx, cudaMemcpy2DAsync(dst, (size_t)ld_dst * sizeof(float), src,
                                             (size_t)ld_src * sizeof(float),
                                             (size_t)cols * sizeof(float), (size_t)rows,
                                             cudaMemcpyDeviceToDevice, ctx->stream));
        return;
    }
    copy2d_kernel<<<dr_cuda_blocks(rows * cols), DR_CUDA_THREADS, 0, ctx->stream>>>(
        dst, ld_dst, src, ld_src, rows, cols, accumulate);
    DR_CUDA_LAUNCH_CHECK(ctx, "copy2d_kernel");
}

static __global__ void add_kernel(float *out, const float *a, const float *b, long n)
{
    GRID_LOOP(i, n) out[i] = a[i] + b[i];
}

extern "C" void dr_cuda_add(dr_backend *be, float *out, const float *a, const float *b, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    add_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(out, a, b, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "add_kernel");
}

static __global__ void axpy_kernel(float *y, float alpha, const float *x, long n)
{
    /* __fmul_rn keeps nvcc from fusing into an FMA, so the result rounds as the
     * CPU's y + alpha * x does (GCC does not contract in ISO C mode) */
    GRID_LOOP(i, n) y[i] = y[i] + __fmul_rn(alpha, x[i]);
}

extern "C" void dr_cuda_axpy(dr_backend *be, float *y, float alpha, const float *x, long n)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (n <= 0)
        return;
    axpy_kernel<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(y, alpha, x, n);
    DR_CUDA_LAUNCH_CHECK(ctx, "axpy_kernel");
}

/* out [B, N, M] (= or +=) x [B, M, N]^T through a 32 x 33 shared tile (the extra
 * column avoids bank conflicts), so both the reads and the writes are coalesced.
 * Blocks of 32 x 8 threads; grid (ceil(N/32), ceil(M/32), B). */
enum { TP_TILE = 32, TP_ROWS = 8 };

static __global__ void transpose_kernel(float *out, const float *x, int M, int N, int accumulate)
{
    __shared__ float tile[TP_TILE][TP_TILE + 1];
    const float *xb = x + (size_t)blockIdx.z * M * N;
    float *ob = out + (size_t)blockIdx.z * M * N;
    int n0 = blockIdx.x * TP_TILE, m0 = blockIdx.y * TP_TILE;
    for (int k = threadIdx.y; k < TP_TILE; k += TP_ROWS) {
        int m = m0 + k, n = n0 + threadIdx.x;
        if (m < M && n < N)
            tile[k][threadIdx.x] = xb[(size_t)m * N + n];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < TP_TILE; k += TP_ROWS) {
        int n = n0 + k, m = m0 + threadIdx.x;
        if (m < M && n < N) {
            float v = tile[threadIdx.x][k];
            if (accumulate)
                ob[(size_t)n * M + m] += v;
            else
                ob[(size_t)n * M + m] = v;
        }
    }
}

extern "C" void dr_cuda_transpose(dr_backend *be, float *out, const float *x, int B, int M, int N,
                                  int accumulate)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || M <= 0 || N <= 0)
        return;
    if (B > 65535 || (M + TP_TILE - 1) / TP_TILE > 65535) {
        DR_CUDA_FAIL(ctx, DR_ERR_UNSUPPORTED,
                     "transpose: batch %d or %d row tiles over the grid's 65535", B,
                     (M + TP_TILE - 1) / TP_TILE);
        return;
    }
    dim3 block(TP_TILE, TP_ROWS);
    dim3 grid((unsigned)((N + TP_TILE - 1) / TP_TILE), (unsigned)((M + TP_TILE - 1) / TP_TILE),
              (unsigned)B);
    transpose_kernel<<<grid, block, 0, ctx->stream>>>(out, x, M, N, accumulate);
    DR_CUDA_LAUNCH_CHECK(ctx, "transpose_kernel");
}
