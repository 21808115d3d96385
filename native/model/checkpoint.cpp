#include "model/checkpoint.h"

#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <ATen/core/ivalue.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <type_traits>

#include "common/arg_error.h"
#include "common/checkpoint_error.h"
#include "model/atomic_file.h"
#include "model/checksum.h"
#include "model/pth_reader.h"

namespace adetr::model {

namespace {

constexpr const char* kFormatKey = "align_detr_format";
// 1: config, metadata, state. 2: adds "checksums" (model/checksum.h) over all three.
constexpr int64_t kFormatVersion = 2;

// Named parameters and buffers of the model (the state dict).
std::map<std::string, at::Tensor> stateOf(torch::nn::Module& m) {
  std::map<std::string, at::Tensor> state;
  for (const auto& p : m.named_parameters()) state[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) state[b.key()] = b.value();
  return state;
}

}  // namespace

// The text form goes through the field table (model/config.h): integers as digits, reals with 17
// significant digits, booleans as true/false, Choice fields as their names.
std::string configToText(const DinoConfig& config) {
  std::string out;
  forEachConfigField(config, [&](const ConfigFieldSpec& f, const auto& value) {
    out += std::string(f.name) + "=";
    if constexpr (std::is_enum_v<std::decay_t<decltype(value)>>) {
      out += choiceName(f, value);
    } else {
      std::ostringstream os;
      os.precision(17);
      os << std::boolalpha << value;
      out += os.str();
    }
    out += "\n";
  });
  return out;
}

DinoConfig configFromText(const std::string& text, const DinoConfig& base) {
  DinoConfig c = base;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    if (line.empty()) continue;
    const auto eq = line.find('=');
    checkType(eq != std::string::npos, "checkpoint: malformed config line '", line, "'");
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    const ConfigFieldSpec* field = findConfigField(key);
    checkType(field != nullptr, "config: unknown field '", key, "'");
    visitConfigField(*field, c, [&](const ConfigFieldSpec& f, auto& member) {
      using T = std::decay_t<decltype(member)>;
      if constexpr (std::is_enum_v<T>) {
        member = static_cast<T>(parseConfigChoice(f, value));
      } else {
        std::istringstream vs(value);
        T parsed{};
        vs >> std::boolalpha >> parsed;
        if (!vs.fail() && !vs.eof()) vs >> std::ws;
        checkType(!vs.fail() && vs.eof(), "config.", f.name, ": bad value '", value, "'");
        member = parsed;
      }
    });
  }
  c.validate();
  return c;
}

void writeModelToArchive(torch::serialize::OutputArchive& archive, Dino& model, const std::string& metadata) {
  const std::string config = configToText(model->config());
  // One line per record, "<record> <checksum in hex>", checked when the file is read.
  std::ostringstream sums;
  sums << std::hex << "config " << checksumOf(config) << "\nmetadata " << checksumOf(metadata) << "\n";
  archive.write(kFormatKey, c10::IValue(kFormatVersion));
  archive.write("config", c10::IValue(config));
  archive.write("metadata", c10::IValue(metadata));
  for (const auto& [name, tensor] : stateOf(*model)) {
    archive.write("state/" + name, tensor.detach(), /*is_buffer=*/true);
    sums << "state/" << name << ' ' << checksumOf(tensor) << '\n';
  }
  archive.write("checksums", c10::IValue(sums.str()));
}

void saveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  // A crash mid-save leaves the old file (or none), never a truncated one (model/atomic_file.h).
  writeFileAtomically(path, [&](const ByteSink& sink) {
    archive.save_to([&](const void* data, size_t size) -> size_t {
      sink(data, size);
      return size;
    });
  });
}

void saveCheckpoint(Dino& model, const std::string& path, const std::string& metadata) {
  torch::serialize::OutputArchive archive;
  writeModelToArchive(archive, model, metadata);
  saveArchiveAtomically(archive, path);
}

void openArchive(torch::serialize::InputArchive& archive, const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    checkType(probe.good(), "path: cannot open ", path);
  }
  // A file that opens but is no checkpoint (truncated or foreign) is a CheckpointError, as a
  // damaged one is; a path that cannot be opened stays a TypeError.
  try {
    archive.load_from(path);
  } catch (const std::exception&) {
    throw CheckpointError("path: " + path + " is not an align-detr checkpoint (truncated or foreign file)");
  }
}

