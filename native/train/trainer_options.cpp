#include "train/trainer_options.h"

#include <cmath>

#include "common/arg_error.h"
#include "common/number_text.h"

namespace adetr::train {

namespace {

using Kind = TrainerOptionKind;
using O = TrainerOptions;
using V = TrainerOptionValue;

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 − 1: every integer a JS number holds exactly

template <typename T>
const T& as(const V& v, const char* name) {
  const T* p = std::get_if<T>(&v);
  checkType(p != nullptr, "options.", name, ": wrong kind of value");
  return *p;
}

std::vector<std::string> lossNames() {
  std::vector<std::string> names;
  for (auto k :
       {ops::AlignLossKind::Align, ops::AlignLossKind::IaBce, ops::AlignLossKind::Focal, ops::AlignLossKind::Qfl,
        ops::AlignLossKind::Vfl, ops::AlignLossKind::StableDino, ops::AlignLossKind::SdAlign}) {
    names.push_back(ops::alignLossKindName(k));
  }
  return names;
}

// The table. Ranges are the documented ones (README, lib/trainer.ts docs come from `doc`).
const std::vector<TrainerOptionField>& fields() {
  static const std::vector<TrainerOptionField> kFields = {
      {"loss", Kind::Choice, 0, 0, lossNames(),
       "classification loss and the recipe it implies (default: the model's, see defaultLoss)",
       [](const O& o) -> V { return std::string(ops::alignLossKindName(o.criterion.loss)); },
       [](O& o, const V& v) { o.criterion.loss = ops::parseAlignLossKind(as<std::string>(v, "loss"), "loss"); }},
      {"matching",
       Kind::Choice,
       0,
       0,
       {"mixed", "one-to-one"},
       "'mixed' (k GT copies on all but the last layer; default for align/ia-bce) or 'one-to-one'",
       [](const O& o) -> V { return std::string(o.criterion.mixedMatching ? "mixed" : "one-to-one"); },
       [](O& o, const V& v) {
         const std::string& m = as<std::string>(v, "matching");
         checkRange(m == "mixed" || m == "one-to-one", "options.matching: expected 'mixed' or 'one-to-one', got '", m,
                    "'");
         o.criterion.mixedMatching = m == "mixed";
       }},
      {"k",
       Kind::Integer,
       1,
       16,
       {},
       "GT copies of mixed matching (default 2)",
       [](const O& o) -> V { return o.criterion.k; },
       [](O& o, const V& v) { o.criterion.k = as<int64_t>(v, "k"); }},
      {"tau",
       Kind::Number,
       1e-6,
       1e6,
       {},
       "prime-sample temperature τ (default 1.5)",
       [](const O& o) -> V { return o.criterion.tau; },
       [](O& o, const V& v) { o.criterion.tau = as<double>(v, "tau"); }},
      {"fusedLoss",
       Kind::Boolean,
       0,
       1,
       {},
       "use the fused native classification-loss kernel (default true)",
       [](const O& o) -> V { return o.criterion.fusedClassLoss; },
       [](O& o, const V& v) { o.criterion.fusedClassLoss = as<bool>(v, "fusedLoss"); }},
      {"lr",
       Kind::Number,
       0,
       1e6,
       {},
       "learning rate of everything but the backbone (default 1e-4)",
       [](const O& o) -> V { return o.optimizer.lr; },
       [](O& o, const V& v) { o.optimizer.lr = as<double>(v, "lr"); }},
      {"backboneLr",
       Kind::Number,
       0,
       1e6,
       {},
       "backbone learning rate (default lr × 0.1)",
       [](const O& o) -> V { return o.optimizer.backboneLr; },
       [](O& o, const V& v) { o.optimizer.backboneLr = as<double>(v, "backboneLr"); }},
      {"weightDecay",
       Kind::Number,
       0,
       10,
       {},
       "AdamW weight decay (default 1e-4; none on norms and embeddings)",
       [](const O& o) -> V { return o.optimizer.weightDecay; },
       [](O& o, const V& v) { o.optimizer.weightDecay = as<double>(v, "weightDecay"); }},
      {"clipMaxNorm",
       Kind::Number,
       0,
       1e9,
       {},
       "global L2 gradient clipping (default 0.1; 0 disables)",
       [](const O& o) -> V { return o.optimizer.clipMaxNorm; },
       [](O& o, const V& v) { o.optimizer.clipMaxNorm = as<double>(v, "clipMaxNorm"); }},
      {"milestones",
       Kind::IntegerList,
       0,
       1125899906842624.0,
       {},
       "steps at which the learning rate is multiplied by gamma (default none)",
       [](const O& o) -> V { return o.schedule.milestones; },
       [](O& o, const V& v) { o.schedule.milestones = as<std::vector<int64_t>>(v, "milestones"); }},
      {"gamma",
       Kind::Number,
       0,
       1,
       {},
       "learning-rate factor at each milestone (default 0.1)",
       [](const O& o) -> V { return o.schedule.gamma; },
       [](O& o, const V& v) { o.schedule.gamma = as<double>(v, "gamma"); }},
      {"warmupSteps",
       Kind::Integer,
       0,
       1e12,
       {},
       "linear warmup steps (default 0, as the recipe)",
       [](const O& o) -> V { return o.schedule.warmupSteps; },
       [](O& o, const V& v) { o.schedule.warmupSteps = as<int64_t>(v, "warmupSteps"); }},
      {"warmupFactor",
       Kind::Number,
       0,
       1,
       {},
       "learning-rate factor at the first warmup step (default 1e-3)",
       [](const O& o) -> V { return o.schedule.warmupFactor; },
       [](O& o, const V& v) { o.schedule.warmupFactor = as<double>(v, "warmupFactor"); }},
      {"seed",
       Kind::Integer,
       0,
       kMaxSafeInteger,
       {},
       "seed of the denoising noise, and of data order and augmentation in fit() (default 42)",
       [](const O& o) -> V { return static_cast<int64_t>(o.seed); },
       [](O& o, const V& v) { o.seed = static_cast<uint64_t>(as<int64_t>(v, "seed")); }},
  };
  return kFields;
}

void checkField(const TrainerOptionField& f, const V& value) {
  switch (f.kind) {
    case Kind::Number: {
      const double d = as<double>(value, f.name);
      checkRange(std::isfinite(d) && d >= f.min && d <= f.max, "options.", f.name, ": expected a number in [",
                 numberText(f.min), ", ", numberText(f.max), "], got ", numberText(d));
      break;
    }
    case Kind::Integer: {
      const int64_t i = as<int64_t>(value, f.name);
      checkRange(static_cast<double>(i) >= f.min && static_cast<double>(i) <= f.max, "options.", f.name,
                 ": expected an integer in [", numberText(f.min), ", ", numberText(f.max), "], got ", i);
      break;
    }
    case Kind::IntegerList:
      for (int64_t i : as<std::vector<int64_t>>(value, f.name)) {
        checkRange(static_cast<double>(i) >= f.min && static_cast<double>(i) <= f.max, "options.", f.name,
                   "[]: expected an integer in [", numberText(f.min), ", ", numberText(f.max), "], got ", i);
      }
      break;
    case Kind::Boolean:
    case Kind::Choice: break;  // the setter checks a choice's name; a boolean has no range
  }
}

}  // namespace

const std::vector<TrainerOptionField>& trainerOptionFields() { return fields(); }

const TrainerOptionField* findTrainerOptionField(const std::string& name) {
  for (const auto& f : fields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

void TrainerOptions::validate() const {
  for (const auto& f : fields()) checkField(f, f.get(*this));
}

TrainerOptions defaultTrainerOptions(ops::AlignLossKind loss) {
  TrainerOptions o;
  o.criterion = criterionDefaults(loss);
  o.optimizer.backboneLr = o.optimizer.lr * 0.1;
  return o;
}

TrainerOptions makeTrainerOptions(const std::map<std::string, TrainerOptionValue>& values) {
  for (const auto& [name, value] : values) {
    checkType(findTrainerOptionField(name) != nullptr, "options: unknown option '", name, "'");
  }
  TrainerOptions o;
  const auto loss = values.find("loss");
  o = defaultTrainerOptions(loss == values.end()
                                ? ops::AlignLossKind::Align
                                : ops::parseAlignLossKind(as<std::string>(loss->second, "loss"), "loss"));
  for (const auto& f : fields()) {
    const auto it = values.find(f.name);
    if (it == values.end()) continue;
    checkField(f, it->second);  // before the setter: a bad value never reaches the struct
    f.set(o, it->second);
  }
  if (values.count("backboneLr") == 0) o.optimizer.backboneLr = o.optimizer.lr * 0.1;
  o.validate();
  return o;
}

std::map<std::string, TrainerOptionValue> trainerOptionValues(const TrainerOptions& options) {
  std::map<std::string, TrainerOptionValue> out;
  for (const auto& f : fields()) out.emplace(f.name, f.get(options));
  return out;
}

}  // namespace adetr::train
