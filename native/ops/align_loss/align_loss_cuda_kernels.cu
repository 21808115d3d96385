// Fused classification-loss CUDA kernels: per-entry loss and gradient (align_loss_math.h) in a
// grid-stride loop, float32 math for float32 / float16 / bfloat16 logits (float64 for float64).
//
// Reduction: each thread adds its entries' losses in float64; a block reduces with warp
// shuffles and a 32-slot shared array and writes one partial sum; a single-block kernel then
// adds the partials in a fixed order. The grid size depends on n only, so the sum is
// bit-identical from run to run (no atomics).
#include "ops/align_loss/align_loss_cuda_kernels.h"

#include "common/cuda_compute_type.cuh"
#include "ops/align_loss/align_loss_math.h"

namespace adetr::ops::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kEntriesPerThread = 4;  // at least this many per thread before adding blocks
constexpr int kMaxBlocks = 1024;
constexpr int kReduceThreads = 1024;

__device__ __forceinline__ double warpSum(double v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024); valid in thread 0.
__device__ __forceinline__ double blockSum(double v) {
  __shared__ double warpSums[32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  v = warpSum(v);
  if (lane == 0) warpSums[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = threadIdx.x < warps ? warpSums[threadIdx.x] : 0.0;
  if (warp == 0) v = warpSum(v);
  return v;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    lossKernel(const T* __restrict__ logits, const ComputeType<T>* __restrict__ target,
               const bool* __restrict__ positive, const ComputeType<T>* __restrict__ weights, int64_t n,
               align_math::Coeffs<ComputeType<T>> c, T* __restrict__ grad, double* __restrict__ partials) {
  using A = ComputeType<T>;
  double sum = 0.0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    A loss, g;
    align_math::elementLoss<A>(c, toCompute(logits[i]), target[i], positive[i], loss, g);
    if (weights != nullptr) {
      const A w = weights[i];
      loss *= w;
      g *= w;
    }
    sum += static_cast<double>(loss);
    if (grad != nullptr) grad[i] = fromCompute<T>(g);
  }
  sum = blockSum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

template <typename A>
__global__ void __launch_bounds__(kReduceThreads)
    finishKernel(const double* __restrict__ partials, int count, A* __restrict__ lossOut) {
  double sum = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = blockSum(sum);
  if (threadIdx.x == 0) *lossOut = static_cast<A>(sum);
}

int blocksFor(int64_t n) {
  const int64_t perBlock = static_cast<int64_t>(kThreads) * kEntriesPerThread;
  const int64_t b = (n + perBlock - 1) / perBlock;
  return static_cast<int>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

template <typename T>
cudaError_t launch(const void* logits, const void* target, const bool* positive, const void* weights, int64_t n,
                   const AlignLossArgs& args, void* grad, double* partials, void* lossOut, cudaStream_t stream) {
  using A = ComputeType<T>;
  const auto c = align_math::makeCoeffs<A>(args.kind, args.gamma, args.focalAlpha, args.vflAlpha, args.qflBeta);
  const int blocks = blocksFor(n);
  lossKernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<const T*>(logits), static_cast<const A*>(target), positive,
                                                 static_cast<const A*>(weights), n, c, static_cast<T*>(grad), partials);
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  finishKernel<A><<<1, kReduceThreads, 0, stream>>>(partials, blocks, static_cast<A*>(lossOut));
  return cudaGetLastError();
}

}  // namespace

int64_t alignLossPartialCount(int64_t n) { return blocksFor(n); }

cudaError_t alignLossForwardBackward(AlignLossType type, const void* logits, const void* target, const bool* positive,
                                     const void* weights, int64_t n, const AlignLossArgs& args, void* grad,
                                     double* partials, void* lossOut, cudaStream_t stream) {
  switch (type) {
    case AlignLossType::Float32:
      return launch<float>(logits, target, positive, weights, n, args, grad, partials, lossOut, stream);
    case AlignLossType::Float64:
      return launch<double>(logits, target, positive, weights, n, args, grad, partials, lossOut, stream);
    case AlignLossType::Float16:
      return launch<__half>(logits, target, positive, weights, n, args, grad, partials, lossOut, stream);
    case AlignLossType::BFloat16:
      return launch<__nv_bfloat16>(logits, target, positive, weights, n, args, grad, partials, lossOut, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace adetr::ops::cuda
