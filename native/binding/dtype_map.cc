#include "binding/dtype_map.h"

namespace adetr::binding {

std::optional<std::string> dtypeName(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Byte: return "uint8";
    default: return std::nullopt;
  }
}

std::optional<c10::ScalarType> parseDtype(const std::string& name) {
  if (name == "float32") return c10::ScalarType::Float;
  if (name == "float64") return c10::ScalarType::Double;
  if (name == "int32") return c10::ScalarType::Int;
  if (name == "int64") return c10::ScalarType::Long;
  if (name == "uint8") return c10::ScalarType::Byte;
  return std::nullopt;
}

std::optional<c10::ScalarType> scalarTypeOf(napi_typedarray_type kind) {
  switch (kind) {
    case napi_float32_array: return c10::ScalarType::Float;
    case napi_float64_array: return c10::ScalarType::Double;
    case napi_int32_array: return c10::ScalarType::Int;
    case napi_bigint64_array: return c10::ScalarType::Long;
    case napi_uint8_array: return c10::ScalarType::Byte;
    default: return std::nullopt;
  }
}

napi_typedarray_type typedArrayKindOf(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Double: return napi_float64_array;
    case c10::ScalarType::Int: return napi_int32_array;
    case c10::ScalarType::Long: return napi_bigint64_array;
    case c10::ScalarType::Byte: return napi_uint8_array;
    default: return napi_float32_array;
  }
}

const char* typedArrayName(napi_typedarray_type kind) {
  switch (kind) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

}  // namespace adetr::binding
