#include "model/cdn.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorIndexing.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>

#include <algorithm>

#include "ops/box/box_ops.h"

namespace adetr::model {

namespace {

// The noise of one denoising batch: uniform draws for the label flips and the box moves, in the
// copy-major order of the batch's GT list (copy j holds every GT of the batch).
struct DenoisingNoise {
  at::Tensor flipDraw;     // float [total]
  at::Tensor randomLabel;  // int64 [total]
  at::Tensor sign;         // float [total, 4] in {0, 1}
  at::Tensor part;         // float [total, 4]
};

DenoisingNoise drawNoise(int64_t total, const DenoisingOptions& options, c10::optional<at::Generator> generator,
                         at::TensorOptions where) {
  DenoisingNoise n;
  auto f = where.dtype(at::kFloat);
  if (options.labelNoiseRatio > 0) {
    n.flipDraw = at::rand({total}, generator, f);
    n.randomLabel = at::randint(0, options.numClasses, {total}, generator, at::TensorOptions().dtype(at::kLong));
  }
  if (options.boxNoiseScale > 0) {
    n.sign = at::randint(0, 2, {total, 4}, generator, f);
    n.part = at::rand({total, 4}, generator, f);
  }
  return n;
}

// Per image from its own seed (a CPU generator, drawn on the CPU and moved to `where`), then laid
// out as the batch's copy-major list.
DenoisingNoise drawNoisePerImage(const std::vector<Target>& targets, int64_t copies, const DenoisingOptions& options,
                                 at::TensorOptions where) {
  std::vector<DenoisingNoise> images;
  for (const auto& t : targets) {
    const int64_t g = t.labels.size(0);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(*t.noiseSeed);
    images.push_back(drawNoise(copies * g, options, gen, at::TensorOptions()));
  }
  // [copies·g(, 4)] per image → [copies, Σg(, 4)] → flat.
  auto join = [&](at::Tensor DenoisingNoise::*field, bool quad, at::Device device) {
    std::vector<at::Tensor> parts;
    for (size_t b = 0; b < images.size(); ++b) {
      const int64_t g = targets[b].labels.size(0);
      const at::Tensor& x = images[b].*field;
      parts.push_back(quad ? x.reshape({copies, g, 4}) : x.reshape({copies, g}));
    }
    at::Tensor joined = at::cat(parts, 1).to(device);
    return quad ? joined.reshape({-1, 4}) : joined.reshape({-1});
  };
  DenoisingNoise n;
  if (options.labelNoiseRatio > 0) {
    n.flipDraw = join(&DenoisingNoise::flipDraw, false, where.device());
    n.randomLabel = join(&DenoisingNoise::randomLabel, false, at::kCPU);  // as drawNoise's
  }
  if (options.boxNoiseScale > 0) {
    n.sign = join(&DenoisingNoise::sign, true, where.device());
    n.part = join(&DenoisingNoise::part, true, where.device());
  }
  return n;
}

}  // namespace

at::Tensor denoisingAttnMask(int64_t maxGt, int64_t numGroups, int64_t numQueries) {
  const int64_t pad = 2 * maxGt * numGroups;
  const int64_t total = pad + numQueries;
  auto mask = at::zeros({total, total}, at::TensorOptions().dtype(at::kBool));
  // Matching queries cannot see any denoising slot.
  mask.slice(0, pad, total).slice(1, 0, pad).fill_(true);
  // Each group sees itself and the matching queries, not the other groups.
  const int64_t group = 2 * maxGt;
  for (int64_t g = 0; g < numGroups; ++g) {
    auto rows = mask.slice(0, g * group, (g + 1) * group);
    if (g > 0) rows.slice(1, 0, g * group).fill_(true);
    if (g + 1 < numGroups) rows.slice(1, (g + 1) * group, pad).fill_(true);
  }
  return mask;
}

std::optional<DenoisingQueries> makeDenoisingQueries(const std::vector<Target>& targets,
                                                     const DenoisingOptions& options,
                                                     torch::nn::Embedding& labelEmbedding,
                                                     c10::optional<at::Generator> generator) {
  const int64_t batch = static_cast<int64_t>(targets.size());
  int64_t maxGt = 0;
  for (const auto& t : targets) maxGt = std::max<int64_t>(maxGt, t.labels.size(0));
  if (maxGt == 0 || options.dnNumber <= 0) return std::nullopt;
  maxGt = std::max(maxGt, options.maxGtAtLeast);
  const int64_t numGroups = std::max<int64_t>(1, options.dnNumber / maxGt);
  const int64_t copies = 2 * numGroups;
  const int64_t dim = labelEmbedding->weight.size(1);
  auto boxOptions = labelEmbedding->weight.options().requires_grad(false);

  std::vector<at::Tensor> labelList, boxList, batchIdx, slotIdx;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t g = targets[b].labels.size(0);
    labelList.push_back(targets[b].labels.to(at::kLong));
    boxList.push_back(targets[b].boxes.to(boxOptions.dtype()));
    batchIdx.push_back(at::full({g}, b, at::TensorOptions().dtype(at::kLong)));
    slotIdx.push_back(at::arange(g, at::TensorOptions().dtype(at::kLong)));
  }
  auto labels = at::cat(labelList).repeat({copies});  // copy-major: copy j holds every GT of the batch
  auto boxes = at::cat(boxList).repeat({copies, 1});
  const int64_t total = labels.size(0);
  const int64_t perCopy = total / copies;
  const bool perImage =
      std::all_of(targets.begin(), targets.end(), [](const Target& t) { return t.noiseSeed.has_value(); });
  const DenoisingNoise noise = perImage ? drawNoisePerImage(targets, copies, options, boxOptions)
                                        : drawNoise(total, options, generator, boxOptions);

