// MSDA CPU kernel against a naive double-precision transcription of the contract's formula
// (docs/numerical-contract.md §B.2, written here independently of the kernel), and the autograd
// Function's gradients against the kernel's backward.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "ops/msda/msda.h"
#include "tests/test_support.h"

namespace {

struct Case {
  std::string name;
  int64_t N, Q, M, D, P;
  std::vector<std::pair<int64_t, int64_t>> levels;
};

struct Inputs {
  at::Tensor value, shapes, starts, loc, attn, gradOut;
};

Inputs makeInputs(const Case& c, at::ScalarType dtype, uint64_t seed) {
  at::manual_seed(seed);
  int64_t S = 0;
  std::vector<int64_t> shapeData, startData;
  for (auto [h, w] : c.levels) {
    shapeData.push_back(h);
    shapeData.push_back(w);
    startData.push_back(S);
    S += h * w;
  }
  const int64_t L = static_cast<int64_t>(c.levels.size());
  const auto opt = at::TensorOptions().dtype(dtype);
  Inputs in;
  in.value = at::randn({c.N, S, c.M, c.D}, opt);
  in.shapes = at::tensor(shapeData, at::kLong).view({L, 2});
  in.starts = at::tensor(startData, at::kLong);
  // Locations in [-0.3, 1.3] so some samples fall partly or wholly outside the maps.
  in.loc = at::rand({c.N, c.Q, c.M, L, c.P, 2}, opt) * 1.6 - 0.3;
  in.attn = at::rand({c.N, c.Q, c.M, L, c.P}, opt);
  in.gradOut = at::randn({c.N, c.Q, c.M * c.D}, opt);
  return in;
}

// Naive reference, straight from §B.2, in double. Returns output and the three gradients.
struct Naive {
  std::vector<double> out, gValue, gLoc, gAttn;
};

Naive naive(const Inputs& in) {
  const at::Tensor value = in.value.to(at::kDouble).contiguous(), loc = in.loc.to(at::kDouble).contiguous(),
                   attn = in.attn.to(at::kDouble).contiguous(), go = in.gradOut.to(at::kDouble).contiguous();
  const int64_t N = value.size(0), S = value.size(1), M = value.size(2), D = value.size(3);
  const int64_t Q = loc.size(1), L = loc.size(3), P = loc.size(4);
  const double* V = value.data_ptr<double>();
  const double* X = loc.data_ptr<double>();
  const double* A = attn.data_ptr<double>();
  const double* G = go.data_ptr<double>();
  Naive r;
  r.out.assign(N * Q * M * D, 0.0);
  r.gValue.assign(N * S * M * D, 0.0);
  r.gLoc.assign(N * Q * M * L * P * 2, 0.0);
  r.gAttn.assign(N * Q * M * L * P, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t q = 0; q < Q; ++q)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t l = 0; l < L; ++l) {
          const int64_t H = in.shapes[l][0].item<int64_t>(), W = in.shapes[l][1].item<int64_t>();
          const int64_t start = in.starts[l].item<int64_t>();
          auto vIdx = [&](int64_t i, int64_t j, int64_t d) { return ((n * S + start + i * W + j) * M + m) * D + d; };
          auto v = [&](int64_t i, int64_t j, int64_t d) {
            return (i >= 0 && i <= H - 1 && j >= 0 && j <= W - 1) ? V[vIdx(i, j, d)] : 0.0;
          };
          for (int64_t p = 0; p < P; ++p) {
            const int64_t s = (((n * Q + q) * M + m) * L + l) * P + p;
            const double x = X[2 * s], y = X[2 * s + 1], a = A[s];
            const double wIm = x * W - 0.5, hIm = y * H - 0.5;
            if (!(hIm > -1 && wIm > -1 && hIm < H && wIm < W)) continue;
            const int64_t h0 = static_cast<int64_t>(std::floor(hIm)), w0 = static_cast<int64_t>(std::floor(wIm));
            const int64_t h1 = h0 + 1, w1 = w0 + 1;
            const double lh = hIm - h0, lw = wIm - w0, hh = 1 - lh, hw = 1 - lw;
            for (int64_t d = 0; d < D; ++d) {
              const double sVal =
                  hh * hw * v(h0, w0, d) + hh * lw * v(h0, w1, d) + lh * hw * v(h1, w0, d) + lh * lw * v(h1, w1, d);
              r.out[((n * Q + q) * M + m) * D + d] += a * sVal;
              const double g = G[((n * Q + q) * M + m) * D + d];
              const std::pair<int64_t, int64_t> corners[4] = {{h0, w0}, {h0, w1}, {h1, w0}, {h1, w1}};
              const double weights[4] = {hh * hw, hh * lw, lh * hw, lh * lw};
              for (int c = 0; c < 4; ++c) {
                auto [i, j] = corners[c];
                if (i >= 0 && i <= H - 1 && j >= 0 && j <= W - 1) r.gValue[vIdx(i, j, d)] += weights[c] * a * g;
              }
              r.gAttn[s] += g * sVal;
              r.gLoc[2 * s] += W * a * g * (hh * (v(h0, w1, d) - v(h0, w0, d)) + lh * (v(h1, w1, d) - v(h1, w0, d)));
              r.gLoc[2 * s + 1] +=
                  H * a * g * (hw * (v(h1, w0, d) - v(h0, w0, d)) + lw * (v(h1, w1, d) - v(h0, w1, d)));
            }
          }
        }
  return r;
}

