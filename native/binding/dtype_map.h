// The mapping between JS TypedArray kinds, dtype names and ATen scalar types.
#pragma once

#include <napi.h>

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace adetr::binding {

// "float32" | "float64" | "int32" | "int64" | "uint8" for the supported types, nullopt otherwise.
std::optional<std::string> dtypeName(c10::ScalarType type);

// Parses a dtype name; nullopt for unknown names.
std::optional<c10::ScalarType> parseDtype(const std::string& name);

// The scalar type a TypedArray kind holds; nullopt for kinds with no tensor dtype.
std::optional<c10::ScalarType> scalarTypeOf(napi_typedarray_type kind);

// The TypedArray kind used to return tensors of `type`.
napi_typedarray_type typedArrayKindOf(c10::ScalarType type);

// Constructor name of a TypedArray kind, for error messages ("Float32Array").
const char* typedArrayName(napi_typedarray_type kind);

}  // namespace adetr::binding
