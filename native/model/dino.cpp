#include "model/dino.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/log.h>
#include <ATen/ops/meshgrid.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/upsample_nearest2d.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

#include "common/arg_error.h"
#include "model/masking.h"
#include "model/position_encoding.h"
#include "ops/box/box_ops.h"

namespace adetr::model {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Padding mask of level l: exact conv arithmetic (pad-invariant mode) or detrex's nearest
// interpolation of the image mask.
at::Tensor levelPaddingMask(const ImageBatch& batch, int64_t halvings, int64_t h, int64_t w, bool exact) {
  if (exact) return paddingMask(validSizesAt(batch.validSizes, halvings), h, w);
  auto imageMask = paddingMask(batch.validSizes, batch.images.size(2), batch.images.size(3));
  return at::upsample_nearest2d(imageMask.unsqueeze(0).to(at::kFloat), {h, w}, c10::nullopt, c10::nullopt)
      .squeeze(0)
      .to(at::kBool);
}

// Encoder reference points [B, S, L, 2] (docs/numerical-contract.md §A.5).
at::Tensor encoderReferencePoints(const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                  const at::Tensor& validRatios) {
  std::vector<at::Tensor> refs;
  auto opts = validRatios.options();
  for (size_t l = 0; l < shapes.size(); ++l) {
    const auto [h, w] = shapes[l];
    auto grid = at::meshgrid({at::arange(h, opts) + 0.5, at::arange(w, opts) + 0.5}, "ij");
    auto refY =
        grid[0].reshape({1, -1}) / (validRatios.select(1, static_cast<int64_t>(l)).select(1, 1).unsqueeze(1) * h);
    auto refX =
        grid[1].reshape({1, -1}) / (validRatios.select(1, static_cast<int64_t>(l)).select(1, 0).unsqueeze(1) * w);
    refs.push_back(at::stack({refX, refY}, -1));
  }
  auto ref = at::cat(refs, 1);                         // [B, S, 2]
  return ref.unsqueeze(2) * validRatios.unsqueeze(1);  // [B, S, L, 2]
}

// Two-stage proposals (docs/numerical-contract.md §A.7 steps 1-2): unsigmoided (cx, cy, w, h), +inf where padded or
// invalid; also returns the validity mask [B, S, 1].
std::pair<at::Tensor, at::Tensor> encoderProposals(const at::Tensor& paddingMask,
                                                   const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                                   const at::TensorOptions& opts) {
  const int64_t b = paddingMask.size(0);
  std::vector<at::Tensor> proposals;
  int64_t start = 0;
  for (size_t l = 0; l < shapes.size(); ++l) {
    const auto [h, w] = shapes[l];
    auto m = paddingMask.slice(1, start, start + h * w).view({b, h, w});
    auto validH = m.select(2, 0).logical_not().sum(1).to(opts.dtype());
    auto validW = m.select(1, 0).logical_not().sum(1).to(opts.dtype());
    auto grid = at::meshgrid({at::arange(h, opts), at::arange(w, opts)}, "ij");
    auto xy = at::stack({grid[1], grid[0]}, -1).unsqueeze(0);  // [1, h, w, 2]
    auto scale = at::stack({validW, validH}, -1).view({b, 1, 1, 2});
    auto centre = (xy + 0.5) / scale;
    auto wh = at::ones_like(centre) * (0.05 * std::pow(2.0, static_cast<double>(l)));
    proposals.push_back(at::cat({centre, wh}, -1).view({b, -1, 4}));
    start += h * w;
  }
  auto p = at::cat(proposals, 1);
  auto valid = ((p > 0.01).logical_and(p < 0.99)).all(-1, true);
  auto unact = at::log(p / (1 - p));
  unact = unact.masked_fill(paddingMask.unsqueeze(-1), kInf).masked_fill(valid.logical_not(), kInf);
  return {unact, valid};
}

}  // namespace

