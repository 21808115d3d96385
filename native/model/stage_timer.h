// Wall-clock time of the forward's stages (backbone, neck, encoder, decoder, post-processing),
// for the per-module benchmark and for users who profile. On a GPU, kernels run asynchronously:
// a timer built with `synchronize` waits for the device at each mark, so the figures are the
// stages' real times (at the cost of the overlap); without it they are launch times.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>

namespace adetr::model {

struct StageTimings {
  double backboneMs = 0, neckMs = 0, encoderMs = 0, decoderMs = 0, postprocessMs = 0;
};

class StageTimer {
 public:
  // `device` is a tensor on the device the stages run on (only its device is read).
  StageTimer(const at::Tensor& device, bool synchronize);
  // Milliseconds since the previous mark (or construction), after waiting for the device when
  // synchronising.
  double lap();

 private:
  bool cuda_;
  int64_t deviceIndex_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace adetr::model