double maxAbsDiff(const at::Tensor& t, const std::vector<double>& ref) {
  const at::Tensor c = t.to(at::kDouble).contiguous().view({-1});
  if (c.numel() != static_cast<int64_t>(ref.size())) return INFINITY;
  const double* p = c.data_ptr<double>();
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(p[i] - ref[i]));
  return worst;
}

void checkAgainstNaive(const Case& c, at::ScalarType dtype, double tol) {
  const Inputs in = makeInputs(c, dtype, 1234);
  const Naive ref = naive(in);
  const char* dt = dtype == at::kDouble ? "float64" : "float32";
  const at::Tensor out = adetr::ops::msDeformAttnForward(in.value, in.shapes, in.starts, in.loc, in.attn);
  EXPECT(out.sizes() == at::IntArrayRef({c.N, c.Q, c.M * c.D}), "%s/%s: output shape", c.name.c_str(), dt);
  EXPECT(out.scalar_type() == dtype, "%s/%s: output dtype", c.name.c_str(), dt);
  double e = maxAbsDiff(out, ref.out);
  EXPECT(e < tol, "%s/%s forward: max |diff| %g", c.name.c_str(), dt, e);
  const auto g = adetr::ops::msDeformAttnBackward(in.value, in.shapes, in.starts, in.loc, in.attn, in.gradOut);
  e = maxAbsDiff(g.gradValue, ref.gValue);
  EXPECT(e < tol, "%s/%s gradValue: max |diff| %g", c.name.c_str(), dt, e);
  e = maxAbsDiff(g.gradSamplingLocations, ref.gLoc);
  EXPECT(e < tol * 50, "%s/%s gradSamplingLocations: max |diff| %g", c.name.c_str(), dt, e);
  e = maxAbsDiff(g.gradAttentionWeights, ref.gAttn);
  EXPECT(e < tol, "%s/%s gradAttentionWeights: max |diff| %g", c.name.c_str(), dt, e);
}

// Gradients through the autograd Function equal the kernel's backward for the same grad_out.
void checkAutograd(const Case& c) {
  const Inputs in = makeInputs(c, at::kDouble, 99);
  const at::Tensor value = in.value.clone().requires_grad_(true);
  const at::Tensor loc = in.loc.clone().requires_grad_(true);
  const at::Tensor attn = in.attn.clone().requires_grad_(true);
  const at::Tensor out = adetr::ops::msDeformAttn(value, in.shapes, in.starts, loc, attn);
  EXPECT(out.requires_grad(), "autograd %s: output does not require grad", c.name.c_str());
  // A loss whose gradient w.r.t. out is gradOut.
  const at::Tensor loss = (out * in.gradOut).sum();
  const auto grads = torch::autograd::grad({loss}, {value, loc, attn});
  const auto k = adetr::ops::msDeformAttnBackward(in.value, in.shapes, in.starts, in.loc, in.attn, in.gradOut);
  EXPECT(grads[0].allclose(k.gradValue, 1e-12, 1e-12), "autograd %s: gradValue differs", c.name.c_str());
  EXPECT(grads[1].allclose(k.gradSamplingLocations, 1e-12, 1e-12), "autograd %s: gradLoc differs", c.name.c_str());
  EXPECT(grads[2].allclose(k.gradAttentionWeights, 1e-12, 1e-12), "autograd %s: gradAttn differs", c.name.c_str());
}

