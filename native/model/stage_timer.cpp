#include "model/stage_timer.h"

#include <ATen/detail/CUDAHooksInterface.h>

namespace adetr::model {

StageTimer::StageTimer(const at::Tensor& device, bool synchronize)
    : cuda_(synchronize && device.is_cuda()),
      deviceIndex_(device.is_cuda() ? device.get_device() : -1),
      last_(std::chrono::steady_clock::now()) {
  if (cuda_) at::detail::getCUDAHooks().deviceSynchronize(deviceIndex_);
}

double StageTimer::lap() {
  if (cuda_) at::detail::getCUDAHooks().deviceSynchronize(deviceIndex_);
  const auto now = std::chrono::steady_clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
  last_ = now;
  return ms;
}

}  // namespace adetr::model
