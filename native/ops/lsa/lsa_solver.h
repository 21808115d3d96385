// Internals of the assignment solver: the per-thread workspace and the row-scan kernels.
//
// One step of scipy's augmenting-path search, for the tree row `i`, is
//
//   for it in 0 .. nRemaining-1:            (remaining: unvisited columns, a scan order)
//     j = remaining[it]
//     r = minVal + C[i,j] - u[i] - v[j]     (this exact order of float64 operations)
//     if r < spc[j]: spc[j] = r; path[j] = i
//     if spc[j] < lowest or (spc[j] == lowest and column j is unassigned): lowest, pick = spc[j], it
//
// after which the picked column is removed by moving the last entry of `remaining` into its
// slot. `remaining` starts as nc-1 .. 0 at every augmentation.
//
// The portable kernel runs that loop as written. The SIMD kernel scans columns in memory order
// instead (contiguous loads, masked by a "visited" lane mask) and then recovers the column the
// scipy loop would have picked from the positions pos[j] of the columns in `remaining`. Among
// the unvisited columns whose spc equals the minimum m:
//   - if some are unassigned, scipy ends on the one with the largest position (each later
//     unassigned tie overwrites the pick, assigned ties never do);
//   - otherwise it keeps the first one, the smallest position.
// The arithmetic per element is identical, so both kernels give identical results.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace adetr::lsa::detail {

struct Workspace {
  std::vector<double> cost;       // transposed / negated / widened copy, when one is needed
  std::vector<double> u, v, spc;  // duals and shortest path costs (v, spc padded to kPad)
  std::vector<uint64_t> visited;  // all-ones for visited columns and for the padding lanes
  std::vector<int32_t> path, col4row, row4col, remaining, pos;
  std::vector<int32_t> visitedRows, visitedCols;
};

// Lanes of padding after the last column in v, spc and visited (one AVX-512 vector).
constexpr int64_t kPad = 8;

// The state a row scan reads and updates.
struct ScanState {
  int64_t nc;
  double* v;
  double* spc;
  const uint64_t* visited;
  int32_t* path;
  const int32_t* row4col;
  const int32_t* remaining;
  const int32_t* pos;
  int64_t nRemaining;
};

// A row-scan kernel: updates spc/path from row `i` and returns the column scipy's loop picks, or
// -1 when every unvisited column has infinite cost (infeasible). `lowest` receives the minimum.
using ScanFn = int32_t (*)(const double* costRow, int32_t i, double minVal, double ui, const ScanState& s,
                           double& lowest);

int32_t scanPortable(const double* costRow, int32_t i, double minVal, double ui, const ScanState& s, double& lowest);

// Sizes v, spc, visited, path, ... for an nr x nc problem: zero duals, nothing assigned.
void resetWorkspace(Workspace& ws, int64_t nr, int64_t nc);

// scipy's driver on the nr x nc (nr <= nc) working matrix C: augments from each of the `count`
// rows in `rows` (nullptr: rows 0 .. count-1) in that order, starting from the matching and duals
// in `ws` (which must be dual feasible: u[i] + v[j] <= C[i,j], equal on matched pairs). Fills
// ws.col4row / ws.row4col. Throws "<argName>: matrix is infeasible".
void augmentRows(const double* C, int64_t nr, int64_t nc, Workspace& ws, ScanFn scan, const int32_t* rows,
                 int64_t count, const std::string& argName);

// Square problems at least this large try the warm start first.
constexpr int64_t kWarmStartMinSize = 1500;

// Solves the n x n working matrix C with a Jonker–Volgenant warm start (column reduction and
// augmenting row reduction) followed by augmentRows for the rows left free. Returns true, with
// ws.col4row set, only when every entry is finite and the optimum is certified unique (no
// alternating cycle of near-zero reduced cost), so the answer is exactly scipy's; false
// otherwise (the caller then runs scipy's algorithm from scratch).
bool solveSquareWarmStart(const double* C, int64_t n, Workspace& ws, ScanFn scan, const std::string& argName);

// The smallest and second smallest of row[j] - v[j] over j < n, and a column of the smallest
// (for the augmenting row reduction of the warm start).
struct TwoSmallest {
  double best, second;
  int32_t bestCol;
};
void twoSmallest(const double* row, const double* v, int64_t n, TwoSmallest& out);

// True when p[0..n) holds a NaN or -inf (the entries scipy rejects in the working matrix).
bool hasInvalidEntries(const double* p, int64_t n);

// The widest SIMD kernel the CPU supports (falls back to scanPortable), and its name.
ScanFn bestScanKernel();
const char* bestScanKernelName();

// A kernel by name ("portable", "avx2", "avx512"); nullptr when this CPU lacks it (for tests).
ScanFn scanKernelByName(const std::string& name);

}  // namespace adetr::lsa::detail
