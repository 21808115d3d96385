#include "model/config.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "common/arg_error.h"
#include "common/number_text.h"

namespace adetr::model {

namespace {

using Kind = ConfigFieldKind;
using C = DinoConfig;

ConfigFieldSpec integer(const char* name, int64_t C::*member, double min, double max,
                        ConfigRule (*rule)(const C&) = nullptr) {
  return {name, Kind::Integer, min, max, {}, member, rule};
}
ConfigFieldSpec number(const char* name, double C::*member, double min, double max) {
  return {name, Kind::Number, min, max, {}, member};
}
ConfigFieldSpec boolean(const char* name, bool C::*member) { return {name, Kind::Boolean, 0, 1, {}, member}; }
template <typename E>
ConfigFieldSpec choice(const char* name, E C::*member, std::vector<std::string> names) {
  const double last = static_cast<double>(names.size()) - 1;
  return {name, Kind::Choice, 0, last, std::move(names), member};
}

// Every field: the documented ranges (config.h lists the maxima; README.md and lib/model.ts repeat
// them), in DinoConfig's order, which is the order of the config text and of validate()'s checks.
// backboneDepth (one of 18, 34, 50, 101) and numLevels (only 4) have messages of their own.
const std::vector<ConfigFieldSpec> kFields = {
    integer("numClasses", &C::numClasses, 1, 100000),
    integer("backboneDepth", &C::backboneDepth, 18, 101),
    integer("backboneWidth", &C::backboneWidth, 8, 256,
            [](const C& c) {
              return ConfigRule{c.backboneWidth % 8 == 0, " that is a multiple of 8"};
            }),
    integer("freezeAt", &C::freezeAt, 0, 5),
    boolean("backboneGroupNorm", &C::backboneGroupNorm),
    integer("hiddenDim", &C::hiddenDim, 8, 4096,
            [](const C& c) {
              return ConfigRule{c.hiddenDim % 4 == 0, " that is a multiple of 4"};
            }),
    integer("numHeads", &C::numHeads, 1, 64,
            [](const C& c) {
              return ConfigRule{c.numHeads >= 1 && c.hiddenDim % c.numHeads == 0,
                                detail::concat(" dividing hiddenDim (", c.hiddenDim, ")")};
            }),
    integer("numLevels", &C::numLevels, 4, 4),
    integer("numPoints", &C::numPoints, 1, 16),
    integer("encoderLayers", &C::encoderLayers, 1, 24),
    integer("decoderLayers", &C::decoderLayers, 1, 24),
    integer("ffnDim", &C::ffnDim, 1, 16384),
    integer("numQueries", &C::numQueries, 1, 10000),
    integer("neckGroups", &C::neckGroups, 1, 4096,
            [](const C& c) {
              return ConfigRule{c.neckGroups >= 1 && c.hiddenDim % c.neckGroups == 0,
                                detail::concat(" dividing hiddenDim (", c.hiddenDim, ")")};
            }),
    integer("dnNumber", &C::dnNumber, 0, 1000),
    number("labelNoiseRatio", &C::labelNoiseRatio, 0, 1),
    number("boxNoiseScale", &C::boxNoiseScale, 0, 10),
    integer("testShortEdge", &C::testShortEdge, 16, 8192),
    integer("testMaxSize", &C::testMaxSize, 16, 8192,
            [](const C& c) {
              return ConfigRule{c.testMaxSize >= c.testShortEdge,
                                detail::concat(" and at least testShortEdge (", c.testShortEdge, ")")};
            }),
    integer("selectTopK", &C::selectTopK, 1, 10000),
    boolean("padInvariant", &C::padInvariant),
    choice("memoryFusion", &C::memoryFusion, {"none", "dense"}),
    choice("decoder", &C::decoder, {"dino", "decoupled"}),
};

bool isBackboneDepth(double v) { return v == 18 || v == 34 || v == 50 || v == 101; }

// A stored Integer field: in range and satisfying its rule (validate()).
void checkIntegerField(const ConfigFieldSpec& f, int64_t value, const DinoConfig& config) {
  if (std::string(f.name) == "backboneDepth") {
    checkRange(isBackboneDepth(static_cast<double>(value)), "backboneDepth: expected 18, 34, 50 or 101, got ", value);
    return;
  }
  if (std::string(f.name) == "numLevels") {
    checkRange(value == 4, "numLevels: only the 4-scale model (4) is supported, got ", value);
    return;
  }
  const auto lo = static_cast<int64_t>(f.min), hi = static_cast<int64_t>(f.max);
  const ConfigRule extra = f.rule != nullptr ? f.rule(config) : ConfigRule{true, ""};
  checkRange(value >= lo && value <= hi && extra.holds, f.name, ": expected an integer in [", lo, ", ", hi, "]",
             extra.words, ", got ", value);
}

void checkNumberField(const ConfigFieldSpec& f, double value) {
  checkRange(std::isfinite(value) && value >= f.min && value <= f.max, f.name, ": expected a number in [",
             numberText(f.min), ", ", numberText(f.max), "], got ", numberText(value));
}

}  // namespace

const std::vector<ConfigFieldSpec>& configFields() { return kFields; }

const ConfigFieldSpec* findConfigField(const std::string& name) {
  for (const auto& f : kFields) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string quotedList(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "'" + names[i] + "'";
  }
  return out;
}

std::string choiceList(const ConfigFieldSpec& field) { return quotedList(field.choices); }

int64_t parseConfigChoice(const ConfigFieldSpec& field, const std::string& value) {
  for (size_t i = 0; i < field.choices.size(); ++i) {
    if (field.choices[i] == value) return static_cast<int64_t>(i);
  }
  checkRange(false, field.name, ": expected ", choiceList(field), ", got '", value, "'");
  return -1;
}

void checkConfigValue(const ConfigFieldSpec& field, double value) {
  if (field.kind == Kind::Integer) {
    const auto lo = static_cast<int64_t>(field.min), hi = static_cast<int64_t>(field.max);
    // Not representable as an integer field: a TypeError as the config text's own parser gives.
    checkType(std::isfinite(value) && value == std::floor(value), "config.", field.name, ": expected an integer in [",
              lo, ", ", hi, "], got ", numberText(value));
    if (std::string(field.name) == "backboneDepth") {
      checkRange(isBackboneDepth(value), "backboneDepth: expected 18, 34, 50 or 101, got ", numberText(value));
      return;
    }
    checkRange(value >= field.min && value <= field.max, field.name, ": expected an integer in [", lo, ", ", hi,
               "], got ", numberText(value));
  } else if (field.kind == Kind::Number) {
    checkNumberField(field, value);
  }
}

void DinoConfig::validate() const {
  forEachConfigField(*this, [&](const ConfigFieldSpec& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, int64_t>) {
      checkIntegerField(f, value, *this);
    } else if constexpr (std::is_same_v<T, double>) {
      checkNumberField(f, value);
    } else if constexpr (std::is_enum_v<T>) {
      // Enums arrive through parseConfigChoice; this guards a value cast from anything else.
      checkRange(static_cast<size_t>(value) < f.choices.size(), f.name, ": expected ", choiceList(f));
    }
  });
}

