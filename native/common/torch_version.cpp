#include "common/torch_version.h"

#include <torch/csrc/api/include/torch/version.h>

namespace adetr {

std::string torchVersionString() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace adetr
