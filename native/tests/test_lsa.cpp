// C++ checks of the assignment solver core (native/ops/lsa), without Node:
//   - optimal total cost against brute force over all assignments, every shape up to 7x7, both
//     orientations, random / heavily tied / +inf-patterned (feasible and infeasible), maximize;
//   - index parity of the SIMD kernel with the portable kernel, and of both with a plain
//     transcription of scipy's algorithm written in this file (ties included);
//   - every error path; the batched entry point equal to single solves.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "ops/lsa/lsa.h"
#include "ops/lsa/lsa_solver.h"
#include "tests/test_support.h"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using adetr::lsa::Assignment;
using adetr::lsa::Kernel;

struct Matrix {
  int rows, cols;
  std::vector<double> data;
  double at(int r, int c) const { return data[static_cast<size_t>(r) * cols + c]; }
};

// Minimum (or maximum) of Σ cost over every assignment of min(rows, cols) pairs; ±inf when no
// assignment avoids the forbidden entries.
double bruteForce(const Matrix& m, bool maximize) {
  const bool tall = m.rows > m.cols;
  const int k = std::min(m.rows, m.cols), n = std::max(m.rows, m.cols);
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  const double forbidden = maximize ? -kInf : kInf;
  double best = forbidden;
  // Every ordered choice of k of the n long-side indices appears as the prefix of some permutation.
  do {
    double total = 0;
    for (int a = 0; a < k; ++a) total += tall ? m.at(perm[a], a) : m.at(a, perm[a]);
    if (maximize ? total > best : total < best) best = total;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// A plain transcription of scipy's rectangular_lsap algorithm (the parity oracle for ties).
// Returns false when infeasible.
bool referenceScipy(const Matrix& m, bool maximize, std::vector<int>& rowsOut, std::vector<int>& colsOut) {
  const bool transpose = m.cols < m.rows;
  const int nr = transpose ? m.cols : m.rows, nc = transpose ? m.rows : m.cols;
  std::vector<double> c(static_cast<size_t>(nr) * nc);
  for (int r = 0; r < nr; ++r)
    for (int j = 0; j < nc; ++j) {
      const double x = transpose ? m.at(j, r) : m.at(r, j);
      c[static_cast<size_t>(r) * nc + j] = maximize ? -x : x;
    }
  std::vector<double> u(nr, 0), v(nc, 0), spc(nc);
  std::vector<int> path(nc, -1), col4row(nr, -1), row4col(nc, -1), remaining(nc);
  std::vector<char> SR(nr), SC(nc);
  for (int cur = 0; cur < nr; ++cur) {
    double minVal = 0;
    int i = cur, sink = -1, left = nc;
    for (int it = 0; it < nc; ++it) remaining[it] = nc - it - 1;
    std::fill(SR.begin(), SR.end(), 0);
    std::fill(SC.begin(), SC.end(), 0);
    std::fill(spc.begin(), spc.end(), kInf);
    while (sink == -1) {
      int index = -1;
      double lowest = kInf;
      SR[i] = 1;
      for (int it = 0; it < left; ++it) {
        const int j = remaining[it];
        const double r = minVal + c[static_cast<size_t>(i) * nc + j] - u[i] - v[j];
        if (r < spc[j]) path[j] = i, spc[j] = r;
        if (spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1)) lowest = spc[j], index = it;
      }
      minVal = lowest;
      if (minVal == kInf) return false;
      const int j = remaining[index];
      if (row4col[j] == -1)
        sink = j;
      else
        i = row4col[j];
      SC[j] = 1;
      remaining[index] = remaining[--left];
    }
    u[cur] += minVal;
    for (int r = 0; r < nr; ++r)
      if (SR[r] && r != cur) u[r] += minVal - spc[col4row[r]];
    for (int j = 0; j < nc; ++j)
      if (SC[j]) v[j] -= minVal - spc[j];
    int j = sink;
    while (true) {
      const int r = path[j];
      row4col[j] = r;
      std::swap(col4row[r], j);
      if (r == cur) break;
    }
  }
  rowsOut.clear();
  colsOut.clear();
  if (!transpose) {
    for (int r = 0; r < nr; ++r) rowsOut.push_back(r), colsOut.push_back(col4row[r]);
  } else {
    std::vector<int> order(nr);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return col4row[a] < col4row[b]; });
    for (int o : order) rowsOut.push_back(col4row[o]), colsOut.push_back(o);
  }
  return true;
}

