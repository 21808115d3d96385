// RGB images across the boundary: JS { data: Uint8Array (HWC), width, height, channels?: 3 }
// objects to uint8 [H, W, 3] tensors and back. Shared by predict and the preprocessing exports.
#pragma once

#include <napi.h>

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace adetr::binding {

// The most images one call takes (they run as one batch); lib/model.ts MAX_PREDICT_IMAGES.
constexpr uint32_t kMaxImagesPerCall = 1024;
// The largest image side (and resize target) the bindings accept, in pixels.
constexpr int64_t kMaxImageSide = int64_t{1} << 16;

// One image, copied into a tensor; errors name `name` (e.g. "images[2]").
at::Tensor readRgbImage(const Napi::Value& value, const std::string& name);

// A non-empty JS array of at most kMaxImagesPerCall images named `argName`.
std::vector<at::Tensor> readRgbImages(const Napi::Value& value, const char* argName);

// { data: Uint8Array, width, height, channels: 3 } from a uint8 [H, W, 3] tensor.
Napi::Object rgbImageToJs(Napi::Env env, const at::Tensor& image);

}  // namespace adetr::binding
