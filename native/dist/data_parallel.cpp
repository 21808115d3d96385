#include "dist/data_parallel.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <map>

namespace adetr::dist {

void broadcastModule(ProcessGroup& group, torch::nn::Module& module) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> all = module.parameters();
  for (auto& b : module.buffers()) all.push_back(b);
  // One flat tensor per (dtype, device): few collectives whatever the module's size.
  std::map<std::pair<int, std::string>, std::vector<at::Tensor>> groups;
  for (auto& t : all) groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  for (auto& [key, tensors] : groups) {
    std::vector<at::Tensor> flat;
    for (auto& t : tensors) flat.push_back(t.detach().reshape({-1}));
    at::Tensor joined = at::cat(flat);
    group.broadcast(joined, 0, "the parameter broadcast");
    int64_t at = 0;
    for (auto& t : tensors) {
      t.detach().copy_(joined.narrow(0, at, t.numel()).view(t.sizes()));
      at += t.numel();
    }
  }
}

at::Tensor allgatherRows(ProcessGroup& group, const at::Tensor& local, const std::string& what) {
  const int64_t rows = local.size(0);
  auto counts = group.allgather(at::tensor({rows}, at::TensorOptions().dtype(at::kLong)), what);
  int64_t most = 0;
  for (auto& c : counts) most = std::max(most, c.item<int64_t>());
  auto shape = local.sizes().vec();
  shape[0] = most;
  at::Tensor padded = at::zeros(shape, local.options());
  if (rows > 0) padded.narrow(0, 0, rows).copy_(local);
  auto parts = group.allgather(padded, what);
  std::vector<at::Tensor> kept;
  for (size_t r = 0; r < parts.size(); ++r) kept.push_back(parts[r].narrow(0, 0, counts[r].item<int64_t>()));
  return at::cat(kept);
}

namespace {
// The module's parameters once rank 0's values are everywhere: the broadcast comes before the
// gradient hooks exist (GradientSync is built from what this returns).
std::vector<at::Tensor> broadcastParameters(ProcessGroup& group, torch::nn::Module& module) {
  broadcastModule(group, module);
  return module.parameters();
}
}  // namespace

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, torch::nn::Module& module, int64_t bucketBytes)
    : group_(std::move(group)), gradients_(*group_, broadcastParameters(*group_, module), bucketBytes) {}

train::StepSync::BatchTotals DataParallel::batchTotals(double boxes, int64_t maxGt) {
  // One collective: everyone's (boxes, maxGt), summed and maximised here.
  auto all = group_->allgather(at::tensor({boxes, static_cast<double>(maxGt)}, at::TensorOptions().dtype(at::kDouble)),
                               "the box-count all-reduce");
  BatchTotals t;
  for (auto& a : all) {
    t.boxes += a[0].item<double>();
    t.maxGt = std::max<int64_t>(t.maxGt, static_cast<int64_t>(a[1].item<double>()));
  }
  return t;
}

bool DataParallel::anyRank(bool flag) {
  at::Tensor f = at::tensor({flag ? 1.0f : 0.0f}, at::TensorOptions().dtype(at::kFloat));
  group_->allreduce(f, ProcessGroup::Reduce::Max, "the non-finite-loss agreement");
  return f.item<float>() > 0;
}

void DataParallel::averageForReport(std::vector<double>& values) {
  if (values.empty()) return;
  // In float64: the sum adds no float32 rounding to the reported values.
  at::Tensor sum = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
  group_->allreduce(sum, ProcessGroup::Reduce::Sum, "the reported-loss average");
  const double* s = sum.data_ptr<double>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = s[i] / group_->worldSize();
}

}  // namespace adetr::dist
