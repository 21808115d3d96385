// One training step at a time (forward with denoising queries, criterion, backward, clipping,
// schedule, AdamW), and training checkpoints that resume bit for bit. No N-API: the binding
// and the TypeScript Trainer drive this.
#pragma once

#include <ATen/core/Generator.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/non_finite_loss_error.h"
#include "model/dino.h"
#include "train/criterion.h"
#include "train/optimizer.h"
#include "train/step_sync.h"
#include "train/trainer_options.h"

namespace adetr::train {

// What evaluateLoss computes besides the plain losses.
struct EvaluateOptions {
  // Add the denoising (CDN) queries and their loss terms as a training step would (the model
  // runs in training mode for that forward; it has no dropout, so only the DN queries differ).
  bool denoising = false;
  // Seed of the denoising noise (a generator of its own: the training generator is untouched);
  // unset: the trainer's seed. The same seed gives identical denoising losses.
  std::optional<uint64_t> seed;
  bool returnMatching = false;  // fill StepResult::matching
};

struct StepResult {
  std::vector<OutputMatchDetail> matching;             // evaluateLoss with returnMatching only
  std::vector<std::pair<std::string, double>> losses;  // every weighted term, by name
  double total = 0;
  double gradNorm = 0;  // before clipping
  double lr = 0;        // of the non-backbone groups, as applied to this step
  int64_t step = 0;     // steps done after this one
};

// Trainer::step throws adetr::NonFiniteLossError (common/non_finite_loss_error.h) when a loss
// term is NaN or infinite: the step is abandoned before any update.

class Trainer {
 public:
  Trainer(model::Dino model, TrainerOptions options);

  // One optimisation step on a prepared batch.
  StepResult step(const model::ImageBatch& batch, const std::vector<model::Target>& targets);

  // Losses of a batch without an update (no autograd; eval mode and no denoising queries unless
  // options.denoising). The model's train/eval mode is restored afterwards.
  StepResult evaluateLoss(const model::ImageBatch& batch, const std::vector<model::Target>& targets,
                          const EvaluateOptions& options = {});

  // Model, optimizer state, generator state, step count and `metadata` in one file, atomically.
  void save(const std::string& path, const std::string& metadata);

  // Restores a file written by save(); the model must have the checkpoint's config. Returns
  // the metadata.
  static std::unique_ptr<Trainer> load(const std::string& path, TrainerOptions options, std::string* metadata);

  model::Dino& model() { return model_; }
  int64_t stepCount() const { return step_; }
  const TrainerOptions& options() const { return options_; }

  // Data parallelism: every step sums the box count and agrees on the denoising layout and on
  // non-finite losses through `sync`, which averages the gradients during backward (before
  // clipping); the StepResult's total and terms are then the ranks' mean (the whole batch's loss),
  // for reporting only. nullptr: train alone.
  void setStepSync(std::shared_ptr<StepSync> sync) { sync_ = std::move(sync); }
  StepSync* stepSync() const { return sync_.get(); }
  // Per-sample denoising noise: each image's noise comes from (seed, step, Target::sampleId)
  // (train/sample_noise.h) instead of the trainer's generator, so it does not depend on which
  // batch or process the image is in. Every target of a step then needs a sampleId.
  void setSampleSeededNoise(bool on) { sampleSeededNoise_ = on; }
  bool sampleSeededNoise() const { return sampleSeededNoise_; }

 private:
  model::Dino model_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  at::Generator generator_;
  int64_t step_ = 0;
  std::shared_ptr<StepSync> sync_;
  bool sampleSeededNoise_ = false;
};

}  // namespace adetr::train
