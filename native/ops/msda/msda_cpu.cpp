// MSDA CPU kernels (forward and backward), float32 and float64.
//
// Forward: parallel over (batch, query) rows. For each (row, head) the L·P samples are turned
// into four corner rows of value (D contiguous channels each) with their bilinear·attention
// weights, and the channels are accumulated with 32-byte vectors.
//
// Backward: no atomics. Work is split into tasks (batch n, head m, query chunk c); a task writes
// the value gradient of (n, m) only, so tasks with different (n, m) never touch the same
// elements. When there are more threads than (n, m) pairs, the queries of each pair are split
// into chunks and chunk c > 0 accumulates into its own zeroed copy, summed at the end.
//
// The hot loops are compiled twice (AVX2+FMA "haswell" and the baseline) and picked at load
// time (GCC target_clones), since the project is built without -march flags.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/msda/msda.h"
#include "ops/msda/msda_bilinear.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ADETR_MSDA_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define ADETR_MSDA_CLONES
#endif
#define ADETR_MSDA_INLINE inline __attribute__((always_inline))

// The vector helpers are always inlined, so the AVX-vector ABI note does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace adetr::ops::detail {
namespace {

// 32-byte vectors of T with element alignment (loads and stores go through memcpy).
template <typename T>
struct Vec;
template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(32), aligned(4)));
  static constexpr int64_t kWidth = 8;
};
template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(32), aligned(8)));
  static constexpr int64_t kWidth = 4;
};

