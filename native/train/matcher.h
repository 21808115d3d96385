// Hungarian matching of DETR predictions to ground truth (docs/numerical-contract.md §C): the one-to-one DINO matcher
// and Align-DETR's mixed matcher ("k copies of each GT").
//
// Every (layer, image) problem of a training step is gathered into ONE host copy and ONE
// batched exact solve (ops/lsa solveBatch, float64, parallel over problems). Costs are built
// per image block [Q, G_b] only, never the [B·Q, ΣG] product DETR computes (docs/numerical-contract.md
// §C.1), in float64 on the host, without autograd.
//
// Cost (docs/numerical-contract.md §C.1), for query i and GT j of class c_j, p = sigmoid(logits[i, c_j]):
//   pos = α (1 − p)^γ (−log(p + 1e-8)),   neg = (1 − α) p^γ (−log(1 − p + 1e-8)),
//   C_cls = pos − neg,   C_L1 = ||b_i − g_j||_1 (cxcywh),   C_giou = −GIoU(xyxy b_i, xyxy g_j),
//   C = bboxWeight·C_L1 + classWeight·C_cls + giouWeight·C_giou   (defaults 5, 2, 2; α 0.25, γ 2).
// GIoU is detrex's, with eps 1e-6 on the union and the enclosing area (ops/box/box_ops.h).
//
// Position-modulated variant (Stable-DINO, docs/numerical-contract.md §C.3), in the paper's per-pair form (the default
// and only form here): with u_ij = (GIoU_ij + 1) / 2 and m = max over the image's block of u,
// the class cost of query i and GT j uses p'_ij = p_i[c_j] · sqrt(u_ij · max(1 / (m + 1e-8), 1))
// in place of p, and C_giou = 1 − GIoU.
// Difference from the released code ([SD] matcher.py): it builds U [B·Q, C] with
// `U[:, tgt_ids] = u01`, one column per CLASS written batch-wide, so of several GTs of one class
// (in the image or anywhere in the batch) only the last-written one's u survives and every GT
// of that class is costed with that GT's position (the write order is not even defined on CUDA).
// Here each (query, GT) pair uses its own u_ij, and m is taken per image over all its pairs.
//
// Mixed matching (docs/numerical-contract.md §C.2): the block of image b is repeated k_b times along the columns
// (column c·G_b + j is copy c of GT j) with mmdet's rule k_b = max(1, min(k, Q / G_b)), so each
// GT gets k_b distinct queries; the copies map back to GT j = column % G_b. k = 1 is the plain
// one-to-one Hungarian matcher.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/cdn.h"
#include "model/dino.h"

namespace adetr::train {

// Weights and focal parameters of the matching cost.
struct MatcherCosts {
  double classWeight = 2.0;
  double bboxWeight = 5.0;
  double giouWeight = 2.0;
  double focalAlpha = 0.25;
  double focalGamma = 2.0;
  bool positionModulated = false;  // Stable-DINO's position-modulated class cost (§C.3)
};

// How the matched pairs of one image are listed.
enum class PairOrder {
  // By GT index, then query index: the mixed matcher's output (§C.2), k consecutive
  // entries per GT, which the prime-sample rank of the Align-DETR losses relies on.
  ByGt,
  // By query index ascending, as DETR's HungarianMatcher returns scipy's row indices.
  ByQuery,
};

// The matched pairs of one image: queryIndices[n] is matched to GT gtIndices[n].
// Both are int64 [K] CPU tensors, K = k_b·G_b (or min(Q, G_b) when k_b = 1); empty when G_b = 0.
struct MatchPairs {
  at::Tensor queryIndices;
  at::Tensor gtIndices;
};

// mmdet's copies rule: max(1, min(k, queries / gts)); 1 when gts is 0.
int64_t gtCopiesFor(int64_t k, int64_t queries, int64_t gts);

// Matches every layer of a step in one batched solve.
//   layers[l]:   logits [B, Q_l, C_l], boxes [B, Q_l, 4] cxcywh (any device, floating; detached here)
//   targets[b]:  labels integer [G_b] in [0, C_l), boxes [G_b, 4] cxcywh normalised (B targets)
//   gtCopies[l]: k of layer l (≥ 1); Align-DETR: {2 (encoder), 2, 2, 2, 2, 2, 1 (last decoder)}
// Returns result[l][b]. Throws adetr::ArgError naming the argument on invalid input, and a
// RangeError naming the layer and image when a cost is not finite (NaN predictions).
std::vector<std::vector<MatchPairs>> matchLayers(const std::vector<model::LayerPrediction>& layers,
                                                 const std::vector<model::Target>& targets,
                                                 const std::vector<int64_t>& gtCopies, const MatcherCosts& costs = {},
                                                 PairOrder order = PairOrder::ByGt);

// The one-to-one DINO matcher over every layer (k = 1 everywhere, pairs by query as DETR).
std::vector<std::vector<MatchPairs>> hungarianMatch(const std::vector<model::LayerPrediction>& layers,
                                                    const std::vector<model::Target>& targets,
                                                    const MatcherCosts& costs = {});

// The cost block [Q, G] (float64, CPU) of one image: logits [Q, C], boxes [Q, 4]. For tests and
// diagnostics; matchLayers computes the same values from its batched host copy.
at::Tensor imageMatchingCost(const at::Tensor& logits, const at::Tensor& boxes, const model::Target& target,
                             const MatcherCosts& costs = {});

namespace detail {

// Fills out [Q, copies·G] (row-major) with the cost of queries × GTs, the G columns repeated
// `copies` times. classInput[i·classStride + classColumn[j]] is, for query i and GT j's class,
// either the logit (positionModulated costs, whose class term depends on the GIoU) or the focal
// class cost already computed by focalClassCost (plain costs); GTs of one class may share a
// column. predBoxes [Q, 4] and gtBoxes [G, 4] are cxcywh. Returns false when a cost is not finite.
bool fillCostBlock(const double* classInput, int64_t classStride, const int64_t* classColumn, const double* predBoxes,
                   const double* gtBoxes, int64_t queries, int64_t gts, int64_t copies, const MatcherCosts& costs,
                   double* out);

// The focal class cost (docs/numerical-contract.md §C.1) of every logit, elementwise, float64, on the logits' device.
at::Tensor focalClassCost(const at::Tensor& logits, const MatcherCosts& costs);

void checkMatcherCosts(const MatcherCosts& costs);

}  // namespace detail

}  // namespace adetr::train
