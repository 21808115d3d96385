// matchLayers: every (layer, image) problem of a step in one host copy and one batched solve.
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

#include "common/arg_error.h"
#include "ops/lsa/lsa.h"
#include "train/matcher.h"

namespace adetr::train {

int64_t gtCopiesFor(int64_t k, int64_t queries, int64_t gts) {
  if (gts <= 0) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(k, queries / gts));
}

namespace {

void checkInputs(const std::vector<model::LayerPrediction>& layers, const std::vector<model::Target>& targets,
                 const std::vector<int64_t>& gtCopies) {
  checkRange(gtCopies.size() == layers.size(), "gtCopies: expected one k per layer (", layers.size(), "), got ",
             gtCopies.size());
  const int64_t batch = static_cast<int64_t>(targets.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& logits = layers[l].logits;
    const auto& boxes = layers[l].boxes;
    checkType(logits.defined() && logits.dim() == 3 && logits.is_floating_point(), "layers[", l,
              "].logits: expected a floating [B, Q, C] tensor");
    checkType(boxes.defined() && boxes.dim() == 3 && boxes.size(2) == 4 && boxes.is_floating_point(), "layers[", l,
              "].boxes: expected a floating [B, Q, 4] tensor");
    checkRange(boxes.size(0) == logits.size(0) && boxes.size(1) == logits.size(1), "layers[", l, "].boxes: expected [",
               logits.size(0), ", ", logits.size(1), ", 4] like the logits, got [", boxes.size(0), ", ", boxes.size(1),
               ", 4]");
    checkType(boxes.device() == logits.device(), "layers[", l, "].boxes: expected the device of the logits");
    checkRange(logits.size(0) == batch, "targets: expected one per image (", logits.size(0), " in layers[", l,
               "]), got ", batch);
    checkRange(gtCopies[l] >= 1, "gtCopies[", l, "]: must be >= 1, got ", gtCopies[l]);
  }
  for (size_t b = 0; b < targets.size(); ++b) {
    const auto& labels = targets[b].labels;
    const auto& boxes = targets[b].boxes;
    checkType(labels.defined() && labels.dim() == 1 && !labels.is_floating_point() && !labels.is_complex(), "targets[",
              b, "].labels: expected an integer [G] tensor");
    const int64_t g = labels.size(0);
    checkType(
        boxes.defined() && boxes.dim() == 2 && boxes.size(0) == g && boxes.size(1) == 4 && boxes.is_floating_point(),
        "targets[", b, "].boxes: expected a floating [", g, ", 4] tensor");
  }
}

// The GT data of one image on the host.
struct HostTarget {
  std::vector<int64_t> labels;
  std::vector<int64_t> classes;      // the distinct labels, ascending
  std::vector<int64_t> classColumn;  // per GT, its label's index in `classes`
  at::Tensor boxes;                  // double [G, 4], CPU, contiguous
};

// One assignment problem: a (layer, image) pair with at least one GT.
struct Problem {
  size_t layer, image;
  int64_t queries, gts, copies;
  const double* classInput;  // [Q, classStride]: logits or focal class costs (fillCostBlock)
  int64_t classStride;
  const double* predBoxes;   // [Q, 4]
  std::vector<double> cost;  // [Q, copies·G]
};

MatchPairs toPairs(const lsa::Assignment& a, int64_t gts, PairOrder order) {
  const int64_t n = static_cast<int64_t>(a.rowIndices.size());
  std::vector<std::pair<int64_t, int64_t>> pairs(n);  // (query, gt); rows come ascending
  for (int64_t m = 0; m < n; ++m) pairs[m] = {a.rowIndices[m], a.colIndices[m] % gts};
  if (order == PairOrder::ByGt) {
    std::stable_sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
  }
  auto queries = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  auto gtIdx = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  int64_t* q = queries.data_ptr<int64_t>();
  int64_t* g = gtIdx.data_ptr<int64_t>();
  for (int64_t m = 0; m < n; ++m) {
    q[m] = pairs[m].first;
    g[m] = pairs[m].second;
  }
  return {queries, gtIdx};
}

}  // namespace

