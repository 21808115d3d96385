// A checkpoint file that is damaged (a record fails its checksum). The binding turns it into a
// JS Error with code ERR_ALIGN_DETR_CHECKPOINT, which lib/ rethrows as CheckpointError.
#pragma once

#include <stdexcept>
#include <string>

namespace adetr {

class CheckpointError : public std::runtime_error {
 public:
  explicit CheckpointError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace adetr
