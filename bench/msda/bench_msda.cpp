// MSDA CPU benchmark: our kernel (adetr::ops::msDeformAttn, autograd Function) against the
// grid_sample composition (docs/numerical-contract.md §B.3) built from ATen ops (at::grid_sampler_2d, stack,
// mul, sum) in the same process, same libtorch, same thread count. Reports forward and
// forward+backward wall time (median of repeats) and peak CPU tensor memory of each call.
//
// Workloads (DINO-4scale: M = 8 heads, D = 32, L = 4 levels, P = 4 points):
//   encoder: one layer, every pixel of every level is a query (Q = S), image scaled by --scale
//            (1.0 = 800×1333 → levels 100×167, 50×84, 25×42, 13×21, S = 22,223);
//   decoder: 900 queries over the same value.
// Usage: bench_msda [--scale 0.5] [--batch 1] [--threads N] [--repeats 3]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ops/msda/msda.h"

#include "../bench_support.h"

namespace {

// ---- peak memory: a CPU allocator that counts live bytes ---------------------------------------

std::atomic<int64_t> liveBytes{0}, peakBytes{0};

// libtorch 2.3 made Allocator::allocate non-const and added copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define ADETR_ALLOCATE_CONST
#define ADETR_NEEDS_COPY_DATA 1
#else
#define ADETR_ALLOCATE_CONST const
#endif

class CountingAllocator final : public c10::Allocator {
 public:
#ifdef ADETR_NEEDS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif
  static constexpr size_t kHeader = 64;  // keeps 64-byte alignment, holds the size
  c10::DataPtr allocate(size_t n) ADETR_ALLOCATE_CONST override {
    void* raw = std::aligned_alloc(kHeader, kHeader + (n + kHeader - 1) / kHeader * kHeader);
    if (!raw) throw std::bad_alloc();
    std::memcpy(raw, &n, sizeof(n));
    const int64_t now = liveBytes += static_cast<int64_t>(n);
    int64_t peak = peakBytes.load();
    while (now > peak && !peakBytes.compare_exchange_weak(peak, now)) {
    }
    void* data = static_cast<char*>(raw) + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  static void release(void* data) {
    if (!data) return;
    void* raw = static_cast<char*>(data) - kHeader;
    size_t n;
    std::memcpy(&n, raw, sizeof(n));
    liveBytes -= static_cast<int64_t>(n);
    std::free(raw);
  }
};

CountingAllocator countingAllocator;

// ---- workloads ---------------------------------------------------------------------------------

struct Workload {
  std::string name;
  at::Tensor value, shapes, starts, loc, attn, gradOut;
  std::vector<std::pair<int64_t, int64_t>> levels;
};

constexpr int64_t kHeads = 8, kChannels = 32, kPoints = 4;

std::vector<std::pair<int64_t, int64_t>> levelsFor(double scale) {
  const int64_t h = std::lround(800 * scale), w = std::lround(1333 * scale);
  std::vector<std::pair<int64_t, int64_t>> levels;
  for (int64_t stride : {8, 16, 32, 64}) levels.push_back({(h + stride - 1) / stride, (w + stride - 1) / stride});
  return levels;
}

// Encoder: a query per pixel of each level, reference point at its centre, offsets of about
// two pixels of each level; decoder: 900 reference points anywhere, offsets ~5% of the image.
Workload makeWorkload(bool encoder, int64_t batch, const std::vector<std::pair<int64_t, int64_t>>& levels) {
  at::manual_seed(encoder ? 1 : 2);
  Workload w;
  w.levels = levels;
  const int64_t L = static_cast<int64_t>(levels.size());
  std::vector<int64_t> shapeData, startData;
  int64_t S = 0;
  for (auto [h, wd] : levels) {
    shapeData.insert(shapeData.end(), {h, wd});
    startData.push_back(S);
    S += h * wd;
  }
  w.shapes = at::tensor(shapeData, at::kLong).view({L, 2});
  w.starts = at::tensor(startData, at::kLong);
  w.value = at::randn({batch, S, kHeads, kChannels});
  at::Tensor ref;  // [batch, Q, 2]
  if (encoder) {
    std::vector<at::Tensor> refs;
    for (auto [h, wd] : levels) {
      const at::Tensor ys = (at::arange(h, at::kFloat) + 0.5) / h, xs = (at::arange(wd, at::kFloat) + 0.5) / wd;
      const auto grid = at::meshgrid({ys, xs}, "ij");
      refs.push_back(at::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, -1));
    }
    ref = at::cat(refs, 0).unsqueeze(0).expand({batch, S, 2});
    w.name = "encoder layer (Q = S = " + std::to_string(S) + ")";
  } else {
    ref = at::rand({batch, 900, 2});
    w.name = "decoder call (Q = 900, S = " + std::to_string(S) + ")";
  }
  const int64_t Q = ref.size(1);
  at::Tensor scaleXY = at::empty({L, 2});
  for (int64_t l = 0; l < L; ++l) {
    scaleXY[l][0] = encoder ? 2.0 / levels[l].second : 0.05;
    scaleXY[l][1] = encoder ? 2.0 / levels[l].first : 0.05;
  }
  const at::Tensor offsets = at::randn({batch, Q, kHeads, L, kPoints, 2}) * scaleXY.view({1, 1, 1, L, 1, 2});
  w.loc = (ref.view({batch, Q, 1, 1, 1, 2}) + offsets).contiguous();
  w.attn = at::softmax(at::randn({batch, Q, kHeads, L * kPoints}), -1).view({batch, Q, kHeads, L, kPoints});
  w.gradOut = at::randn({batch, Q, kHeads * kChannels});
  return w;
}

// ---- the two implementations ---------------------------------------------------------------------

// docs/numerical-contract.md §B.3 with ATen ops.
at::Tensor gridSampleMsda(const at::Tensor& value, const std::vector<std::pair<int64_t, int64_t>>& levels,
                          const at::Tensor& loc, const at::Tensor& attn) {
  const int64_t N = value.size(0), M = value.size(2), D = value.size(3), Q = loc.size(1), L = loc.size(3),
                P = loc.size(4);
  std::vector<int64_t> sizes;
  for (auto [h, w] : levels) sizes.push_back(h * w);
  const auto valueList = value.split_with_sizes(sizes, 1);
  const at::Tensor grids = 2 * loc - 1;
  std::vector<at::Tensor> samples;
  for (int64_t l = 0; l < L; ++l) {
    const at::Tensor v = valueList[l].flatten(2).transpose(1, 2).reshape({N * M, D, levels[l].first, levels[l].second});
    const at::Tensor g = grids.select(3, l).transpose(1, 2).flatten(0, 1);  // [N*M, Q, P, 2]
    samples.push_back(at::grid_sampler_2d(v, g, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners*/ false));
  }
  const at::Tensor a = attn.transpose(1, 2).reshape({N * M, 1, Q, L * P});
  return (at::stack(samples, -2).flatten(-2) * a).sum(-1).view({N, M * D, Q}).transpose(1, 2);
}

struct Measure {
  double ms;
  double peakMiB;
};

// Median wall time over `repeats` runs (after one warm-up) and the largest peak of live CPU
// tensor bytes above what was live before the call.
Measure measure(int repeats, const std::function<void()>& fn) {
  fn();
  std::vector<double> times;
  int64_t worstPeak = 0;
  for (int r = 0; r < repeats; ++r) {
    const int64_t base = liveBytes.load();
    peakBytes = base;
    times.push_back(adetr::bench::elapsedMs(fn));
    worstPeak = std::max(worstPeak, peakBytes.load() - base);
  }
  return {adetr::bench::median(std::move(times)), worstPeak / 1048576.0};
}

void runWorkload(const Workload& w, int repeats) {
  using torch::autograd::grad;
  std::printf("\n%s, batch %lld, M=%lld D=%lld L=%zu P=%lld\n", w.name.c_str(), static_cast<long long>(w.value.size(0)),
              static_cast<long long>(kHeads), static_cast<long long>(kChannels), w.levels.size(),
              static_cast<long long>(kPoints));
  {  // agreement check (forward) before timing
    const at::NoGradGuard noGrad;
    const at::Tensor ours = adetr::ops::msDeformAttn(w.value, w.shapes, w.starts, w.loc, w.attn);
    const at::Tensor ref = gridSampleMsda(w.value, w.levels, w.loc, w.attn);
    std::printf("  max |ours - grid_sample| forward = %.3g\n", (ours - ref).abs().max().item<double>());
  }
  const at::Tensor v = w.value.clone().requires_grad_(true), loc = w.loc.clone().requires_grad_(true),
                   attn = w.attn.clone().requires_grad_(true);
  const Measure oursF = measure(repeats, [&] {
    const at::NoGradGuard noGrad;
    adetr::ops::msDeformAttn(w.value, w.shapes, w.starts, w.loc, w.attn);
  });
  const Measure refF = measure(repeats, [&] {
    const at::NoGradGuard noGrad;
    gridSampleMsda(w.value, w.levels, w.loc, w.attn);
  });
  const Measure oursFB = measure(repeats, [&] {
    const at::Tensor out = adetr::ops::msDeformAttn(v, w.shapes, w.starts, loc, attn);
    grad({out}, {v, loc, attn}, {w.gradOut});
  });
  const Measure refFB = measure(repeats, [&] {
    const at::Tensor out = gridSampleMsda(v, w.levels, loc, attn);
    grad({out}, {v, loc, attn}, {w.gradOut});
  });
  std::printf("  %-22s %12s %12s %9s %14s %14s %9s\n", "", "ours ms", "grid_smp ms", "speedup", "ours peak MiB",
              "grid_smp MiB", "mem ratio");
  auto row = [](const char* what, const Measure& o, const Measure& r) {
    std::printf("  %-22s %12.2f %12.2f %8.2fx %14.1f %14.1f %8.1fx\n", what, o.ms, r.ms, r.ms / o.ms, o.peakMiB,
                r.peakMiB, r.peakMiB / std::max(o.peakMiB, 1e-9));
  };
  row("forward", oursF, refF);
  row("forward+backward", oursFB, refFB);
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 0.5;
  int64_t batch = 1;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--scale")
      scale = std::atof(argv[i + 1]);
    else if (k == "--batch")
      batch = std::atoll(argv[i + 1]);
    else if (k == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (k == "--repeats")
      repeats = std::atoi(argv[i + 1]);
  }
  c10::SetCPUAllocator(&countingAllocator, /*priority*/ 100);
  at::set_num_threads(threads);
  const auto levels = levelsFor(scale);
  std::printf("MSDA CPU benchmark: ours vs grid_sample composition (ATen, same process)\n");
  std::printf("machine: %s, %u hardware threads; intra-op threads used: %d; libtorch %s\n",
              adetr::bench::cpuModel().c_str(), std::thread::hardware_concurrency(), at::get_num_threads(),
              TORCH_VERSION);
  std::printf("image %.0fx%.0f (scale %.2f of 800x1333), levels", 800 * scale, 1333 * scale, scale);
  for (auto [h, w] : levels) std::printf(" %lldx%lld", static_cast<long long>(h), static_cast<long long>(w));
  std::printf(", float32, median of %d runs; peak = max live CPU tensor bytes during the call\n", repeats);
  runWorkload(makeWorkload(true, batch, levels), repeats);
  runWorkload(makeWorkload(false, batch, levels), repeats);
  return 0;
}
