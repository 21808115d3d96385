// Many independent assignment problems solved in parallel (one task per problem).
#include <ATen/Parallel.h>

#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "ops/lsa/lsa.h"

namespace adetr::lsa {

std::vector<Assignment> solveBatch(const std::vector<CostView>& costs, bool maximize, const std::string& argName,
                                   Kernel kernel) {
  std::vector<Assignment> results(costs.size());
  const int64_t n = static_cast<int64_t>(costs.size());
  if (n == 0) return results;

  // Every problem is attempted and the error of the lowest failing index is the one thrown, so
  // the message does not depend on thread scheduling.
  std::mutex errorMutex;
  int64_t errorIndex = n;
  std::exception_ptr error;

  auto solveRange = [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      try {
        results[k] = solve(costs[k], maximize, argName + "[" + std::to_string(k) + "]", kernel);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (k < errorIndex) {
          errorIndex = k;
          error = std::current_exception();
        }
      }
    }
  };

  // Inside an ATen parallel region (or for one problem) the batch runs inline.
  if (n == 1 || at::in_parallel_region()) {
    solveRange(0, n);
  } else {
    at::parallel_for(0, n, 1, solveRange);
  }
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace adetr::lsa
