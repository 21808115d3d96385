#include "binding/tensor_wrap.h"

#include <ATen/ops/empty.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/class_tag.h"
#include "binding/dtype_map.h"
#include "binding/guard.h"
#include "common/arg_error.h"
#include "common/shape_string.h"

namespace adetr::binding {

namespace {

std::atomic<int64_t> liveHandles{0};
std::atomic<int64_t> liveHostBytes{0};

int64_t hostBytesOf(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

}  // namespace

Napi::Function TensorWrap::DefineClass(Napi::Env env) {
  Napi::Function cls = ObjectWrap<TensorWrap>::DefineClass(
      env, kClassName, {StaticMethod<&Guarded<&TensorWrap::FromTypedArray>>("fromTypedArray")});
  defineOnPrototype(cls, {
                             checkedMethod<TensorWrap, &TensorWrap::ToTypedArray>(env, "toTypedArray"),
                             checkedMethod<TensorWrap, &TensorWrap::Dispose>(env, "dispose"),
                             checkedMethod<TensorWrap, &TensorWrap::Reshape>(env, "reshape"),
                             checkedGetter<TensorWrap, &TensorWrap::Shape>("shape"),
                             checkedGetter<TensorWrap, &TensorWrap::Dtype>("dtype"),
                             checkedGetter<TensorWrap, &TensorWrap::Disposed>("disposed"),
                         });
  return cls;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : ObjectWrap<TensorWrap>(info), env_(info.Env()) {
  // Only NewInstance may construct handles: it passes the tensor through an External.
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "TensorHandle cannot be constructed directly; use Tensor.from()");
  }
  tagInstance<TensorWrap>(info.Env(), info.This().As<Napi::Object>());
  tensor_ = *info[0].As<Napi::External<at::Tensor>>().Data();
  accountedBytes_ = hostBytesOf(tensor_);
  if (tensor_.defined()) liveHandles.fetch_add(1, std::memory_order_relaxed);
  liveHostBytes.fetch_add(accountedBytes_, std::memory_order_relaxed);
  if (accountedBytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), accountedBytes_);
}

TensorWrap::LiveStats TensorWrap::liveStats() {
  return {liveHandles.load(std::memory_order_relaxed), liveHostBytes.load(std::memory_order_relaxed)};
}

TensorWrap::~TensorWrap() { release(); }

void TensorWrap::release() {
  if (tensor_.defined()) liveHandles.fetch_sub(1, std::memory_order_relaxed);
  liveHostBytes.fetch_sub(accountedBytes_, std::memory_order_relaxed);
  tensor_ = at::Tensor();
  if (accountedBytes_ > 0 && env_ != nullptr) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env_, -accountedBytes_, &ignored);
  }
  accountedBytes_ = 0;
}

Napi::Object TensorWrap::NewInstance(Napi::Env env, at::Tensor tensor) {
  Napi::External<at::Tensor> external = Napi::External<at::Tensor>::New(env, &tensor);
  return addonOf(env).tensorConstructor.New({external});
}

at::Tensor TensorWrap::TensorArg(const Napi::Value& value, const char* argName) {
  TensorWrap* wrap = unwrapTagged<TensorWrap>(value);
  checkType(wrap != nullptr, argName, ": expected a Tensor");
  checkType(wrap->tensor_.defined(), argName, ": Tensor has been disposed");
  return wrap->tensor_;
}

const at::Tensor& TensorWrap::checked(const char* what) const {
  checkType(tensor_.defined(), "tensor.", what, ": Tensor has been disposed");
  return tensor_;
}

