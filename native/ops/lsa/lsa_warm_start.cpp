// Jonker–Volgenant warm start for large square problems, with a uniqueness certificate.
//
// scipy's algorithm starts from nothing and runs one shortest-path search per row. JV first
// assigns most rows cheaply — column reduction (each column's minimum row), then augmenting row
// reduction (each free row takes its cheapest column, lowering that column's dual by the gap to
// the second cheapest, and evicts the previous owner) — and leaves only the remaining free rows
// to the shortest-path searches (augmentRows, scipy's driver).
//
// Any exact solver returns scipy's assignment when the optimum is unique; when several optima
// tie, the order of the work decides which one comes out, and JV's order is not scipy's. So the
// result is kept only with a certificate: with final duals (u, v), every alternative optimum
// would be an alternating cycle through pairs of zero reduced cost C[i,j] - u[i] - v[j]. The
// pairs within a small tolerance of zero are collected and the row graph they induce (row i ->
// the row owning a column i could take instead) is checked for cycles. No cycle: every other
// assignment costs more than the tolerance above the optimum, far beyond float64 rounding in
// either solver, so scipy returns the same one. A cycle (ties, e.g. integer costs), an infinite
// entry, or duals outside the tolerance: return false and let scipy's algorithm run.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ops/lsa/lsa_solver.h"

namespace adetr::lsa::detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Relative tolerance of "zero reduced cost" in the certificate (scaled by max |C|).
constexpr double kCertifyRelTol = 1e-9;

// Column reduction: v[j] = min_i C[i,j]; each column's first minimizing row takes it when free.
// Returns false when an entry is not finite. `maxAbs` receives max |C|.
bool columnReduction(const double* C, int64_t n, Workspace& ws, std::vector<int32_t>& argminRow, double& maxAbs) {
  double* v = ws.v.data();
  std::fill(v, v + n, kInf);
  argminRow.assign(static_cast<size_t>(n), 0);
  double hi = 0;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = C + i * n;
    for (int64_t j = 0; j < n; ++j) {
      const double x = row[j];
      finite &= std::isfinite(x);
      hi = std::max(hi, std::abs(x));
      if (x < v[j]) {
        v[j] = x;
        argminRow[j] = static_cast<int32_t>(i);
      }
    }
  }
  maxAbs = hi;
  if (!finite) return false;
  // Columns in reverse order, as in JV: a row that is the minimum of several columns keeps the last.
  for (int64_t j = n - 1; j >= 0; --j) {
    const int32_t i = argminRow[j];
    if (ws.col4row[i] == -1) {
      ws.col4row[i] = static_cast<int32_t>(j);
      ws.row4col[j] = i;
    }
  }
  return true;
}

// Augmenting row reduction over `freeRows`; rows it cannot settle end up in the returned list.
std::vector<int32_t> augmentingRowReduction(const double* C, int64_t n, Workspace& ws, std::vector<int32_t> freeRows) {
  double* v = ws.v.data();
  int32_t* col4row = ws.col4row.data();
  int32_t* row4col = ws.row4col.data();
  for (int pass = 0; pass < 2 && !freeRows.empty(); ++pass) {
    std::vector<int32_t> stillFree;
    size_t k = 0;
    // Float gaps can be tiny, so the number of evictions per pass is capped.
    int64_t budget = 4 * n;
    while (k < freeRows.size()) {
      const int32_t i = freeRows[k++];
      if (--budget < 0) {
        stillFree.push_back(i);
        continue;
      }
      const double* row = C + static_cast<int64_t>(i) * n;
      TwoSmallest two;
      twoSmallest(row, v, n, two);
      const double best = two.best, second = two.second;
      int32_t j1 = two.bestCol, j2 = -1;
      if (!(best < second)) {
        // A tie: any other column at the minimum serves as the second one.
        for (int64_t j = 0; j < n && j2 < 0; ++j) {
          if (j != j1 && row[j] - v[j] == second) j2 = static_cast<int32_t>(j);
        }
      }
      int32_t owner = row4col[j1];
      const bool strict = best < second;
      if (strict) {
        v[j1] -= second - best;
      } else if (owner >= 0) {
        j1 = j2;
        owner = row4col[j1];
      }
      if (owner >= 0) col4row[owner] = -1;
      col4row[i] = j1;
      row4col[j1] = i;
      if (owner >= 0) {
        if (strict) {
          freeRows[--k] = owner;  // settle the evicted row right away
        } else {
          stillFree.push_back(owner);
        }
      }
    }
    freeRows.swap(stillFree);
  }
  return freeRows;
}

// The certificate described at the top of this file.
bool certifyUnique(const double* C, int64_t n, const Workspace& ws, double tol) {
  const double* u = ws.u.data();
  const double* v = ws.v.data();
  const int32_t* col4row = ws.col4row.data();
  const int32_t* row4col = ws.row4col.data();
  // Near-tight pairs off the matching, as row -> owner-of-column edges (CSR).
  std::vector<int32_t> edgeStart(static_cast<size_t>(n) + 1, 0);
  std::vector<int32_t> edges;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = C + i * n;
    const double ui = u[i];
    for (int64_t j = 0; j < n; ++j) {
      const double reduced = row[j] - ui - v[j];
      if (reduced <= tol) {
        if (reduced < -tol) return false;  // the duals are not feasible enough to certify anything
        if (j != col4row[i]) edges.push_back(row4col[j]);
      }
    }
    const double onMatch = row[col4row[i]] - ui - v[col4row[i]];
    if (std::abs(onMatch) > tol) return false;
    edgeStart[i + 1] = static_cast<int32_t>(edges.size());
  }
  if (edges.empty()) return true;
  // Iterative DFS cycle detection: 0 unseen, 1 on the stack, 2 done.
  std::vector<uint8_t> state(static_cast<size_t>(n), 0);
  std::vector<std::pair<int32_t, int32_t>> stack;
  for (int32_t start = 0; start < n; ++start) {
    if (state[start] != 0) continue;
    stack.emplace_back(start, edgeStart[start]);
    state[start] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < edgeStart[node + 1]) {
        const int32_t to = edges[next++];
        if (state[to] == 1) return false;
        if (state[to] == 0) {
          state[to] = 1;
          stack.emplace_back(to, edgeStart[to]);
        }
      } else {
        state[node] = 2;
        stack.pop_back();
      }
    }
  }
  return true;
}

}  // namespace

bool solveSquareWarmStart(const double* C, int64_t n, Workspace& ws, ScanFn scan, const std::string& argName) {
  resetWorkspace(ws, n, n);
  std::vector<int32_t> argminRow;
  double maxAbs = 0;
  if (!columnReduction(C, n, ws, argminRow, maxAbs)) return false;

  std::vector<int32_t> freeRows;
  for (int32_t i = 0; i < n; ++i) {
    if (ws.col4row[i] == -1) freeRows.push_back(i);
  }
  freeRows = augmentingRowReduction(C, n, ws, std::move(freeRows));

  // Row duals that make every assigned pair tight; free rows start at 0 as in scipy's driver.
  for (int64_t i = 0; i < n; ++i) {
    const int32_t j = ws.col4row[i];
    ws.u[i] = j >= 0 ? C[i * n + j] - ws.v[j] : 0.0;
  }
  std::sort(freeRows.begin(), freeRows.end());
  augmentRows(C, n, n, ws, scan, freeRows.data(), static_cast<int64_t>(freeRows.size()), argName);
  return certifyUnique(C, n, ws, kCertifyRelTol * maxAbs);
}

}  // namespace adetr::lsa::detail
