// MSDA CUDA kernels: forward and backward, float32 / float64 / float16 / bfloat16 with
// float32 accumulation for the half types (float64 for float64).
//
// Thread layout (both kernels): a group of G lanes (G a power of two ≤ 32, inside one warp)
// serves one (batch, query, head); each lane owns CPT consecutive channels, read with one
// vector load per corner (16 bytes for float32·4 / half·8). Sampling coordinates and bilinear
// weights are computed once per (sample, lane) instead of once per channel.
//
// Backward: value gradients are atomically added into an accumulation-type buffer (vector
// atomics on sm_90); the location / attention-weight gradients need a sum over the D channels,
// done with __shfl_xor_sync across the group's lanes (no shared memory, no __syncthreads),
// instead of the reference's serial per-block sum.
#include "ops/msda/msda_cuda_kernels.h"

#include "common/cuda_compute_type.cuh"
#include "ops/msda/msda_bilinear.h"

namespace adetr::ops::cuda {
namespace {

constexpr int kBlockThreads = 256;

// CPT channels moved with one aligned vector access.
template <typename T, int CPT>
struct alignas(sizeof(T) * CPT) Pack {
  T v[CPT];
};

// One bilinear sample's geometry: corner offsets (elements, relative to the level's pixel 0
// of this (batch, head)), which corners lie inside, and the weights.
template <typename A>
struct Tap : msda::Bilinear<A> {
  int64_t offset[4];
};

// False when the sample lies wholly outside the H×W map (it then contributes nothing).
template <typename A>
__device__ __forceinline__ bool makeTap(Tap<A>& t, A x, A y, int64_t H, int64_t W, int64_t pixelStride) {
  if (!msda::bilinearCorners(t, x, y, H, W)) return false;
#pragma unroll
  for (int c = 0; c < 4; ++c) t.offset[c] = msda::cornerPixel(t, c, W) * pixelStride;
  return true;
}

template <typename T, int CPT>
__device__ __forceinline__ Pack<T, CPT> loadPack(const T* p) {
  return *reinterpret_cast<const Pack<T, CPT>*>(p);
}

// gradValue[p .. p+CPT) += add[0 .. CPT), with vector atomics where the hardware has them.
template <int CPT, typename A>
__device__ __forceinline__ void atomicAddScalars(A* p, const A (&add)[CPT]) {
#pragma unroll
  for (int k = 0; k < CPT; ++k) atomicAdd(p + k, add[k]);
}

template <int CPT, typename A>
__device__ __forceinline__ void atomicAddPack(A* p, const A (&add)[CPT]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (sizeof(A) == 4 && CPT % 4 == 0) {
#pragma unroll
    for (int k = 0; k < CPT; k += 4)
      atomicAdd(reinterpret_cast<float4*>(p + k), make_float4(add[k], add[k + 1], add[k + 2], add[k + 3]));
  } else if constexpr (sizeof(A) == 4 && CPT == 2) {
    atomicAdd(reinterpret_cast<float2*>(p), make_float2(add[0], add[1]));
  } else {
    atomicAddScalars<CPT>(p, add);
  }
#else
  atomicAddScalars<CPT>(p, add);
#endif
}

struct GroupPos {
  int64_t group;  // flattened (n, q, m)
  int lane;       // lane within the group
  int64_t n, m;
};

__device__ __forceinline__ GroupPos groupPos(int groupSize, const MsdaSizes& s) {
  GroupPos g;
  const int groupsPerBlock = blockDim.x / groupSize;
  g.group = static_cast<int64_t>(blockIdx.x) * groupsPerBlock + threadIdx.x / groupSize;
  g.lane = threadIdx.x % groupSize;
  g.m = g.group % s.heads;
  g.n = g.group / s.heads / s.queries;
  return g;
}

template <typename T, int CPT>
__global__ void __launch_bounds__(kBlockThreads)
    forwardKernel(const T* __restrict__ value, const int64_t* __restrict__ shapes, const int64_t* __restrict__ starts,
                  const T* __restrict__ loc, const T* __restrict__ attn, T* __restrict__ out, MsdaSizes s,
                  int groupSize) {
  using A = ComputeType<T>;
  const GroupPos g = groupPos(groupSize, s);
  if (g.group >= s.batch * s.queries * s.heads) return;  // no collective ops in this kernel
  const int64_t D = s.channels, pixelStride = s.heads * D, chunks = D / CPT;
  const int64_t sampleBase = g.group * s.levels * s.points;
  for (int64_t chunk = g.lane; chunk < chunks; chunk += groupSize) {
    A acc[CPT];
#pragma unroll
    for (int k = 0; k < CPT; ++k) acc[k] = A(0);
    for (int64_t l = 0; l < s.levels; ++l) {
      const int64_t H = __ldg(shapes + 2 * l), W = __ldg(shapes + 2 * l + 1);
      const T* level = value + ((g.n * s.valueLen + __ldg(starts + l)) * s.heads + g.m) * D + chunk * CPT;
      for (int64_t p = 0; p < s.points; ++p) {
        const int64_t si = sampleBase + l * s.points + p;
        Tap<A> t;
        if (!makeTap(t, toCompute(loc[2 * si]), toCompute(loc[2 * si + 1]), H, W, pixelStride)) continue;
        const A a = toCompute(attn[si]);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          if (!t.inside[c]) continue;
          const Pack<T, CPT> v = loadPack<T, CPT>(level + t.offset[c]);
          const A wc = a * t.w[c];
#pragma unroll
          for (int k = 0; k < CPT; ++k) acc[k] += wc * toCompute(v.v[k]);
        }
      }
    }
    Pack<T, CPT> o;
#pragma unroll
    for (int k = 0; k < CPT; ++k) o.v[k] = fromCompute<T>(acc[k]);
    *reinterpret_cast<Pack<T, CPT>*>(out + g.group * D + chunk * CPT) = o;
  }
}

template <typename A>
__device__ __forceinline__ A groupSum(A v, int groupSize) {
  for (int offset = groupSize / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset, groupSize);
  return v;
}

template <typename T, int CPT>
__global__ void __launch_bounds__(kBlockThreads)
    backwardKernel(const T* __restrict__ value, const int64_t* __restrict__ shapes, const int64_t* __restrict__ starts,
                   const T* __restrict__ loc, const T* __restrict__ attn, const T* __restrict__ gradOut,
                   ComputeType<T>* __restrict__ gradValue, T* __restrict__ gradLoc, T* __restrict__ gradAttn,
                   MsdaSizes s, int groupSize) {
  using A = ComputeType<T>;
  const GroupPos g = groupPos(groupSize, s);
  // Lanes past the end stay in the loop (contributing zeros) so every lane of the warp reaches
  // the shuffles.
  const bool active = g.group < s.batch * s.queries * s.heads;
  const int64_t D = s.channels, pixelStride = s.heads * D, chunks = D / CPT;
  const int64_t sampleBase = g.group * s.levels * s.points;
  const T* go = gradOut + g.group * D;
  for (int64_t l = 0; l < s.levels; ++l) {
    const int64_t H = __ldg(shapes + 2 * l), W = __ldg(shapes + 2 * l + 1);
    const int64_t levelOffset = ((g.n * s.valueLen + __ldg(starts + l)) * s.heads + g.m) * D;
    for (int64_t p = 0; p < s.points; ++p) {
      const int64_t si = sampleBase + l * s.points + p;
      A sumS = 0, sumX = 0, sumY = 0, a = 0;
      Tap<A> t;
      bool sampled = false;
      if (active) {
        a = toCompute(attn[si]);
        sampled = makeTap(t, toCompute(loc[2 * si]), toCompute(loc[2 * si + 1]), H, W, pixelStride);
      }
      if (sampled) {
        for (int64_t chunk = g.lane; chunk < chunks; chunk += groupSize) {
          const Pack<T, CPT> gp = loadPack<T, CPT>(go + chunk * CPT);
          A v[4][CPT];
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            if (t.inside[c]) {
              const Pack<T, CPT> pv = loadPack<T, CPT>(value + levelOffset + t.offset[c] + chunk * CPT);
#pragma unroll
              for (int k = 0; k < CPT; ++k) v[c][k] = toCompute(pv.v[k]);
            } else {
#pragma unroll
              for (int k = 0; k < CPT; ++k) v[c][k] = A(0);
            }
          }
          A gd[CPT];
#pragma unroll
          for (int k = 0; k < CPT; ++k) {
            gd[k] = toCompute(gp.v[k]);
            sumS += gd[k] * (t.w[0] * v[0][k] + t.w[1] * v[1][k] + t.w[2] * v[2][k] + t.w[3] * v[3][k]);
            sumX += gd[k] * (t.hh * (v[1][k] - v[0][k]) + t.lh * (v[3][k] - v[2][k]));
            sumY += gd[k] * (t.hw * (v[2][k] - v[0][k]) + t.lw * (v[3][k] - v[1][k]));
          }
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            if (!t.inside[c]) continue;  // outside corners get no value gradient
            A add[CPT];
#pragma unroll
            for (int k = 0; k < CPT; ++k) add[k] = a * t.w[c] * gd[k];
            atomicAddPack<CPT>(gradValue + levelOffset + t.offset[c] + chunk * CPT, add);
          }
        }
      }
      sumS = groupSum(sumS, groupSize);
      sumX = groupSum(sumX, groupSize);
      sumY = groupSum(sumY, groupSize);
      if (active && g.lane == 0) {
        gradAttn[si] = fromCompute<T>(sampled ? sumS : A(0));
        gradLoc[2 * si] = fromCompute<T>(sampled ? static_cast<A>(W) * a * sumX : A(0));
        gradLoc[2 * si + 1] = fromCompute<T>(sampled ? static_cast<A>(H) * a * sumY : A(0));
      }
    }
  }
}