CheckpointHeader readCheckpointHeader(const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    checkType(probe.good(), "path: cannot open ", path);
  }
  ArchiveHeader archive;
  try {
    archive = readArchiveHeader(path);
  } catch (const ArgError&) {
    // Not a zip or no record table: the file opened, so it is truncated or foreign.
    throw CheckpointError("path: " + path + " is not an align-detr checkpoint (truncated or foreign file)");
  }
  CheckpointHeader header;
  const auto version = archive.integers.find(kFormatKey);
  if (version == archive.integers.end()) {
    throw CheckpointError("path: " + path + " is not an align-detr checkpoint (no format marker)");
  }
  header.format = version->second;
  checkType(header.format <= kFormatVersion, "path: ", path, " was written by a newer align-detr (format ",
            header.format, ")");
  const auto config = archive.strings.find("config");
  if (config == archive.strings.end()) throw CheckpointError("path: " + path + " has no model config");
  header.config = config->second;
  const auto metadata = archive.strings.find("metadata");
  if (metadata != archive.strings.end()) header.metadata = metadata->second;
  if (header.format >= 2) {
    const auto sums = archive.strings.find("checksums");
    if (sums == archive.strings.end())
      throw CheckpointError("path: " + path + " is damaged: its checksums are missing");
    std::map<std::string, uint64_t> expected;
    std::istringstream is(sums->second);
    std::string record, hex;
    while (is >> record >> hex) expected[record] = std::strtoull(hex.c_str(), nullptr, 16);
    for (const auto& [name, text] : {std::pair<std::string, const std::string*>{"config", &header.config},
                                     std::pair<std::string, const std::string*>{"metadata", &header.metadata}}) {
      const auto it = expected.find(name);
      if (it == expected.end() || it->second != checksumOf(*text)) {
        throw CheckpointError("path: " + path + " is damaged: record '" + name + "' fails its checksum");
      }
    }
  }
  return header;
}

LoadedCheckpoint readModelFromArchive(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue version, config, metadata;
  if (!archive.try_read(kFormatKey, version) || !version.isInt()) {
    throw CheckpointError("path: " + path + " is not an align-detr checkpoint (no format marker)");
  }
  checkType(version.toInt() <= kFormatVersion, "path: ", path, " was written by a newer align-detr (format ",
            version.toInt(), ")");
  if (!archive.try_read("config", config) || !config.isString())
    throw CheckpointError("path: " + path + " has no model config");
  // Format 2 carries a checksum of every record: a damaged file is refused before any of it is used.
  std::map<std::string, uint64_t> sums;
  const bool checked = version.toInt() >= 2;
  if (checked) {
    c10::IValue text;
    if (!archive.try_read("checksums", text) || !text.isString()) {
      throw CheckpointError("path: " + path + " is damaged: its checksums are missing");
    }
    std::istringstream is(text.toStringRef());
    std::string record, hex;
    while (is >> record >> hex) sums[record] = std::strtoull(hex.c_str(), nullptr, 16);  // bad text: 0, a mismatch
  }
  auto verify = [&](const std::string& record, uint64_t actual) {
    if (!checked) return;
    const auto it = sums.find(record);
    if (it == sums.end() || it->second != actual) {
      throw CheckpointError("path: " + path + " is damaged: record '" + record + "' fails its checksum");
    }
  };
  verify("config", checksumOf(config.toStringRef()));
  LoadedCheckpoint out;
  if (archive.try_read("metadata", metadata) && metadata.isString()) out.metadata = metadata.toStringRef();
  verify("metadata", checksumOf(out.metadata));
  // The config is validated (model/config.h ranges) before any weight is allocated: an edited or
  // foreign config is a damaged checkpoint, not a model of absurd size.
  DinoConfig parsed;
  try {
    parsed = configFromText(config.toStringRef());
  } catch (const ArgError& e) {
    throw CheckpointError("path: " + path + " is damaged: its model config is invalid (" + e.what() + ")");
  }
  out.model = Dino(parsed);
  at::NoGradGuard noGrad;
  for (auto& [name, tensor] : stateOf(*out.model)) {
    at::Tensor stored;
    checkType(archive.try_read("state/" + name, stored, /*is_buffer=*/true), "path: ", path, " lacks weight ", name);
    checkType(stored.sizes() == tensor.sizes(), "path: ", path, ": weight ", name, " has shape ", stored.sizes(),
              ", expected ", tensor.sizes());
    verify("state/" + name, checksumOf(stored));
    tensor.copy_(stored);
  }
  return out;
}

