// The geometry of one MSDA bilinear sample (docs/numerical-contract.md §B.2: grid_sample with
// align_corners = false and zero padding), shared by the CPU kernel (g++) and the CUDA kernels
// (nvcc): where the location falls on an H×W map, the four corner weights, and which corners
// lie on the map. Each kernel turns the corners into its own memory offsets.
#pragma once

#include <math.h>
#include <stdint.h>

#include "common/host_device.h"

namespace adetr::ops::msda {

template <typename A>
struct Bilinear {
  int64_t h0, w0;    // top-left corner; corner c is (h0 + (c >> 1), w0 + (c & 1))
  A w[4];            // corner weights, corners (h0,w0), (h0,w1), (h1,w0), (h1,w1)
  bool inside[4];    // which corners lie on the map
  A lh, lw, hh, hw;  // fractional position in the cell and its complements (for the backward)
};

ADETR_HD_INLINE float floorOf(float v) { return ::floorf(v); }
ADETR_HD_INLINE double floorOf(double v) { return ::floor(v); }

// Fills `b` for normalised location (x, y); false when the sample lies wholly outside the map
// (it then contributes nothing). Written so that NaN coordinates fail the test, as in the reference.
template <typename A>
ADETR_HD_INLINE bool bilinearCorners(Bilinear<A>& b, A x, A y, int64_t H, int64_t W) {
  const A hIm = y * static_cast<A>(H) - A(0.5);
  const A wIm = x * static_cast<A>(W) - A(0.5);
  if (!(hIm > A(-1) && wIm > A(-1) && hIm < static_cast<A>(H) && wIm < static_cast<A>(W))) return false;
  const A hFloor = floorOf(hIm), wFloor = floorOf(wIm);
  b.h0 = static_cast<int64_t>(hFloor);
  b.w0 = static_cast<int64_t>(wFloor);
  b.lh = hIm - hFloor;
  b.lw = wIm - wFloor;
  b.hh = A(1) - b.lh;
  b.hw = A(1) - b.lw;
  b.w[0] = b.hh * b.hw;
  b.w[1] = b.hh * b.lw;
  b.w[2] = b.lh * b.hw;
  b.w[3] = b.lh * b.lw;
#ifdef __CUDACC__
#pragma unroll
#endif
  for (int c = 0; c < 4; ++c) {
    const int64_t h = b.h0 + (c >> 1), w = b.w0 + (c & 1);
    b.inside[c] = h >= 0 && h < H && w >= 0 && w < W;
  }
  return true;
}

// Pixel index (h·W + w) of corner c on the map.
template <typename A>
ADETR_HD_INLINE int64_t cornerPixel(const Bilinear<A>& b, int c, int64_t W) {
  return (b.h0 + (c >> 1)) * W + (b.w0 + (c & 1));
}

}  // namespace adetr::ops::msda
