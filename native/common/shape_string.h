// A tensor shape as error messages print it: "[2, 900, 80]" ("[]" for a scalar).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace adetr {

inline std::string shapeString(c10::IntArrayRef dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

inline std::string shapeString(const at::Tensor& t) { return shapeString(t.sizes()); }

}  // namespace adetr
