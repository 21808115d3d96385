// Reads the tensors of a PyTorch `torch.save` file (the zip format of PyTorch ≥ 1.6) without
// Python and without libtorch's TorchScript unpickler, which rejects ordinary state dicts
// (OrderedDict with `_metadata`, written by `module.state_dict()`) in libtorch 1.x.
//
// A small pickle interpreter covers what torch.save emits for dicts of tensors (protocols 2-5):
// dicts, OrderedDicts, lists, tuples, numbers, strings, `torch._utils._rebuild_tensor_v2`,
// `_rebuild_parameter` and typed/untyped storages as persistent ids. Objects of any other class
// become opaque values, so checkpoints that also hold optimizer state or numpy scalars still load.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace adetr::model {

// Every string-keyed tensor of the state dict in `path`, in file order; tensors that share a
// storage in the file are views of one storage here too. The state dict is the top-level dict, or
// the dict under "model" or "state_dict" when present. Throws ArgError (TypeError kind) naming the
// path for files that are not torch.save zip archives or hold no dict, and CheckpointError naming
// the path and the problem for a damaged or crafted one: a malformed pickle, a tensor outside its
// storage, records that declare more bytes than the file holds, or a pickle past the reader's
// bounds on values, memo entries, tensors, dimensions and name lengths (see pth_reader.cpp).
std::vector<std::pair<std::string, at::Tensor>> readPthStateDict(const std::string& path);

// The string and integer records of a libtorch archive (torch::serialize::OutputArchive, which
// align-detr's checkpoints are), read from its data.pkl alone: no tensor storage is read, so the
// cost does not depend on the weights' size. Same bounds and errors as readPthStateDict.
struct ArchiveHeader {
  std::map<std::string, std::string> strings;
  std::map<std::string, int64_t> integers;
};
ArchiveHeader readArchiveHeader(const std::string& path);

}  // namespace adetr::model
