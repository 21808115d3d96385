// FNV-1a (64-bit) checksums of checkpoint records: a tensor's dtype, shape and bytes, or a
// string. Not cryptographic: it detects damage (bit flips, truncated records), not tampering.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace adetr::model {

uint64_t checksumOf(const at::Tensor& tensor);
uint64_t checksumOf(const std::string& text);

}  // namespace adetr::model