DinoImpl::DinoImpl(const DinoConfig& config) : config_(config) {
  config_.validate();
  const int64_t d = config_.hiddenDim;
  backbone_ = register_module(
      "backbone", ResNet(config_.backboneDepth, config_.backboneWidth, config_.freezeAt, config_.backboneGroupNorm));
  neck_ = register_module("neck", ChannelMapper(backbone_->outChannels(), d, config_.neckGroups));

  transformer_ = register_module("transformer", std::make_shared<torch::nn::Module>());
  encoder_ = Encoder(config_.encoderLayers, d, config_.numHeads, config_.numLevels, config_.numPoints, config_.ffnDim,
                     config_.memoryFusion == MemoryFusion::Dense);
  // The decoupled decoder (docs/neighbour-methods.md §2.6 stage A) adds only modules of its own, so a DINO
  // config constructs (and draws) exactly what it did before.
  const bool decoupled = config_.decoder == DecoderKind::Decoupled;
  decoder_ = Decoder(config_.decoderLayers, d, config_.numHeads, config_.numLevels, config_.numPoints, config_.ffnDim,
                     config_.padInvariant, decoupled);
  transformer_->register_module("encoder", encoder_);
  transformer_->register_module("decoder", decoder_);
  levelEmbeds_ = transformer_->register_parameter("level_embeds", at::empty({config_.numLevels, d}));
  tgtEmbed_ = torch::nn::Embedding(config_.numQueries, d);
  transformer_->register_module("tgt_embed", tgtEmbed_);
  if (decoupled) {
    // q_loc of the matching queries (tgt_embed gives q_cls); xavier like tgt_embed (below).
    tgtEmbedLoc_ = torch::nn::Embedding(config_.numQueries, d);
    transformer_->register_module("tgt_embed_loc", tgtEmbedLoc_);
  }
  encOutput_ = torch::nn::Linear(d, d);
  transformer_->register_module("enc_output", encOutput_);
  encOutputNorm_ = torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}));
  transformer_->register_module("enc_output_norm", encOutputNorm_);

  // docs/numerical-contract.md §A.11: xavier on every transformer matrix, then the MSDA init, then N(0,1) level
  // embeddings.
  xavierInitMatrices(*transformer_);
  for (auto& m : transformer_->modules(false)) {
    if (auto* msda = dynamic_cast<DeformableAttentionImpl*>(m.get())) msda->resetParameters();
  }
  {
    at::NoGradGuard noGrad;
    torch::nn::init::normal_(levelEmbeds_);
  }

  // docs/numerical-contract.md §A.10: 7 (decoderLayers + 1) independent class and box heads.
  auto classList = register_module("class_embed", torch::nn::ModuleList());
  auto boxList = register_module("bbox_embed", torch::nn::ModuleList());
  const double priorBias = -std::log((1.0 - 0.01) / 0.01);
  for (int64_t j = 0; j <= config_.decoderLayers; ++j) {
    auto cls = torch::nn::Linear(d, config_.numClasses);
    auto box = MLP(d, d, 4, 3);
    at::NoGradGuard noGrad;
    cls->bias.fill_(priorBias);
    auto last = box->named_parameters();
    last["layers.2.weight"].zero_();
    last["layers.2.bias"].zero_();
    classList->push_back(cls);
    boxList->push_back(box);
    classEmbed_.push_back(cls);
    bboxEmbed_.push_back(box);
  }
  labelEnc_ = register_module("label_enc", torch::nn::Embedding(config_.numClasses, d));
}

int64_t DinoImpl::numParameters(bool trainableOnly) const {
  int64_t n = 0;
  for (const auto& p : parameters()) {
    if (!trainableOnly || p.requires_grad()) n += p.numel();
  }
  return n;
}

