// The assignment solver: input checks, the working matrix, and scipy's augmenting-path driver.
#include "ops/lsa/lsa.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/arg_error.h"
#include "ops/lsa/lsa_solver.h"

namespace adetr::lsa {

namespace {

using detail::ScanFn;
using detail::Workspace;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Workspaces live per thread so the matcher's many small solves do not allocate every time.
thread_local Workspace tlsWorkspace;

// Working matrices above this many entries are freed after the solve instead of kept.
constexpr size_t kKeepCostEntries = size_t(1) << 20;

void checkDims(const CostView& cost, const std::string& argName) {
  checkRange(cost.rows >= 0 && cost.cols >= 0, argName, ": dims must be non-negative, got ", cost.rows, "x", cost.cols);
  const int64_t limit = std::numeric_limits<int32_t>::max();
  checkRange(cost.rows <= limit && cost.cols <= limit, argName, ": dims must be at most ", limit, ", got ", cost.rows,
             "x", cost.cols);
  checkType(cost.data != nullptr || cost.rows == 0 || cost.cols == 0, argName, ": no data");
}

[[noreturn]] void throwInvalid(bool maximize, const std::string& argName) {
  // scipy validates after negating for maximize, so there the rejected infinity is +inf.
  throw ArgError(ArgError::Kind::Range,
                 argName + (maximize ? ": matrix contains invalid numeric entries (NaN or +inf with maximize)"
                                     : ": matrix contains invalid numeric entries (NaN or -inf)"));
}

// Fills `out` (nr x nc, row-major) with the working matrix: the input, transposed when it has
// more rows than columns, negated for maximize, widened to float64.
template <typename T>
void buildWorkingMatrix(const T* in, int64_t rows, int64_t cols, bool transpose, bool maximize,
                        std::vector<double>& out) {
  out.resize(static_cast<size_t>(rows * cols));
  const double sign = maximize ? -1.0 : 1.0;
  if (!transpose) {
    for (int64_t k = 0; k < rows * cols; ++k) out[k] = sign * static_cast<double>(in[k]);
  } else {
    // Blocked so both the reads and the writes stay within a few cache lines per block.
    constexpr int64_t kBlock = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock);
      for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
        const int64_t c1 = std::min(cols, c0 + kBlock);
        for (int64_t r = r0; r < r1; ++r) {
          for (int64_t c = c0; c < c1; ++c) out[c * rows + r] = sign * static_cast<double>(in[r * cols + c]);
        }
      }
    }
  }
}

}  // namespace

Assignment solve(const CostView& cost, bool maximize, const std::string& argName, Kernel kernel) {
  checkDims(cost, argName);
  Assignment out;
  const int64_t rows = cost.rows, cols = cost.cols;
  if (rows == 0 || cols == 0) return out;

  const bool transpose = cols < rows;
  const int64_t nr = transpose ? cols : rows;
  const int64_t nc = transpose ? rows : cols;

  Workspace& ws = tlsWorkspace;
  const double* working = nullptr;
  if (!cost.isFloat32 && !transpose && !maximize) {
    working = static_cast<const double*>(cost.data);  // already the working matrix
  } else if (cost.isFloat32) {
    buildWorkingMatrix(static_cast<const float*>(cost.data), rows, cols, transpose, maximize, ws.cost);
    working = ws.cost.data();
  } else {
    buildWorkingMatrix(static_cast<const double*>(cost.data), rows, cols, transpose, maximize, ws.cost);
    working = ws.cost.data();
  }
  if (detail::hasInvalidEntries(working, rows * cols)) {
    if (ws.cost.size() > kKeepCostEntries) std::vector<double>().swap(ws.cost);
    throwInvalid(maximize, argName);
  }

  const ScanFn scan = kernel == Kernel::Portable ? &detail::scanPortable : detail::bestScanKernel();
  try {
    // Large square problems first try the JV warm start, which keeps scipy's answer only when the
    // optimum is unique (see lsa_warm_start.cpp); otherwise scipy's algorithm runs from scratch.
    const bool warm = kernel == Kernel::Auto && nr == nc && nr >= detail::kWarmStartMinSize &&
                      detail::solveSquareWarmStart(working, nr, ws, scan, argName);
    if (!warm) {
      detail::resetWorkspace(ws, nr, nc);
      detail::augmentRows(working, nr, nc, ws, scan, nullptr, nr, argName);
    }
  } catch (...) {
    if (ws.cost.size() > kKeepCostEntries) std::vector<double>().swap(ws.cost);
    throw;
  }
  if (ws.cost.size() > kKeepCostEntries) std::vector<double>().swap(ws.cost);

  out.rowIndices.resize(static_cast<size_t>(nr));
  out.colIndices.resize(static_cast<size_t>(nr));
  if (!transpose) {
    for (int32_t r = 0; r < nr; ++r) {
      out.rowIndices[r] = r;
      out.colIndices[r] = ws.col4row[r];
    }
  } else {
    // Working row r is original column r, matched to original row col4row[r]; list the pairs by
    // ascending original row (scipy's argsort of col4row; its values are distinct).
    std::vector<int32_t> colOfRow(static_cast<size_t>(nc), -1);
    for (int32_t r = 0; r < nr; ++r) colOfRow[ws.col4row[r]] = r;
    size_t k = 0;
    for (int32_t orig = 0; orig < nc; ++orig) {
      if (colOfRow[orig] < 0) continue;
      out.rowIndices[k] = orig;
      out.colIndices[k] = colOfRow[orig];
      ++k;
    }
  }

  double total = 0;
  for (size_t k = 0; k < out.rowIndices.size(); ++k) {
    const int64_t flat = static_cast<int64_t>(out.rowIndices[k]) * cols + out.colIndices[k];
    total += cost.isFloat32 ? static_cast<double>(static_cast<const float*>(cost.data)[flat])
                            : static_cast<const double*>(cost.data)[flat];
  }
  out.totalCost = total;
  return out;
}

const char* autoKernelName() { return detail::bestScanKernelName(); }

}  // namespace adetr::lsa
