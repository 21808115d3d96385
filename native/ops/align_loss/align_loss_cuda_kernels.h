// Fused classification-loss CUDA kernels behind a raw-pointer interface (no ATen), so the .cu
// compiles with nvcc alone:
//   nvcc -c -std=c++17 -I native native/ops/align_loss/align_loss_cuda_kernels.cu
// align_loss_cuda_glue.cpp turns at::Tensors into this call. Every pointer is a contiguous
// device buffer of n entries (the layout of align_loss.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace adetr::ops::cuda {

// Element type of logits and of the gradient. Float32 / Float16 / BFloat16 compute in float32,
// Float64 in float64 (the "compute type"); target / weights / lossOut are in the compute type.
enum class AlignLossType { Float32, Float64, Float16, BFloat16 };

struct AlignLossArgs {
  int kind;  // align_math::Kind (the order of AlignLossKind)
  double gamma, focalAlpha, vflAlpha, qflBeta;
};

// Number of float64 partial sums the caller must provide in `partials` for n entries.
int64_t alignLossPartialCount(int64_t n);

// One pass: grad[i] = ∂loss/∂logits[i] (skipped when grad is null), loss sums per block into
// `partials` (float64, alignLossPartialCount(n) entries, no zeroing needed), then a second kernel
// adds the partials in a fixed order into *lossOut (compute type). Deterministic for a given n.
// weights may be null (all ones).
cudaError_t alignLossForwardBackward(AlignLossType type, const void* logits, const void* target, const bool* positive,
                                     const void* weights, int64_t n, const AlignLossArgs& args, void* grad,
                                     double* partials, void* lossOut, cudaStream_t stream);

}  // namespace adetr::ops::cuda