DinoOutput DinoImpl::forward(const ImageBatch& batch, const std::vector<Target>* targets,
                             c10::optional<at::Generator> generator, bool syncTimings) {
  checkType(batch.images.dim() == 4 && batch.images.size(1) == 3, "images: expected [B, 3, H, W], got ",
            batch.images.sizes());
  checkType(
      batch.validSizes.dim() == 2 && batch.validSizes.size(0) == batch.images.size(0) && batch.validSizes.size(1) == 2,
      "validSizes: expected [B, 2], got ", batch.validSizes.sizes());
  const int64_t b = batch.images.size(0);
  const int64_t d = config_.hiddenDim;
  const bool exact = config_.padInvariant;
  DinoOutput out;
  StageTimer timer(batch.images, syncTimings);

  at::Tensor validSizes = batch.validSizes.to(at::kLong);
  out.backboneFeatures = backbone_->forward(batch.images, exact ? validSizes : at::Tensor());
  out.timings.backboneMs = timer.lap();
  out.levelFeatures = neck_->forward(out.backboneFeatures, exact ? validSizes : at::Tensor());
  out.timings.neckMs = timer.lap();

  // Flatten the levels (docs/numerical-contract.md §A.5).
  std::vector<at::Tensor> srcs, masks, poses;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<at::Tensor> ratios;
  auto opts = batch.images.options();
  ImageBatch sized{batch.images, validSizes};
  for (int64_t l = 0; l < config_.numLevels; ++l) {
    const auto& f = out.levelFeatures[l];
    const int64_t h = f.size(2), w = f.size(3);
    auto mask = levelPaddingMask(sized, 3 + l, h, w, exact);  // [B, h, w]
    auto pos = sineMapEncoding(mask, d / 2, opts);
    srcs.push_back(f.flatten(2).transpose(1, 2));
    masks.push_back(mask.flatten(1));
    poses.push_back(pos.flatten(2).transpose(1, 2) + levelEmbeds_[l].view({1, 1, d}));
    shapes.emplace_back(h, w);
    auto validH = mask.select(2, 0).logical_not().sum(1).to(opts.dtype());
    auto validW = mask.select(1, 0).logical_not().sum(1).to(opts.dtype());
    ratios.push_back(at::stack({validW / w, validH / h}, -1));
  }
  auto src = at::cat(srcs, 1);
  auto maskFlat = at::cat(masks, 1);
  auto pos = at::cat(poses, 1);
  auto validRatios = at::stack(ratios, 1);  // [B, L, 2]
  std::vector<int64_t> shapeData, startData;
  int64_t start = 0;
  for (const auto& [h, w] : shapes) {
    shapeData.push_back(h);
    shapeData.push_back(w);
    startData.push_back(start);
    start += h * w;
  }
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(opts.device());
  auto spatialShapes = at::tensor(shapeData, at::TensorOptions().dtype(at::kLong)).view({-1, 2}).to(opts.device());
  auto levelStart = at::tensor(startData, at::TensorOptions().dtype(at::kLong)).to(longOpts);
  const int64_t tokens = start;
  checkRange(tokens >= config_.numQueries, "images: too small for this model: ", tokens, " encoder tokens for ",
             config_.numQueries, " queries; use larger images");

  MultiScaleValue ms{src, maskFlat, spatialShapes, levelStart};
  auto encRef = encoderReferencePoints(shapes, validRatios);
  // The encoder output, or with dense memory fusion the fused memory: it replaces the encoder
  // output everywhere below (two-stage selection, encoder loss, every decoder cross-attention).
  auto memory = encoder_->forward(src, pos, encRef, ms);

  // Two-stage query selection (docs/numerical-contract.md §A.7).
  auto [proposalUnact, proposalValid] = encoderProposals(maskFlat, shapes, opts);
  auto outputMemory = memory.masked_fill(maskFlat.unsqueeze(-1), 0.0).masked_fill(proposalValid.logical_not(), 0.0);
  outputMemory = encOutputNorm_->forward(encOutput_->forward(outputMemory));
  auto& encClass = classEmbed_.back();
  auto& encBox = bboxEmbed_.back();
  auto encLogits = encClass->forward(outputMemory);                    // [B, S, C]
  auto encCoordUnact = encBox->forward(outputMemory) + proposalUnact;  // [B, S, 4]
  auto scores = std::get<0>(encLogits.max(-1));
  if (exact) scores = scores.masked_fill(maskFlat, -kInf);           // padding never exists for the image alone
  auto topk = std::get<1>(at::topk(scores, config_.numQueries, 1));  // [B, Q]
  auto topkCoordUnact = encCoordUnact.gather(1, topk.unsqueeze(-1).expand({b, config_.numQueries, 4}));
  auto reference = topkCoordUnact.detach().sigmoid();
  out.encoder.logits = encLogits.gather(1, topk.unsqueeze(-1).expand({b, config_.numQueries, config_.numClasses}));
  out.encoder.boxes = topkCoordUnact.sigmoid();
  auto target = tgtEmbed_->weight.unsqueeze(0).expand({b, config_.numQueries, d});
  at::Tensor targetLoc;  // decoupled decoder: the loc stream's initial contents
  if (tgtEmbedLoc_) targetLoc = tgtEmbedLoc_->weight.unsqueeze(0).expand({b, config_.numQueries, d});
  out.timings.encoderMs = timer.lap();

  // Contrastive denoising queries come first (docs/numerical-contract.md §A.7 step 9).
  at::Tensor attnMask;
  int64_t pad = 0;
  if (targets != nullptr && is_training()) {
    DenoisingOptions dnOpts;
    dnOpts.dnNumber = config_.dnNumber;
    dnOpts.labelNoiseRatio = config_.labelNoiseRatio;
    dnOpts.boxNoiseScale = config_.boxNoiseScale;
    dnOpts.numClasses = config_.numClasses;
    dnOpts.numQueries = config_.numQueries;
    dnOpts.maxGtAtLeast = batch.denoisingMaxGt;
    checkType(static_cast<int64_t>(targets->size()) == b, "targets: expected one per image (", b, "), got ",
              targets->size());
    out.dn = makeDenoisingQueries(*targets, dnOpts, labelEnc_, generator);
    if (out.dn) {
      pad = out.dn->padSize();
      target = at::cat({out.dn->content.to(opts.device()), target}, 1);
      // DN queries: the same label-embedding content in both streams.
      if (targetLoc.defined()) targetLoc = at::cat({out.dn->content.to(opts.device()), targetLoc}, 1);
      reference = at::cat({out.dn->reference.to(opts.device()).sigmoid(), reference}, 1);
      attnMask = out.dn->attnMask.to(opts.device());
    }
  }

  // The decoder's cross-attention reads the encoder memory (detrex: value=memory), not the neck.
  MultiScaleValue memoryValue{memory, maskFlat, spatialShapes, levelStart};
  auto decoded = decoder_->forward(target, reference, validRatios, attnMask, memoryValue, bboxEmbed_, targetLoc);
  const int64_t total = target.size(1);
  for (int64_t i = 0; i < config_.decoderLayers; ++i) {
    const auto& refBefore = i == 0 ? reference : decoded.references[i - 1];
    auto logits = classEmbed_[i]->forward(decoded.states[i]);
    // Box heads read the loc stream (decoder.norm_loc) in the decoupled decoder, else the states.
    auto boxes = (bboxEmbed_[i]->forward(decoded.boxStates(i)) + ops::inverseSigmoid(refBefore)).sigmoid();
    out.layers.push_back({logits.slice(1, pad, total), boxes.slice(1, pad, total)});
    if (pad > 0) out.denoising.push_back({logits.slice(1, 0, pad), boxes.slice(1, 0, pad)});
  }
  out.timings.decoderMs = timer.lap();
  out.memory = memory;
  out.paddingMask = maskFlat;
  out.spatialShapes = spatialShapes;
  out.validRatios = validRatios;
  out.topkIndices = topk;
  return out;
}

}  // namespace adetr::model
