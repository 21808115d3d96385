// The type a kernel computes and accumulates in for element type T: float64 stays float64; every
// other floating type (float32, float16, bfloat16 — c10's or CUDA's) computes in float32.
// Plain C++, shared by the CPU kernels (g++) and the CUDA kernels (nvcc).
#pragma once

namespace adetr {

template <typename T>
struct ComputeOf {
  using type = float;
};
template <>
struct ComputeOf<double> {
  using type = double;
};

template <typename T>
using ComputeType = typename ComputeOf<T>::type;

}  // namespace adetr
