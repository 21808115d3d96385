#include "binding/args.h"

#include <cmath>
#include <string>

#include "common/arg_error.h"

namespace adetr::binding {

namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
}

std::vector<int64_t> readShape(const Napi::Value& value, const char* argName) {
  checkType(value.IsArray(), argName, ": expected an array of non-negative integers");
  Napi::Array array = value.As<Napi::Array>();
  const uint32_t rank = array.Length();
  checkRange(rank <= 16, argName, ": at most 16 dimensions are supported, got ", rank);
  std::vector<int64_t> dims;
  dims.reserve(rank);
  for (uint32_t i = 0; i < rank; ++i) {
    Napi::Value item = array.Get(i);
    checkType(item.IsNumber(), argName, "[", i, "]: expected a number");
    const double d = item.As<Napi::Number>().DoubleValue();
    checkRange(std::isfinite(d) && d >= 0 && d == std::floor(d) && d <= kMaxSafeInteger, argName, "[", i,
               "]: dims must be non-negative integers, got ", d);
    dims.push_back(static_cast<int64_t>(d));
  }
  return dims;
}

int64_t readInteger(const Napi::Value& value, const char* argName, int64_t minValue, int64_t maxValue) {
  checkType(value.IsNumber(), argName, ": expected an integer");
  const double d = value.As<Napi::Number>().DoubleValue();
  checkRange(std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(minValue) &&
                 d <= static_cast<double>(maxValue),
             argName, ": expected an integer in [", minValue, ", ", maxValue, "], got ", d);
  return static_cast<int64_t>(d);
}

void checkKnownKeys(const Napi::Object& options, const char* optionsName, std::initializer_list<const char*> known) {
  Napi::Array keys = options.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    checkType(ok, optionsName, ": unknown option '", key, "'");
  }
}

Napi::Object readOptions(const Napi::Value& value, const char* argName) {
  if (value.IsUndefined() || value.IsNull()) return Napi::Object::New(value.Env());
  checkType(value.IsObject() && !value.IsArray(), argName, ": expected an options object");
  return value.As<Napi::Object>();
}

bool readBoolOption(const Napi::Value& options, const char* optionsName, const char* key, bool fallback) {
  if (options.IsUndefined() || options.IsNull()) return fallback;
  Napi::Value v = options.As<Napi::Object>().Get(key);
  if (v.IsUndefined()) return fallback;
  checkType(v.IsBoolean(), optionsName, ".", key, ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace adetr::binding
