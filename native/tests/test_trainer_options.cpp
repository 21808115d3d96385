// C++ tests of the trainer option table (train/trainer_options.h): defaults per loss as the
// recipes set them (the align recipe's numbers written out here), backboneLr following lr unless
// given, validate() naming the option, and the table's get/set round trip for every field.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/test_support.h"
#include "train/trainer_options.h"

namespace {

using adetr::ArgError;
using adetr::ops::AlignLossKind;
using adetr::train::makeTrainerOptions;
using adetr::train::TrainerOptions;
using adetr::train::TrainerOptionValue;

void testDefaults() {
  const TrainerOptions o = makeTrainerOptions({});
  // The recipe (docs/numerical-contract.md §E): AdamW lr 1e-4, backbone 1e-5, wd 1e-4, clip 0.1.
  EXPECT(o.optimizer.lr == 1e-4 && o.optimizer.backboneLr == 1e-5, "lr %g backbone %g", o.optimizer.lr,
         o.optimizer.backboneLr);
  EXPECT(o.optimizer.weightDecay == 1e-4 && o.optimizer.clipMaxNorm == 0.1, "wd %g clip %g", o.optimizer.weightDecay,
         o.optimizer.clipMaxNorm);
  EXPECT(o.criterion.loss == AlignLossKind::Align && o.criterion.mixedMatching && o.criterion.k == 2 &&
             o.criterion.tau == 1.5,
         "align recipe: mixed matching, k 2, tau 1.5");
  EXPECT(o.seed == 42 && o.schedule.warmupSteps == 0 && o.schedule.gamma == 0.1, "seed/warmup/gamma");

  const TrainerOptions focal = makeTrainerOptions({{"loss", std::string("focal")}});
  EXPECT(!focal.criterion.mixedMatching, "focal trains one-to-one");
  const TrainerOptions stable = makeTrainerOptions({{"loss", std::string("stable-dino")}});
  EXPECT(stable.criterion.matching.positionModulated && stable.criterion.weightClass == 6.0,
         "stable-dino: position-modulated cost, class weight 6");
  // An explicit option wins over the loss's default.
  const TrainerOptions mixedFocal =
      makeTrainerOptions({{"loss", std::string("focal")}, {"matching", std::string("mixed")}});
  EXPECT(mixedFocal.criterion.mixedMatching, "matching given explicitly wins");
}

void testBackboneLr() {
  const TrainerOptions follows = makeTrainerOptions({{"lr", 3e-4}});
  EXPECT(std::abs(follows.optimizer.backboneLr - 3e-5) < 1e-18, "backboneLr follows lr: %g",
         follows.optimizer.backboneLr);
  const TrainerOptions given = makeTrainerOptions({{"lr", 3e-4}, {"backboneLr", 0.0}});
  EXPECT(given.optimizer.backboneLr == 0.0, "an explicit backboneLr (even 0) is kept");
}

void testValidation() {
  using adetr::test::expectArgError;
  expectArgError([] { makeTrainerOptions({{"lr", -1.0}}); }, ArgError::Kind::Range, "options.lr: ");
  expectArgError([] { makeTrainerOptions({{"k", int64_t{17}}}); }, ArgError::Kind::Range, "options.k: ");
  expectArgError([] { makeTrainerOptions({{"tau", NAN}}); }, ArgError::Kind::Range, "options.tau: ");
  expectArgError(
      [] {
        makeTrainerOptions({{"milestones", std::vector<int64_t>{3, -1}}});
      },
      ArgError::Kind::Range, "options.milestones[]: ");
  expectArgError(
      [] {
        makeTrainerOptions({{"matching", std::string("many")}});
      },
      ArgError::Kind::Range, "options.matching: ");
  expectArgError([] { makeTrainerOptions({{"loss", std::string("bogus")}}); }, ArgError::Kind::Range, "loss: ");
  expectArgError([] { makeTrainerOptions({{"lerningRate", 1.0}}); }, ArgError::Kind::Type, "options: unknown option");
  expectArgError([] { makeTrainerOptions({{"lr", int64_t{1}}}); }, ArgError::Kind::Type, "options.lr: ");
  // validate() on a struct edited in C++ names the option by its user-facing name.
  TrainerOptions o = makeTrainerOptions({});
  o.criterion.k = 0;
  expectArgError([&] { o.validate(); }, ArgError::Kind::Range, "options.k: ");
}

void testRoundTrip() {
  // Every field reads back what was set, through the table alone.
  const std::map<std::string, TrainerOptionValue> values = {{"loss", std::string("qfl")},
                                                            {"matching", std::string("mixed")},
                                                            {"k", int64_t{3}},
                                                            {"tau", 2.5},
                                                            {"fusedLoss", false},
                                                            {"lr", 2e-4},
                                                            {"backboneLr", 1e-6},
                                                            {"weightDecay", 0.05},
                                                            {"clipMaxNorm", 1.0},
                                                            {"milestones", std::vector<int64_t>{10, 20}},
                                                            {"gamma", 0.5},
                                                            {"warmupSteps", int64_t{7}},
                                                            {"warmupFactor", 0.01},
                                                            {"seed", int64_t{123}}};
  EXPECT(values.size() == adetr::train::trainerOptionFields().size(), "the round trip covers every field");
  const auto back = adetr::train::trainerOptionValues(makeTrainerOptions(values));
  for (const auto& [name, value] : values) {
    EXPECT(back.count(name) == 1 && back.at(name) == value, "%s does not read back", name.c_str());
  }
}

}  // namespace

int main() {
  return adetr::test::runTests("test_trainer_options", [] {
    testDefaults();
    testBackboneLr();
    testValidation();
    testRoundTrip();
  });
}
