#include "model/inference.h"

#include <ATen/ops/_upsample_bilinear2d_aa.h>
#include <c10/core/InferenceMode.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>

#include "common/arg_error.h"
#include "ops/box/box_ops.h"

namespace adetr::model {

namespace {
// docs/numerical-contract.md §A.1: per-channel mean and std on 0..255 RGB.
constexpr double kMean[3] = {123.675, 116.280, 103.530};
constexpr double kStd[3] = {58.395, 57.120, 57.375};
}  // namespace

std::pair<int64_t, int64_t> resizeShortestEdgeSize(int64_t h, int64_t w, int64_t shortEdge, int64_t maxSize) {
  double scale = static_cast<double>(shortEdge) / static_cast<double>(std::min(h, w));
  double newH = h * scale, newW = w * scale;
  if (std::max(newH, newW) > static_cast<double>(maxSize)) {
    const double shrink = static_cast<double>(maxSize) / std::max(newH, newW);
    newH *= shrink;
    newW *= shrink;
  }
  return {static_cast<int64_t>(newH + 0.5), static_cast<int64_t>(newW + 0.5)};
}

ImageBatch padAndNormalize(const std::vector<at::Tensor>& chwImages) {
  checkRange(!chwImages.empty(), "images: expected at least one image");
  int64_t maxH = 0, maxW = 0;
  for (const auto& im : chwImages) {
    maxH = std::max(maxH, im.size(1));
    maxW = std::max(maxW, im.size(2));
  }
  const int64_t b = static_cast<int64_t>(chwImages.size());
  auto batch = at::zeros({b, 3, maxH, maxW}, at::TensorOptions().dtype(at::kFloat));
  auto mean = at::tensor(std::vector<double>(kMean, kMean + 3), at::kFloat).view({3, 1, 1});
  auto std = at::tensor(std::vector<double>(kStd, kStd + 3), at::kFloat).view({3, 1, 1});
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < b; ++i) {
    const auto& im = chwImages[i];
    const int64_t h = im.size(1), w = im.size(2);
    // Normalise first, then pad with zeros (detectron2's ImageList pads the normalised image).
    batch[i].slice(1, 0, h).slice(2, 0, w).copy_((im.to(at::kFloat) - mean) / std);
    sizes.push_back(h);
    sizes.push_back(w);
  }
  return {batch, at::tensor(sizes, at::kLong).view({b, 2})};
}

ImageBatch prepareBatch(const std::vector<RgbImage>& images, int64_t shortEdge, int64_t maxSize) {
  std::vector<at::Tensor> resized;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& im = images[i];
    checkType(im.dim() == 3 && im.size(2) == 3, "images[", i, "]: expected [H, W, 3] RGB, got ", im.sizes());
    const int64_t h = im.size(0), w = im.size(1);
    checkRange(h >= 1 && w >= 1, "images[", i, "]: empty image");
    auto [nh, nw] = resizeShortestEdgeSize(h, w, shortEdge, maxSize);
    checkRange(nh >= 1 && nw >= 1, "images[", i, "]: ", w, "×", h, " is too elongated for this model: at its test size (short edge ",
               shortEdge, ", long edge at most ", maxSize, ") the short side would be under one pixel");
    auto chw = im.permute({2, 0, 1}).to(at::kFloat).unsqueeze(0);
    if (nh != h || nw != w) {
      chw = at::_upsample_bilinear2d_aa(chw, {nh, nw}, false, c10::nullopt, c10::nullopt).clamp(0, 255);
    }
    resized.push_back(chw.squeeze(0));
  }
  return padAndNormalize(resized);
}

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
    auto scale = at::tensor(std::vector<double>{inW, inH, inW, inH}, boxes.scalar_type()) *
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

std::vector<Detections> predict(Dino& model, const std::vector<RgbImage>& images, double scoreThreshold,
                                int64_t maxDetections) {
  checkRange(!images.empty(), "images: expected at least one image");
  const auto& cfg = model->config();
  c10::InferenceMode inference;
  const bool wasTraining = model->is_training();
  model->eval();
  ImageBatch batch = prepareBatch(images, cfg.testShortEdge, cfg.testMaxSize);
  DinoOutput out = model->forward(batch);
  if (wasTraining) model->train();
  std::vector<int64_t> original;
  for (const auto& im : images) {
    original.push_back(im.size(0));
    original.push_back(im.size(1));
  }
  auto originalSizes = at::tensor(original, at::kLong).view({-1, 2});
  return postprocess(out.layers.back(), batch.validSizes, originalSizes, cfg.selectTopK, scoreThreshold, maxDetections);
}

}  // namespace adetr::model
