#include "dist/gradient_sync.h"

#include <ATen/ops/zeros.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>

namespace adetr::dist {

GradientSync::GradientSync(ProcessGroup& group, std::vector<at::Tensor> parameters, int64_t bucketBytes)
    : group_(group) {
  for (auto& p : parameters) {
    if (p.requires_grad()) parameters_.push_back(p);
  }
  slot_.resize(parameters_.size());
  seen_.assign(parameters_.size(), false);
  // Reverse order; a new bucket when the cap is reached or the dtype/device changes.
  int64_t bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    bool fresh = buckets_.empty() || bytes + size > bucketBytes;
    if (!fresh) {
      const at::Tensor& first = parameters_[buckets_.back().params.front()];
      fresh = first.scalar_type() != p.scalar_type() || first.device() != p.device();
    }
    if (fresh) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    slot_[k] = {buckets_.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + parameters_[b.params.back()].numel());
    b.params.push_back(k);
    bytes += size;
  }
  for (auto& b : buckets_) {
    const at::Tensor& last = parameters_[b.params.back()];
    b.flat = at::zeros({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const at::Tensor& grad) { onGradient(k, grad); }));
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

int64_t GradientSync::bytesPerStep() const {
  int64_t n = 0;
  for (const auto& b : buckets_) n += b.flat.numel() * static_cast<int64_t>(b.flat.element_size());
  return n;
}

void GradientSync::arm() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& b : buckets_) {
    b.flat.zero_();
    b.missing = b.params.size();
    b.work.reset();
  }
  seen_.assign(parameters_.size(), false);
  started_ = 0;
  startedInBackward_ = 0;
  armed_ = true;
}

void GradientSync::onGradient(size_t param, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  const auto [bucket, position] = slot_[param];
  Bucket& b = buckets_[bucket];
  const int64_t n = parameters_[param].numel();
  // A parameter reached twice in one backward (not expected: autograd sums before the hook) adds up.
  auto view = b.flat.narrow(0, b.offsets[position], n);
  if (seen_[param]) {
    view.add_(grad.reshape({n}));
  } else {
    view.copy_(grad.reshape({n}));
    seen_[param] = true;
    --b.missing;
  }
  startReady(false);
  startedInBackward_ = static_cast<int64_t>(started_);
}

void GradientSync::startReady(bool all) {
  while (started_ < buckets_.size() && (all || buckets_[started_].missing == 0)) {
    Bucket& b = buckets_[started_++];
    b.work = group_.allreduceAsync(b.flat, "the gradient all-reduce");
  }
}

void GradientSync::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  armed_ = false;
  startReady(true);
  // Which parameters any rank used (a sum of 0/1 flags), started after every bucket.
  at::Tensor used = at::zeros({static_cast<int64_t>(parameters_.size())}, at::TensorOptions().dtype(at::kFloat));
  auto* u = used.data_ptr<float>();
  for (size_t k = 0; k < parameters_.size(); ++k) u[k] = seen_[k] ? 1.f : 0.f;
  auto usedWork = group_.allreduceAsync(used, "the gradient all-reduce");
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : buckets_) b.work->wait();
  usedWork->wait();
  lastWait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double scale = 1.0 / group_.worldSize();
  at::NoGradGuard noGrad;
  for (auto& b : buckets_) {
    b.flat.mul_(scale);
    for (size_t i = 0; i < b.params.size(); ++i) {
      const size_t k = b.params[i];
      if (u[k] == 0.f) continue;  // no rank used it: as a single process, no gradient
      at::Tensor& p = parameters_[k];
      auto avg = b.flat.narrow(0, b.offsets[i], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
    }
  }
}

}  // namespace adetr::dist
