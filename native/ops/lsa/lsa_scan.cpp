// Row-scan kernels of the assignment solver (see lsa_solver.h for the loop they implement and
// why the SIMD kernels return the same column as the scalar one).
#include "ops/lsa/lsa_solver.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define ADETR_LSA_X86 1
#endif

namespace adetr::lsa::detail {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

int32_t scanPortable(const double* costRow, int32_t i, double minVal, double ui, const ScanState& s, double& lowest) {
  lowest = kInf;
  int64_t pick = -1;
  for (int64_t it = 0; it < s.nRemaining; ++it) {
    const int32_t j = s.remaining[it];
    const double r = minVal + costRow[j] - ui - s.v[j];
    if (r < s.spc[j]) {
      s.spc[j] = r;
      s.path[j] = i;
    }
    if (s.spc[j] < lowest || (s.spc[j] == lowest && s.row4col[j] == -1)) {
      lowest = s.spc[j];
      pick = it;
    }
  }
  if (lowest == kInf) return -1;
  return s.remaining[pick];
}

#ifdef ADETR_LSA_X86
namespace {

// Folds one tied candidate column j into the pick (rule in lsa_solver.h).
inline void considerTie(int32_t j, const ScanState& s, int32_t& freeCol, int32_t& freePos, int32_t& anyCol,
                        int32_t& anyPos) {
  const int32_t p = s.pos[j];
  if (s.row4col[j] == -1) {
    if (p > freePos) freePos = p, freeCol = j;
  } else if (p < anyPos) {
    anyPos = p, anyCol = j;
  }
}

// One vector of the scan: r for 4 columns, masked spc/path update, running minimum of the
// unvisited spc. Returns the new running minimum.
__attribute__((target("avx2"), always_inline)) inline __m256d stepAvx2(__m256d c, int64_t j, __m256d vMinVal,
                                                                       __m256d vU, __m128i vRow, const ScanState& s,
                                                                       __m256d best) {
  const __m256d r = _mm256_sub_pd(_mm256_sub_pd(_mm256_add_pd(vMinVal, c), vU), _mm256_loadu_pd(s.v + j));
  __m256d spc = _mm256_loadu_pd(s.spc + j);
  const __m256d vis = _mm256_castsi256_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.visited + j)));
  const __m256d upd = _mm256_andnot_pd(vis, _mm256_cmp_pd(r, spc, _CMP_LT_OQ));
  spc = _mm256_blendv_pd(spc, r, upd);
  _mm256_storeu_pd(s.spc + j, spc);
  // The 4 64-bit lane masks narrowed to 4 32-bit ones for the int32 path store.
  const __m128i upd32 = _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(_mm256_castpd_si256(upd), _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
  _mm_maskstore_epi32(s.path + j, upd32, vRow);
  return _mm256_min_pd(best, _mm256_blendv_pd(spc, _mm256_set1_pd(kInf), vis));
}

__attribute__((target("avx512f"), always_inline)) inline __m512d stepAvx512(__m512d c, int64_t j, __m512d vMinVal,
                                                                            __m512d vU, __m512i vRow,
                                                                            const ScanState& s, __m512d best) {
  const __m512d r = _mm512_sub_pd(_mm512_sub_pd(_mm512_add_pd(vMinVal, c), vU), _mm512_loadu_pd(s.v + j));
  __m512d spc = _mm512_loadu_pd(s.spc + j);
  const __mmask8 unvisited = _mm512_testn_epi64_mask(_mm512_loadu_si512(s.visited + j), _mm512_set1_epi64(-1));
  const __mmask8 upd = _mm512_mask_cmp_pd_mask(unvisited, r, spc, _CMP_LT_OQ);
  spc = _mm512_mask_blend_pd(upd, spc, r);
  _mm512_storeu_pd(s.spc + j, spc);
  _mm512_mask_storeu_epi32(s.path + j, static_cast<__mmask16>(upd), vRow);  // lanes 8..15 masked off
  return _mm512_mask_min_pd(best, unvisited, best, spc);
}

