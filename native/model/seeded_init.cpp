#include "model/seeded_init.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

namespace adetr::model {

std::mutex& initialisationMutex() {
  static std::mutex mutex;
  return mutex;
}

Dino createDino(const DinoConfig& config, std::optional<uint64_t> seed) {
  std::lock_guard<std::mutex> lock(initialisationMutex());
  if (!seed) return Dino(config);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  at::Tensor saved;
  {
    std::lock_guard<std::mutex> genLock(generator.mutex());
    saved = generator.get_state();
    // Also clears the cached second normal sample, so the draws depend on the seed alone.
    generator.set_current_seed(*seed);
  }
  struct Restore {
    at::Generator& generator;
    const at::Tensor& state;
    ~Restore() {
      std::lock_guard<std::mutex> genLock(generator.mutex());
      generator.set_state(state);
    }
  } restore{generator, saved};
  return Dino(config);
}

}  // namespace adetr::model