std::string describe(const Matrix& m) {
  std::string s = std::to_string(m.rows) + "x" + std::to_string(m.cols) + " [";
  for (size_t k = 0; k < m.data.size() && k < 60; ++k) s += (k ? " " : "") + std::to_string(m.data[k]);
  return s + "]";
}

bool runSolve(const Matrix& m, bool maximize, Kernel kernel, Assignment& out, std::string& error) {
  try {
    out = adetr::lsa::solve(m.data.data(), m.rows, m.cols, maximize, "cost", kernel);
    return true;
  } catch (const adetr::ArgError& e) {
    error = e.what();
    return false;
  }
}

// Checks one matrix against brute force, the scipy transcription and the other kernel.
void checkMatrix(const Matrix& m, bool maximize) {
  Assignment fast, portable;
  std::string errFast, errPortable;
  const bool okFast = runSolve(m, maximize, Kernel::Auto, fast, errFast);
  const bool okPortable = runSolve(m, maximize, Kernel::Portable, portable, errPortable);
  const double best = bruteForce(m, maximize);
  const bool feasible = std::isfinite(best);
  std::vector<int> refRows, refCols;
  const bool okRef = referenceScipy(m, maximize, refRows, refCols);

  EXPECT(okFast == feasible, "feasible=%d solved=%d (%s) %s", feasible, okFast, errFast.c_str(), describe(m).c_str());
  EXPECT(okPortable == okFast, "portable=%d auto=%d %s", okPortable, okFast, describe(m).c_str());
  EXPECT(okRef == feasible, "reference feasibility %s", describe(m).c_str());
  if (!okFast) {
    EXPECT(errFast == "cost: matrix is infeasible", "message '%s'", errFast.c_str());
    return;
  }
  const int k = std::min(m.rows, m.cols);
  EXPECT(static_cast<int>(fast.rowIndices.size()) == k && static_cast<int>(fast.colIndices.size()) == k,
         "size %zu for %s", fast.rowIndices.size(), describe(m).c_str());
  std::vector<char> usedRow(m.rows), usedCol(m.cols);
  double total = 0;
  for (size_t a = 0; a < fast.rowIndices.size(); ++a) {
    const int r = fast.rowIndices[a], c = fast.colIndices[a];
    EXPECT(r >= 0 && r < m.rows && c >= 0 && c < m.cols, "index out of range");
    if (r < 0 || r >= m.rows || c < 0 || c >= m.cols) return;
    EXPECT(!usedRow[r] && !usedCol[c], "row %d or col %d used twice", r, c);
    usedRow[r] = usedCol[c] = 1;
    if (a > 0) EXPECT(fast.rowIndices[a - 1] < r, "rows not ascending");
    total += m.at(r, c);
  }
  EXPECT(total == fast.totalCost, "totalCost %.17g vs recomputed %.17g", fast.totalCost, total);
  EXPECT(std::abs(total - best) <= 1e-9 * (1 + std::abs(best)), "total %.17g, brute force %.17g, %s", total, best,
         describe(m).c_str());
  EXPECT(fast.rowIndices == portable.rowIndices && fast.colIndices == portable.colIndices,
         "SIMD and portable kernels differ on %s", describe(m).c_str());
  const std::vector<int> gotRows(fast.rowIndices.begin(), fast.rowIndices.end());
  const std::vector<int> gotCols(fast.colIndices.begin(), fast.colIndices.end());
  EXPECT(gotRows == refRows && gotCols == refCols, "differs from the scipy transcription on %s (max=%d)",
         describe(m).c_str(), maximize);
}

Matrix makeMatrix(int rows, int cols, const std::function<double()>& gen) {
  Matrix m{rows, cols, std::vector<double>(static_cast<size_t>(rows) * cols)};
  for (double& x : m.data) x = gen();
  return m;
}

