/* Fully connected layer on the GPU (contract in core/ops/linear.h): the products
 * go to cuBLAS, the bias and its gradient are small kernels.
 * Also home of dr_cuda_gemm_rm, the row-major GEMM every op file uses. */
#include "kernels/cuda/common.cuh"

int dr_cuda_gemm_rm(dr_cuda_context *ctx, int trans_a, int trans_b, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                    float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return 1;
    /* K = 0: C = beta C, which cuBLAS also does; it needs lda, ldb >= 1 though */
    cublasOperation_t oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    /* fp32 data in and out whatever the math (dr_backend_math_names' order):
     * "tf32" and "bf16" only let the tensor cores round the operands, and sum
     * in fp32 */
    static const cublasComputeType_t compute[] = {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32,
                                                  CUBLAS_COMPUTE_32F_FAST_16BF};
    return DR_CUBLAS_CHECK(ctx, cublasGemmEx(ctx->cublas, ob, oa, N, M, K, &alpha, B, CUDA_R_32F,
                                             ldb, A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc,
                                             compute[ctx->math], CUBLAS_GEMM_DEFAULT));
}

/* out[r, o] += b[o] over rows x cols */
static __global__ void add_bias_rows(float *out, const float *b, long rows, int cols)
{
    long n = rows * cols;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n;
         i += (long)gridDim.x * blockDim.x)
        out[i] += b[i % cols];
}

extern "C" void dr_cuda_linear_forward(dr_backend *be, float *out, const float *x, const float *w,
                                       const float *b, int B, int C, int OC)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || OC <= 0)
        return;
    /* out [B, OC] = x [B, C] w^T */
    if (C > 0) {
        if (!dr_cuda_gemm_rm(ctx, 0, 1, B, OC, C, 1.0f, x, C, w, C, 0.0f, out, OC))
            return;
    } else if (!DR_CUDA_CHECK(ctx, cudaMemsetAsync(out, 0, (size_t)B * OC * sizeof *out,
                                                   ctx->stream))) {
        return;
    }
    if (b) {
        long n = (long)B * OC;
        add_bias_rows<<<dr_cuda_blocks(n), DR_CUDA_THREADS, 0, ctx->stream>>>(out, b, B, OC);
        DR_CUDA_LAUNCH_CHECK(ctx, "add_bias_rows");
    }
}

extern "C" void dr_cuda_linear_backward(dr_backend *be, float *dx, float *dw, float *db,
                                        const float *dout, const float *x, const float *w, int B,
                                        int C, int OC)
{
    dr_cuda_context *ctx = dr_cuda_ctx(be);
    if (B <= 0 || OC <= 0)
        return;
    if (C > 0) {
        /* dx [B, C] += dout [B, OC] w [OC, C] */
        if (dx && !dr_cuda_gemm_rm(ctx, 0, 0, B, C, OC, 1.0f, dout, OC, w, C, 1.0f, dx, C))
            return;
        /* dw [OC, C] += dout^T [OC, B] x [B, C] */
        if (!dr_cuda_gemm_rm(ctx, 1, 0, OC, C, B, 1.0f, dout, OC, x, C, 1.0f, dw, C))
            return;
    }
    if (db)
        dr_cuda_colsum_add(ctx, db, dout, B, OC, OC);
}
