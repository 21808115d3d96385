#include "model/inference.h"

#include <c10/core/InferenceMode.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/topk.h>

#include <algorithm>
#include <cmath>

#include "common/arg_error.h"
#include "ops/box/box_ops.h"

namespace adetr::model {

std::vector<Detections> postprocess(const LayerPrediction& last, const at::Tensor& inputSizes,
                                    const at::Tensor& originalSizes, int64_t topK, double scoreThreshold,
                                    int64_t maxDetections) {
  const int64_t b = last.logits.size(0), q = last.logits.size(1), c = last.logits.size(2);
  const int64_t k = std::min(topK, q * c);
  auto prob = last.logits.sigmoid().reshape({b, q * c});
  auto [scores, index] = at::topk(prob, k, 1);
  auto query = index.div(c, "floor");
  auto labels = index.remainder(c);
  auto boxes = ops::boxCxcywhToXyxy(last.boxes.gather(1, query.unsqueeze(-1).expand({b, k, 4})));
  std::vector<Detections> out;
  for (int64_t i = 0; i < b; ++i) {
    const double inH = static_cast<double>(inputSizes[i][0].item<int64_t>());
    const double inW = static_cast<double>(inputSizes[i][1].item<int64_t>());
    const double origH = static_cast<double>(originalSizes[i][0].item<int64_t>());
    const double origW = static_cast<double>(originalSizes[i][1].item<int64_t>());
    // Normalised → resized input pixels → original pixels, clipped to the original image.
    auto scale =
        at::tensor(std::vector<double>{inW, inH, inW, inH}, boxes.scalar_type()) *
        at::tensor(std::vector<double>{origW / inW, origH / inH, origW / inW, origH / inH}, boxes.scalar_type());
    auto xyxy = boxes[i] * scale;
    auto x1 = xyxy.select(1, 0).clamp(0, origW), y1 = xyxy.select(1, 1).clamp(0, origH);
    auto x2 = xyxy.select(1, 2).clamp(0, origW), y2 = xyxy.select(1, 3).clamp(0, origH);
    auto keep = ((x2 - x1) > 0).logical_and((y2 - y1) > 0).logical_and(scores[i] >= scoreThreshold);
    auto idx = keep.nonzero().squeeze(1);
    if (idx.size(0) > maxDetections) idx = idx.slice(0, 0, maxDetections);  // already sorted by score
    Detections d;
    d.boxes = at::stack({x1, y1, x2 - x1, y2 - y1}, 1).index_select(0, idx).contiguous();
    d.scores = scores[i].index_select(0, idx).contiguous();
    d.labels = labels[i].index_select(0, idx).contiguous();
    out.push_back(d);
  }
  return out;
}

std::vector<Detections> predict(Dino& model, const std::vector<RgbImage>& images, const PredictOptions& options) {
  checkRange(!images.empty(), "images: expected at least one image");
  const auto& cfg = model->config();
  c10::InferenceMode inference;
  const bool wasTraining = model->is_training();
  model->eval();
  ImageBatch batch = prepareBatch(images, {options.resize, cfg.testShortEdge, cfg.testMaxSize});
  DinoOutput out = model->forward(batch);
  if (wasTraining) model->train();
  std::vector<int64_t> original;
  for (const auto& im : images) {
    original.push_back(im.size(0));
    original.push_back(im.size(1));
  }
  auto originalSizes = at::tensor(original, at::kLong).view({-1, 2});
  return postprocess(out.layers.back(), batch.validSizes, originalSizes, cfg.selectTopK, options.scoreThreshold,
                     options.maxDetections.value_or(cfg.selectTopK));
}

}  // namespace adetr::model
