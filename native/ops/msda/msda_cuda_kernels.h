// MSDA CUDA kernels behind a raw-pointer interface (no ATen), so the .cu compiles with nvcc
// alone: `nvcc -c -std=c++17 -I native native/ops/msda/msda_cuda_kernels.cu`.
// msda_cuda_glue.cpp turns at::Tensors into these calls. Layouts are those of msda.h; every
// pointer is a contiguous device buffer.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace adetr::ops::cuda {

// Element type of value / samplingLocations / attentionWeights / gradOutput / outputs.
// float16 and bfloat16 accumulate in float32; float64 in float64.
enum class MsdaType { Float32, Float64, Float16, BFloat16 };

struct MsdaSizes {
  int64_t batch;     // N
  int64_t valueLen;  // S
  int64_t heads;     // M
  int64_t channels;  // D
  int64_t queries;   // Q
  int64_t levels;    // L
  int64_t points;    // P
};

// output[N, Q, M·D] = MSDA(value, ...). shapes [L,2] and starts [L] are int64 device arrays.
cudaError_t msdaForward(MsdaType type, const void* value, const int64_t* shapes, const int64_t* starts,
                        const void* samplingLocations, const void* attentionWeights, void* output,
                        const MsdaSizes& sizes, cudaStream_t stream);

// Gradients. gradValueAcc is [N, S, M, D] in the accumulation type (float for Float32 /
// Float16 / BFloat16, double for Float64) and must be zeroed by the caller; the kernel adds
// into it atomically. gradSamplingLocations / gradAttentionWeights (element type `type`) are
// written in full (zero for samples outside every map).
cudaError_t msdaBackward(MsdaType type, const void* value, const int64_t* shapes, const int64_t* starts,
                         const void* samplingLocations, const void* attentionWeights, const void* gradOutput,
                         void* gradValueAcc, void* gradSamplingLocations, void* gradAttentionWeights,
                         const MsdaSizes& sizes, cudaStream_t stream);

}  // namespace adetr::ops::cuda
