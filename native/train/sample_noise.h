// Seeds of per-sample denoising noise (model::Target::noiseSeed): a mix of the trainer's seed,
// the step and the sample's id, so a sample's noise at a step is the same whichever process and
// batch it lands in (data parallelism; splitmix64's finaliser per part).
#pragma once

#include <cstdint>

namespace adetr::train {

inline uint64_t mixSeed(uint64_t h, uint64_t part) {
  uint64_t z = h ^ (part + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t sampleNoiseSeed(uint64_t seed, int64_t step, int64_t sampleId) {
  return mixSeed(mixSeed(mixSeed(0x5a3c9e1f7b2d4e6fULL, seed), static_cast<uint64_t>(step)),
                 static_cast<uint64_t>(sampleId));
}

}  // namespace adetr::train
