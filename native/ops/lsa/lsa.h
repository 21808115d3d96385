// Linear sum assignment (the "Hungarian matching" of DETR): exact, float64, scipy-compatible.
//
// Solves min (or max) Σ cost[row[k], col[k]] over assignments of min(rows, cols) pairs, each
// row and each column used at most once. The algorithm is the shortest augmenting path
// (Jonker–Volgenant family, Crouse 2016) that scipy.optimize.linear_sum_assignment runs, with
// its loop order and tie rules kept, so equal-cost optima resolve to the very indices scipy
// returns (see lsa_solver.h for how the vectorized scan keeps them).
//
// Speed: the row scan is vectorized (AVX-512 / AVX2, picked at run time; a portable loop
// otherwise) with the same float64 operations as scipy's. Square problems of at least
// detail::kWarmStartMinSize (1500) also try a Jonker–Volgenant warm start (lsa_warm_start.cpp),
// whose answer is kept only when the optimum is certified unique, i.e. when it must equal
// scipy's; tied or infinite-entry matrices fall back to scipy's algorithm from scratch.
//
// Semantics (scipy's):
//   - rows > cols is solved on the transpose; the result is always listed by ascending row.
//   - maximize negates the matrix first.
//   - +inf marks a forbidden pair (−inf when maximizing). An assignment avoiding all of them is
//     returned when one exists, otherwise "matrix is infeasible" (adetr::ArgError, RangeError).
//   - NaN, and −inf (+inf when maximizing), are rejected (ArgError, RangeError).
//   - An empty matrix (rows == 0 or cols == 0) gives an empty result.
//
// No N-API and no ATen tensors here: the DETR matcher of native/train calls this directly on
// host buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace adetr::lsa {

struct Assignment {
  std::vector<int32_t> rowIndices;  // ascending
  std::vector<int32_t> colIndices;  // colIndices[k] is the column given to rowIndices[k]
  double totalCost = 0;             // Σ of the original (not negated) cost over the pairs
};

// A read-only row-major matrix of float64 or float32 values.
struct CostView {
  const void* data = nullptr;
  bool isFloat32 = false;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Which row-scan kernel runs. Auto picks the widest SIMD the CPU has; Portable is the plain
// scalar loop over scipy's `remaining` list (the tests check both agree index for index).
enum class Kernel { Auto, Portable };

// Solves one problem. `argName` starts every error message ("cost: matrix is infeasible").
Assignment solve(const CostView& cost, bool maximize, const std::string& argName = "cost",
                 Kernel kernel = Kernel::Auto);

inline Assignment solve(const double* cost, int64_t rows, int64_t cols, bool maximize,
                        const std::string& argName = "cost", Kernel kernel = Kernel::Auto) {
  return solve(CostView{cost, false, rows, cols}, maximize, argName, kernel);
}

inline Assignment solve(const float* cost, int64_t rows, int64_t cols, bool maximize,
                        const std::string& argName = "cost", Kernel kernel = Kernel::Auto) {
  return solve(CostView{cost, true, rows, cols}, maximize, argName, kernel);
}

// Solves independent problems in parallel on ATen's intra-op thread pool (the matcher's
// per-image, per-decoder-layer calls). Result k is exactly solve(costs[k]); an error names the
// failing problem ("costs[3]: matrix is infeasible") and, as the first error, stops the batch.
std::vector<Assignment> solveBatch(const std::vector<CostView>& costs, bool maximize,
                                   const std::string& argName = "costs", Kernel kernel = Kernel::Auto);

// The name of the row-scan kernel Kernel::Auto uses on this CPU ("avx2", "portable").
const char* autoKernelName();

}  // namespace adetr::lsa