template <typename T>
ADETR_MSDA_INLINE typename Vec<T>::type load(const T* p) {
  typename Vec<T>::type v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T>
ADETR_MSDA_INLINE void store(T* p, const typename Vec<T>::type& v) {
  __builtin_memcpy(p, &v, sizeof(v));
}
template <typename T>
ADETR_MSDA_INLINE T horizontalSum(const typename Vec<T>::type& v) {
  T s = 0;
  for (int64_t i = 0; i < Vec<T>::kWidth; ++i) s += v[i];
  return s;
}

// Raw views of the kernel arguments.
template <typename T>
struct Args {
  const T* value;         // [N, S, M, D]
  const int64_t* shapes;  // [L, 2]
  const int64_t* starts;  // [L]
  const T* loc;           // [N, Q, M, L, P, 2]
  const T* attn;          // [N, Q, M, L, P]
  MsDeformAttnDims d;
};

// One bilinear sample: the four corner rows of value (a zero row for a corner outside the
// map), their weights (bilinear · attention), and which corners are inside.
template <typename T>
struct Tap : msda::Bilinear<T> {  // w: bilinear weights (without the attention weight)
  const T* v[4];                  // (h0,w0), (h0,w1), (h1,w0), (h1,w1)
  int64_t offset[4];              // element offset of each inside corner in value
};

// Fills `tap` for location (x, y) on a level of H×W whose (n, m) channel row of pixel 0 is at
// element `levelBase`; returns false when the sample lies wholly outside (contributes 0).
template <typename T>
ADETR_MSDA_INLINE bool makeTap(Tap<T>& tap, const T* value, const T* zeroRow, int64_t levelBase, int64_t pixelStride,
                               int64_t H, int64_t W, T x, T y) {
  if (!msda::bilinearCorners(tap, x, y, H, W)) return false;
  for (int c = 0; c < 4; ++c) {
    tap.offset[c] = tap.inside[c] ? levelBase + msda::cornerPixel(tap, c, W) * pixelStride : 0;
    tap.v[c] = tap.inside[c] ? value + tap.offset[c] : zeroRow;
  }
  return true;
}

// out[0:D] += Σ_c k[c] · v[c][0:D]
template <typename T>
ADETR_MSDA_INLINE void accumulateTap(T* out, const T* const v[4], const T k[4], int64_t D) {
  using V = typename Vec<T>::type;
  constexpr int64_t kW = Vec<T>::kWidth;
  int64_t i = 0;
  for (; i + kW <= D; i += kW) {
    V acc = load(out + i);
    acc += k[0] * load(v[0] + i) + k[1] * load(v[1] + i);
    acc += k[2] * load(v[2] + i) + k[3] * load(v[3] + i);
    store(out + i, acc);
  }
  for (; i < D; ++i) out[i] += k[0] * v[0][i] + k[1] * v[1][i] + k[2] * v[2][i] + k[3] * v[3][i];
}

template <typename T>
ADETR_MSDA_INLINE void forwardRows(const Args<T>& a, T* out, const T* zeroRow, int64_t rowBegin, int64_t rowEnd) {
  const MsDeformAttnDims& d = a.d;
  const int64_t D = d.channels, M = d.heads, L = d.levels, P = d.points;
  const int64_t pixelStride = M * D;
  for (int64_t row = rowBegin; row < rowEnd; ++row) {  // row = n·Q + q
    const int64_t n = row / d.queries;
    for (int64_t m = 0; m < M; ++m) {
      T* o = out + (row * M + m) * D;
      std::fill(o, o + D, T(0));
      const int64_t sampleBase = (row * M + m) * L * P;
      for (int64_t l = 0; l < L; ++l) {
        const int64_t H = a.shapes[2 * l], W = a.shapes[2 * l + 1];
        const int64_t levelBase = ((n * d.valueLen + a.starts[l]) * M + m) * D;
        for (int64_t p = 0; p < P; ++p) {
          const int64_t s = sampleBase + l * P + p;
          Tap<T> tap;
          if (!makeTap(tap, a.value, zeroRow, levelBase, pixelStride, H, W, a.loc[2 * s], a.loc[2 * s + 1])) continue;
          const T w = a.attn[s];
          const T k[4] = {w * tap.w[0], w * tap.w[1], w * tap.w[2], w * tap.w[3]};
          accumulateTap(o, tap.v, k, D);
        }
      }
    }
  }
}

// Gradients of one sample. g: grad_out row (D); gv[c]: where corner c's value gradient goes
// (a scratch row for corners outside). Returns Σ_d g·s, Σ_d g·∂s/∂w_im, Σ_d g·∂s/∂h_im.
template <typename T>
ADETR_MSDA_INLINE void backwardTap(const Tap<T>& tap, T attn, const T* g, T* const gv[4], int64_t D, T& sumS, T& sumX,
                                   T& sumY) {
  using V = typename Vec<T>::type;
  constexpr int64_t kW = Vec<T>::kWidth;
  const T k0 = attn * tap.w[0], k1 = attn * tap.w[1], k2 = attn * tap.w[2], k3 = attn * tap.w[3];
  V accS = {}, accX = {}, accY = {};
  int64_t i = 0;
  for (; i + kW <= D; i += kW) {
    const V gd = load(g + i);
    const V v0 = load(tap.v[0] + i), v1 = load(tap.v[1] + i), v2 = load(tap.v[2] + i), v3 = load(tap.v[3] + i);
    accS += gd * (tap.w[0] * v0 + tap.w[1] * v1 + tap.w[2] * v2 + tap.w[3] * v3);
    accX += gd * (tap.hh * (v1 - v0) + tap.lh * (v3 - v2));
    accY += gd * (tap.hw * (v2 - v0) + tap.lw * (v3 - v1));
    store(gv[0] + i, load(gv[0] + i) + k0 * gd);
    store(gv[1] + i, load(gv[1] + i) + k1 * gd);
    store(gv[2] + i, load(gv[2] + i) + k2 * gd);
    store(gv[3] + i, load(gv[3] + i) + k3 * gd);
  }
  T s = horizontalSum<T>(accS), x = horizontalSum<T>(accX), y = horizontalSum<T>(accY);
  for (; i < D; ++i) {
    const T gd = g[i];
    const T v0 = tap.v[0][i], v1 = tap.v[1][i], v2 = tap.v[2][i], v3 = tap.v[3][i];
    s += gd * (tap.w[0] * v0 + tap.w[1] * v1 + tap.w[2] * v2 + tap.w[3] * v3);
    x += gd * (tap.hh * (v1 - v0) + tap.lh * (v3 - v2));
    y += gd * (tap.hw * (v2 - v0) + tap.lw * (v3 - v1));
    gv[0][i] += k0 * gd;
    gv[1][i] += k1 * gd;
    gv[2][i] += k2 * gd;
    gv[3][i] += k3 * gd;
  }
  sumS = s;
  sumX = x;
  sumY = y;
}

// Backward for batch n, head m, queries [qBegin, qEnd); value gradients go to gradValue
// (an [N, S, M, D] buffer only this (n, m, chunk) task writes at head m of batch n).
template <typename T>
ADETR_MSDA_INLINE void backwardTask(const Args<T>& a, const T* gradOut, T* gradValue, T* gradLoc, T* gradAttn,
                                    const T* zeroRow, T* scratchRow, int64_t n, int64_t m, int64_t qBegin,
                                    int64_t qEnd) {
  const MsDeformAttnDims& d = a.d;
  const int64_t D = d.channels, M = d.heads, L = d.levels, P = d.points;
  const int64_t pixelStride = M * D;
  for (int64_t q = qBegin; q < qEnd; ++q) {
    const int64_t row = n * d.queries + q;
    const T* g = gradOut + (row * M + m) * D;
    const int64_t sampleBase = (row * M + m) * L * P;
    for (int64_t l = 0; l < L; ++l) {
      const int64_t H = a.shapes[2 * l], W = a.shapes[2 * l + 1];
      const int64_t levelBase = ((n * d.valueLen + a.starts[l]) * M + m) * D;
      for (int64_t p = 0; p < P; ++p) {
        const int64_t s = sampleBase + l * P + p;
        Tap<T> tap;
        if (!makeTap(tap, a.value, zeroRow, levelBase, pixelStride, H, W, a.loc[2 * s], a.loc[2 * s + 1])) {
          gradLoc[2 * s] = gradLoc[2 * s + 1] = gradAttn[s] = T(0);
          continue;
        }
        T* gv[4];
        for (int c = 0; c < 4; ++c) gv[c] = tap.inside[c] ? gradValue + tap.offset[c] : scratchRow;
        const T w = a.attn[s];
        T sumS, sumX, sumY;
        backwardTap(tap, w, g, gv, D, sumS, sumX, sumY);
        gradAttn[s] = sumS;
        gradLoc[2 * s] = static_cast<T>(W) * w * sumX;
        gradLoc[2 * s + 1] = static_cast<T>(H) * w * sumY;
      }
    }
  }
}

// The dtype-specific entry points the dispatcher calls; each is compiled per target clone and
// inlines the templates above.
ADETR_MSDA_CLONES void forwardRowsF32(const Args<float>& a, float* out, const float* z, int64_t b, int64_t e) {
  forwardRows(a, out, z, b, e);
}
ADETR_MSDA_CLONES void forwardRowsF64(const Args<double>& a, double* out, const double* z, int64_t b, int64_t e) {
  forwardRows(a, out, z, b, e);
}
ADETR_MSDA_CLONES void backwardTaskF32(const Args<float>& a, const float* go, float* gv, float* gl, float* ga,
                                       const float* z, float* scratch, int64_t n, int64_t m, int64_t qb, int64_t qe) {
  backwardTask(a, go, gv, gl, ga, z, scratch, n, m, qb, qe);
}
ADETR_MSDA_CLONES void backwardTaskF64(const Args<double>& a, const double* go, double* gv, double* gl, double* ga,
                                       const double* z, double* scratch, int64_t n, int64_t m, int64_t qb, int64_t qe) {
  backwardTask(a, go, gv, gl, ga, z, scratch, n, m, qb, qe);
}

inline void forwardRowsOf(const Args<float>& a, float* o, const float* z, int64_t b, int64_t e) {
  forwardRowsF32(a, o, z, b, e);
}
inline void forwardRowsOf(const Args<double>& a, double* o, const double* z, int64_t b, int64_t e) {
  forwardRowsF64(a, o, z, b, e);
}
inline void backwardTaskOf(const Args<float>& a, const float* go, float* gv, float* gl, float* ga, const float* z,
                           float* scratch, int64_t n, int64_t m, int64_t qb, int64_t qe) {
  backwardTaskF32(a, go, gv, gl, ga, z, scratch, n, m, qb, qe);
}
inline void backwardTaskOf(const Args<double>& a, const double* go, double* gv, double* gl, double* ga, const double* z,
                           double* scratch, int64_t n, int64_t m, int64_t qb, int64_t qe) {
  backwardTaskF64(a, go, gv, gl, ga, z, scratch, n, m, qb, qe);
}

template <typename T>
Args<T> argsOf(const at::Tensor& value, const at::Tensor& shapes, const at::Tensor& starts, const at::Tensor& loc,
               const at::Tensor& attn, const MsDeformAttnDims& dims) {
  return {value.data_ptr<T>(), shapes.data_ptr<int64_t>(), starts.data_ptr<int64_t>(),
          loc.data_ptr<T>(),   attn.data_ptr<T>(),         dims};
}

template <typename T>
at::Tensor forwardImpl(const at::Tensor& value, const at::Tensor& shapes, const at::Tensor& starts,
                       const at::Tensor& loc, const at::Tensor& attn, const MsDeformAttnDims& d) {
  at::Tensor out = at::empty({d.batch, d.queries, d.heads * d.channels}, value.options());
  const Args<T> a = argsOf<T>(value, shapes, starts, loc, attn, d);
  T* o = out.data_ptr<T>();
  const int64_t rows = d.batch * d.queries;
  // Aim for chunks of ~64k multiply-adds so small calls stay single-threaded.
  const int64_t perRow = std::max<int64_t>(1, d.heads * d.levels * d.points * d.channels * 4);
  const int64_t grain = std::max<int64_t>(1, 65536 / perRow);
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    const std::vector<T> zeroRow(static_cast<size_t>(d.channels), T(0));
    forwardRowsOf(a, o, zeroRow.data(), begin, end);
  });
  return out;
}

