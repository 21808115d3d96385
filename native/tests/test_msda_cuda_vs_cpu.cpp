// MSDA: CUDA kernels against the CPU kernel on the same inputs (forward and backward;
// float64, float32, and float16 / bfloat16 against the CPU in float32 on the rounded inputs).
// Without CUDA (build or device) it prints "skipped: no CUDA" and succeeds.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ops/msda/msda.h"
#include "tests/test_support.h"

#ifndef ADETR_WITH_CUDA
int main() {
  std::printf("skipped: no CUDA (built without CUDA kernels)\n");
  return 0;
}
#else

namespace {

struct Case {
  const char* name;
  int64_t N, Q, M, D, P;
  std::vector<std::pair<int64_t, int64_t> > levels;
};

struct Inputs {
  at::Tensor value, shapes, starts, loc, attn, gradOut;
};

Inputs makeInputs(const Case& c) {
  at::manual_seed(7);
  std::vector<int64_t> shapeData, startData;
  int64_t S = 0;
  for (auto [h, w] : c.levels) {
    shapeData.insert(shapeData.end(), {h, w});
    startData.push_back(S);
    S += h * w;
  }
  const int64_t L = static_cast<int64_t>(c.levels.size());
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  return {at::randn({c.N, S, c.M, c.D}, f64),     at::tensor(shapeData, at::kLong).view({L, 2}),
          at::tensor(startData, at::kLong),       at::rand({c.N, c.Q, c.M, L, c.P, 2}, f64) * 1.4 - 0.2,
          at::rand({c.N, c.Q, c.M, L, c.P}, f64), at::randn({c.N, c.Q, c.M * c.D}, f64)};
}

void compare(const char* what, const Case& c, const char* dtype, const at::Tensor& gpu, const at::Tensor& cpu,
             double rtol, double atol) {
  const at::Tensor g = gpu.to(at::kCPU).to(at::kDouble), r = cpu.to(at::kDouble);
  const double err = (g - r).abs().max().item<double>();
  const double scale = r.abs().max().item<double>();
  EXPECT(err <= atol + rtol * scale, "%s [%s] %s: max |cuda - cpu| = %g (scale %g)", c.name, dtype, what, err, scale);
}

void runCase(const Case& c, at::ScalarType dtype, double rtol, double atol) {
  const Inputs in64 = makeInputs(c);
  // CPU reference in float64 (or float32 for float32), on inputs rounded to `dtype` first.
  const at::ScalarType cpuType = dtype == at::kDouble ? at::kDouble : at::kFloat;
  auto round = [&](const at::Tensor& t) { return t.to(dtype).to(cpuType); };
  const at::Tensor v = round(in64.value), l = round(in64.loc), a = round(in64.attn), go = round(in64.gradOut);
  const at::Tensor outCpu = adetr::ops::msDeformAttnForward(v, in64.shapes, in64.starts, l, a);
  const auto gCpu = adetr::ops::msDeformAttnBackward(v, in64.shapes, in64.starts, l, a, go);

  const auto cuda = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor vG = v.to(cuda), lG = l.to(cuda), aG = a.to(cuda), goG = go.to(cuda);
  const at::Tensor outGpu = adetr::ops::msDeformAttnForward(vG, in64.shapes, in64.starts, lG, aG);
  const auto gGpu = adetr::ops::msDeformAttnBackward(vG, in64.shapes.cuda(), in64.starts.cuda(), lG, aG, goG);
  const char* dt = c10::toString(dtype);
  EXPECT(outGpu.scalar_type() == dtype && gGpu.gradValue.scalar_type() == dtype, "%s [%s]: result dtype", c.name, dt);
  compare("forward", c, dt, outGpu, outCpu, rtol, atol);
  compare("gradValue", c, dt, gGpu.gradValue, gCpu.gradValue, rtol, atol);
  compare("gradSamplingLocations", c, dt, gGpu.gradSamplingLocations, gCpu.gradSamplingLocations, rtol, atol);
  compare("gradAttentionWeights", c, dt, gGpu.gradAttentionWeights, gCpu.gradAttentionWeights, rtol, atol);
}

}  // namespace

int main() {
  if (!at::hasCUDA()) {
    std::printf("skipped: no CUDA (no CUDA device available)\n");
    return 0;
  }
  const std::vector<Case> cases = {
      {"deformable-detr test shapes", 1, 2, 2, 2, 2, {{6, 4}, {3, 2}}},
      {"1x1 level, odd D", 2, 17, 3, 7, 1, {{1, 1}, {5, 9}}},
      {"DINO-like D=32", 2, 300, 8, 32, 4, {{20, 33}, {10, 17}, {5, 9}, {3, 5}}},
      {"wide D=96", 1, 40, 2, 96, 3, {{7, 6}, {3, 3}}},
      {"D=1025", 1, 5, 1, 1025, 2, {{4, 4}}},
  };
  return adetr::test::runTests("test_msda_cuda_vs_cpu", [&] {
    for (const Case& c : cases) {
      runCase(c, at::kDouble, 1e-12, 1e-12);
      runCase(c, at::kFloat, 1e-4, 1e-5);
      runCase(c, at::kHalf, 2e-2, 2e-2);
      runCase(c, at::kBFloat16, 5e-2, 5e-2);
    }
  });
}
#endif
