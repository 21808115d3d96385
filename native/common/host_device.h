// Markers for small functions shared by the CPU kernels (g++) and the CUDA kernels (nvcc).
//   ADETR_HD         host-and-device and force-inlined under nvcc; a plain inline function under g++.
//   ADETR_HD_INLINE  the same, but always inlined under g++ too: for helpers of hot loops that are
//                    compiled per ISA with target_clones, into which GCC does not inline a plain
//                    inline function (the call would also miss the clone's instructions).
#pragma once

#ifdef __CUDACC__
#define ADETR_HD __host__ __device__ __forceinline__
#define ADETR_HD_INLINE __host__ __device__ __forceinline__
#else
#define ADETR_HD inline
#define ADETR_HD_INLINE inline __attribute__((always_inline))
#endif