LoadedCheckpoint loadCheckpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  openArchive(archive, path);
  return readModelFromArchive(archive, path);
}

std::string torchvisionToDetrexKey(const std::string& key) {
  static const std::regex stem(R"(^(conv1)\.weight$)");
  static const std::regex stemBn(R"(^bn1\.(weight|bias|running_mean|running_var)$)");
  static const std::regex blockConv(R"(^layer([1-4])\.(\d+)\.conv([1-3])\.weight$)");
  static const std::regex blockBn(R"(^layer([1-4])\.(\d+)\.bn([1-3])\.(weight|bias|running_mean|running_var)$)");
  static const std::regex downConv(R"(^layer([1-4])\.(\d+)\.downsample\.0\.weight$)");
  static const std::regex downBn(R"(^layer([1-4])\.(\d+)\.downsample\.1\.(weight|bias|running_mean|running_var)$)");
  std::smatch m;
  auto stage = [](const std::string& s) { return "res" + std::to_string(std::stoi(s) + 1); };
  if (std::regex_match(key, m, stem)) return "backbone.stem.conv1.weight";
  if (std::regex_match(key, m, stemBn)) return "backbone.stem.conv1.norm." + m[1].str();
  if (std::regex_match(key, m, blockConv))
    return "backbone." + stage(m[1]) + "." + m[2].str() + ".conv" + m[3].str() + ".weight";
  if (std::regex_match(key, m, blockBn))
    return "backbone." + stage(m[1]) + "." + m[2].str() + ".conv" + m[3].str() + ".norm." + m[4].str();
  if (std::regex_match(key, m, downConv)) return "backbone." + stage(m[1]) + "." + m[2].str() + ".shortcut.weight";
  if (std::regex_match(key, m, downBn))
    return "backbone." + stage(m[1]) + "." + m[2].str() + ".shortcut.norm." + m[3].str();
  return "";
}

StateDictReport loadPytorchStateDict(Dino& model, const std::string& path) {
  std::map<std::string, at::Tensor> file;
  bool torchvision = false;
  for (auto& [key, tensor] : readPthStateDict(path)) {
    if (key.rfind("layer1.", 0) == 0 || key == "conv1.weight") torchvision = true;
    file[key] = tensor;
  }
  StateDictReport report;
  report.format = torchvision ? "torchvision-resnet" : "detrex";
  auto state = stateOf(*model);
  std::map<std::string, at::Tensor> mapped;
  for (const auto& [key, tensor] : file) {
    std::string target = key;
    if (torchvision) {
      target = torchvisionToDetrexKey(key);
      if (target.empty()) {
        if (key.find("num_batches_tracked") == std::string::npos) report.unexpected.push_back(key);
        continue;
      }
    } else if (key.rfind("transformer.decoder.class_embed.", 0) == 0 ||
               key.rfind("transformer.decoder.bbox_embed.", 0) == 0) {
      continue;  // detrex aliases of the top-level heads: the same tensors under a second name
    } else if (key.find("num_batches_tracked") != std::string::npos) {
      continue;
    }
    if (state.count(target) == 0) {
      report.unexpected.push_back(key);
      continue;
    }
    mapped[target] = tensor;
  }
  at::NoGradGuard noGrad;
  for (auto& [name, tensor] : state) {
    auto it = mapped.find(name);
    if (it == mapped.end()) {
      // A backbone-only file leaves everything else at its initialisation: not "missing".
      if (!torchvision || name.rfind("backbone.", 0) == 0) report.missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != tensor.sizes()) {
      report.mismatched.push_back(name);
      continue;
    }
    tensor.copy_(it->second.to(tensor.scalar_type()));
    report.loaded.push_back(name);
  }
  return report;
}

}  // namespace adetr::model
