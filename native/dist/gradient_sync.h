// Gradient averaging over a process group in buckets, overlapped with backward: a hook on each
// parameter copies its gradient into its bucket as autograd produces it, and a bucket's
// all-reduce starts as soon as it is full and every bucket before it has started (the same
// order on every rank, as c10d requires). Buckets follow the parameters in reverse, roughly the
// order backward reaches them. A parameter no rank used keeps no gradient, as in a
// single-process step; one used by some rank gets the average (zero where unused).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "dist/process_group.h"

namespace adetr::dist {

class GradientSync {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;  // DDP's default bucket cap

  GradientSync(ProcessGroup& group, std::vector<at::Tensor> parameters, int64_t bucketBytes = kDefaultBucketBytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Before backward: clears the buckets and lets the hooks collect.
  void arm();
  // After backward: starts what is left, waits, and writes the averages into .grad.
  void finish();

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t bytesPerStep() const;                         // gradient bytes each rank all-reduces per step
  double lastWaitSeconds() const { return lastWait_; }  // finish()'s wait for the all-reduces
  int64_t bucketsStartedInBackward() const { return startedInBackward_; }  // of the last step

 private:
  struct Bucket {
    std::vector<size_t> params;    // indices into parameters_
    std::vector<int64_t> offsets;  // of each parameter's gradient in `flat`
    at::Tensor flat;
    size_t missing = 0;  // gradients not yet copied in
    std::unique_ptr<ProcessGroup::Pending> work;
  };
  void onGradient(size_t param, const at::Tensor& grad);
  void startReady(bool all);

  ProcessGroup& group_;
  std::vector<at::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<std::pair<size_t, size_t>> slot_;  // parameter → (bucket, position)
  std::vector<Bucket> buckets_;
  std::vector<bool> seen_;  // parameter got a gradient this step (here)
  size_t started_ = 0;      // buckets started, in order
  bool armed_ = false;
  std::mutex mutex_;
  double lastWait_ = 0;
  int64_t startedInBackward_ = 0;
};

}  // namespace adetr::dist
