// Model creation with an optional seed: the same seed gives bit-identical initial weights in any
// process (AlignDetr.create({ seed })), different seeds different weights.
//
// The initialisation (docs/numerical-contract.md §A.11: xavier, kaiming, N(0, 1), the MSDA grid, libtorch's Linear
// defaults) draws from libtorch's default CPU generator, as detrex draws from PyTorch's global
// one. A seeded creation therefore seeds that generator for the construction only and then puts
// its previous state back, so the random stream seen by everything else (unseeded creations
// included) is as if the seeded creation had not happened. Every construction the addon does
// (create, load, resume) holds initialisationMutex() so that concurrent constructions on other
// threads cannot interleave their draws with a seeded one. The CPU init kernels are serial, so
// the weights do not depend on the thread count.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "model/dino.h"

namespace adetr::model {

// Held by every construction that draws from the default CPU generator (createDino takes it;
// callers that construct through other paths, e.g. checkpoint loading, take it themselves).
std::mutex& initialisationMutex();

// Dino(config) under initialisationMutex(); with `seed`, drawn from the default CPU generator
// seeded with it (its previous state restored afterwards, also when construction throws).
Dino createDino(const DinoConfig& config, std::optional<uint64_t> seed = std::nullopt);

}  // namespace adetr::model
