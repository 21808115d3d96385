// Classification-loss CPU benchmark: the fused kernel (adetr::ops::alignClassificationLoss,
// autograd Function) against the same loss composed from ATen ops (train::
// classificationLossComposed: log_sigmoid, pow, where, sum) in the same process, same libtorch,
// same thread count. Reports loss + backward wall time (median of repeats) per kind.
//
// Workload: one DINO output, B images × Q = 900 queries × C = 80 classes, float32, 2 positives
// per GT (k = 2) for 20 GTs per image.
// Usage: bench_align_loss [--batch 2] [--threads N] [--repeats 15]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ops/align_loss/align_loss.h"
#include "train/losses.h"

#include "../bench_support.h"

namespace {

using adetr::bench::cpuModel;
using adetr::bench::medianMs;

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 2;
  int threads = at::get_num_threads();
  int repeats = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  at::set_num_threads(threads);
  const int64_t queries = 900, classes = 80, gts = 20, k = 2;
  at::manual_seed(0);
  const auto opt = at::TensorOptions().dtype(at::kFloat);
  auto logits = (at::randn({batch * queries, classes}, opt) * 2 - 4).contiguous();
  auto positive = at::zeros({batch * queries, classes}, opt.dtype(at::kBool));
  auto target = at::zeros({batch * queries, classes}, opt);
  auto rows = at::randperm(batch * queries, opt.dtype(at::kLong)).narrow(0, 0, batch * gts * k);
  auto cls = at::randint(classes, {batch * gts * k}, opt.dtype(at::kLong));
  positive.index_put_({rows, cls}, true);
  target.index_put_({rows, cls}, at::rand({batch * gts * k}, opt));

  std::printf("align-loss CPU benchmark: logits [%lld, %lld] float32, %lld positives\n",
              static_cast<long long>(batch * queries), static_cast<long long>(classes),
              static_cast<long long>(batch * gts * k));
  std::printf("machine: %s, %d threads, libtorch %s\n", cpuModel().c_str(), threads, TORCH_VERSION);
  std::printf("%-12s %12s %12s %8s\n", "kind", "fused ms", "composed ms", "ratio");
  for (const char* name : {"align", "ia-bce", "focal", "qfl", "vfl", "stable-dino"}) {
    const auto kind = adetr::ops::parseAlignLossKind(name);
    const adetr::ops::AlignLossParams params;
    auto step = [&](bool fused) {
      auto x = logits.detach().requires_grad_(true);
      auto loss = fused ? adetr::ops::alignClassificationLoss(x, target, positive, at::Tensor(), kind, params)
                        : adetr::train::classificationLossComposed(kind, x, target, positive, params);
      loss.backward();
    };
    const double f = medianMs(repeats, [&] { step(true); });
    const double c = medianMs(repeats, [&] { step(false); });
    std::printf("%-12s %12.3f %12.3f %7.1fx\n", name, f, c, c / f);
  }
  return 0;
}