  // Label noise: with probability ratio/2 a label becomes a uniformly drawn class (maybe itself).
  if (options.labelNoiseRatio > 0) {
    auto flip = noise.flipDraw < options.labelNoiseRatio * 0.5;
    labels = at::where(flip, noise.randomLabel, labels);
  }

  // Box noise on the corners: positives move by U[0,1) of half the size, negatives by U[1,2).
  if (options.boxNoiseScale > 0) {
    auto xyxy = ops::boxCxcywhToXyxy(boxes);
    auto half = boxes.narrow(1, 2, 2) * 0.5;
    auto diff = at::cat({half, half}, 1);
    auto sign = noise.sign.to(boxes.scalar_type()) * 2.0 - 1.0;
    auto part = noise.part.to(boxes.scalar_type());
    auto copyIndex = at::arange(total, at::TensorOptions().dtype(at::kLong)).div(perCopy, "floor");
    auto negative = copyIndex.remainder(2).eq(1).unsqueeze(1).to(boxes.scalar_type());
    part = (part + negative) * sign;
    xyxy = (xyxy + part * diff * options.boxNoiseScale).clamp(0.0, 1.0);
    boxes = ops::boxXyxyToCxcywh(xyxy);
  }

  auto content = labelEmbedding->forward(labels);  // [total, d]
  auto reference = ops::inverseSigmoid(boxes);

  const int64_t pad = 2 * maxGt * numGroups;
  auto contentPadded = at::zeros({batch, pad, dim}, content.options());
  auto referencePadded = at::zeros({batch, pad, 4}, reference.options());
  auto b = at::cat(batchIdx).repeat({copies});
  std::vector<at::Tensor> slots;
  auto base = at::cat(slotIdx);
  for (int64_t j = 0; j < copies; ++j) slots.push_back(base + j * maxGt);
  auto slot = at::cat(slots);
  contentPadded.index_put_({b, slot}, content);
  referencePadded.index_put_({b, slot}, reference);

  DenoisingQueries q;
  q.content = contentPadded;
  q.reference = referencePadded;
  q.maxGt = maxGt;
  q.numGroups = numGroups;
  q.attnMask = denoisingAttnMask(maxGt, numGroups, options.numQueries);
  return q;
}

}  // namespace adetr::model
