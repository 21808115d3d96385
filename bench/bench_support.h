// What the C++ benchmarks share: the machine's description and median wall-time measurement.
#pragma once

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace adetr::bench {

// The CPU's model name from /proc/cpuinfo ("unknown" where there is none).
inline std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Wall time of one call of `fn`, in milliseconds.
inline double elapsedMs(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The middle value (the upper one of the two middles for an even count); `values` non-empty.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median wall time of `repeats` calls of `fn` after one warm-up call, in milliseconds.
inline double medianMs(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(elapsedMs(fn));
  return median(std::move(ms));
}

}  // namespace adetr::bench
