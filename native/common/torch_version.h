// The libtorch version this code was compiled against (libtorch 1.x and 2.x alike).
#pragma once

#include <string>

namespace adetr {

// "MAJOR.MINOR.PATCH" of the libtorch headers the core was built with.
std::string torchVersionString();

}  // namespace adetr
