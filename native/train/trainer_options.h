// Training options: the struct a Trainer runs with, its defaults, its documented ranges
// (TrainerOptions::validate()), and the table of user-facing option names through which the
// binding reads JS option objects and from which lib/trainer.ts and the CLI take their names and
// defaults. One owner: nothing else lists these options, their defaults or their ranges.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ops/align_loss/align_loss.h"
#include "train/criterion.h"
#include "train/optimizer.h"

namespace adetr::train {

struct TrainerOptions {
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  CriterionOptions criterion;
  uint64_t seed = 42;  // seeds the denoising-noise generator

  // Throws adetr::ArgError (RangeError kind) naming the first option, by its user-facing name
  // ("options.lr: ..."), that is outside its documented range, in trainerOptionFields()' order.
  void validate() const;
};

enum class TrainerOptionKind { Number, Integer, Boolean, Choice, IntegerList };

// One option as a user gives it: a number, an integer, a boolean, a choice's name or a list of
// integers (the field's kind says which).
using TrainerOptionValue = std::variant<double, int64_t, bool, std::string, std::vector<int64_t>>;

struct TrainerOptionField {
  const char* name;
  TrainerOptionKind kind;
  double min = 0, max = 0;           // Number, Integer, and each element of an IntegerList
  std::vector<std::string> choices;  // Choice
  const char* doc = "";              // one line for help texts, with the default
  TrainerOptionValue (*get)(const TrainerOptions&) = nullptr;
  void (*set)(TrainerOptions&, const TrainerOptionValue&) = nullptr;
};

// Every option, in the order validate() checks them. `loss` comes first: it picks the defaults
// of the criterion options after it.
const std::vector<TrainerOptionField>& trainerOptionFields();
const TrainerOptionField* findTrainerOptionField(const std::string& name);

// The options a loss implies, every other option at its default (backboneLr = lr / 10).
TrainerOptions defaultTrainerOptions(ops::AlignLossKind loss = ops::AlignLossKind::Align);

// Options from user values keyed by option name: the defaults of values["loss"] (align when
// absent), then each value, then validate(). backboneLr follows lr (÷10) unless given. Unknown
// names and values of the wrong kind are TypeErrors naming "options.<name>".
TrainerOptions makeTrainerOptions(const std::map<std::string, TrainerOptionValue>& values);

// The user-facing values of `options`, one per field (lib/trainer.ts shows them as defaults).
std::map<std::string, TrainerOptionValue> trainerOptionValues(const TrainerOptions& options);

}  // namespace adetr::train
