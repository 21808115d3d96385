// The recipe's optimiser (docs/numerical-contract.md §E): AdamW with the backbone at a lower learning rate, no weight
// decay on normalisation layers and embeddings, global L2 gradient clipping, and a step-decay
// learning-rate schedule with optional linear warmup.
#pragma once

#include <torch/optim/adamw.h>

#include <memory>
#include <vector>

#include "model/dino.h"

namespace adetr::train {

struct OptimizerOptions {
  double lr = 1e-4;
  double backboneLr = 1e-5;
  double weightDecay = 1e-4;
  double beta1 = 0.9, beta2 = 0.999;
  double clipMaxNorm = 0.1;  // <= 0 disables clipping
};

struct ScheduleOptions {
  std::vector<int64_t> milestones;  // steps at which the learning rate is multiplied by gamma
  double gamma = 0.1;
  int64_t warmupSteps = 0;  // linear warmup from warmupFactor to 1 over these steps
  double warmupFactor = 1e-3;
};

// The learning-rate multiplier at `step` (0-based): warmup × gamma^(milestones passed).
double learningRateFactor(const ScheduleOptions& schedule, int64_t step);

// AdamW over four parameter groups: {backbone, rest} × {decayed, not decayed}. Frozen
// parameters are left out. Norm weights/biases (LayerNorm, GroupNorm), embeddings and the
// level embeddings get no weight decay.
std::unique_ptr<torch::optim::AdamW> makeOptimizer(model::Dino& model, const OptimizerOptions& options);

// Sets every group's learning rate to its base rate × factor (group 0/1: backbone).
void applyLearningRate(torch::optim::AdamW& optimizer, const OptimizerOptions& options, double factor);

// Clips the global L2 norm of all gradients; returns the norm before clipping.
double clipGradients(model::Dino& model, double maxNorm);

}  // namespace adetr::train
