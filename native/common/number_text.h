// A number as error messages print it (as JS would): the shortest of 15..17 significant digits
// that reads back the same (2.5, 0.1, 9007199254740992), never a rounded 9.0072e+15.
#pragma once

#include <sstream>
#include <string>

namespace adetr {

inline std::string numberText(double v) {
  for (int precision = 15; precision <= 17; ++precision) {
    std::ostringstream os;
    os.precision(precision);
    os << v;
    if (precision == 17 || std::stod(os.str()) == v) return os.str();
  }
  return {};
}

}  // namespace adetr