Napi::Value TensorWrap::FromTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkType(info.Length() >= 2, "Tensor.from: expected (data, shape[, dtype])");
  constexpr const char* kExpected = "expected a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array";
  checkType(info[0].IsTypedArray(), "data: ", kExpected);

  // Every JS value that may run code (the shape array's elements) is read before the data view
  // is taken: a getter could otherwise detach the buffer after its length was checked.
  const std::vector<int64_t> dims = readShape(info[1], "shape");
  std::optional<c10::ScalarType> wantedType;
  std::string wanted;
  if (info.Length() >= 3 && !info[2].IsUndefined()) {
    checkType(info[2].IsString(), "dtype: expected one of 'float32', 'float64', 'int32', 'int64', 'uint8'");
    wanted = info[2].As<Napi::String>().Utf8Value();
    wantedType = parseDtype(wanted);
    checkType(wantedType.has_value(), "dtype: unknown dtype '", wanted,
              "'; expected one of 'float32', 'float64', 'int32', 'int64', 'uint8'");
  }

  const TypedArrayView data = readTypedArray(info[0], "data", kExpected);
  std::optional<c10::ScalarType> type = scalarTypeOf(data.kind);
  checkType(type.has_value(), "data: ", typedArrayName(data.kind),
            " is not supported; use Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array");
  if (wantedType) {
    checkType(*wantedType == *type, "data: dtype '", wanted, "' needs a ",
              typedArrayName(typedArrayKindOf(*wantedType)), ", got a ", typedArrayName(data.kind));
  }
  // Product with overflow check: the element count must equal data.length exactly.
  uint64_t numel = 1;
  for (int64_t d : dims) {
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
      numel = std::numeric_limits<uint64_t>::max();
      break;
    }
    numel *= static_cast<uint64_t>(d);
  }
  checkRange(numel == data.length, "shape: ", shapeString(dims), " holds ", numel, " elements but data has length ",
             data.length);

  // No JS runs between taking the view and this copy.
  at::Tensor tensor = at::empty(dims, at::TensorOptions().dtype(*type));
  if (numel > 0) std::memcpy(tensor.data_ptr(), data.data, data.byteLength);
  return NewInstance(env, std::move(tensor));
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    const Napi::CallbackInfo& i = info;
    TensorWrap* self = this;
    const at::Tensor& t = self->checked("shape");
    Napi::Array out = Napi::Array::New(i.Env(), t.dim());
    for (int64_t d = 0; d < t.dim(); ++d)
      out.Set(static_cast<uint32_t>(d), Napi::Number::New(i.Env(), static_cast<double>(t.size(d))));
    return out;
  });
}

Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    const Napi::CallbackInfo& i = info;
    TensorWrap* self = this;
    const at::Tensor& t = self->checked("dtype");
    std::optional<std::string> name = dtypeName(t.scalar_type());
    return Napi::String::New(i.Env(), name ? *name : std::string(c10::toString(t.scalar_type())));
  });
}

Napi::Value TensorWrap::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.defined());
}

Napi::Value TensorWrap::ToTypedArray(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    const Napi::CallbackInfo& i = info;
    TensorWrap* self = this;
    at::Tensor t = self->checked("toTypedArray");
    // Types without a TypedArray of their own (bool, half, bfloat16) come back as float32.
    if (!dtypeName(t.scalar_type())) t = t.to(c10::ScalarType::Float);
    t = t.to(c10::Device(c10::kCPU)).contiguous();
    const napi_typedarray_type kind = typedArrayKindOf(t.scalar_type());
    const size_t length = static_cast<size_t>(t.numel());
    const size_t bytes = length * t.element_size();
    // A copy into a V8-owned buffer: external buffers are refused inside Electron's memory cage.
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(i.Env(), bytes);
    if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
    napi_value typed;
    NAPI_THROW_IF_FAILED(i.Env(), napi_create_typedarray(i.Env(), kind, length, buffer, 0, &typed), Napi::Value());
    return Napi::Value(i.Env(), typed);
  });
}

Napi::Value TensorWrap::Reshape(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    checked("reshape");
    checkType(info[0].IsArray(), "shape: expected an array of integers (one may be -1)");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<int64_t> dims;
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value item = array.Get(i);
      checkType(item.IsNumber(), "shape[", i, "]: expected a number");
      const double d = item.As<Napi::Number>().DoubleValue();
      checkRange(std::isfinite(d) && d == std::floor(d) && d >= -1 && d <= 9007199254740991.0, "shape[", i,
                 "]: dims must be integers >= -1, got ", d);
      dims.push_back(static_cast<int64_t>(d));
    }
    // Taken after the shape is read (its getters may have disposed this tensor), by value.
    const at::Tensor t = checked("reshape");
    // libtorch checks the element count (and at most one -1); its c10::Error reaches JS as an Error.
    return NewInstance(info.Env(), t.reshape(dims).clone());
  });
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

}  // namespace adetr::binding