// Non-contiguous arguments are handled (made contiguous internally) and give the same result.
void checkNonContiguous() {
  const Case c{"strided", 2, 5, 3, 6, 2, {{4, 3}, {2, 2}}};
  const Inputs in = makeInputs(c, at::kDouble, 77);
  // Same values, transposed storage: [N, M, S, D] memory viewed as [N, S, M, D].
  const at::Tensor value = in.value.transpose(1, 2).contiguous().transpose(1, 2);
  const at::Tensor loc = in.loc.transpose(0, 1).contiguous().transpose(0, 1);
  const at::Tensor attn = in.attn.transpose(3, 4).contiguous().transpose(3, 4);
  const at::Tensor gradOut = in.gradOut.transpose(0, 1).contiguous().transpose(0, 1);
  EXPECT(!value.is_contiguous() && !loc.is_contiguous() && !attn.is_contiguous(), "strided inputs expected");
  const at::Tensor a = adetr::ops::msDeformAttnForward(in.value, in.shapes, in.starts, in.loc, in.attn);
  const at::Tensor b = adetr::ops::msDeformAttnForward(value, in.shapes, in.starts, loc, attn);
  EXPECT(a.equal(b), "non-contiguous forward differs");
  const auto ga = adetr::ops::msDeformAttnBackward(in.value, in.shapes, in.starts, in.loc, in.attn, in.gradOut);
  const auto gb = adetr::ops::msDeformAttnBackward(value, in.shapes, in.starts, loc, attn, gradOut);
  EXPECT(ga.gradValue.equal(gb.gradValue) && ga.gradSamplingLocations.equal(gb.gradSamplingLocations) &&
             ga.gradAttentionWeights.equal(gb.gradAttentionWeights),
         "non-contiguous backward differs");
}

// A few error paths (the TS test covers every one through the binding).
void checkErrors() {
  const Case c{"err", 1, 3, 2, 4, 2, {{3, 2}, {1, 1}}};
  const Inputs in = makeInputs(c, at::kFloat, 5);
  using adetr::test::expectArgError;
  expectArgError("bad S", "spatialShapes:", [&] {
    adetr::ops::msDeformAttnForward(in.value.narrow(1, 0, 6), in.shapes, in.starts, in.loc, in.attn);
  });
  expectArgError("bad start", "levelStartIndex:", [&] {
    adetr::ops::msDeformAttnForward(in.value, in.shapes, in.starts + 1, in.loc, in.attn);
  });
  expectArgError("dtype", "attentionWeights:", [&] {
    adetr::ops::msDeformAttnForward(in.value, in.shapes, in.starts, in.loc, in.attn.to(at::kDouble));
  });
  expectArgError("rank", "samplingLocations:", [&] {
    adetr::ops::msDeformAttnForward(in.value, in.shapes, in.starts, in.loc.select(-1, 0), in.attn);
  });
}

}  // namespace

int main() {
  std::printf("threads: %d\n", at::get_num_threads());
  return adetr::test::runTests("test_msda_cpu", [] {
    const std::vector<Case> cases = {
        {"deformable-detr test shapes", 1, 2, 2, 2, 2, {{6, 4}, {3, 2}}},
        {"1x1 level, P=1", 2, 5, 3, 8, 1, {{1, 1}, {4, 7}}},
        {"P=3, odd D (tail)", 2, 7, 2, 11, 3, {{5, 5}, {2, 3}, {1, 1}}},
        {"P=4, D=32, 4 levels", 1, 9, 4, 32, 4, {{8, 12}, {4, 6}, {2, 3}, {1, 2}}},
    };
    for (const Case& c : cases) {
      checkAgainstNaive(c, at::kDouble, 1e-10);
      checkAgainstNaive(c, at::kFloat, 2e-4);
      checkAutograd(c);
    }
    // The chunked (per-copy) value-gradient path: more threads than (batch, head) pairs.
    const int threadsBefore = at::get_num_threads();
    at::set_num_threads(5);
    const Case chunked{"chunked backward", 1, 13, 2, 9, 2, {{4, 4}, {2, 2}}};
    checkAgainstNaive(chunked, at::kDouble, 1e-10);
    at::set_num_threads(threadsBefore);
    checkNonContiguous();
    checkErrors();
  });
}
