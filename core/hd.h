/* Host + device inline marker: per-element math written once and compiled for
 * both backends, so the CPU tests cover what the CUDA kernels compute. */
#ifndef DR_HD_H
#define DR_HD_H
#ifdef __CUDACC__
#define DR_HD static __host__ __device__ __forceinline__
#else
#define DR_HD static inline
#endif
#endif
