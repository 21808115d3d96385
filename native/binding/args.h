// Argument readers for binding functions. Each names the argument in its error message.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace adetr::binding {

// A JS array of non-negative integer dims.
std::vector<int64_t> readShape(const Napi::Value& value, const char* argName);

// An integer in [minValue, maxValue].
int64_t readInteger(const Napi::Value& value, const char* argName, int64_t minValue, int64_t maxValue);

// An optional boolean field of an options object (undefined → `fallback`).
bool readBoolOption(const Napi::Value& options, const char* optionsName, const char* key, bool fallback);

// The options object at `value`, or an empty object when undefined; TypeError otherwise.
Napi::Object readOptions(const Napi::Value& value, const char* argName);

}  // namespace adetr::binding
