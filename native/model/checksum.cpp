#include "model/checksum.h"

#include <cstring>

namespace adetr::model {

namespace {

constexpr uint64_t kOffset = 14695981039346656037ULL;
constexpr uint64_t kPrime = 1099511628211ULL;

uint64_t mix(uint64_t h, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * kPrime;
  return h;
}

}  // namespace

uint64_t checksumOf(const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  uint64_t h = kOffset;
  const int64_t dtype = static_cast<int64_t>(t.scalar_type());
  h = mix(h, &dtype, sizeof dtype);
  for (const int64_t s : t.sizes()) h = mix(h, &s, sizeof s);
  return mix(h, t.data_ptr(), t.numel() * t.element_size());
}

uint64_t checksumOf(const std::string& text) { return mix(kOffset, text.data(), text.size()); }

}  // namespace adetr::model