__attribute__((target("avx2"))) int32_t scanAvx2(const double* costRow, int32_t i, double minVal, double ui,
                                                 const ScanState& s, double& lowest) {
  const int64_t nc = s.nc;
  const __m256d vMinVal = _mm256_set1_pd(minVal);
  const __m256d vU = _mm256_set1_pd(ui);
  const __m256d vInf = _mm256_set1_pd(kInf);
  const __m128i vRow = _mm_set1_epi32(i);
  __m256d best = vInf;

  const int64_t full = nc & ~int64_t(3);
  for (int64_t j = 0; j < full; j += 4) best = stepAvx2(_mm256_loadu_pd(costRow + j), j, vMinVal, vU, vRow, s, best);
  if (full < nc) {
    // The lanes past nc are visited padding: loaded as 0 and masked out of every update.
    const int64_t left = nc - full;
    const __m256i loadMask = _mm256_setr_epi64x(-1, left > 1 ? -1 : 0, left > 2 ? -1 : 0, 0);
    best = stepAvx2(_mm256_maskload_pd(costRow + full, loadMask), full, vMinVal, vU, vRow, s, best);
  }

  __m128d m2 = _mm_min_pd(_mm256_castpd256_pd128(best), _mm256_extractf128_pd(best, 1));
  m2 = _mm_min_sd(m2, _mm_unpackhi_pd(m2, m2));
  lowest = _mm_cvtsd_f64(m2);
  if (lowest == kInf) return -1;

  // Second pass: the unvisited columns tied at the minimum (usually one), resolved by position.
  const __m256d vLowest = _mm256_set1_pd(lowest);
  int32_t freeCol = -1, freePos = -1, anyCol = -1, anyPos = std::numeric_limits<int32_t>::max();
  const int64_t padded = (nc + 3) & ~int64_t(3);
  for (int64_t j = 0; j < padded; j += 4) {
    const __m256d vis = _mm256_castsi256_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.visited + j)));
    const __m256d eq = _mm256_andnot_pd(vis, _mm256_cmp_pd(_mm256_loadu_pd(s.spc + j), vLowest, _CMP_EQ_OQ));
    int bits = _mm256_movemask_pd(eq);
    while (bits) {
      const int lane = __builtin_ctz(bits);
      bits &= bits - 1;
      considerTie(static_cast<int32_t>(j + lane), s, freeCol, freePos, anyCol, anyPos);
    }
  }
  return freeCol >= 0 ? freeCol : anyCol;
}

__attribute__((target("avx512f"))) int32_t scanAvx512(const double* costRow, int32_t i, double minVal, double ui,
                                                      const ScanState& s, double& lowest) {
  const int64_t nc = s.nc;
  const __m512d vMinVal = _mm512_set1_pd(minVal);
  const __m512d vU = _mm512_set1_pd(ui);
  const __m512d vInf = _mm512_set1_pd(kInf);
  const __m512i vRow = _mm512_set1_epi32(i);
  __m512d best = vInf;

  const int64_t full = nc & ~int64_t(7);
  for (int64_t j = 0; j < full; j += 8) best = stepAvx512(_mm512_loadu_pd(costRow + j), j, vMinVal, vU, vRow, s, best);
  if (full < nc) {
    const __mmask8 loadMask = static_cast<__mmask8>((1u << (nc - full)) - 1u);
    best = stepAvx512(_mm512_maskz_loadu_pd(loadMask, costRow + full), full, vMinVal, vU, vRow, s, best);
  }
  // (Reduced by hand: GCC 12's _mm512_reduce_min_pd trips -Wmaybe-uninitialized in its header.)
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, best);
  lowest = *std::min_element(lanes, lanes + 8);
  if (lowest == kInf) return -1;

  const __m512d vLowest = _mm512_set1_pd(lowest);
  int32_t freeCol = -1, freePos = -1, anyCol = -1, anyPos = std::numeric_limits<int32_t>::max();
  const int64_t padded = (nc + 7) & ~int64_t(7);
  for (int64_t j = 0; j < padded; j += 8) {
    const __mmask8 unvisited = _mm512_testn_epi64_mask(_mm512_loadu_si512(s.visited + j), _mm512_set1_epi64(-1));
    unsigned bits = _mm512_mask_cmp_pd_mask(unvisited, _mm512_loadu_pd(s.spc + j), vLowest, _CMP_EQ_OQ);
    while (bits) {
      const int lane = __builtin_ctz(bits);
      bits &= bits - 1;
      considerTie(static_cast<int32_t>(j + lane), s, freeCol, freePos, anyCol, anyPos);
    }
  }
  return freeCol >= 0 ? freeCol : anyCol;
}

}  // namespace
#endif

