// Device conversions between a CUDA element type and its compute type (compute_type.h):
// toCompute widens float16 / bfloat16 to float32, fromCompute<T> rounds back to nearest.
// Only for .cu files (nvcc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/compute_type.h"

namespace adetr {

__device__ __forceinline__ float toCompute(float v) { return v; }
__device__ __forceinline__ double toCompute(double v) { return v; }
__device__ __forceinline__ float toCompute(__half v) { return __half2float(v); }
__device__ __forceinline__ float toCompute(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromCompute(ComputeType<T> v);
template <>
__device__ __forceinline__ float fromCompute<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ double fromCompute<double>(double v) {
  return v;
}
template <>
__device__ __forceinline__ __half fromCompute<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromCompute<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

}  // namespace adetr
