// Image preprocessing exports (native/model/preprocess): the data pipeline's resize and
// batching, and the test-time preparation predict() applies, so TypeScript never re-implements
// a resize or a normalisation.
//   resizeImage(image, width, height) → Promise<image>         (off the JS thread)
//   normalizeImages(images) → { images: Float32Array, shape }   (B×3×H×W, zero-padded)
//   prepareImages(images, { resize, shortEdge, maxSize }) → Promise<{ images, validSizes }> (tensors)
//   shortestEdgeSize(h, w, shortEdge, maxSize?) → [newH, newW]   (maxSize undefined/Infinity: no cap)
//   pixelNormalization() → { mean, std }
#include <napi.h>

#include <ATen/core/Tensor.h>

#include <cstring>
#include <limits>

#include "binding/args.h"
#include "binding/guard.h"
#include "binding/image_args.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "model/preprocess.h"

namespace adetr::binding {
namespace {

class ResizeWorker : public PromiseWorker {
 public:
  ResizeWorker(Napi::Env env, at::Tensor image, int64_t h, int64_t w)
      : PromiseWorker(env), image_(std::move(image)), h_(h), w_(w) {}
  void Run() override { out_ = model::resizeImage(image_, h_, w_); }
  Napi::Value Result(Napi::Env env) override { return rgbImageToJs(env, out_); }

 private:
  at::Tensor image_, out_;
  int64_t h_, w_;
};

Napi::Value ResizeImage(const Napi::CallbackInfo& info) {
  const int64_t w = readInteger(info[1], "width", 1, kMaxImageSide);
  const int64_t h = readInteger(info[2], "height", 1, kMaxImageSide);
  at::Tensor image = readRgbImage(info[0], "image");
  return (new ResizeWorker(info.Env(), std::move(image), h, w))->Start();
}

Napi::Value NormalizeImages(const Napi::CallbackInfo& info) {
  const model::ImageBatch batch = model::normalizeAndPad(readRgbImages(info[0], "images"));
  Napi::Env env = info.Env();
  const at::Tensor images = batch.images.contiguous();
  auto data = Napi::Float32Array::New(env, static_cast<size_t>(images.numel()));
  std::memcpy(data.Data(), images.data_ptr<float>(), static_cast<size_t>(images.numel()) * sizeof(float));
  Napi::Array shape = Napi::Array::New(env, 4);
  for (uint32_t d = 0; d < 4; ++d) shape.Set(d, Napi::Number::New(env, static_cast<double>(images.size(d))));
  Napi::Object out = Napi::Object::New(env);
  out.Set("images", data);
  out.Set("shape", shape);
  return out;
}

class PrepareWorker : public PromiseWorker {
 public:
  PrepareWorker(Napi::Env env, std::vector<at::Tensor> images, model::PreprocessOptions options)
      : PromiseWorker(env), images_(std::move(images)), options_(options) {}
  void Run() override { batch_ = model::prepareBatch(images_, options_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("images", TensorWrap::NewInstance(env, std::move(batch_.images)));
    out.Set("validSizes", TensorWrap::NewInstance(env, std::move(batch_.validSizes)));
    return out;
  }

 private:
  std::vector<at::Tensor> images_;
  model::PreprocessOptions options_;
  model::ImageBatch batch_;
};

Napi::Value PrepareImages(const Napi::CallbackInfo& info) {
  Napi::Object opts = readOptions(info[1], "options");
  checkKnownKeys(opts, "options", {"resize", "shortEdge", "maxSize"});
  model::PreprocessOptions options;
  options.resize = readBoolOption(opts, "options", "resize", true);
  options.shortEdge = readInteger(opts.Get("shortEdge"), "options.shortEdge", 1, kMaxImageSide);
  options.maxSize = readInteger(opts.Get("maxSize"), "options.maxSize", 1, kMaxImageSide);
  std::vector<at::Tensor> images = readRgbImages(info[0], "images");
  return (new PrepareWorker(info.Env(), std::move(images), options))->Start();
}

Napi::Value ShortestEdgeSize(const Napi::CallbackInfo& info) {
  const int64_t h = readInteger(info[0], "h", 1, kMaxImageSide);
  const int64_t w = readInteger(info[1], "w", 1, kMaxImageSide);
  const int64_t shortEdge = readInteger(info[2], "shortEdge", 1, kMaxImageSide);
  int64_t maxSize = std::numeric_limits<int64_t>::max();
  const bool unbounded = info[3].IsUndefined() || (info[3].IsNumber() && info[3].As<Napi::Number>().DoubleValue() ==
                                                                             std::numeric_limits<double>::infinity());
  if (!unbounded) maxSize = readInteger(info[3], "maxSize", 1, kMaxImageSide);
  const auto [newH, newW] = model::resizeShortestEdgeSize(h, w, shortEdge, maxSize);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(newH)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(newW)));
  return out;
}

Napi::Value PixelNormalization(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array mean = Napi::Array::New(env, 3), std = Napi::Array::New(env, 3);
  for (uint32_t c = 0; c < 3; ++c) {
    mean.Set(c, Napi::Number::New(env, model::kPixelMean[c]));
    std.Set(c, Napi::Number::New(env, model::kPixelStd[c]));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("mean", mean);
  out.Set("std", std);
  return out;
}

void registerPreprocess(Napi::Env env, Napi::Object exports) {
  exports.Set("resizeImage", Napi::Function::New<Guarded<&ResizeImage>>(env, "resizeImage"));
  exports.Set("normalizeImages", Napi::Function::New<Guarded<&NormalizeImages>>(env, "normalizeImages"));
  exports.Set("prepareImages", Napi::Function::New<Guarded<&PrepareImages>>(env, "prepareImages"));
  exports.Set("shortestEdgeSize", Napi::Function::New<Guarded<&ShortestEdgeSize>>(env, "shortestEdgeSize"));
  exports.Set("pixelNormalization", Napi::Function::New<Guarded<&PixelNormalization>>(env, "pixelNormalization"));
}

const Registrar kRegistrar(&registerPreprocess);

}  // namespace
}  // namespace adetr::binding
