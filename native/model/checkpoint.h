// Checkpoints: align-detr's own format (config + every parameter and buffer in one file,
// written atomically), and reading PyTorch `.pth` state dicts with detrex / torchvision keys.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "model/config.h"
#include "model/dino.h"

namespace adetr::model {

// Serialises a config as "key=value" lines (and back; unknown keys are an error).
std::string configToText(const DinoConfig& config);
// `base` supplies the fields the text leaves out (a preset when applying user overrides).
DinoConfig configFromText(const std::string& text, const DinoConfig& base = DinoConfig());

// Writes config, weights and `metadata` (free text, e.g. JSON from the JS side) to `path`
// atomically: a temporary file in the same folder, flushed to disk, then renamed.
void saveCheckpoint(Dino& model, const std::string& path, const std::string& metadata);

struct LoadedCheckpoint {
  Dino model{nullptr};
  std::string metadata;
};

// Reads a file written by saveCheckpoint. A missing, truncated or foreign file is an error
// naming the path.
LoadedCheckpoint loadCheckpoint(const std::string& path);

// A checkpoint's header (model or training checkpoint): its format, config text and metadata,
// read without the weights (model/pth_reader.h readArchiveHeader), checksums verified. A path that
// cannot be opened is a TypeError; a truncated, foreign or damaged file a CheckpointError.
struct CheckpointHeader {
  int64_t format = 0;
  std::string config;
  std::string metadata;
};
CheckpointHeader readCheckpointHeader(const std::string& path);

struct StateDictReport {
  std::vector<std::string> loaded;      // model keys filled from the file
  std::vector<std::string> missing;     // model keys the file lacks
  std::vector<std::string> unexpected;  // file keys the model has no place for
  std::vector<std::string> mismatched;  // keys present in both with different shapes (not loaded)
  std::string format;                   // "detrex" or "torchvision-resnet"
};

// The pieces of the above, for files that hold more (training checkpoints add optimizer state).
void writeModelToArchive(torch::serialize::OutputArchive& archive, Dino& model, const std::string& metadata);
void saveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path);
void openArchive(torch::serialize::InputArchive& archive, const std::string& path);
LoadedCheckpoint readModelFromArchive(torch::serialize::InputArchive& archive, const std::string& path);

// Loads a PyTorch state dict written by torch.save (a dict of tensors, optionally under a
// "model" or "state_dict" key): detrex DINO / AlignDETR keys, or a torchvision ResNet state
// dict (conv1/bn1/layer1..4) for the backbone alone.
StateDictReport loadPytorchStateDict(Dino& model, const std::string& path);

// The detrex-style key for a torchvision ResNet key ("layer1.0.bn1.weight" →
// "backbone.res2.0.conv1.norm.weight"); empty for keys with no counterpart (fc.*, num_batches_tracked).
std::string torchvisionToDetrexKey(const std::string& key);

}  // namespace adetr::model
