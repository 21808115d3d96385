// Argument readers for binding functions. Each names the argument in its error message.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace adetr::binding {

// A JS array of non-negative integer dims.
std::vector<int64_t> readShape(const Napi::Value& value, const char* argName);

// An integer in [minValue, maxValue].
int64_t readInteger(const Napi::Value& value, const char* argName, int64_t minValue, int64_t maxValue);

// An optional boolean field of an options object (undefined → `fallback`).
bool readBoolOption(const Napi::Value& options, const char* optionsName, const char* key, bool fallback);

// Rejects keys outside `known` with a TypeError naming the key ("<optionsName>: unknown option
// 'key'"), so a misspelt option is an error rather than a silent default.
void checkKnownKeys(const Napi::Object& options, const char* optionsName, std::initializer_list<const char*> known);

// The options object at `value`, or an empty object when undefined; TypeError otherwise.
Napi::Object readOptions(const Napi::Value& value, const char* argName);

}  // namespace adetr::binding
