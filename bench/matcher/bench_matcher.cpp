// Matcher CPU benchmark: every matching of one Align-DETR training step (encoder + 6 decoder
// layers, k = {2, 2, 2, 2, 2, 2, 1}, B images, Q = 900 queries, C = 80 classes) with
// train::matchLayers (per-image cost blocks, one host copy, one parallel batched solve) against,
// in the same process, the pattern of DINO's matcher (docs/numerical-contract.md §C.1) written with
// ATen ops: per layer, the focal + L1 + GIoU cost over [B·Q, ΣG], then each image's diagonal
// block repeated k times and solved one after another with the same exact solver.
// Both solve the same problems with the same solver; the difference is cost construction and
// the parallel batch. Reports the median wall time of all matchings of one step.
// Usage: bench_matcher [--batch 2] [--threads N] [--repeats 15]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ops/lsa/lsa.h"
#include "train/matcher.h"

#include "../bench_support.h"

namespace {

using adetr::bench::cpuModel;
using adetr::bench::medianMs;

at::Tensor toXyxy(const at::Tensor& b) {
  auto cxcy = b.narrow(-1, 0, 2), half = b.narrow(-1, 2, 2) * 0.5;
  return at::cat({cxcy - half, cxcy + half}, -1);
}

// DINO's matcher pattern: the whole [B·Q, ΣG] cost per layer, then per-image blocks solved serially.
double detrPatternStep(const std::vector<adetr::model::LayerPrediction>& layers,
                       const std::vector<adetr::model::Target>& targets, const std::vector<int64_t>& ks) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> labelList, boxList;
  std::vector<int64_t> sizes;
  for (const auto& t : targets) {
    labelList.push_back(t.labels);
    boxList.push_back(t.boxes);
    sizes.push_back(t.labels.size(0));
  }
  auto tgtIds = at::cat(labelList), tgtBoxes = at::cat(boxList);
  double checksum = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t bs = layers[l].logits.size(0), nq = layers[l].logits.size(1);
    auto p = layers[l].logits.flatten(0, 1).sigmoid();
    auto outBoxes = layers[l].boxes.flatten(0, 1);
    auto neg = 0.75 * p.pow(2) * (-(1 - p + 1e-8).log());
    auto pos = 0.25 * (1 - p).pow(2) * (-(p + 1e-8).log());
    auto costClass = pos.index_select(1, tgtIds) - neg.index_select(1, tgtIds);
    auto costBbox = at::cdist(outBoxes, tgtBoxes, 1);
    auto a = toXyxy(outBoxes), b = toXyxy(tgtBoxes);
    auto areaA = (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
    auto areaB = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
    auto wh = (at::min(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2)) -
               at::max(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2)))
                  .clamp_min(0);
    auto inter = wh.select(2, 0) * wh.select(2, 1);
    auto uni = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
    auto cwh = (at::max(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2)) -
                at::min(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2)))
                   .clamp_min(0);
    auto area = cwh.select(2, 0) * cwh.select(2, 1);
    auto giou = inter / (uni + 1e-6) - (area - uni) / (area + 1e-6);
    auto c = (5 * costBbox + 2 * costClass - 2 * giou).view({bs, nq, -1}).to(at::kDouble);
    int64_t start = 0;
    for (int64_t i = 0; i < bs; ++i) {
      const int64_t g = sizes[i];
      if (g > 0) {
        const int64_t k = adetr::train::gtCopiesFor(ks[l], nq, g);
        auto block = c[i].narrow(1, start, g).repeat({1, k}).contiguous();
        checksum += adetr::lsa::solve(block.data_ptr<double>(), nq, k * g, false).totalCost;
      }
      start += g;
    }
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 2;
  int threads = 0, repeats = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  if (threads > 0) at::set_num_threads(threads);
  const int64_t queries = 900, classes = 80;
  const std::vector<int64_t> ks{2, 2, 2, 2, 2, 2, 1};
  std::printf("matcher benchmark: one step = %zu outputs (k = 2 x6, 1), B = %lld, Q = %lld, C = %lld\n", ks.size(),
              (long long)batch, (long long)queries, (long long)classes);
  std::printf("machine: %s, ATen threads %d, libtorch %s, lsa kernel %s\n", cpuModel().c_str(), at::get_num_threads(),
              TORCH_VERSION, adetr::lsa::autoKernelName());

  for (int64_t gtPerImage : {7, 20}) {
    at::manual_seed(11);
    std::vector<adetr::model::LayerPrediction> layers;
    for (size_t l = 0; l < ks.size(); ++l) {
      auto cxcy = at::rand({batch, queries, 2}) * 0.8 + 0.1, wh = at::rand({batch, queries, 2}) * 0.4 + 0.02;
      layers.push_back({at::randn({batch, queries, classes}) * 2 - 3, at::cat({cxcy, wh}, -1)});
    }
    std::vector<adetr::model::Target> targets;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t g = gtPerImage + (b % 2 == 0 ? 0 : -1);  // ≈ G, not all images equal
      auto cxcy = at::rand({g, 2}) * 0.8 + 0.1, wh = at::rand({g, 2}) * 0.4 + 0.02;
      targets.push_back({at::randint(0, classes, {g}, at::TensorOptions().dtype(at::kLong)), at::cat({cxcy, wh}, -1)});
    }
    // Same optimum both ways (a sanity check of the benchmark, not a test).
    double matchedSum = 0;
    auto matches = adetr::train::matchLayers(layers, targets, ks);
    for (size_t l = 0; l < ks.size(); ++l) {
      for (int64_t b = 0; b < batch; ++b) {
        auto cost = adetr::train::imageMatchingCost(layers[l].logits[b], layers[l].boxes[b], targets[b]);
        matchedSum += cost.index({matches[l][b].queryIndices, matches[l][b].gtIndices}).sum().item<double>();
      }
    }
    const double refSum = detrPatternStep(layers, targets, ks);
    const double tMatcher = medianMs(repeats, [&] { adetr::train::matchLayers(layers, targets, ks); });
    const double tReference = medianMs(repeats, [&] { detrPatternStep(layers, targets, ks); });
    std::printf(
        "G ~ %2lld: matchLayers %8.3f ms | DINO pattern (ATen [B*Q, sum G] cost, serial solves) %8.3f ms | "
        "ratio %.2fx\n",
        (long long)gtPerImage, tMatcher, tReference, tReference / tMatcher);
    // The solver alone on the same (precomputed) problems: what the matcher adds on top of it.
    std::vector<at::Tensor> blocks;
    std::vector<adetr::lsa::CostView> views;
    for (size_t l = 0; l < ks.size(); ++l) {
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t g = targets[b].labels.size(0), k = adetr::train::gtCopiesFor(ks[l], queries, g);
        blocks.push_back(adetr::train::imageMatchingCost(layers[l].logits[b], layers[l].boxes[b], targets[b])
                             .repeat({1, k})
                             .contiguous());
        views.push_back({blocks.back().data_ptr<double>(), false, queries, k * g});
      }
    }
    const double tSolve = medianMs(repeats, [&] { adetr::lsa::solveBatch(views, false); });
    std::printf("        of which the batched solve alone (%zu problems): %8.3f ms\n", views.size(), tSolve);
    std::printf("        optimum sum: matchLayers %.6f, reference (float32 costs) %.6f\n", matchedSum, refSum);
  }
  return 0;
}
