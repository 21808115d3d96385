// Multi-scale deformable attention (MSDA): the sampling op of the deformable encoder/decoder.
//
// Shapes (docs/numerical-contract.md §B.1):
//   value             [N, S, M, D]        float (S = Σ_l H_l·W_l, levels flattened row-major)
//   spatialShapes     [L, 2]              int64 (H_l, W_l)
//   levelStartIndex   [L]                 int64 (exclusive prefix sum of H_l·W_l)
//   samplingLocations [N, Q, M, L, P, 2]  float, (x, y) normalised; x·W − 0.5 is the pixel column
//   attentionWeights  [N, Q, M, L, P]     float
//   output            [N, Q, M·D]         channel index m·D + d
// Bilinear sampling with zero padding outside the map (grid_sample, align_corners=false).
//
// Layers: msDeformAttn() is the autograd-aware entry the model uses; msDeformAttnForward() /
// msDeformAttnBackward() validate and dispatch by device to the CPU kernel (msda_cpu.cpp) or
// the CUDA kernel (msda_cuda_glue.cpp → msda_cuda_kernels.cu).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace adetr::ops {

// The three gradients of the op (no gradient flows to spatialShapes / levelStartIndex).
struct MsDeformAttnGrads {
  at::Tensor gradValue;              // [N, S, M, D], value's dtype
  at::Tensor gradSamplingLocations;  // [N, Q, M, L, P, 2]
  at::Tensor gradAttentionWeights;   // [N, Q, M, L, P]
};

// Sizes read off validated arguments.
struct MsDeformAttnDims {
  int64_t batch = 0;     // N
  int64_t valueLen = 0;  // S
  int64_t heads = 0;     // M
  int64_t channels = 0;  // D (per head)
  int64_t queries = 0;   // Q
  int64_t levels = 0;    // L
  int64_t points = 0;    // P
};

// Checks every argument (rank, dtype, device, sizes that must agree, level shapes against the
// value length and the start index); throws adetr::ArgError naming the argument.
// `gradOutput` is checked too when defined. Returns the sizes.
MsDeformAttnDims validateMsDeformAttn(const at::Tensor& value, const at::Tensor& spatialShapes,
                                      const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                      const at::Tensor& attentionWeights, const at::Tensor& gradOutput = {});

// Forward without autograd: validates, then runs the CPU or CUDA kernel. Returns [N, Q, M·D].
at::Tensor msDeformAttnForward(const at::Tensor& value, const at::Tensor& spatialShapes,
                               const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                               const at::Tensor& attentionWeights);

// Backward without autograd: validates, then runs the CPU or CUDA kernel.
MsDeformAttnGrads msDeformAttnBackward(const at::Tensor& value, const at::Tensor& spatialShapes,
                                       const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                       const at::Tensor& attentionWeights, const at::Tensor& gradOutput);

// The op with autograd: gradients flow to value, samplingLocations and attentionWeights.
// (Its backward is not itself differentiable: no double backward.)
at::Tensor msDeformAttn(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                        const at::Tensor& samplingLocations, const at::Tensor& attentionWeights);

namespace detail {

// Device kernels. Arguments are validated, contiguous, on one device, of one floating dtype;
// spatialShapes / levelStartIndex are int64 on the kernel's device.
at::Tensor msdaForwardCpu(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                          const at::Tensor& samplingLocations, const at::Tensor& attentionWeights,
                          const MsDeformAttnDims& dims);
MsDeformAttnGrads msdaBackwardCpu(const at::Tensor& value, const at::Tensor& spatialShapes,
                                  const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                  const at::Tensor& attentionWeights, const at::Tensor& gradOutput,
                                  const MsDeformAttnDims& dims);

// Defined in msda_cuda_glue.cpp, built only with a CUDA libtorch (ADETR_WITH_CUDA).
at::Tensor msdaForwardCuda(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                           const at::Tensor& samplingLocations, const at::Tensor& attentionWeights,
                           const MsDeformAttnDims& dims);
MsDeformAttnGrads msdaBackwardCuda(const at::Tensor& value, const at::Tensor& spatialShapes,
                                   const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                   const at::Tensor& attentionWeights, const at::Tensor& gradOutput,
                                   const MsDeformAttnDims& dims);

}  // namespace detail
}  // namespace adetr::ops
