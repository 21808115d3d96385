#include "binding/image_args.h"

#include <ATen/ops/empty.h>

#include <cstring>

#include "binding/args.h"
#include "common/arg_error.h"

namespace adetr::binding {

at::Tensor readRgbImage(const Napi::Value& value, const std::string& name) {
  checkType(value.IsObject(), name, ": expected { data: Uint8Array, width, height, channels: 3 }");
  Napi::Object o = value.As<Napi::Object>();
  const int64_t w = readInteger(o.Get("width"), (name + ".width").c_str(), 1, kMaxImageSide);
  const int64_t h = readInteger(o.Get("height"), (name + ".height").c_str(), 1, kMaxImageSide);
  Napi::Value ch = o.Get("channels");
  if (!ch.IsUndefined()) readInteger(ch, (name + ".channels").c_str(), 3, 3);
  // The view is taken after the image's other fields (their getters may detach the buffer)
  // and copied before the next JS value is read.
  const std::string dataName = name + ".data";
  const TypedArrayView bytes =
      readTypedArray(o.Get("data"), dataName.c_str(), "expected a Uint8Array of RGB pixels (HWC)");
  checkType(bytes.kind == napi_uint8_array, dataName, ": expected a Uint8Array of RGB pixels (HWC)");
  checkRange(static_cast<int64_t>(bytes.length) == w * h * 3, dataName, ": length ", bytes.length,
             " does not match width*height*3 = ", w * h * 3);
  at::Tensor t = at::empty({h, w, 3}, at::TensorOptions().dtype(at::kByte));
  std::memcpy(t.data_ptr(), bytes.data, bytes.byteLength);
  return t;
}

std::vector<at::Tensor> readRgbImages(const Napi::Value& value, const char* argName) {
  checkType(value.IsArray(), argName, ": expected an array of images");
  Napi::Array arr = value.As<Napi::Array>();
  checkRange(arr.Length() > 0, argName, ": expected at least one image");
  checkRange(arr.Length() <= kMaxImagesPerCall, argName, ": at most ", kMaxImagesPerCall, " images per call, got ",
             arr.Length());
  std::vector<at::Tensor> images;
  images.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    images.push_back(readRgbImage(arr.Get(i), std::string(argName) + "[" + std::to_string(i) + "]"));
  }
  return images;
}

Napi::Object rgbImageToJs(Napi::Env env, const at::Tensor& image) {
  const at::Tensor t = image.contiguous();
  const size_t bytes = static_cast<size_t>(t.numel());
  auto data = Napi::Uint8Array::New(env, bytes);
  if (bytes > 0) std::memcpy(data.Data(), t.data_ptr<uint8_t>(), bytes);
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("width", Napi::Number::New(env, static_cast<double>(t.size(1))));
  out.Set("height", Napi::Number::New(env, static_cast<double>(t.size(0))));
  out.Set("channels", Napi::Number::New(env, 3));
  return out;
}

}  // namespace adetr::binding