std::vector<std::vector<MatchPairs>> matchLayers(const std::vector<model::LayerPrediction>& layers,
                                                 const std::vector<model::Target>& targets,
                                                 const std::vector<int64_t>& gtCopies, const MatcherCosts& costs,
                                                 PairOrder order) {
  at::NoGradGuard noGrad;
  detail::checkMatcherCosts(costs);
  checkInputs(layers, targets, gtCopies);
  const size_t batch = targets.size();

  std::vector<HostTarget> hostTargets(batch);
  int64_t maxGts = 0, maxClasses = 0;
  for (size_t b = 0; b < batch; ++b) {
    auto labels = targets[b].labels.to(at::kCPU, at::kLong).contiguous();
    const int64_t* data = labels.data_ptr<int64_t>();
    hostTargets[b].labels.assign(data, data + labels.numel());
    hostTargets[b].boxes = targets[b].boxes.detach().to(at::kCPU, at::kDouble).contiguous();
    maxGts = std::max<int64_t>(maxGts, labels.numel());
    // The class term depends on (query, class) only: GTs of one class share a column.
    auto& t = hostTargets[b];
    t.classes = t.labels;
    std::sort(t.classes.begin(), t.classes.end());
    t.classes.erase(std::unique(t.classes.begin(), t.classes.end()), t.classes.end());
    for (int64_t label : t.labels) {
      t.classColumn.push_back(std::lower_bound(t.classes.begin(), t.classes.end(), label) - t.classes.begin());
    }
    maxClasses = std::max<int64_t>(maxClasses, static_cast<int64_t>(t.classes.size()));
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t classes = layers[l].logits.size(2);
    for (size_t b = 0; b < batch; ++b) {
      for (int64_t label : hostTargets[b].labels) {
        checkRange(label >= 0 && label < classes, "targets[", b, "].labels: class ", label, " is outside [0, ", classes,
                   ") of layers[", l, "].logits");
      }
    }
  }

  auto emptyIndex = [] { return at::empty({0}, at::TensorOptions().dtype(at::kLong)); };
  std::vector<std::vector<MatchPairs>> result(layers.size());
  for (auto& perImage : result) perImage.assign(batch, MatchPairs{emptyIndex(), emptyIndex()});
  if (maxGts == 0 || layers.empty()) return result;

  // One host copy for the whole step: per layer, the class term of each image's distinct GT
  // classes (padded, [B, Q, maxClasses]) and the boxes [B, Q, 4], flattened side by side.
  std::vector<int64_t> paddedClasses(batch * maxClasses, 0);
  for (size_t b = 0; b < batch; ++b) {
    std::copy(hostTargets[b].classes.begin(), hostTargets[b].classes.end(), paddedClasses.begin() + b * maxClasses);
  }
  auto classIndexCpu = at::from_blob(paddedClasses.data(), {static_cast<int64_t>(batch), 1, maxClasses},
                                     at::TensorOptions().dtype(at::kLong))
                           .clone();
  at::Tensor classIndex = classIndexCpu;  // moved once per device the layers live on
  std::vector<at::Tensor> pieces;
  std::vector<int64_t> logitOffsets(layers.size()), boxOffsets(layers.size());
  int64_t offset = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& logits = layers[l].logits;
    const int64_t queries = logits.size(1);
    if (classIndex.device() != logits.device()) classIndex = classIndexCpu.to(logits.device());
    auto index = classIndex.expand({static_cast<int64_t>(batch), queries, maxClasses});
    auto gathered = logits.detach().gather(2, index).to(at::kDouble);
    // Plain costs: the class term needs only the logit, so it is computed here, vectorized (and
    // on the device for GPU outputs); the position-modulated one needs the GIoU, on the host.
    if (!costs.positionModulated) gathered = detail::focalClassCost(gathered, costs);
    gathered = gathered.reshape({-1});
    auto boxes = layers[l].boxes.detach().to(at::kDouble).reshape({-1});
    logitOffsets[l] = offset;
    offset += gathered.numel();
    boxOffsets[l] = offset;
    offset += boxes.numel();
    pieces.push_back(std::move(gathered));
    pieces.push_back(std::move(boxes));
  }
  const at::Tensor host = at::cat(pieces).to(at::kCPU).contiguous();
  const double* hostData = host.data_ptr<double>();

  std::vector<Problem> problems;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t queries = layers[l].logits.size(1);
    for (size_t b = 0; b < batch; ++b) {
      const int64_t gts = static_cast<int64_t>(hostTargets[b].labels.size());
      if (gts == 0 || queries == 0) continue;
      Problem p;
      p.layer = l;
      p.image = b;
      p.queries = queries;
      p.gts = gts;
      p.copies = gtCopiesFor(gtCopies[l], queries, gts);
      p.classInput = hostData + logitOffsets[l] + static_cast<int64_t>(b) * queries * maxClasses;
      p.classStride = maxClasses;
      p.predBoxes = hostData + boxOffsets[l] + static_cast<int64_t>(b) * queries * 4;
      problems.push_back(std::move(p));
    }
  }

  // Cost blocks in parallel (one task per problem), then every problem in one batched solve.
  std::vector<char> finite(problems.size(), 1);
  at::parallel_for(0, static_cast<int64_t>(problems.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      Problem& p = problems[n];
      p.cost.resize(static_cast<size_t>(p.queries * p.copies * p.gts));
      finite[n] = detail::fillCostBlock(p.classInput, p.classStride, hostTargets[p.image].classColumn.data(),
                                        p.predBoxes, hostTargets[p.image].boxes.data_ptr<double>(), p.queries, p.gts,
                                        p.copies, costs, p.cost.data());
    }
  });
  std::vector<lsa::CostView> views;
  views.reserve(problems.size());
  for (size_t n = 0; n < problems.size(); ++n) {
    const Problem& p = problems[n];
    checkRange(finite[n] != 0, "layers[", p.layer, "]: the matching cost of image ", p.image,
               " is not finite (NaN or infinite logits or boxes, or invalid target boxes)");
    views.push_back(lsa::CostView{p.cost.data(), false, p.queries, p.copies * p.gts});
  }
  const std::vector<lsa::Assignment> solved = lsa::solveBatch(views, false, "matchingCost");

  for (size_t n = 0; n < problems.size(); ++n) {
    const Problem& p = problems[n];
    result[p.layer][p.image] = toPairs(solved[n], p.gts, order);
  }
  return result;
}

std::vector<std::vector<MatchPairs>> hungarianMatch(const std::vector<model::LayerPrediction>& layers,
                                                    const std::vector<model::Target>& targets,
                                                    const MatcherCosts& costs) {
  return matchLayers(layers, targets, std::vector<int64_t>(layers.size(), 1), costs, PairOrder::ByQuery);
}

}  // namespace adetr::train
