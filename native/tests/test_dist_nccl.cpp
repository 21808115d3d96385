// ProcessGroupNCCL, as far as the machine allows:
//   - a build without NCCL refuses backend 'nccl' naming the build flag;
//   - a NCCL build on a machine without a GPU refuses it naming the missing device;
//   - with a GPU (scripts/gpu-check.sh), one rank on cuda:0: every collective on CUDA tensors
//     and on CPU tensors (staged through the GPU and copied back), and three data-parallel
//     training steps of the tiny model on CUDA equal to the same steps without the group.
// NCCL puts one rank per GPU, so more ranks need more GPUs than that check has.
#include <ATen/Context.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/tensor.h>

#include <cstdio>
#include <string>

#include "dist/data_parallel.h"
#include "model/seeded_init.h"
#include "test_support.h"
#include "tests/loopback_port.h"
#include "train/trainer.h"

using adetr::dist::GroupOptions;
using adetr::dist::ProcessGroup;

namespace {

GroupOptions ncclOptions() {
  GroupOptions o;
  o.backend = "nccl";
  o.masterPort = adetr::test::freeLoopbackPort();
  o.timeout = std::chrono::seconds(60);
  return o;
}

void testRefusedWithoutNccl() {
  adetr::test::expectArgError("nccl on a build without it", "backend: 'nccl' is not in this build",
                              [] { ProcessGroup g(ncclOptions()); });
}

void testRefusedWithoutGpu() {
  adetr::test::expectArgError("nccl without a GPU", "backend: 'nccl' needs a CUDA device",
                              [] { ProcessGroup g(ncclOptions()); });
}

void testCollectivesOnOneGpu() {
  ProcessGroup g(ncclOptions());
  const at::Device cuda(at::kCUDA, 0);
  EXPECT(g.device() == cuda, "the group runs on %s", g.device().str().c_str());
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // On the GPU itself.
  at::Tensor onGpu = at::arange(6, f32.device(cuda)) * 0.5;
  g.allreduce(onGpu, ProcessGroup::Reduce::Sum, "test");
  EXPECT(onGpu.device() == cuda && at::allclose(onGpu.cpu(), at::arange(6, f32) * 0.5), "sum of one rank on CUDA");
  // CPU bookkeeping tensors (box counts, flags, metrics) go through the GPU and come back.
  at::Tensor counts = at::tensor({3.0, 7.0}, at::TensorOptions().dtype(at::kDouble));
  g.allreduce(counts, ProcessGroup::Reduce::Max, "test");
  EXPECT(counts.device().is_cpu() && counts[0].item<double>() == 3 && counts[1].item<double>() == 7,
         "max of a CPU tensor");
  auto pending = [&] {
    at::Tensor flags = at::ones({4}, f32) * 2;
    auto p = g.allreduceAsync(flags, "test");
    p->wait();
    return flags;
  }();
  EXPECT(at::allclose(pending, at::ones({4}, f32) * 2), "asynchronous sum of a CPU tensor");
  at::Tensor b = at::ones({3}, f32) * 5;
  g.broadcast(b, 0, "test");
  EXPECT(b.device().is_cpu() && at::allclose(b, at::ones({3}, f32) * 5), "broadcast of a CPU tensor");
  auto all = g.allgather(at::tensor({int64_t{4}}, at::TensorOptions().dtype(at::kLong)), "test");
  EXPECT(all.size() == 1 && all[0].device().is_cpu() && all[0].item<int64_t>() == 4, "allgather of a CPU tensor");
  at::Tensor rows = at::arange(6, at::TensorOptions().dtype(at::kDouble)).view({3, 2});
  at::Tensor gathered = adetr::dist::allgatherRows(g, rows, "test");
  EXPECT(gathered.device().is_cpu() && at::allclose(gathered, rows), "allgatherRows of CPU rows");
  g.checkAgreement({{"config", "tiny"}});
  g.barrier("test");
}

adetr::train::TrainerOptions trainerOptions() {
  adetr::train::TrainerOptions o;
  o.optimizer.lr = 1e-4;
  o.seed = 42;
  return o;
}

// Two images with 1 and 3 boxes, on `device`.
struct Batch {
  adetr::model::ImageBatch images;
  std::vector<adetr::model::Target> targets;
};
Batch makeBatch(at::Device device) {
  at::manual_seed(5);
  Batch b;
  b.images.images = (at::rand({2, 3, 64, 64}) * 2 - 1).to(device);
  b.images.validSizes = at::full({2, 2}, 64, at::TensorOptions().dtype(at::kLong)).to(device);
  const int64_t counts[] = {1, 3};
  for (int i = 0; i < 2; ++i) {
    adetr::model::Target t;
    t.labels = at::randint(0, 3, {counts[i]}, at::TensorOptions().dtype(at::kLong)).to(device);
    t.boxes = at::cat({at::rand({counts[i], 2}) * 0.5 + 0.25, at::rand({counts[i], 2}) * 0.3 + 0.1}, 1).to(device);
    t.sampleId = 10 + i;
    b.targets.push_back(t);
  }
  return b;
}

std::vector<at::Tensor> trainThreeSteps(at::Device device, bool withGroup) {
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  c.numQueries = 30;
  auto model = adetr::model::createDino(c, 7);
  model->to(device);
  adetr::train::Trainer trainer(model, trainerOptions());
  trainer.setSampleSeededNoise(true);
  if (withGroup) {
    auto group = std::make_shared<ProcessGroup>(ncclOptions());
    trainer.setStepSync(std::make_shared<adetr::dist::DataParallel>(group, *trainer.model()));
  }
  const Batch b = makeBatch(device);
  for (int s = 0; s < 3; ++s) trainer.step(b.images, b.targets);
  std::vector<at::Tensor> w;
  for (auto& p : trainer.model()->parameters()) w.push_back(p.detach().cpu());
  return w;
}

void testTrainingOnOneGpu() {
  const at::Device cuda(at::kCUDA, 0);
  const auto grouped = trainThreeSteps(cuda, true);
  const auto alone = trainThreeSteps(cuda, false);
  const auto onCpu = trainThreeSteps(at::Device(at::kCPU), false);
  double worst = 0, cpuGap = 0;
  for (size_t k = 0; k < alone.size(); ++k) {
    worst = std::max(worst, (grouped[k] - alone[k]).abs().max().item<double>());
    cpuGap = std::max(cpuGap, (alone[k] - onCpu[k]).abs().max().item<double>());
  }
  std::printf("NCCL, 1 rank: 3 steps with the group vs without, max |dw| = %.3g; CUDA vs CPU, max |dw| = %.3g\n", worst,
              cpuGap);
  // The group of one averages over one rank: only the bucket copies and the MSDA backward's
  // atomics (summation order) may differ.
  EXPECT(worst <= 1e-5, "weights with and without the NCCL group differ by %g", worst);
}

}  // namespace

int main() {
  return adetr::test::runTests("test_dist_nccl", [] {
    if (!adetr::dist::backendAvailable("nccl")) {
      testRefusedWithoutNccl();
      std::printf("this build has no NCCL (build against a CUDA libtorch with -DALIGN_DETR_WITH_NCCL=ON)\n");
      return;
    }
    if (!at::hasCUDA()) {
      testRefusedWithoutGpu();
      std::printf("NCCL build without a GPU: the refusal is checked, the collectives need scripts/gpu-check.sh\n");
      return;
    }
    testCollectivesOnOneGpu();
    testTrainingOnOneGpu();
  });
}
