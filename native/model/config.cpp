#include "model/config.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "common/arg_error.h"

namespace adetr::model {

namespace {

using Kind = ConfigFieldKind;

// The documented ranges (config.h lists the maxima; README.md and lib/model.ts repeat them).
const std::vector<ConfigFieldSpec> kFields = {
    {"numClasses", Kind::Integer, 1, 100000},
    {"backboneDepth", Kind::Integer, 18, 101},  // and one of 18, 34, 50, 101
    {"backboneWidth", Kind::Integer, 8, 256},   // and a multiple of 8
    {"freezeAt", Kind::Integer, 0, 5},
    {"backboneGroupNorm", Kind::Boolean, 0, 1},
    {"hiddenDim", Kind::Integer, 8, 4096},      // and a multiple of 4
    {"numHeads", Kind::Integer, 1, 64},         // and a divisor of hiddenDim
    {"numLevels", Kind::Integer, 4, 4},
    {"numPoints", Kind::Integer, 1, 16},
    {"encoderLayers", Kind::Integer, 1, 24},
    {"decoderLayers", Kind::Integer, 1, 24},
    {"ffnDim", Kind::Integer, 1, 16384},
    {"numQueries", Kind::Integer, 1, 10000},
    {"neckGroups", Kind::Integer, 1, 4096},     // and a divisor of hiddenDim
    {"dnNumber", Kind::Integer, 0, 1000},
    {"labelNoiseRatio", Kind::Number, 0, 1},
    {"boxNoiseScale", Kind::Number, 0, 10},
    {"testShortEdge", Kind::Integer, 16, 8192},
    {"testMaxSize", Kind::Integer, 16, 8192},   // and at least testShortEdge
    {"selectTopK", Kind::Integer, 1, 10000},
    {"padInvariant", Kind::Boolean, 0, 1},
    {"memoryFusion", Kind::Choice, 0, 1, {"none", "dense"}},
    {"decoder", Kind::Choice, 0, 1, {"dino", "decoupled"}},
};

// A number as JS would print it: the shortest of 15..17 significant digits that reads back the
// same (2.5, 0.1, 9007199254740992), never a rounded 9.0072e+15.
std::string numberText(double v) {
  for (int precision = 15; precision <= 17; ++precision) {
    std::ostringstream os;
    os.precision(precision);
    os << v;
    if (precision == 17 || std::stod(os.str()) == v) return os.str();
  }
  return {};
}

const ConfigFieldSpec& spec(const char* name) {
  const ConfigFieldSpec* f = findConfigField(name);
  if (f == nullptr) throw std::logic_error(std::string("config: no field spec for ") + name);
  return *f;
}

// "<name>: expected an integer in [min, max]" (+ `extra`, e.g. " dividing hiddenDim (256)").
void checkIntegerField(const char* name, int64_t value, const std::string& extra = "", bool extraHolds = true) {
  const ConfigFieldSpec& f = spec(name);
  const auto lo = static_cast<int64_t>(f.min), hi = static_cast<int64_t>(f.max);
  checkRange(value >= lo && value <= hi && extraHolds, name, ": expected an integer in [", lo, ", ", hi, "]", extra,
             ", got ", value);
}

void checkNumberField(const char* name, double value) {
  const ConfigFieldSpec& f = spec(name);
  checkRange(std::isfinite(value) && value >= f.min && value <= f.max, name, ": expected a number in [",
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

std::string choiceList(const ConfigFieldSpec& field) {
  std::string out;
  for (size_t i = 0; i < field.choices.size(); ++i) {
    if (i > 0) out += i + 1 == field.choices.size() ? " or " : ", ";
    out += "'" + field.choices[i] + "'";
  }
  return out;
}

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
    checkType(std::isfinite(value) && value == std::floor(value), "config.", field.name, ": expected an integer in [", lo,
              ", ", hi, "], got ", numberText(value));
    if (std::string(field.name) == "backboneDepth") {
      checkRange(value == 18 || value == 34 || value == 50 || value == 101, "backboneDepth: expected 18, 34, 50 or 101, got ",
                 numberText(value));
      return;
    }
    checkRange(value >= field.min && value <= field.max, field.name, ": expected an integer in [", lo, ", ", hi,
               "], got ", numberText(value));
  } else if (field.kind == Kind::Number) {
    checkNumberField(field.name, value);
  }
}

void DinoConfig::validate() const {
  checkIntegerField("numClasses", numClasses);
  checkRange(backboneDepth == 18 || backboneDepth == 34 || backboneDepth == 50 || backboneDepth == 101,
             "backboneDepth: expected 18, 34, 50 or 101, got ", backboneDepth);
  checkIntegerField("backboneWidth", backboneWidth, " that is a multiple of 8", backboneWidth % 8 == 0);
  checkIntegerField("freezeAt", freezeAt);
  checkIntegerField("hiddenDim", hiddenDim, " that is a multiple of 4", hiddenDim % 4 == 0);
  checkIntegerField("numHeads", numHeads, detail::concat(" dividing hiddenDim (", hiddenDim, ")"),
                    numHeads >= 1 && hiddenDim % numHeads == 0);
  checkRange(numLevels == 4, "numLevels: only the 4-scale model (4) is supported, got ", numLevels);
  checkIntegerField("numPoints", numPoints);
  checkIntegerField("encoderLayers", encoderLayers);
  checkIntegerField("decoderLayers", decoderLayers);
  checkIntegerField("ffnDim", ffnDim);
  checkIntegerField("numQueries", numQueries);
  checkIntegerField("neckGroups", neckGroups, detail::concat(" dividing hiddenDim (", hiddenDim, ")"),
                    neckGroups >= 1 && hiddenDim % neckGroups == 0);
  checkIntegerField("dnNumber", dnNumber);
  checkNumberField("labelNoiseRatio", labelNoiseRatio);
  checkNumberField("boxNoiseScale", boxNoiseScale);
  checkIntegerField("testShortEdge", testShortEdge);
  checkIntegerField("testMaxSize", testMaxSize, detail::concat(" and at least testShortEdge (", testShortEdge, ")"),
                    testMaxSize >= testShortEdge);
  checkIntegerField("selectTopK", selectTopK);
  // Enums arrive through parseConfigChoice; this guards a value cast from anything else.
  checkRange(static_cast<size_t>(memoryFusion) < spec("memoryFusion").choices.size(), "memoryFusion: expected ",
             choiceList(spec("memoryFusion")));
  checkRange(static_cast<size_t>(decoder) < spec("decoder").choices.size(), "decoder: expected ", choiceList(spec("decoder")));
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
    // DINO-4scale R50 with the SD-DETR-style decoupled decoder (neighbour-methods §2.6 stage A).
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
  checkRange(false, "preset: unknown preset '", name, "'; expected 'dino-r50-4scale', 'tiny', 'stable-dino' or 'sd-detr'");
  return c;
}

}  // namespace adetr::model