void testBruteForceShapes() {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> uni(-10.0, 10.0);
  std::uniform_int_distribution<int> tri(0, 2);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  for (int rows = 1; rows <= 7; ++rows) {
    for (int cols = 1; cols <= 7; ++cols) {
      const int reps = rows * cols <= 20 ? 12 : 3;
      for (int rep = 0; rep < reps; ++rep) {
        for (bool maximize : {false, true}) {
          const double forbidden = maximize ? -kInf : kInf;
          checkMatrix(makeMatrix(rows, cols, [&] { return uni(rng); }), maximize);
          checkMatrix(makeMatrix(rows, cols, [&] { return static_cast<double>(tri(rng)); }), maximize);
          checkMatrix(makeMatrix(rows, cols, [&] { return 0.0; }), maximize);
          // Sparse and dense forbidden patterns: some feasible, some not.
          for (double p : {0.2, 0.5, 0.8}) {
            checkMatrix(makeMatrix(rows, cols, [&] { return coin(rng) < p ? forbidden : uni(rng); }), maximize);
            checkMatrix(
                makeMatrix(rows, cols, [&] { return coin(rng) < p ? forbidden : static_cast<double>(tri(rng)); }),
                maximize);
          }
        }
      }
    }
  }
}

// Wider shapes than brute force allows: the SIMD kernel (with its vector tails) against the
// portable one and the scipy transcription, on heavy ties.
void testParityLarger() {
  std::mt19937_64 rng(99);
  std::uniform_int_distribution<int> small(0, 3);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const int shapes[][2] = {{9, 9}, {13, 31}, {31, 13}, {40, 40}, {5, 97}, {97, 5}, {64, 70}, {100, 7}};
  for (const auto& shape : shapes) {
    for (bool maximize : {false, true}) {
      for (int kind = 0; kind < 3; ++kind) {
        const Matrix m = makeMatrix(shape[0], shape[1], [&] {
          if (kind == 0) return static_cast<double>(small(rng));
          if (kind == 1) return uni(rng);
          return uni(rng) < 0.3 ? (maximize ? -kInf : kInf) : static_cast<double>(small(rng));
        });
        Assignment fast, portable;
        std::string e1, e2;
        const bool ok1 = runSolve(m, maximize, Kernel::Auto, fast, e1);
        const bool ok2 = runSolve(m, maximize, Kernel::Portable, portable, e2);
        std::vector<int> refRows, refCols;
        const bool okRef = referenceScipy(m, maximize, refRows, refCols);
        EXPECT(ok1 == ok2 && ok1 == okRef, "feasibility disagrees on %dx%d", m.rows, m.cols);
        if (!ok1 || !ok2 || !okRef) continue;
        EXPECT(fast.colIndices == portable.colIndices && fast.rowIndices == portable.rowIndices,
               "kernels differ on %dx%d kind %d", m.rows, m.cols, kind);
        const std::vector<int> gotRows(fast.rowIndices.begin(), fast.rowIndices.end());
        const std::vector<int> gotCols(fast.colIndices.begin(), fast.colIndices.end());
        EXPECT(gotRows == refRows && gotCols == refCols, "scipy transcription differs on %dx%d kind %d", m.rows, m.cols,
               kind);
      }
    }
  }
}