// Launch shape for D channels of T: the widest CPT (≤ 16 bytes) dividing D whose vector
// accesses are aligned for every buffer, and the smallest power-of-two group covering D/CPT.
template <typename T>
int pickCpt(int64_t D, const void* const* buffers, int count) {
  for (int cpt = static_cast<int>(16 / sizeof(T)); cpt > 1; cpt /= 2) {
    if (D % cpt != 0) continue;
    bool aligned = true;
    for (int i = 0; i < count; ++i)
      aligned = aligned && reinterpret_cast<uintptr_t>(buffers[i]) % (cpt * sizeof(T)) == 0;
    if (aligned) return cpt;
  }
  return 1;
}

int pickGroupSize(int64_t chunks) {
  int g = 1;
  while (g < 32 && g < chunks) g *= 2;
  return g;
}

int64_t blocksFor(int64_t groups, int groupSize) {
  const int64_t perBlock = kBlockThreads / groupSize;
  return (groups + perBlock - 1) / perBlock;
}

template <typename T>
cudaError_t forwardTyped(const void* value, const int64_t* shapes, const int64_t* starts, const void* loc,
                         const void* attn, void* out, const MsdaSizes& s, cudaStream_t stream) {
  const int64_t groups = s.batch * s.queries * s.heads;
  if (groups == 0 || s.channels == 0) return cudaSuccess;
  const void* buffers[] = {value, out};
  const int cpt = pickCpt<T>(s.channels, buffers, 2);
  const int groupSize = pickGroupSize(s.channels / cpt);
  const dim3 grid(static_cast<unsigned>(blocksFor(groups, groupSize)));
  const auto* v = static_cast<const T*>(value);
  const auto* lo = static_cast<const T*>(loc);
  const auto* at = static_cast<const T*>(attn);
  auto* o = static_cast<T*>(out);
  switch (cpt) {
    case 8:
      if constexpr (sizeof(T) <= 2)
        forwardKernel<T, 8><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, o, s, groupSize);
      break;
    case 4:
      if constexpr (sizeof(T) <= 4)
        forwardKernel<T, 4><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, o, s, groupSize);
      break;
    case 2: forwardKernel<T, 2><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, o, s, groupSize); break;
    default: forwardKernel<T, 1><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, o, s, groupSize);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t backwardTyped(const void* value, const int64_t* shapes, const int64_t* starts, const void* loc,
                          const void* attn, const void* gradOut, void* gradValue, void* gradLoc, void* gradAttn,
                          const MsdaSizes& s, cudaStream_t stream) {
  using A = ComputeType<T>;
  const int64_t groups = s.batch * s.queries * s.heads;
  if (groups == 0) return cudaSuccess;
  // The accumulation buffer is aligned for CPT accumulators when it is for CPT elements of T
  // (torch allocations are 256-byte aligned; offsets are multiples of CPT).
  const void* buffers[] = {value, gradOut, gradValue};
  const int cpt = s.channels == 0 ? 1 : pickCpt<T>(s.channels, buffers, 3);
  const int groupSize = pickGroupSize(s.channels / cpt);
  const dim3 grid(static_cast<unsigned>(blocksFor(groups, groupSize)));
  const auto* v = static_cast<const T*>(value);
  const auto* lo = static_cast<const T*>(loc);
  const auto* at = static_cast<const T*>(attn);
  const auto* go = static_cast<const T*>(gradOut);
  auto* gv = static_cast<A*>(gradValue);
  auto* gl = static_cast<T*>(gradLoc);
  auto* ga = static_cast<T*>(gradAttn);
  switch (cpt) {
    case 8:
      if constexpr (sizeof(T) <= 2)
        backwardKernel<T, 8>
            <<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, go, gv, gl, ga, s, groupSize);
      break;
    case 4:
      if constexpr (sizeof(T) <= 4)
        backwardKernel<T, 4>
            <<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, go, gv, gl, ga, s, groupSize);
      break;
    case 2:
      backwardKernel<T, 2><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, go, gv, gl, ga, s, groupSize);
      break;
    default:
      backwardKernel<T, 1><<<grid, kBlockThreads, 0, stream>>>(v, shapes, starts, lo, at, go, gv, gl, ga, s, groupSize);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t msdaForward(MsdaType type, const void* value, const int64_t* shapes, const int64_t* starts,
                        const void* samplingLocations, const void* attentionWeights, void* output,
                        const MsdaSizes& sizes, cudaStream_t stream) {
  switch (type) {
    case MsdaType::Float32:
      return forwardTyped<float>(value, shapes, starts, samplingLocations, attentionWeights, output, sizes, stream);
    case MsdaType::Float64:
      return forwardTyped<double>(value, shapes, starts, samplingLocations, attentionWeights, output, sizes, stream);
    case MsdaType::Float16:
      return forwardTyped<__half>(value, shapes, starts, samplingLocations, attentionWeights, output, sizes, stream);
    case MsdaType::BFloat16:
      return forwardTyped<__nv_bfloat16>(value, shapes, starts, samplingLocations, attentionWeights, output, sizes,
                                         stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t msdaBackward(MsdaType type, const void* value, const int64_t* shapes, const int64_t* starts,
                         const void* samplingLocations, const void* attentionWeights, const void* gradOutput,
                         void* gradValueAcc, void* gradSamplingLocations, void* gradAttentionWeights,
                         const MsdaSizes& sizes, cudaStream_t stream) {
  switch (type) {
    case MsdaType::Float32:
      return backwardTyped<float>(value, shapes, starts, samplingLocations, attentionWeights, gradOutput, gradValueAcc,
                                  gradSamplingLocations, gradAttentionWeights, sizes, stream);
    case MsdaType::Float64:
      return backwardTyped<double>(value, shapes, starts, samplingLocations, attentionWeights, gradOutput, gradValueAcc,
                                   gradSamplingLocations, gradAttentionWeights, sizes, stream);
    case MsdaType::Float16:
      return backwardTyped<__half>(value, shapes, starts, samplingLocations, attentionWeights, gradOutput, gradValueAcc,
                                   gradSamplingLocations, gradAttentionWeights, sizes, stream);
    case MsdaType::BFloat16:
      return backwardTyped<__nv_bfloat16>(value, shapes, starts, samplingLocations, attentionWeights, gradOutput,
                                          gradValueAcc, gradSamplingLocations, gradAttentionWeights, sizes, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace adetr::ops::cuda
