// Data-parallel training equals one process with the whole batch: two ranks (threads of this
// process, Gloo on loopback) × 2 images against one Trainer × 4 images, 3 steps of the tiny
// model with denoising queries, same seeds (rank 1 even starts from other weights: the broadcast
// from rank 0 replaces them). Per-sample noise seeds and the shared denoising layout make each
// image's queries the same in both runs; the box count is all-reduced; gradients are averaged
// before clipping and AdamW. Weights must agree within 1e-5, and the two ranks exactly; the
// losses each rank reports (the ranks' mean) equal the single process's within 1e-5 relative.
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/tensor.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "dist/data_parallel.h"
#include "model/seeded_init.h"
#include "test_support.h"
#include "train/trainer.h"
#include "tests/loopback_port.h"

namespace {

using adetr::model::ImageBatch;
using adetr::model::Target;

int freePort() { return adetr::test::freeLoopbackPort(); }

adetr::model::DinoConfig config() {
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  c.numQueries = 30;
  c.dnNumber = 12;
  return c;
}

struct Data {
  at::Tensor images;  // [4, 3, 64, 64]
  std::vector<Target> targets;
};

Data makeData() {
  at::manual_seed(11);
  Data d;
  d.images = at::rand({4, 3, 64, 64}) * 2 - 1;
  const int64_t counts[] = {1, 3, 2, 1};  // unequal: the layout and the box count must be shared
  for (int b = 0; b < 4; ++b) {
    Target t;
    t.labels = at::randint(0, 3, {counts[b]}, at::TensorOptions().dtype(at::kLong));
    auto c = at::rand({counts[b], 2}) * 0.5 + 0.25;
    auto s = at::rand({counts[b], 2}) * 0.3 + 0.1;
    t.boxes = at::cat({c, s}, 1);
    t.sampleId = 100 + b;
    d.targets.push_back(t);
  }
  return d;
}

ImageBatch batchOf(const Data& d, int64_t from, int64_t n) {
  ImageBatch b;
  b.images = d.images.narrow(0, from, n).contiguous();
  b.validSizes = at::full({n, 2}, 64, at::TensorOptions().dtype(at::kLong));
  return b;
}

adetr::train::TrainerOptions trainerOptions() {
  adetr::train::TrainerOptions o;
  o.optimizer.lr = 1e-4;
  o.seed = 42;
  return o;
}

std::vector<at::Tensor> weights(adetr::model::Dino& m) {
  std::vector<at::Tensor> w;
  for (auto& p : m->parameters()) w.push_back(p.detach().clone());
  return w;
}

constexpr int kSteps = 3;

// Within 1e-5 relative (an absolute 1e-9 floor for terms near zero).
bool closeRel(double got, double want) { return std::abs(got - want) <= 1e-5 * std::abs(want) + 1e-9; }

void testTwoByTwoEqualsOneByFour() {
  const Data data = makeData();
  const auto c = config();

  // One process, batch 4.
  adetr::train::Trainer single(adetr::model::createDino(c, 7), trainerOptions());
  single.setSampleSeededNoise(true);
  const auto before = weights(single.model());
  std::vector<adetr::train::StepResult> singleSteps;
  for (int s = 0; s < kSteps; ++s) singleSteps.push_back(single.step(batchOf(data, 0, 4), data.targets));
  const auto reference = weights(single.model());

  // Two ranks, batch 2 each.
  const int port = freePort();
  std::vector<std::vector<at::Tensor>> ranked(2);
  std::vector<std::vector<adetr::train::StepResult>> rankSteps(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        adetr::dist::GroupOptions g;
        g.rank = r;
        g.worldSize = 2;
        g.masterPort = port;
        g.timeout = std::chrono::seconds(60);
        auto group = std::make_shared<adetr::dist::ProcessGroup>(g);
        adetr::train::Trainer trainer(adetr::model::createDino(c, r == 0 ? 7 : 1234), trainerOptions());
        trainer.setSampleSeededNoise(true);
        trainer.setStepSync(std::make_shared<adetr::dist::DataParallel>(group, *trainer.model()));
        std::vector<Target> mine(data.targets.begin() + 2 * r, data.targets.begin() + 2 * r + 2);
        for (int s = 0; s < kSteps; ++s) rankSteps[r].push_back(trainer.step(batchOf(data, 2 * r, 2), mine));
        ranked[r] = weights(trainer.model());
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) EXPECT(errors[r].empty(), "rank %d: %s", r, errors[r].c_str());
  if (ranked[0].empty() || ranked[1].empty()) return;

  double worst = 0, moved = 0;
  bool ranksEqual = true;
  for (size_t k = 0; k < reference.size(); ++k) {
    worst = std::max(worst, (ranked[0][k] - reference[k]).abs().max().item<double>());
    moved = std::max(moved, (reference[k] - before[k]).abs().max().item<double>());
    ranksEqual = ranksEqual && at::equal(ranked[0][k], ranked[1][k]);
  }
  std::printf("2x2 vs 1x4 after %d steps: max |Δw| = %.3g (the steps moved weights by up to %.3g)\n", kSteps, worst,
              moved);
  EXPECT(ranksEqual, "both ranks hold the same weights");
  EXPECT(worst <= 1e-5, "max |w(2x2) - w(1x4)| = %g", worst);
  EXPECT(moved > 1e-4, "the steps changed the weights (%g)", moved);
  // Each rank's loss is its half normalised by the all-reduced box count over the world size
  // (DETR's), so the ranks' mean, which every rank reports, is the whole batch's loss: the
  // total and every term equal the single process's.
  double worstLoss = 0;
  for (int s = 0; s < kSteps; ++s) {
    const auto& want = singleSteps[s];
    for (int r = 0; r < 2; ++r) {
      const auto& got = rankSteps[r][s];
      EXPECT(closeRel(got.total, want.total), "step %d rank %d: reported loss %.9g vs one process %.9g", s, r,
             got.total, want.total);
      worstLoss = std::max(worstLoss, std::abs(got.total - want.total) / std::abs(want.total));
      EXPECT(got.losses.size() == want.losses.size(), "step %d rank %d: %zu terms vs %zu", s, r, got.losses.size(),
             want.losses.size());
      for (size_t k = 0; k < std::min(got.losses.size(), want.losses.size()); ++k) {
        EXPECT(got.losses[k].first == want.losses[k].first, "term %zu: %s vs %s", k, got.losses[k].first.c_str(),
               want.losses[k].first.c_str());
        EXPECT(closeRel(got.losses[k].second, want.losses[k].second), "step %d rank %d %s: %.9g vs %.9g", s, r,
               got.losses[k].first.c_str(), got.losses[k].second, want.losses[k].second);
      }
    }
  }
  std::printf("reported losses of the ranks vs one process: max relative difference of the total %.3g\n", worstLoss);
}

}  // namespace

int main() {
  if (!adetr::dist::backendAvailable("gloo")) {
    std::printf("SKIP: this build has no c10d Gloo\n");
    return 0;
  }
  return adetr::test::runTests("test_dist_trainer", [] { testTwoByTwoEqualsOneByFour(); });
}
