// The Align-DETR criterion (docs/numerical-contract.md §C, §D): matching per output, then classification, L1 and
// GIoU losses for the encoder proposals, every decoder layer and the denoising queries.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "model/cdn.h"
#include "model/dino.h"
#include "ops/align_loss/align_loss.h"
#include "train/matcher.h"

namespace adetr::train {

struct CriterionOptions {
  ops::AlignLossKind loss = ops::AlignLossKind::Align;
  // Mixed matching: k copies of each GT for the encoder and the intermediate decoder layers,
  // one-to-one on the last (docs/numerical-contract.md §D.3). One-to-one everywhere when false.
  bool mixedMatching = true;
  int64_t k = 2;
  double tau = 1.5;            // prime-sample temperature: weight e^(−rank/τ)
  double qualityAlpha = 0.25;  // q = p^α · IoU^(1−α)
  ops::AlignLossParams classParams;
  // Matching cost weights (docs/numerical-contract.md §C.1), the focal class cost's own α, γ, and the Stable-DINO
  // position-modulated cost (§C.3).
  MatcherCosts matching;
  // Loss weights (docs/numerical-contract.md §D.1; Stable-DINO uses 6 for the matching outputs' class loss).
  double weightClass = 1.0, weightBbox = 5.0, weightGiou = 2.0;
  double weightClassDn = 1.0;
  // Use the fused native classification kernel (false: the composed autograd formula).
  bool fusedClassLoss = true;
};

// The options a loss kind implies (matching, prime weights, weights), as the reference configs set them (§D.3, §D.7).
CriterionOptions criterionDefaults(ops::AlignLossKind loss);

// Which output a loss term belongs to.
enum class LossOutput { Encoder, Decoder, Denoising };

// The suffix of an output's loss terms (detrex's names): "_enc" for the encoder proposals;
// decoder layer `layer` of `layers`: "_0", ..., "" for the last; denoising layer `layer` of
// `layers`: "_dn_0", ..., "_dn" for the last. The encoder ignores layer and layers.
std::string lossSuffix(LossOutput output, int64_t layer = 0, int64_t layers = 1);

// The name of one loss term: "loss_" + term + suffix (term "class", "bbox" or "giou").
std::string lossTermName(const char* term, const std::string& suffix);

struct LossTerms {
  std::vector<std::pair<std::string, at::Tensor>> terms;  // unweighted, detrex names (loss_class_enc, ...)
  std::vector<double> weights;                            // the weight of each term in `total`
  at::Tensor total;                                       // Σ weight · term
};

// One output's assignment: per image, matched (query, GT) index pairs.
struct ImageMatch {
  at::Tensor queries;  // int64 [K]
  at::Tensor gts;      // int64 [K]
};

// One image of one output as the losses saw it (Trainer::evaluateLoss with returnMatching).
struct ImageMatchDetail {
  at::Tensor queries;  // int64 [K]: query index (denoising: the DN slot)
  at::Tensor gts;      // int64 [K]: GT index; grouped by GT with queries ascending (denoising: slot order)
  // int64 [K]: rank among the predictions matched to the same GT by quality q = p^α·IoU^(1−α)
  // (IA-BCE: max(q, 0.01)) descending, 0 = best; ties go to the lower query index.
  at::Tensor ranks;
  at::Tensor weights;  // float64 [K]: the prime weight the losses applied (e^(−rank/τ), or 1)
  int64_t copies = 1;  // GT copies this image was matched with: max(1, min(k, Q // G)); DN: groups
};

// One output (the encoder proposals, a decoder layer or a layer's denoising queries).
struct OutputMatchDetail {
  std::string output;  // "encoder" | "decoder" | "denoising"
  int64_t layer = -1;  // decoder layer (the encoder: -1)
  std::string suffix;  // of its loss terms: "_enc", "_0", ..., "" (last layer), "_dn_0", ..., "_dn"
  int64_t k = 1;       // copies asked for (before the per-image cap); denoising: the DN groups
  std::vector<ImageMatchDetail> images;
};

// The losses of one step. With `matching`, also every output's assignment, ranks and weights.
// `numBoxes`: the normaliser of the box and class losses when positive (data parallelism: the
// box count summed over every process's batch, divided by the number of processes, as DETR
// all-reduces it); otherwise this batch's box count (at least 1).
LossTerms computeLosses(const model::DinoOutput& out, const std::vector<model::Target>& targets,
                        const CriterionOptions& options, std::vector<OutputMatchDetail>* matching = nullptr,
                        double numBoxes = 0);

// Matches every output of a step in one batched solve; ks[i] copies of each GT for output i
// (criterion_matching.cpp, over native/train/matcher.h).
std::vector<std::vector<ImageMatch>> matchOutputs(const std::vector<model::LayerPrediction>& outputs,
                                                  const std::vector<model::Target>& targets,
                                                  const std::vector<int64_t>& ks, const CriterionOptions& options);

}  // namespace adetr::train
