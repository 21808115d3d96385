// The criterion's matching: every output of a step through the mixed matcher (native/train/
// matcher.h) in one batched solve, pairs grouped by GT as the prime-sample ranks need.
#include "common/arg_error.h"
#include "train/criterion.h"
#include "train/matcher.h"

namespace adetr::train {

std::vector<std::vector<ImageMatch>> matchOutputs(const std::vector<model::LayerPrediction>& outputs,
                                                  const std::vector<model::Target>& targets,
                                                  const std::vector<int64_t>& ks, const CriterionOptions& o) {
  auto matched = matchLayers(outputs, targets, ks, o.matching, PairOrder::ByGt);
  std::vector<std::vector<ImageMatch>> result(matched.size());
  for (size_t l = 0; l < matched.size(); ++l) {
    for (const auto& pairs : matched[l]) result[l].push_back({pairs.queryIndices, pairs.gtIndices});
  }
  return result;
}

}  // namespace adetr::train
