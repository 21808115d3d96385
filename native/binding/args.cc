#include "binding/args.h"

#include <algorithm>
#include <cctype>
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

TypedArrayView readTypedArray(const Napi::Value& value, const char* argName, const char* expected) {
  checkType(value.IsTypedArray(), argName, ": ", expected);
  TypedArrayView view;
  void* data = nullptr;
  napi_status status = napi_get_typedarray_info(value.Env(), value, &view.kind, &view.length, &data, nullptr, nullptr);
  checkType(status == napi_ok, argName, ": ", expected);
  view.data = data;
  // A detached buffer reports its old pointer on some engines; its length is what counts.
  if (view.length == 0) view.data = nullptr;
  size_t elementSize = 1;
  switch (view.kind) {
    case napi_int16_array:
    case napi_uint16_array: elementSize = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elementSize = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elementSize = 8; break;
    default: elementSize = 1; break;
  }
  view.byteLength = view.length * elementSize;
  return view;
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
  checkKnownOptionKeys(options, optionsName, "option", std::vector<std::string>(known.begin(), known.end()));
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

std::string printableKey(const std::string& key) {
  std::string out;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\'')
      out += "\\'";
    else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string didYouMean(const std::string& key, const std::vector<std::string>& known) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string a = lower(key);
  if (a.size() > 64) return "";
  size_t best = 3;  // more than two edits: no suggestion
  std::string match;
  bool tie = false;
  for (const auto& candidate : known) {
    const std::string b = lower(candidate);
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    const size_t d = row[b.size()];
    if (d < best) {
      best = d;
      match = candidate;
      tie = false;
    } else if (d == best) {
      tie = true;
    }
  }
  return match.empty() || tie ? "" : "; did you mean '" + match + "'?";
}

void checkKnownOptionKeys(const Napi::Object& options, const char* optionsName, const char* what,
                          const std::vector<std::string>& known) {
  Napi::Array keys = options.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (const auto& k : known) ok = ok || key == k;
    checkType(ok, optionsName, ": unknown ", what, " '", printableKey(key), "'", didYouMean(key, known));
  }
}

std::map<std::string, OptionValue> readOptionValues(const Napi::Object& options, const char* optionsName,
                                                    const std::vector<OptionSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  checkKnownOptionKeys(options, optionsName, "option", names);
  std::map<std::string, OptionValue> values;
  for (const auto& spec : specs) {
    Napi::Value v = options.Get(spec.name);
    if (v.IsUndefined()) continue;
    const std::string name = std::string(optionsName) + "." + spec.name;
    switch (spec.kind) {
      case OptionKind::Number:
        checkType(v.IsNumber(), name, ": expected a number");
        values.emplace(spec.name, v.As<Napi::Number>().DoubleValue());
        break;
      case OptionKind::Integer: values.emplace(spec.name, readInteger(v, name.c_str(), spec.min, spec.max)); break;
      case OptionKind::Boolean:
        checkType(v.IsBoolean(), name, ": expected a boolean");
        values.emplace(spec.name, v.As<Napi::Boolean>().Value());
        break;
      case OptionKind::String:
        checkType(v.IsString(), name, ": expected a string");
        values.emplace(spec.name, v.As<Napi::String>().Utf8Value());
        break;
      case OptionKind::IntegerList: {
        checkType(v.IsArray(), name, ": expected an array of integers");
        Napi::Array a = v.As<Napi::Array>();
        checkRange(a.Length() <= 100000, name, ": at most 100000 entries, got ", a.Length());
        std::vector<int64_t> list;
        const std::string item = name + "[]";
        for (uint32_t i = 0; i < a.Length(); ++i) {
          list.push_back(readInteger(a.Get(i), item.c_str(), spec.min, spec.max));
        }
        values.emplace(spec.name, std::move(list));
        break;
      }
    }
  }
  return values;
}

}  // namespace adetr::binding
