#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>

#include "common/arg_error.h"
#include "model/checkpoint.h"
#include "train/sample_noise.h"

namespace adetr::train {

namespace {
// Non-finite predictions would otherwise surface as an invalid cost matrix in the matcher:
// report them as the loss terms of the output they belong to.
void checkFinitePredictions(const model::DinoOutput& out, int64_t step) {
  auto check = [&](const model::LayerPrediction& p, const std::string& suffix) {
    if (!p.logits.isfinite().all().item<bool>()) throw NonFiniteLossError(step, lossTermName("class", suffix), NAN);
    if (!p.boxes.isfinite().all().item<bool>()) throw NonFiniteLossError(step, lossTermName("bbox", suffix), NAN);
  };
  check(out.encoder, lossSuffix(LossOutput::Encoder));
  const int64_t layers = static_cast<int64_t>(out.layers.size());
  for (int64_t i = 0; i < layers; ++i) check(out.layers[i], lossSuffix(LossOutput::Decoder, i, layers));
  const int64_t dnLayers = static_cast<int64_t>(out.denoising.size());
  for (int64_t i = 0; i < dnLayers; ++i) check(out.denoising[i], lossSuffix(LossOutput::Denoising, i, dnLayers));
}

// A data-parallel step reports the ranks' mean of its total and of every term: with the losses
// normalised by the global box count over the world size, that is the loss of the whole
// (all-rank) batch, as one process would report it. One collective per step.
void averageOverRanks(StepResult& result, StepSync& sync) {
  std::vector<double> values{result.total};
  for (const auto& term : result.losses) values.push_back(term.second);
  sync.averageForReport(values);
  result.total = values[0];
  for (size_t i = 0; i < result.losses.size(); ++i) result.losses[i].second = values[i + 1];
}

}  // namespace

Trainer::Trainer(model::Dino model, TrainerOptions options)
    : model_(std::move(model)),
      options_(std::move(options)),
      generator_(at::make_generator<at::CPUGeneratorImpl>(options_.seed)) {
  optimizer_ = makeOptimizer(model_, options_.optimizer);
}

StepResult Trainer::step(const model::ImageBatch& batchIn, const std::vector<model::Target>& targetsIn) {
  at::AutoGradMode grad(true);
  model_->train();
  const double factor = learningRateFactor(options_.schedule, step_);
  applyLearningRate(*optimizer_, options_.optimizer, factor);
  optimizer_->zero_grad();

  model::ImageBatch batch = batchIn;
  std::vector<model::Target> targets = targetsIn;
  if (sampleSeededNoise_) {
    for (size_t i = 0; i < targets.size(); ++i) {
      checkType(targets[i].sampleId.has_value(), "targets[", i, "]: per-sample noise needs the sample's id");
      targets[i].noiseSeed = sampleNoiseSeed(options_.seed, step_, *targets[i].sampleId);
    }
  }
  double numBoxes = 0;  // the batch's own
  if (sync_) {
    int64_t boxes = 0, maxGt = 0;
    for (const auto& t : targets) {
      boxes += t.labels.size(0);
      maxGt = std::max<int64_t>(maxGt, t.labels.size(0));
    }
    const StepSync::BatchTotals totals = sync_->batchTotals(static_cast<double>(boxes), maxGt);
    batch.denoisingMaxGt = totals.maxGt;
    // DETR: the box count summed over the ranks, per rank, so that averaging the ranks'
    // gradients gives the gradient of the whole batch's loss.
    numBoxes = std::max(totals.boxes, 1.0) / sync_->worldSize();
  }

  model::DinoOutput out = model_->forward(batch, &targets, generator_);
  // A non-finite loss on any rank stops every rank at this step (none may wait for the others'
  // gradients in vain).
  std::optional<NonFiniteLossError> failure;
  try {
    checkFinitePredictions(out, step_);
  } catch (const NonFiniteLossError& e) {
    failure = e;
  }
  LossTerms losses;
  StepResult result;
  if (!failure) {
    losses = computeLosses(out, targets, options_.criterion, nullptr, numBoxes);
    for (const auto& [name, value] : losses.terms) {
      const double v = value.item<double>();
      if (!std::isfinite(v)) {
        failure = NonFiniteLossError(step_, name, v);
        break;
      }
      result.losses.emplace_back(name, v);
    }
  }
  if (sync_ && sync_->anyRank(failure.has_value()) && !failure) {
    failure = NonFiniteLossError(step_, "a loss term on another rank", NAN);
  }
  if (failure) {
    optimizer_->zero_grad();
    throw *failure;
  }
  result.total = losses.total.item<double>();
  // Reporting only: backward below differentiates this rank's own losses.total.
  if (sync_) averageOverRanks(result, *sync_);
  if (sync_) sync_->beforeBackward();
  losses.total.backward();
  if (sync_) sync_->afterBackward();
  result.gradNorm = clipGradients(model_, options_.optimizer.clipMaxNorm);
  if (!std::isfinite(result.gradNorm)) {
    optimizer_->zero_grad();
    throw NonFiniteLossError(step_, "gradient norm", result.gradNorm);
  }
  optimizer_->step();
  optimizer_->zero_grad();
  result.lr = options_.optimizer.lr * factor;
  result.step = ++step_;
  return result;
}

StepResult Trainer::evaluateLoss(const model::ImageBatch& batch, const std::vector<model::Target>& targets,
                                 const EvaluateOptions& options) {
  at::NoGradGuard noGrad;
  // Puts the model's mode back however this returns.
  struct ModeGuard {
    model::Dino& m;
    bool training;
    ~ModeGuard() { m->train(training); }
  } modeGuard{model_, model_->is_training()};
  model::DinoOutput out;
  if (options.denoising) {
    // The DN queries are built in training mode only; a generator of its own keeps the training
    // generator's stream (and so resumed training) unchanged.
    model_->train();
    at::Generator dnGenerator = at::make_generator<at::CPUGeneratorImpl>(options.seed.value_or(options_.seed));
    out = model_->forward(batch, &targets, dnGenerator);
  } else {
    model_->eval();
    out = model_->forward(batch);
  }
  StepResult result;
  LossTerms losses =
      computeLosses(out, targets, options_.criterion, options.returnMatching ? &result.matching : nullptr);
  for (const auto& [name, value] : losses.terms) result.losses.emplace_back(name, value.item<double>());
  result.total = losses.total.item<double>();
  result.step = step_;
  return result;
}

void Trainer::save(const std::string& path, const std::string& metadata) {
  torch::serialize::OutputArchive archive;
  model::writeModelToArchive(archive, model_, metadata);
  torch::serialize::OutputArchive optimizerArchive;
  optimizer_->save(optimizerArchive);
  archive.write("optimizer", optimizerArchive);
  archive.write("trainer/step", c10::IValue(step_));
  archive.write("trainer/generator", generator_.get_state(), /*is_buffer=*/true);
  model::saveArchiveAtomically(archive, path);
}

std::unique_ptr<Trainer> Trainer::load(const std::string& path, TrainerOptions options, std::string* metadata) {
  torch::serialize::InputArchive archive;
  model::openArchive(archive, path);
  model::LoadedCheckpoint loaded = model::readModelFromArchive(archive, path);
  auto trainer = std::make_unique<Trainer>(loaded.model, std::move(options));
  if (metadata) *metadata = loaded.metadata;
  c10::IValue step;
  checkType(archive.try_read("trainer/step", step) && step.isInt(), "path: ", path,
            " is a model checkpoint without training state (use it as initial weights instead of resuming)");
  trainer->step_ = step.toInt();
  torch::serialize::InputArchive optimizerArchive;
  checkType(archive.try_read("optimizer", optimizerArchive), "path: ", path, " lacks the optimizer state");
  trainer->optimizer_->load(optimizerArchive);
  at::Tensor generatorState;
  checkType(archive.try_read("trainer/generator", generatorState, /*is_buffer=*/true), "path: ", path,
            " lacks the random generator state");
  trainer->generator_.set_state(generatorState);
  return trainer;
}

}  // namespace adetr::train
