// C++ tests of Stable-DINO's dense memory fusion (docs/neighbour-methods.md §1.2, §3 MF-1..MF-5):
// initialisation and parameter count, the closed form against the concatenation, the block
// order, gradients to every fused input, and the wiring (fusion weights that pick one input
// reproduce plain DINO / the neck tokens).
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "model/dino.h"
#include "model/memory_fusion.h"
#include "tests/test_support.h"

namespace {

using adetr::model::DenseMemoryFusion;
using adetr::model::DinoConfig;
using adetr::model::MemoryFusion;

double maxAbs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The definition: LayerNorm(Linear(cat[x_0 … x_L])).
at::Tensor concatReference(DenseMemoryFusion& f, const std::vector<at::Tensor>& xs) {
  auto params = f->named_parameters();
  auto y = at::linear(at::cat(xs, -1), params["0.weight"], params["0.bias"]);
  return at::layer_norm(y, {y.size(-1)}, params["1.weight"], params["1.bias"], 1e-5);
}

// MF-1: Stable-DINO's R50 model: the fusion layer's shapes, initialisation and parameter count.
void testInitAndCount() {
  at::manual_seed(0);
  auto dino = adetr::model::Dino(adetr::model::presetConfig("dino-r50-4scale"));
  auto stable = adetr::model::Dino(adetr::model::presetConfig("stable-dino"));
  const int64_t extra = stable->numParameters() - dino->numParameters();
  std::printf("stable-dino: %lld parameters (dino-r50-4scale + %lld)\n",
              static_cast<long long>(stable->numParameters()), static_cast<long long>(extra));
  EXPECT(extra == 459'520, "dense fusion adds 256·1792 + 3·256 = 459520 parameters, got %lld",
         static_cast<long long>(extra));
  auto p = stable->named_parameters();
  const auto& w = p["transformer.encoder.fusion_layer.0.weight"];
  EXPECT(w.size(0) == 256 && w.size(1) == 1792, "weight [256, 1792]");
  const double bound = std::sqrt(6.0 / (256 + 1792));  // xavier-uniform: 0.054127
  EXPECT(w.abs().max().item<double>() <= bound, "|w| <= %f", bound);
  const double sd = w.std().item<double>(), uniformSd = bound / std::sqrt(3.0);
  EXPECT(std::abs(sd - uniformSd) < 0.01 * uniformSd, "std %f, uniform on ±bound gives %f", sd, uniformSd);
  EXPECT(p["transformer.encoder.fusion_layer.0.bias"].abs().max().item<double>() == 0.0, "bias 0");
  EXPECT(p["transformer.encoder.fusion_layer.1.weight"].eq(1).all().item<bool>(), "LayerNorm weight 1");
  EXPECT(p["transformer.encoder.fusion_layer.1.bias"].eq(0).all().item<bool>(), "LayerNorm bias 0");
  EXPECT(dino->named_parameters().find("transformer.encoder.fusion_layer.0.weight") == nullptr,
         "no fusion without the option");
}

// MF-2: the block sum equals the concatenation; the block order matters.
void testClosedForm() {
  at::manual_seed(1);
  const int64_t d = 8, layers = 6;
  DenseMemoryFusion f(d, layers + 1);
  {
    at::NoGradGuard noGrad;
    for (auto& t : f->parameters()) t.normal_();  // not the init: every entry of W and the norm matters
  }
  for (auto dtype : {at::kDouble, at::kFloat}) {
    f->to(dtype);
    std::vector<at::Tensor> xs;
    for (int64_t k = 0; k <= layers; ++k) xs.push_back(at::randn({2, 7, d}, at::TensorOptions().dtype(dtype)));
    auto got = f->forward(xs);
    const double tol = dtype == at::kDouble ? 1e-12 : 1e-5;
    EXPECT(maxAbs(got, concatReference(f, xs)) < tol, "block sum = LN(cat·Wᵀ + b): %g",
           maxAbs(got, concatReference(f, xs)));
    auto swapped = xs;
    std::swap(swapped[0], swapped[1]);
    EXPECT(maxAbs(f->forward(swapped), got) > 1e-3, "swapping x_0 and x_1 changes the memory");
  }
  bool threw = false;
  try {
    f->forward({at::zeros({1, 1, d})});
  } catch (const adetr::ArgError&) {
    threw = true;
  }
  EXPECT(threw, "a wrong number of inputs is an ArgError");
}

// MF-5: every input, x_0 (the neck tokens) included, gets a gradient through W directly.
void testGradients() {
  at::manual_seed(2);
  const int64_t d = 8;
  DenseMemoryFusion f(d, 4);
  std::vector<at::Tensor> xs;
  for (int k = 0; k < 4; ++k) xs.push_back(at::randn({2, 5, d}).requires_grad_());
  (f->forward(xs) * at::randn({2, 5, d})).sum().backward();
  for (int k = 0; k < 4; ++k) {
    EXPECT(xs[k].grad().defined() && xs[k].grad().abs().sum().item<double>() > 0, "x_%d gets a gradient", k);
  }
  EXPECT(f->named_parameters()["0.weight"].grad().abs().sum().item<double>() > 0, "W gets a gradient");
}

DinoConfig smallConfig(MemoryFusion fusion) {
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  c.numQueries = 30;
  c.memoryFusion = fusion;
  return c;
}

// MF-3: the fused memory is what the two-stage selection and the decoder read. With W picking
// the last encoder layer (and LayerNorm (1, 0) on it, already layer-normed), the fused model is
// plain DINO; with W picking x_0, the memory is LayerNorm of the flattened neck output, with no
// position or level embedding.
void testWiring() {
  at::manual_seed(3);
  auto plain = adetr::model::Dino(smallConfig(MemoryFusion::None));
  auto fused = adetr::model::Dino(smallConfig(MemoryFusion::Dense));
  plain->eval();
  fused->eval();
  at::NoGradGuard noGrad;
  auto fp = fused->named_parameters();
  for (const auto& p : plain->named_parameters()) fp[p.key()].copy_(p.value());
  const int64_t d = fused->config().hiddenDim, inputs = fused->config().encoderLayers + 1;
  auto& w = fp["transformer.encoder.fusion_layer.0.weight"];
  fp["transformer.encoder.fusion_layer.0.bias"].zero_();
  auto pick = [&](int64_t k) {
    w.zero_();
    w.narrow(1, k * d, d).copy_(at::eye(d));
  };

  auto images = at::randn({2, 3, 96, 128});
  auto sizes = at::tensor({96, 128, 80, 100}, at::kLong).view({2, 2});
  pick(inputs - 1);
  auto a = plain->forward({images, sizes});
  auto b = fused->forward({images, sizes});
  // LN(x) of a layer-normed x differs only by eps: 1e-5 relative.
  EXPECT(maxAbs(a.memory, b.memory) < 1e-4, "memory %g", maxAbs(a.memory, b.memory));
  EXPECT(at::equal(a.topkIndices, b.topkIndices), "the same two-stage selection");
  EXPECT(maxAbs(a.encoder.logits, b.encoder.logits) < 1e-3, "encoder logits %g",
         maxAbs(a.encoder.logits, b.encoder.logits));
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT(maxAbs(a.layers[i].logits, b.layers[i].logits) < 1e-3, "layer %zu logits %g", i,
           maxAbs(a.layers[i].logits, b.layers[i].logits));
    EXPECT(maxAbs(a.layers[i].boxes, b.layers[i].boxes) < 1e-4, "layer %zu boxes %g", i,
           maxAbs(a.layers[i].boxes, b.layers[i].boxes));
  }

  pick(0);
  auto c = fused->forward({images, sizes});
  std::vector<at::Tensor> tokens;
  for (const auto& f : c.levelFeatures) tokens.push_back(f.flatten(2).transpose(1, 2));
  auto neck = at::cat(tokens, 1);
  auto expected = at::layer_norm(neck, {d}, fp["transformer.encoder.fusion_layer.1.weight"],
                                 fp["transformer.encoder.fusion_layer.1.bias"], 1e-5);
  EXPECT(maxAbs(c.memory, expected) < 1e-5, "x_0 is the neck tokens without embeddings: %g",
         maxAbs(c.memory, expected));
}

}  // namespace

int main() {
  return adetr::test::runTests("test_memory_fusion", [] {
    testInitAndCount();
    testClosedForm();
    testGradients();
    testWiring();
  });
}
