// scipy's augmenting-path driver: one Dijkstra-like search per free row, then the dual update
// and the augmentation, with scipy's loop order (see lsa_solver.h).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "common/arg_error.h"
#include "ops/lsa/lsa_solver.h"

namespace adetr::lsa::detail {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

void resetWorkspace(Workspace& ws, int64_t nr, int64_t nc) {
  const size_t padded = static_cast<size_t>(nc + kPad);
  ws.u.assign(static_cast<size_t>(nr), 0.0);
  ws.v.assign(padded, 0.0);
  ws.spc.assign(padded, kInf);
  ws.visited.assign(padded, 0);
  std::fill(ws.visited.begin() + nc, ws.visited.end(), ~uint64_t(0));
  ws.path.assign(padded, -1);
  ws.col4row.assign(static_cast<size_t>(nr), -1);
  ws.row4col.assign(padded, -1);
  ws.remaining.resize(static_cast<size_t>(nc));
  ws.pos.resize(static_cast<size_t>(nc));
  ws.visitedRows.clear();
  ws.visitedCols.clear();
  ws.visitedRows.reserve(static_cast<size_t>(nr));
  ws.visitedCols.reserve(static_cast<size_t>(nr));
}

void augmentRows(const double* C, int64_t nr, int64_t nc, Workspace& ws, ScanFn scan, const int32_t* rows,
                 int64_t count, const std::string& argName) {
  double* u = ws.u.data();
  double* v = ws.v.data();
  double* spc = ws.spc.data();
  uint64_t* visited = ws.visited.data();
  int32_t* path = ws.path.data();
  int32_t* col4row = ws.col4row.data();
  int32_t* row4col = ws.row4col.data();
  int32_t* remaining = ws.remaining.data();
  int32_t* pos = ws.pos.data();

  ScanState state{nc, v, spc, visited, path, row4col, remaining, pos, nc};

  for (int64_t k = 0; k < count; ++k) {
    const int32_t curRow = rows ? rows[k] : static_cast<int32_t>(k);
    // A fresh search: every column unvisited, scanned in the order nc-1 .. 0.
    for (int64_t it = 0; it < nc; ++it) {
      remaining[it] = static_cast<int32_t>(nc - 1 - it);
      pos[nc - 1 - it] = static_cast<int32_t>(it);
    }
    std::fill(spc, spc + nc, kInf);
    state.nRemaining = nc;

    double minVal = 0;
    int32_t i = curRow;
    int32_t sink = -1;
    while (sink == -1) {
      ws.visitedRows.push_back(i);
      double lowest;
      const int32_t j = scan(C + static_cast<int64_t>(i) * nc, i, minVal, u[i], state, lowest);
      if (j < 0) throw ArgError(ArgError::Kind::Range, argName + ": matrix is infeasible");
      minVal = lowest;
      if (row4col[j] == -1) {
        sink = j;
      } else {
        i = row4col[j];
      }
      // Visit j: drop it from `remaining` by moving the last entry into its slot.
      visited[j] = ~uint64_t(0);
      ws.visitedCols.push_back(j);
      const int32_t slot = pos[j];
      const int32_t last = remaining[--state.nRemaining];
      remaining[slot] = last;
      pos[last] = slot;
    }

    // Dual update (each term is independent, so the visiting order of the lists is irrelevant).
    u[curRow] += minVal;
    for (const int32_t r : ws.visitedRows) {
      if (r != curRow) u[r] += minVal - spc[col4row[r]];
    }
    for (const int32_t c : ws.visitedCols) {
      v[c] -= minVal - spc[c];
      visited[c] = 0;
    }
    ws.visitedRows.clear();
    ws.visitedCols.clear();

    // Augment along the path back to curRow.
    int32_t j = sink;
    while (true) {
      const int32_t r = path[j];
      row4col[j] = r;
      std::swap(col4row[r], j);
      if (r == curRow) break;
    }
  }
}

}  // namespace adetr::lsa::detail
