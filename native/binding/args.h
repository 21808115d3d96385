// Argument readers for binding functions. Each names the argument in its error message.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace adetr::binding {

// A JS array of non-negative integer dims.
std::vector<int64_t> readShape(const Napi::Value& value, const char* argName);

// A typed array's element kind, length and first byte, read by one N-API call that runs no JS.
// It works for views on a SharedArrayBuffer too (Napi::TypedArray::ArrayBuffer() refuses
// those), and a view whose buffer was detached reads as length 0.
//
// Read-once rule: `data` is valid only until JS runs again (a getter, a Proxy trap, a
// toString), since JS may detach or transfer the buffer. So a binding reads every other
// argument first, then takes the views, and copies (or uses them synchronously) before any
// further JS value is read.
struct TypedArrayView {
  napi_typedarray_type kind = napi_uint8_array;
  size_t length = 0;  // elements
  size_t byteLength = 0;
  const void* data = nullptr;
};

// The view of `value`; TypeError naming `argName` ("<argName>: <expected>") when it is not a
// typed array.
TypedArrayView readTypedArray(const Napi::Value& value, const char* argName, const char* expected);

// An integer in [minValue, maxValue].
int64_t readInteger(const Napi::Value& value, const char* argName, int64_t minValue, int64_t maxValue);

// An optional boolean field of an options object (undefined → `fallback`).
bool readBoolOption(const Napi::Value& options, const char* optionsName, const char* key, bool fallback);

// Rejects keys outside `known` with a TypeError naming the key ("<optionsName>: unknown option
// 'key'; did you mean 'x'?"), so a misspelt option is an error rather than a silent default.
void checkKnownKeys(const Napi::Object& options, const char* optionsName, std::initializer_list<const char*> known);

// The options object at `value`, or an empty object when undefined; TypeError otherwise.
Napi::Object readOptions(const Napi::Value& value, const char* argName);

// `key` with control characters and quotes escaped (\n, \t, \', \xNN), to quote it in a message.
std::string printableKey(const std::string& key);

// "; did you mean 'x'?" when exactly one of `known` is the closest within two edits of `key`
// (case-insensitive), else "".
std::string didYouMean(const std::string& key, const std::vector<std::string>& known);

// Like checkKnownKeys, with the key escaped and a suggestion: TypeError "<optionsName>: unknown
// <what> 'lerning_rate'; did you mean 'lr'?" (what: "option", "field"...).
void checkKnownOptionKeys(const Napi::Object& options, const char* optionsName, const char* what,
                          const std::vector<std::string>& known);

// An options object read against a table of option names and kinds (the core's table, e.g.
// train::trainerOptionFields()): each present key becomes a value of its kind. Unknown keys are
// TypeErrors with a suggestion (checkKnownOptionKeys); a value of the wrong JS type is a
// TypeError, an integer outside [min, max] (or a fraction) a RangeError, both naming
// "<optionsName>.<key>". Other ranges are the core's to check (its validate()).
enum class OptionKind { Number, Integer, Boolean, String, IntegerList };
struct OptionSpec {
  std::string name;
  OptionKind kind;
  int64_t min = 0, max = 0;  // Integer and IntegerList elements: the table's range
};
using OptionValue = std::variant<double, int64_t, bool, std::string, std::vector<int64_t>>;
std::map<std::string, OptionValue> readOptionValues(const Napi::Object& options, const char* optionsName,
                                                    const std::vector<OptionSpec>& specs);

}  // namespace adetr::binding
