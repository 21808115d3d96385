// A collective (or the rendezvous) of a data-parallel run failed: a peer died, hung past the
// timeout, or the ranks disagree about the run. It carries the ranks found responsible (empty
// when none could be named); the binding turns it into a JS Error with code
// ERR_ALIGN_DETR_DISTRIBUTED and a `ranks` array, which lib/ rethrows as DistributedError.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace adetr {

class DistributedError : public std::runtime_error {
 public:
  DistributedError(const std::string& message, std::vector<int> ranks)
      : std::runtime_error(message), ranks(std::move(ranks)) {}

  std::vector<int> ranks;  // the ranks that stopped responding or disagree
};

}  // namespace adetr
