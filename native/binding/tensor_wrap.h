// The JS-visible native tensor handle: owns one at::Tensor.
//
// lib/tensor.ts wraps these handles in the public `Tensor` class. Data always crosses the
// boundary by copy (safe for async work and for Electron's V8 memory cage, which forbids
// external ArrayBuffers). Host bytes are reported to V8 with AdjustExternalMemory so the GC
// sees the pressure of tensors it cannot measure; the finalizer frees the native memory.
#pragma once

#include <napi.h>

#include <ATen/core/Tensor.h>

namespace adetr::binding {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  // binding/class_tag.h: the tag every TensorHandle carries, and the name errors use.
  static constexpr napi_type_tag kTypeTag = {0x5a1c3e0d9b7f4a21ULL, 0x8e6d2f4b1c0a9e73ULL};
  static constexpr const char* kClassName = "TensorHandle";

  static Napi::Function DefineClass(Napi::Env env);

  // Wraps `tensor` in a new JS handle (JS thread only).
  static Napi::Object NewInstance(Napi::Env env, at::Tensor tensor);

  // The tensor behind JS argument `value`; throws a TypeError naming `argName` when `value` is
  // not a tensor handle (or a lib/tensor.ts Tensor) or has been disposed.
  static at::Tensor TensorArg(const Napi::Value& value, const char* argName);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  // Handles holding a tensor, and the host bytes they hold, over every environment of the
  // process. dispose() lowers them at once; a handle dropped without dispose() counts until
  // its finalizer runs, which Node-API defers to the next turn of the event loop.
  struct LiveStats {
    int64_t handles;
    int64_t hostBytes;
  };
  static LiveStats liveStats();

  // The JS methods and getters; reached through CheckedThis (class_tag.h), which checks `this`.
  static Napi::Value FromTypedArray(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value ToTypedArray(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);

 private:
  const at::Tensor& checked(const char* what) const;
  void release();

  at::Tensor tensor_;
  int64_t accountedBytes_ = 0;
  napi_env env_ = nullptr;
};

}  // namespace adetr::binding
