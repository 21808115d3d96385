// Configuration of the DINO-4scale detector (docs/numerical-contract.md §A), and its presets.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace adetr::model {

// Stable-DINO's memory fusion (docs/neighbour-methods.md §1): the decoder and the two-stage selection
// read the encoder output (None, DINO), or LayerNorm(Linear(cat[neck tokens, every encoder
// layer's output])) (Dense).
enum class MemoryFusion { None, Dense };

// The decoder: DINO's (one stream), or the SD-DETR-style decoupled decoder (docs/neighbour-methods.md §2.6 stage A):
// classification and localisation streams with a shared self-attention and their own
// cross-attention and FFN.
enum class DecoderKind { Dino, Decoupled };

struct DinoConfig {
  int64_t numClasses = 80;

  // Backbone: a detectron2-style ResNet (depth 18/34 → basic blocks, 50/101 → bottlenecks).
  int64_t backboneDepth = 50;
  int64_t backboneWidth = 64;  // stem / res2 base width (64 in the standard ResNet)
  int64_t freezeAt = 1;        // 1: the stem's weights are frozen (BN is frozen everywhere)
  // Trainable GroupNorm instead of FrozenBatchNorm in the backbone: for backbones trained from
  // scratch (a frozen identity BN leaves a from-scratch ResNet unnormalised).
  bool backboneGroupNorm = false;

  // Transformer.
  int64_t hiddenDim = 256;
  int64_t numHeads = 8;
  int64_t numLevels = 4;  // 3 backbone levels + 1 extra strided level
  int64_t numPoints = 4;
  int64_t encoderLayers = 6;
  int64_t decoderLayers = 6;
  int64_t ffnDim = 2048;
  int64_t numQueries = 900;
  int64_t neckGroups = 32;  // GroupNorm groups of the neck

  // Contrastive denoising (training only).
  int64_t dnNumber = 100;
  double labelNoiseRatio = 0.5;
  double boxNoiseScale = 1.0;

  // Inference input size (ResizeShortestEdge) and post-processing.
  int64_t testShortEdge = 800;
  int64_t testMaxSize = 1333;
  int64_t selectTopK = 300;

  // Padding invariance: when true, the backbone and neck ignore padded pixels (masked
  // activations, masked GroupNorm statistics), level masks follow the convolution arithmetic
  // exactly and padded tokens never win the two-stage top-k, so a padded image gives the same
  // detections as the image alone. When false, detrex's behaviour is reproduced exactly
  // (nearest-interpolated masks, padding visible to the backbone and GroupNorm).
  bool padInvariant = true;

  // The neighbouring systems' model options (presets "stable-dino" and "sd-detr").
  MemoryFusion memoryFusion = MemoryFusion::None;
  DecoderKind decoder = DecoderKind::Dino;

  // Throws adetr::ArgError naming the first invalid field, in configFields()' order (below): each
  // field must lie in its range there and satisfy its rule (hiddenDim a multiple of numHeads and
  // neckGroups...).
  void validate() const;
};

// How a config field is written: an integer, a real number, a boolean, or one of named choices
// (an enum whose value is the index of its name in `choices`).
enum class ConfigFieldKind { Integer, Number, Boolean, Choice };

// The DinoConfig member a field reads and writes; its type gives the field's kind (int64_t:
// Integer, double: Number, bool: Boolean, an enum: Choice).
using ConfigMember = std::variant<int64_t DinoConfig::*, double DinoConfig::*, bool DinoConfig::*,
                                  MemoryFusion DinoConfig::*, DecoderKind DinoConfig::*>;

// What an Integer field's value must satisfy beyond its range, given the whole config (a multiple,
// a divisor of another field), and the words its message adds: " that is a multiple of 8".
struct ConfigRule {
  bool holds;
  std::string words;
};

// One config field: its name (as in DinoConfig and the JS ModelConfig), kind, allowed range
// (inclusive; unused for booleans), member, and any rule beyond the range. The maxima are generous
// but bound what a config (given to createModel or read from a checkpoint) can make the model
// allocate:
//   numClasses ≤ 100000, backboneWidth ≤ 256, hiddenDim ≤ 4096, numHeads ≤ 64, numPoints ≤ 16,
//   encoderLayers/decoderLayers ≤ 24, ffnDim ≤ 16384, numQueries ≤ 10000, neckGroups ≤ 4096,
//   dnNumber ≤ 1000, boxNoiseScale ≤ 10, testShortEdge/testMaxSize ≤ 8192, selectTopK ≤ 10000.
// The table (config.cpp) is the one list of fields: the config text of checkpoints, the JS objects
// of the binding and validate() all go through it, and test/config-table.test.ts checks the TS
// ModelConfig type and its docs against it.
struct ConfigFieldSpec {
  const char* name;
  ConfigFieldKind kind;
  double min;
  double max;
  std::vector<std::string> choices;  // Choice fields: the names, in enum order
  ConfigMember member;
  ConfigRule (*rule)(const DinoConfig&) = nullptr;
};

// Every config field, in DinoConfig's order.
const std::vector<ConfigFieldSpec>& configFields();

// The field named `name`, or nullptr when there is none.
const ConfigFieldSpec* findConfigField(const std::string& name);

// Calls visit(field, value) with `value` the field's member of `config`: int64_t& (Integer),
// double& (Number), bool& (Boolean) or the enum& (Choice); const references for a const config.
// `visit` is generic (a lambda taking `auto&`) and tells the kinds apart by the value's type.
template <typename Config, typename Visitor>
void visitConfigField(const ConfigFieldSpec& field, Config& config, Visitor&& visit) {
  static_assert(std::is_same_v<std::remove_const_t<Config>, DinoConfig>, "visits a DinoConfig");
  std::visit([&](auto member) { visit(field, config.*member); }, field.member);
}

// visitConfigField for every field, in the table's order.
template <typename Config, typename Visitor>
void forEachConfigField(Config& config, Visitor&& visit) {
  for (const auto& field : configFields()) visitConfigField(field, config, visit);
}

// A Choice field's value as its name (std::out_of_range for a value outside the enum's names).
template <typename E>
const std::string& choiceName(const ConfigFieldSpec& field, E value) {
  static_assert(std::is_enum_v<E>, "a Choice field's value");
  return field.choices.at(static_cast<size_t>(value));
}

// Checks a number given for a numeric field before it is stored. An integer field's value must be
// a finite integer (else a TypeError-kind ArgError, "config.dnNumber: expected an integer in
// [0, 1000], got 2.5", as the config text's parser gives) inside the range (else RangeError-kind,
// "dnNumber: expected an integer in [0, 1000], got 9007199254740992"); a real field's must be
// finite and in range (RangeError-kind). The extra rules (multiples, divisors) are validate()'s.
void checkConfigValue(const ConfigFieldSpec& field, double value);

// The index of `value` among a Choice field's names; a RangeError-kind ArgError listing them
// ("memoryFusion: expected 'none' or 'dense', got 'x'") otherwise.
int64_t parseConfigChoice(const ConfigFieldSpec& field, const std::string& value);

// "'a', 'b' or 'c'": a Choice field's names for messages.
std::string choiceList(const ConfigFieldSpec& field);

// "'a', 'b' or 'c'": names quoted and joined for messages.
std::string quotedList(const std::vector<std::string>& names);

// Names of the built-in presets ("dino-r50-4scale", "tiny", "stable-dino", "sd-detr").
std::vector<std::string> presetNames();

// The preset's configuration; ArgError for an unknown name.
DinoConfig presetConfig(const std::string& name);

}  // namespace adetr::model
