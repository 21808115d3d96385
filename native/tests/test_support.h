// What every native test shares (no gtest here): the EXPECT check with a check/failure tally,
// the ArgError expectations, and main()'s run-report-exit pattern.
//
// The macro is EXPECT, not CHECK: libtorch built with glog (C10_USE_GLOG) already defines CHECK.
#pragma once

#include <cstdio>
#include <exception>
#include <string>

#include "common/arg_error.h"

namespace adetr::test {

struct Tally {
  int checks = 0;
  int failures = 0;
};

inline Tally& tally() {
  static Tally t;
  return t;
}

// Failure messages printed before the rest are only counted (a broken kernel fails thousands).
constexpr int kMaxPrintedFailures = 25;

// Counts one check; true when its message should be printed.
inline bool recordFailure(bool ok) {
  Tally& t = tally();
  ++t.checks;
  if (ok) return false;
  ++t.failures;
  return t.failures <= kMaxPrintedFailures;
}

}  // namespace adetr::test

// EXPECT(cond, printf-format, args...): counts the check; on failure prints the place, the
// condition and the formatted message, and the test goes on.
#define EXPECT(cond, ...)                                                   \
  do {                                                                      \
    if (::adetr::test::recordFailure(static_cast<bool>(cond))) {            \
      std::fprintf(stderr, "FAIL %s:%d: %s | ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
    }                                                                       \
  } while (0)

namespace adetr::test {

// `fn` must throw an ArgError of `kind` whose message starts with `prefix` (the argument's name).
template <typename Fn>
void expectArgError(Fn&& fn, ArgError::Kind kind, const std::string& prefix) {
  try {
    fn();
    EXPECT(false, "expected an ArgError starting with '%s'", prefix.c_str());
  } catch (const ArgError& e) {
    const std::string msg = e.what();
    EXPECT(e.kind() == kind, "wrong error kind for '%s'", msg.c_str());
    EXPECT(msg.rfind(prefix, 0) == 0, "message '%s' should start with '%s'", msg.c_str(), prefix.c_str());
  }
}

// The same without a kind: `what` names the case in the failure message.
template <typename Fn>
void expectArgError(const char* what, const std::string& prefix, Fn&& fn) {
  try {
    fn();
    EXPECT(false, "%s: no error", what);
  } catch (const ArgError& e) {
    EXPECT(std::string(e.what()).rfind(prefix, 0) == 0, "%s: message '%s' does not start with '%s'", what, e.what(),
           prefix.c_str());
  }
}

// main()'s body: runs `tests`, reports the tally under `name`, and returns the exit status
// (0 only when every check passed and nothing threw).
template <typename Fn>
int runTests(const char* name, Fn&& tests) {
  try {
    tests();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL %s: unexpected exception: %s\n", name, e.what());
    return 1;
  }
  const Tally& t = tally();
  if (t.failures > 0) {
    std::fprintf(stderr, "%s: %d of %d checks failed\n", name, t.failures, t.checks);
    return 1;
  }
  std::printf("%s: all %d checks passed\n", name, t.checks);
  return 0;
}

}  // namespace adetr::test
