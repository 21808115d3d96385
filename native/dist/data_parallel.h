// The Trainer's data-parallel hooks (train::StepSync) over a ProcessGroup: at start the
// module's parameters and buffers are broadcast from rank 0; each step the box count is summed
// and the denoising layout agreed across ranks, the reported losses are averaged, and
// gradients are averaged in buckets during backward (GradientSync).
#pragma once

#include <torch/nn/module.h>

#include <memory>

#include "dist/gradient_sync.h"
#include "dist/process_group.h"
#include "train/step_sync.h"

namespace adetr::dist {

// Rank 0's values of every parameter and buffer, on every rank.
void broadcastModule(ProcessGroup& group, torch::nn::Module& module);

// Every rank's rows of `local` ([n_r, ...], n_r may differ), concatenated in rank order.
at::Tensor allgatherRows(ProcessGroup& group, const at::Tensor& local, const std::string& what);

class DataParallel : public train::StepSync {
 public:
  DataParallel(std::shared_ptr<ProcessGroup> group, torch::nn::Module& module,
               int64_t bucketBytes = GradientSync::kDefaultBucketBytes);

  int rank() const override { return group_->rank(); }
  int worldSize() const override { return group_->worldSize(); }
  BatchTotals batchTotals(double boxes, int64_t maxGt) override;
  bool anyRank(bool flag) override;
  void averageForReport(std::vector<double>& values) override;
  void beforeBackward() override { gradients_.arm(); }
  void afterBackward() override { gradients_.finish(); }

  ProcessGroup& group() { return *group_; }
  const GradientSync& gradients() const { return gradients_; }

 private:
  std::shared_ptr<ProcessGroup> group_;
  GradientSync gradients_;
};

}  // namespace adetr::dist