#ifdef ADETR_LSA_X86
namespace {
__attribute__((target("avx2"))) bool hasInvalidAvx2(const double* p, int64_t n) {
  // !(x > -inf) holds exactly for NaN and -inf.
  const __m256d negInf = _mm256_set1_pd(-kInf);
  __m256d bad = _mm256_setzero_pd();
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_loadu_pd(p + k), negInf, _CMP_NGT_UQ));
  bool any = _mm256_movemask_pd(bad) != 0;
  for (; k < n; ++k) any |= !(p[k] > -kInf);
  return any;
}
}  // namespace
#endif

namespace {

void twoSmallestPortable(const double* row, const double* v, int64_t n, TwoSmallest& out) {
  double best = kInf, second = kInf;
  int32_t j1 = -1;
  for (int64_t j = 0; j < n; ++j) {
    const double h = row[j] - v[j];
    if (h < second) {
      if (h < best) {
        second = best;
        best = h, j1 = static_cast<int32_t>(j);
      } else {
        second = h;
      }
    }
  }
  out.best = best, out.second = second, out.bestCol = j1;
}

#ifdef ADETR_LSA_X86
__attribute__((target("avx2"))) void twoSmallestAvx2(const double* row, const double* v, int64_t n, TwoSmallest& out) {
  // Per lane: the smallest value, its column, and the second smallest.
  __m256d b1 = _mm256_set1_pd(kInf), b2 = b1;
  __m256d idx = _mm256_setzero_pd();
  __m256d col = _mm256_setr_pd(0, 1, 2, 3);
  const __m256d four = _mm256_set1_pd(4);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256d h = _mm256_sub_pd(_mm256_loadu_pd(row + j), _mm256_loadu_pd(v + j));
    const __m256d lt1 = _mm256_cmp_pd(h, b1, _CMP_LT_OQ);
    const __m256d lt2 = _mm256_cmp_pd(h, b2, _CMP_LT_OQ);
    b2 = _mm256_blendv_pd(_mm256_blendv_pd(b2, h, lt2), b1, lt1);
    b1 = _mm256_blendv_pd(b1, h, lt1);
    idx = _mm256_blendv_pd(idx, col, lt1);
    col = _mm256_add_pd(col, four);
  }
  alignas(32) double lb1[4], lb2[4], li[4];
  _mm256_store_pd(lb1, b1);
  _mm256_store_pd(lb2, b2);
  _mm256_store_pd(li, idx);
  double best = kInf, second = kInf;
  int32_t j1 = -1;
  auto fold = [&](double h, int32_t c) {
    if (h < second) {
      if (h < best) {
        second = best;
        best = h, j1 = c;
      } else {
        second = h;
      }
    }
  };
  for (int lane = 0; lane < 4; ++lane) {
    fold(lb1[lane], static_cast<int32_t>(li[lane]));
    fold(lb2[lane], -1);
  }
  for (; j < n; ++j) fold(row[j] - v[j], static_cast<int32_t>(j));
  out.best = best, out.second = second, out.bestCol = j1;
}
#endif

}  // namespace

void twoSmallest(const double* row, const double* v, int64_t n, TwoSmallest& out) {
#ifdef ADETR_LSA_X86
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  if (avx2) {
    twoSmallestAvx2(row, v, n, out);
    return;
  }
#endif
  twoSmallestPortable(row, v, n, out);
}

bool hasInvalidEntries(const double* p, int64_t n) {
#ifdef ADETR_LSA_X86
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  if (avx2) return hasInvalidAvx2(p, n);
#endif
  bool any = false;
  for (int64_t k = 0; k < n; ++k) any |= !(p[k] > -kInf);
  return any;
}

ScanFn bestScanKernel() {
#ifdef ADETR_LSA_X86
  static const ScanFn fn = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return &scanAvx512;
    if (__builtin_cpu_supports("avx2")) return &scanAvx2;
    return &scanPortable;
  }();
  return fn;
#else
  return &scanPortable;
#endif
}

ScanFn scanKernelByName(const std::string& name) {
  if (name == "portable") return &scanPortable;
#ifdef ADETR_LSA_X86
  __builtin_cpu_init();
  if (name == "avx2" && __builtin_cpu_supports("avx2")) return &scanAvx2;
  if (name == "avx512" && __builtin_cpu_supports("avx512f")) return &scanAvx512;
#endif
  return nullptr;
}

const char* bestScanKernelName() {
  const ScanFn fn = bestScanKernel();
#ifdef ADETR_LSA_X86
  if (fn == &scanAvx512) return "avx512";
  if (fn == &scanAvx2) return "avx2";
#endif
  (void)fn;
  return "portable";
}

}  // namespace adetr::lsa::detail
