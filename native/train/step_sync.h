// What data parallelism adds to a training step. The Trainer calls these hooks; native/dist
// implements them over c10d (DataParallel). Without one the Trainer trains alone.
#pragma once

#include <cstdint>
#include <vector>

namespace adetr::train {

class StepSync {
 public:
  virtual ~StepSync() = default;

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;

  // Across ranks: the sum of the batches' box counts (DETR normalises the losses by it) and the
  // largest per-image box count (the denoising layout, so that every rank builds the queries a
  // single process with the whole batch would).
  struct BatchTotals {
    double boxes = 0;
    int64_t maxGt = 0;
  };
  virtual BatchTotals batchTotals(double boxes, int64_t maxGt) = 0;

  // True when any rank saw a non-finite loss (so every rank abandons the step together).
  virtual bool anyRank(bool flag) = 0;

  // Replaces each value by its mean over the ranks, in one collective (every rank passes as many
  // values). For reporting only (DETR's reduce_dict): the losses a step reports become the
  // whole batch's, while each rank's gradients still come from its own loss.
  virtual void averageForReport(std::vector<double>& values) = 0;

  // Around backward: gradients are averaged over the ranks when afterBackward returns.
  virtual void beforeBackward() = 0;
  virtual void afterBackward() = 0;
};

}  // namespace adetr::train
