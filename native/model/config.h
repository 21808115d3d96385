// Configuration of the DINO-4scale detector (spec align-detr-algorithm.md §a), and its presets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace adetr::model {

struct DinoConfig {
  int64_t numClasses = 80;

  // Backbone: a detectron2-style ResNet (depth 18/34 → basic blocks, 50/101 → bottlenecks).
  int64_t backboneDepth = 50;
  int64_t backboneWidth = 64;   // stem / res2 base width (64 in the standard ResNet)
  int64_t freezeAt = 1;         // 1: the stem's weights are frozen (BN is frozen everywhere)
  // Trainable GroupNorm instead of FrozenBatchNorm in the backbone: for backbones trained from
  // scratch (a frozen identity BN leaves a from-scratch ResNet unnormalised).
  bool backboneGroupNorm = false;

  // Transformer.
  int64_t hiddenDim = 256;
  int64_t numHeads = 8;
  int64_t numLevels = 4;        // 3 backbone levels + 1 extra strided level
  int64_t numPoints = 4;
  int64_t encoderLayers = 6;
  int64_t decoderLayers = 6;
  int64_t ffnDim = 2048;
  int64_t numQueries = 900;
  int64_t neckGroups = 32;      // GroupNorm groups of the neck

  // Contrastive denoising (training only).
  int64_t dnNumber = 100;
  double labelNoiseRatio = 0.5;
  double boxNoiseScale = 1.0;

  // Inference input size (ResizeShortestEdge) and post-processing.
  int64_t testShortEdge = 800;
  int64_t testMaxSize = 1333;
  int64_t selectTopK = 300;

  // Padding invariance: when true, the backbone and neck ignore padded pixels (masked
  // activations, masked GroupNorm statistics), level masks follow the convolution arithmetic
  // exactly and padded tokens never win the two-stage top-k, so a padded image gives the same
  // detections as the image alone. When false, detrex's behaviour is reproduced exactly
  // (nearest-interpolated masks, padding visible to the backbone and GroupNorm).
  bool padInvariant = true;

  // Throws adetr::ArgError naming the first invalid field.
  void validate() const;
};

// Names of the built-in presets ("dino-r50-4scale", "tiny").
std::vector<std::string> presetNames();

// The preset's configuration; ArgError for an unknown name.
DinoConfig presetConfig(const std::string& name);

}  // namespace adetr::model
