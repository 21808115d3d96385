#include "train/optimizer.h"

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/utils/clip_grad.h>

#include <set>

namespace adetr::train {

double learningRateFactor(const ScheduleOptions& schedule, int64_t step) {
  double factor = 1.0;
  for (int64_t m : schedule.milestones) {
    if (step >= m) factor *= schedule.gamma;
  }
  if (schedule.warmupSteps > 0 && step < schedule.warmupSteps) {
    const double alpha = static_cast<double>(step) / static_cast<double>(schedule.warmupSteps);
    factor *= schedule.warmupFactor * (1.0 - alpha) + alpha;
  }
  return factor;
}

std::unique_ptr<torch::optim::AdamW> makeOptimizer(model::Dino& model, const OptimizerOptions& options) {
  // Parameters that take no weight decay: those of norm layers and embeddings.
  std::set<const void*> noDecay;
  for (const auto& item : model->named_modules()) {
    const auto& m = item.value();
    const bool normOrEmbedding = dynamic_cast<torch::nn::LayerNormImpl*>(m.get()) ||
                                 dynamic_cast<torch::nn::GroupNormImpl*>(m.get()) ||
                                 dynamic_cast<torch::nn::EmbeddingImpl*>(m.get());
    if (normOrEmbedding) {
      for (const auto& p : m->parameters(false)) noDecay.insert(p.unsafeGetTensorImpl());
    }
  }
  std::vector<at::Tensor> groups[4];  // backbone decay, backbone no-decay, rest decay, rest no-decay
  for (const auto& p : model->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const bool backbone = p.key().rfind("backbone.", 0) == 0;
    const bool decay = noDecay.count(p.value().unsafeGetTensorImpl()) == 0 && p.key() != "transformer.level_embeds";
    groups[(backbone ? 0 : 2) + (decay ? 0 : 1)].push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> paramGroups;
  for (int g = 0; g < 4; ++g) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(g < 2 ? options.backboneLr : options.lr);
    opts->betas({options.beta1, options.beta2}).weight_decay(g % 2 == 0 ? options.weightDecay : 0.0);
    // Empty groups are kept so the group order (and the schedule's base rates) stays fixed.
    paramGroups.emplace_back(groups[g], std::move(opts));
  }
  return std::make_unique<torch::optim::AdamW>(
      paramGroups, torch::optim::AdamWOptions(options.lr).betas({options.beta1, options.beta2}));
}

void applyLearningRate(torch::optim::AdamW& optimizer, const OptimizerOptions& options, double factor) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    auto& opts = static_cast<torch::optim::AdamWOptions&>(groups[g].options());
    opts.lr((g < 2 ? options.backboneLr : options.lr) * factor);
  }
}

double clipGradients(model::Dino& model, double maxNorm) {
  std::vector<at::Tensor> withGrad;
  for (const auto& p : model->parameters()) {
    if (p.grad().defined()) withGrad.push_back(p);
  }
  if (withGrad.empty()) return 0.0;
  if (maxNorm <= 0) {
    double total = 0;
    for (const auto& p : withGrad) total += p.grad().pow(2).sum().item<double>();
    return std::sqrt(total);
  }
  return torch::nn::utils::clip_grad_norm_(withGrad, maxNorm, 2.0);
}

}  // namespace adetr::train