std::string errorOf(const std::function<void()>& fn, adetr::ArgError::Kind* kind = nullptr) {
  try {
    fn();
  } catch (const adetr::ArgError& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

void testErrors() {
  using adetr::lsa::solve;
  const double nanv = std::numeric_limits<double>::quiet_NaN();
  adetr::ArgError::Kind kind = adetr::ArgError::Kind::Type;
  const std::vector<double> withNan{1, nanv, 3, 4};
  std::string msg = errorOf([&] { solve(withNan.data(), 2, 2, false); }, &kind);
  EXPECT(msg == "cost: matrix contains invalid numeric entries (NaN or -inf)", "NaN message '%s'", msg.c_str());
  EXPECT(kind == adetr::ArgError::Kind::Range, "NaN kind");
  msg = errorOf([&] { solve(withNan.data(), 2, 2, true); });
  EXPECT(msg.rfind("cost: matrix contains invalid numeric entries", 0) == 0, "NaN maximize '%s'", msg.c_str());
  const std::vector<double> withNegInf{1, -kInf, 3, 4};
  msg = errorOf([&] { solve(withNegInf.data(), 2, 2, false); });
  EXPECT(msg == "cost: matrix contains invalid numeric entries (NaN or -inf)", "-inf message '%s'", msg.c_str());
  // Transposed and float32 paths validate too.
  const std::vector<float> f32{1, 2, 3, -std::numeric_limits<float>::infinity(), 5, 6};
  msg = errorOf([&] { solve(f32.data(), 3, 2, false); });
  EXPECT(msg == "cost: matrix contains invalid numeric entries (NaN or -inf)", "f32 tall -inf '%s'", msg.c_str());
  // maximize: -inf is forbidden (allowed), +inf is invalid.
  Assignment a = solve(withNegInf.data(), 2, 2, true);
  EXPECT(a.colIndices == std::vector<int32_t>({0, 1}) && a.totalCost == 5, "maximize with -inf");
  const std::vector<double> withPosInf{1, kInf, 3, 4};
  msg = errorOf([&] { solve(withPosInf.data(), 2, 2, true); });
  EXPECT(msg == "cost: matrix contains invalid numeric entries (NaN or +inf with maximize)", "+inf max '%s'",
         msg.c_str());
  // Infeasible (scipy's example) and feasible-around-inf.
  const std::vector<double> infeasible{kInf, kInf, 1, 2};
  msg = errorOf([&] { solve(infeasible.data(), 2, 2, false, "myCost"); }, &kind);
  EXPECT(msg == "myCost: matrix is infeasible", "infeasible '%s'", msg.c_str());
  const std::vector<double> diagonal{1, kInf, kInf, 2};
  a = solve(diagonal.data(), 2, 2, false);
  EXPECT(a.colIndices == std::vector<int32_t>({0, 1}) && a.totalCost == 3, "diagonal around inf");
  // Dims.
  msg = errorOf([&] { solve(withNan.data(), -1, 2, false); }, &kind);
  EXPECT(msg.rfind("cost: dims must be non-negative", 0) == 0, "negative dims '%s'", msg.c_str());
  msg = errorOf([&] { solve(static_cast<const double*>(nullptr), 2, 2, false); });
  EXPECT(msg == "cost: no data", "null data '%s'", msg.c_str());
  // Empty matrices.
  a = solve(static_cast<const double*>(nullptr), 900, 0, false);
  EXPECT(a.rowIndices.empty() && a.colIndices.empty() && a.totalCost == 0, "900x0");
  a = solve(static_cast<const double*>(nullptr), 0, 5, true);
  EXPECT(a.rowIndices.empty(), "0x5");
}

void testBatch() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::vector<Matrix> mats;
  const int shapes[][2] = {{900, 7}, {900, 0}, {30, 120}, {120, 30}, {1, 1}, {50, 50}, {900, 20}, {3, 8}};
  for (int rep = 0; rep < 3; ++rep)
    for (const auto& s : shapes) mats.push_back(makeMatrix(s[0], s[1], [&] { return std::floor(uni(rng) * 4); }));
  std::vector<adetr::lsa::CostView> views;
  for (const Matrix& m : mats) views.push_back({m.data.data(), false, m.rows, m.cols});
  for (bool maximize : {false, true}) {
    const std::vector<Assignment> batch = adetr::lsa::solveBatch(views, maximize);
    EXPECT(batch.size() == mats.size(), "batch size");
    for (size_t k = 0; k < mats.size(); ++k) {
      const Assignment one = adetr::lsa::solve(mats[k].data.data(), mats[k].rows, mats[k].cols, maximize);
      EXPECT(batch[k].rowIndices == one.rowIndices && batch[k].colIndices == one.colIndices &&
                 batch[k].totalCost == one.totalCost,
             "batch item %zu differs", k);
    }
  }
  // The first failing problem is named.
  const std::vector<double> infeasible{kInf, kInf, 1, 2};
  views.insert(views.begin() + 5, adetr::lsa::CostView{infeasible.data(), false, 2, 2});
  views.insert(views.begin() + 9, adetr::lsa::CostView{infeasible.data(), false, 2, 2});
  const std::string msg = errorOf([&] { adetr::lsa::solveBatch(views, false); });
  EXPECT(msg == "costs[5]: matrix is infeasible", "batch error '%s'", msg.c_str());
  EXPECT(adetr::lsa::solveBatch({}, false).empty(), "empty batch");
}

// float32 input gives exactly the float64 answer on the widened values.
void testFloat32() {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  for (auto shape : {std::pair<int, int>{900, 7}, {40, 60}, {60, 40}}) {
    std::vector<float> f(static_cast<size_t>(shape.first) * shape.second);
    for (float& x : f) x = uni(rng);
    const std::vector<double> d(f.begin(), f.end());
    for (bool maximize : {false, true}) {
      const Assignment a = adetr::lsa::solve(f.data(), shape.first, shape.second, maximize);
      const Assignment b = adetr::lsa::solve(d.data(), shape.first, shape.second, maximize);
      EXPECT(a.rowIndices == b.rowIndices && a.colIndices == b.colIndices && a.totalCost == b.totalCost,
             "float32 vs float64 on %dx%d", shape.first, shape.second);
    }
  }
}

// The JV warm start of large square problems: certified (and equal to scipy's answer) on
// generic costs, refused on tied costs, so solve() falls back to scipy's algorithm there.
void testWarmStart() {
  using adetr::lsa::detail::Workspace;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::uniform_int_distribution<int> small(0, 4);
  const adetr::lsa::detail::ScanFn scan = adetr::lsa::detail::bestScanKernel();
  for (int n : {64, 300, 700}) {
    const Matrix generic = makeMatrix(n, n, [&] { return uni(rng); });
    Workspace ws;
    const bool certified = adetr::lsa::detail::solveSquareWarmStart(generic.data.data(), n, ws, scan, "cost");
    EXPECT(certified, "warm start not certified on uniform %dx%d", n, n);
    const Assignment ref = adetr::lsa::solve(generic.data.data(), n, n, false, "cost", Kernel::Portable);
    EXPECT(std::vector<int32_t>(ws.col4row.begin(), ws.col4row.begin() + n) == ref.colIndices,
           "warm start differs from scipy's algorithm on uniform %dx%d", n, n);

    const Matrix tied = makeMatrix(n, n, [&] { return static_cast<double>(small(rng)); });
    Workspace ws2;
    EXPECT(!adetr::lsa::detail::solveSquareWarmStart(tied.data.data(), n, ws2, scan, "cost"),
           "warm start certified a tied %dx%d matrix", n, n);

    Matrix withInf = generic;
    withInf.data[5] = kInf;
    Workspace ws3;
    EXPECT(!adetr::lsa::detail::solveSquareWarmStart(withInf.data.data(), n, ws3, scan, "cost"),
           "warm start accepted an infinite entry");
  }
  // Through solve(): above the size threshold, generic and tied, equal to the portable path.
  const int n = static_cast<int>(adetr::lsa::detail::kWarmStartMinSize);
  for (int kind = 0; kind < 2; ++kind) {
    const Matrix m = makeMatrix(n, n, [&] { return kind == 0 ? uni(rng) : static_cast<double>(small(rng)); });
    const Assignment fast = adetr::lsa::solve(m.data.data(), n, n, false);
    const Assignment ref = adetr::lsa::solve(m.data.data(), n, n, false, "cost", Kernel::Portable);
    EXPECT(fast.colIndices == ref.colIndices && fast.totalCost == ref.totalCost, "solve() %dx%d kind %d differs", n, n,
           kind);
  }
}

// Every SIMD kernel this CPU has (not only the one Auto picks) against the scipy transcription,
// through the driver directly, on tied matrices of widths that exercise every vector tail.
void testEachKernel() {
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int> small(0, 2);
  for (const char* name : {"portable", "avx2", "avx512"}) {
    const adetr::lsa::detail::ScanFn scan = adetr::lsa::detail::scanKernelByName(name);
    if (!scan) {
      std::printf("kernel %s: not supported here, skipped\n", name);
      continue;
    }
    for (int nc = 1; nc <= 37; ++nc) {
      for (int nr = 1; nr <= std::min(nc, 9); nr += 2) {
        const Matrix m = makeMatrix(nr, nc, [&] { return static_cast<double>(small(rng)); });
        adetr::lsa::detail::Workspace ws;
        adetr::lsa::detail::resetWorkspace(ws, nr, nc);
        adetr::lsa::detail::augmentRows(m.data.data(), nr, nc, ws, scan, nullptr, nr, "cost");
        std::vector<int> refRows, refCols;
        referenceScipy(m, false, refRows, refCols);
        const std::vector<int> got(ws.col4row.begin(), ws.col4row.begin() + nr);
        EXPECT(got == refCols, "kernel %s differs from the scipy transcription on %dx%d", name, nr, nc);
      }
    }
  }
}

}  // namespace

int main() {
  std::printf("lsa kernel: %s\n", adetr::lsa::autoKernelName());
  return adetr::test::runTests("test_lsa", [] {
    testBruteForceShapes();
    testParityLarger();
    testErrors();
    testBatch();
    testFloat32();
    testWarmStart();
    testEachKernel();
  });
}