template <typename T>
MsDeformAttnGrads backwardImpl(const at::Tensor& value, const at::Tensor& shapes, const at::Tensor& starts,
                               const at::Tensor& loc, const at::Tensor& attn, const at::Tensor& gradOutput,
                               const MsDeformAttnDims& d) {
  MsDeformAttnGrads g;
  g.gradValue = at::zeros(value.sizes(), value.options());
  g.gradSamplingLocations = at::empty(loc.sizes(), loc.options());
  g.gradAttentionWeights = at::empty(attn.sizes(), attn.options());
  const int64_t pairs = d.batch * d.heads;
  if (pairs == 0 || d.queries == 0) {
    g.gradSamplingLocations.zero_();
    g.gradAttentionWeights.zero_();
    return g;
  }
  // Split the queries of each (n, m) into enough chunks to occupy every thread.
  const int64_t threads = at::get_num_threads();
  const int64_t chunks = std::min<int64_t>(d.queries, std::max<int64_t>(1, (threads + pairs - 1) / pairs));
  at::Tensor extra;  // value-gradient copies for chunks 1.., each [N, S, M, D]
  if (chunks > 1) {
    std::vector<int64_t> extraShape{chunks - 1};
    extraShape.insert(extraShape.end(), value.sizes().begin(), value.sizes().end());
    extra = at::zeros(extraShape, value.options());
  }
  const Args<T> a = argsOf<T>(value, shapes, starts, loc, attn, d);
  const T* go = gradOutput.data_ptr<T>();
  T* gvMain = g.gradValue.data_ptr<T>();
  T* gvExtra = chunks > 1 ? extra.data_ptr<T>() : nullptr;
  T* gl = g.gradSamplingLocations.data_ptr<T>();
  T* ga = g.gradAttentionWeights.data_ptr<T>();
  const int64_t valueNumel = value.numel();
  const int64_t queriesPerChunk = (d.queries + chunks - 1) / chunks;
  at::parallel_for(0, pairs * chunks, 1, [&](int64_t begin, int64_t end) {
    const std::vector<T> zeroRow(static_cast<size_t>(d.channels), T(0));
    std::vector<T> scratchRow(static_cast<size_t>(d.channels), T(0));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t chunk = task % chunks, pair = task / chunks;
      const int64_t n = pair / d.heads, m = pair % d.heads;
      const int64_t qBegin = chunk * queriesPerChunk, qEnd = std::min(d.queries, qBegin + queriesPerChunk);
      T* gv = chunk == 0 ? gvMain : gvExtra + (chunk - 1) * valueNumel;
      backwardTaskOf(a, go, gv, gl, ga, zeroRow.data(), scratchRow.data(), n, m, qBegin, qEnd);
    }
  });
  if (chunks > 1) g.gradValue.add_(extra.sum(0));
  return g;
}

}  // namespace

at::Tensor msdaForwardCpu(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                          const at::Tensor& samplingLocations, const at::Tensor& attentionWeights,
                          const MsDeformAttnDims& dims) {
  if (value.scalar_type() == at::kDouble)
    return forwardImpl<double>(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights, dims);
  return forwardImpl<float>(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights, dims);
}

MsDeformAttnGrads msdaBackwardCpu(const at::Tensor& value, const at::Tensor& spatialShapes,
                                  const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                  const at::Tensor& attentionWeights, const at::Tensor& gradOutput,
                                  const MsDeformAttnDims& dims) {
  if (value.scalar_type() == at::kDouble)
    return backwardImpl<double>(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights, gradOutput,
                                dims);
  return backwardImpl<float>(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights, gradOutput,
                             dims);
}

}  // namespace adetr::ops::detail
