// Argument errors raised by the C++ core (no N-API here).
//
// The core validates every input it is given and throws ArgError with a message that starts
// with the argument's name ("cost: must be 2-D, got 3-D"). The binding layer turns
// ArgError::Kind::Type into a JS TypeError and Kind::Range into a JS RangeError; any other
// std::exception (c10::Error included) becomes a plain JS Error.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace adetr {

class ArgError : public std::invalid_argument {
 public:
  enum class Kind { Type, Range };
  ArgError(Kind kind, const std::string& message) : std::invalid_argument(message), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

namespace detail {
inline void appendAll(std::ostringstream&) {}
template <typename T, typename... Rest>
void appendAll(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  appendAll(os, rest...);
}
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  appendAll(os, parts...);
  return os.str();
}
}  // namespace detail

// Throws a TypeError-kind ArgError unless `cond` holds; the message parts are streamed together.
template <typename... Parts>
inline void checkType(bool cond, const Parts&... parts) {
  if (!cond) throw ArgError(ArgError::Kind::Type, detail::concat(parts...));
}

// Throws a RangeError-kind ArgError unless `cond` holds.
template <typename... Parts>
inline void checkRange(bool cond, const Parts&... parts) {
  if (!cond) throw ArgError(ArgError::Kind::Range, detail::concat(parts...));
}

}  // namespace adetr
