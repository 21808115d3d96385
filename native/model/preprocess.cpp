#include "model/preprocess.h"

#include <ATen/ops/_upsample_bilinear2d_aa.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>

#include "common/arg_error.h"

namespace adetr::model {

std::pair<int64_t, int64_t> resizeShortestEdgeSize(int64_t h, int64_t w, int64_t shortEdge, int64_t maxSize) {
  // detectron2's ResizeShortestEdge.get_output_shape: the short side becomes exactly shortEdge,
  // the long side scales with it; then both shrink if the long side exceeds maxSize.
  const double scale = static_cast<double>(shortEdge) / static_cast<double>(std::min(h, w));
  double newH, newW;
  if (h < w) {
    newH = static_cast<double>(shortEdge);
    newW = scale * static_cast<double>(w);
  } else {
    newH = scale * static_cast<double>(h);
    newW = static_cast<double>(shortEdge);
  }
  if (std::max(newH, newW) > static_cast<double>(maxSize)) {
    const double shrink = static_cast<double>(maxSize) / std::max(newH, newW);
    newH *= shrink;
    newW *= shrink;
  }
  return {static_cast<int64_t>(newH + 0.5), static_cast<int64_t>(newW + 0.5)};
}

namespace {
void checkRgb(const RgbImage& image, const std::string& name) {
  checkType(image.dim() == 3 && image.size(2) == 3 && image.scalar_type() == at::kByte, name,
            ": expected uint8 [H, W, 3] RGB, got ", image.scalar_type(), " ", image.sizes());
  checkRange(image.size(0) >= 1 && image.size(1) >= 1, name, ": empty image");
}
}  // namespace

RgbImage resizeImage(const RgbImage& image, int64_t newH, int64_t newW, const std::string& name) {
  checkRgb(image, name);
  checkRange(newH >= 1 && newW >= 1, name, ": cannot resize to ", newW, "×", newH);
  if (newH == image.size(0) && newW == image.size(1)) return image.contiguous();
  auto chw = image.permute({2, 0, 1}).to(at::kFloat).unsqueeze(0);
  auto resized = at::_upsample_bilinear2d_aa(chw, {newH, newW}, false, c10::nullopt, c10::nullopt);
  // Round half away from zero after clamping, as PIL does when it stores a filtered pixel.
  return (resized.clamp(0, 255) + 0.5).floor().to(at::kByte).squeeze(0).permute({1, 2, 0}).contiguous();
}

ImageBatch normalizeAndPad(const std::vector<RgbImage>& images) {
  checkRange(!images.empty(), "images: expected at least one image");
  int64_t maxH = 0, maxW = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    checkRgb(images[i], "images[" + std::to_string(i) + "]");
    maxH = std::max(maxH, images[i].size(0));
    maxW = std::max(maxW, images[i].size(1));
  }
  const int64_t b = static_cast<int64_t>(images.size());
  auto batch = at::zeros({b, 3, maxH, maxW}, at::TensorOptions().dtype(at::kFloat));
  auto mean = at::tensor(std::vector<double>(kPixelMean.begin(), kPixelMean.end()), at::kFloat).view({3, 1, 1});
  auto std = at::tensor(std::vector<double>(kPixelStd.begin(), kPixelStd.end()), at::kFloat).view({3, 1, 1});
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < b; ++i) {
    const auto& im = images[i];
    const int64_t h = im.size(0), w = im.size(1);
    // Normalise first, then pad with zeros (detectron2's ImageList pads the normalised image).
    batch[i].slice(1, 0, h).slice(2, 0, w).copy_((im.permute({2, 0, 1}).to(at::kFloat) - mean) / std);
    sizes.push_back(h);
    sizes.push_back(w);
  }
  return {batch, at::tensor(sizes, at::kLong).view({b, 2})};
}

ImageBatch prepareBatch(const std::vector<RgbImage>& images, const PreprocessOptions& options) {
  checkRange(!images.empty(), "images: expected at least one image");
  if (!options.resize) return normalizeAndPad(images);
  std::vector<RgbImage> resized;
  resized.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string name = "images[" + std::to_string(i) + "]";
    checkRgb(images[i], name);
    const int64_t h = images[i].size(0), w = images[i].size(1);
    auto [nh, nw] = resizeShortestEdgeSize(h, w, options.shortEdge, options.maxSize);
    checkRange(nh >= 1 && nw >= 1, name, ": ", w, "×", h,
               " is too elongated for this model: at its test size (short edge ", options.shortEdge,
               ", long edge at most ", options.maxSize, ") the short side would be under one pixel");
    resized.push_back(resizeImage(images[i], nh, nw, name));
  }
  return normalizeAndPad(resized);
}

}  // namespace adetr::model