std::vector<std::string> presetNames() { return {"dino-r50-4scale", "tiny", "stable-dino", "sd-detr"}; }

DinoConfig presetConfig(const std::string& name) {
  DinoConfig c;
  if (name == "dino-r50-4scale") return c;  // the paper's model: the defaults above
  if (name == "stable-dino") {
    // Stable-DINO-4scale R50: DINO with dense memory fusion (its loss and matching cost are the
    // Trainer's, chosen by default for this model: see lib/trainer.ts).
    c.memoryFusion = MemoryFusion::Dense;
    return c;
  }
  if (name == "sd-detr") {
    // DINO-4scale R50 with the SD-DETR-style decoupled decoder (docs/neighbour-methods.md §2.6 stage A).
    c.decoder = DecoderKind::Decoupled;
    return c;
  }
  if (name == "tiny") {
    // Small enough to train on two CPU cores in minutes: a narrow ResNet-18, 2+2 layers.
    c.backboneDepth = 18;
    c.backboneWidth = 32;
    c.hiddenDim = 128;
    c.numHeads = 4;
    c.numPoints = 4;
    c.encoderLayers = 2;
    c.decoderLayers = 2;
    c.ffnDim = 512;
    c.numQueries = 100;
    c.neckGroups = 16;
    c.dnNumber = 20;
    c.testShortEdge = 320;
    c.testMaxSize = 512;
    c.selectTopK = 100;
    c.freezeAt = 0;  // trained from scratch: nothing to keep frozen
    c.backboneGroupNorm = true;
    return c;
  }
  checkRange(false, "preset: unknown preset '", name, "'; expected ", quotedList(presetNames()));
  return c;
}

}  // namespace adetr::model
