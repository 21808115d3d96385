// A training step whose loss (or gradient norm) is NaN or infinite: the step is abandoned before
// any update. It carries the step and the loss term; the binding turns it into a JS Error with
// code ERR_ALIGN_DETR_NON_FINITE_LOSS and `step` / `term` properties, which lib/ rethrows as
// NonFiniteLossError.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace adetr {

class NonFiniteLossError : public std::runtime_error {
 public:
  // "step <step>: loss term '<term>' is NaN|infinite; training stopped before updating the weights"
  NonFiniteLossError(int64_t step, const std::string& term, double value)
      : std::runtime_error(describe(step, term, value)), step(step), term(term) {}

  int64_t step;      // optimisation steps done before the failing one
  std::string term;  // the loss term (detrex name) or "gradient norm"

 private:
  static std::string describe(int64_t step, const std::string& term, double value) {
    std::ostringstream os;
    os << "step " << step << ": loss term '" << term << "' is " << (std::isnan(value) ? "NaN" : "infinite")
       << "; training stopped before updating the weights";
    return os.str();
  }
};

}  // namespace adetr
