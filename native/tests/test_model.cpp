// C++ tests of the DINO model (no Node): parameter counts of the presets, shapes of every
// intermediate, the denoising mask's structure, and padding invariance.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "model/cdn.h"
#include "model/dino.h"
#include "model/seeded_init.h"
#include "tests/test_support.h"

namespace {

using adetr::model::DinoConfig;

void testParameterCounts() {
  auto r50 = adetr::model::Dino(adetr::model::presetConfig("dino-r50-4scale"));
  const int64_t n = r50->numParameters();
  std::printf("dino-r50-4scale: %lld parameters (%lld trainable)\n", static_cast<long long>(n),
              static_cast<long long>(r50->numParameters(true)));
  // The paper's model has about 47M parameters.
  EXPECT(n > 46'000'000 && n < 48'500'000, "r50 count %lld", static_cast<long long>(n));
  auto tiny = adetr::model::Dino(adetr::model::presetConfig("tiny"));
  std::printf("tiny: %lld parameters\n", static_cast<long long>(tiny->numParameters()));
  EXPECT(tiny->numParameters() < 5'000'000, "tiny count %lld", static_cast<long long>(tiny->numParameters()));
}

void testDenoisingMask() {
  const int64_t g = 3, ng = 2, q = 5;
  auto mask = adetr::model::denoisingAttnMask(g, ng, q);
  const int64_t pad = 2 * g * ng;
  EXPECT(mask.size(0) == pad + q && mask.size(1) == pad + q, "mask shape");
  auto acc = mask.accessor<bool, 2>();
  for (int64_t i = 0; i < pad + q; ++i) {
    for (int64_t j = 0; j < pad + q; ++j) {
      bool expected;
      if (i >= pad)
        expected = j < pad;  // matching queries never see DN slots
      else if (j >= pad)
        expected = false;  // DN queries see the matching queries
      else
        expected = (i / (2 * g)) != (j / (2 * g));  // DN groups see only themselves
      EXPECT(acc[i][j] == expected, "mask[%lld][%lld]", static_cast<long long>(i), static_cast<long long>(j));
    }
  }
}

DinoConfig smallConfig() {
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  c.numQueries = 30;
  return c;
}

void testShapesAndDenoising() {
  at::manual_seed(0);
  auto c = smallConfig();
  auto model = adetr::model::Dino(c);
  model->train();
  auto images = at::randn({2, 3, 96, 128});
  auto sizes = at::tensor({96, 128, 80, 100}, at::kLong).view({2, 2});
  std::vector<adetr::model::Target> targets(2);
  targets[0] = {at::tensor({0, 2}, at::kLong), at::tensor({0.5, 0.5, 0.2, 0.3, 0.3, 0.6, 0.1, 0.1}).view({2, 4})};
  targets[1] = {at::tensor({1}, at::kLong), at::tensor({0.4, 0.4, 0.5, 0.5}).view({1, 4})};
  auto out = model->forward({images, sizes}, &targets);
  EXPECT(out.backboneFeatures.size() == 3, "3 backbone maps");
  EXPECT(out.backboneFeatures[0].size(2) == 12 && out.backboneFeatures[0].size(3) == 16, "res3 is stride 8");
  EXPECT(out.backboneFeatures[2].size(2) == 3 && out.backboneFeatures[2].size(3) == 4, "res5 is stride 32");
  EXPECT(out.levelFeatures.size() == 4, "4 levels");
  EXPECT(out.levelFeatures[3].size(1) == c.hiddenDim && out.levelFeatures[3].size(2) == 2 &&
             out.levelFeatures[3].size(3) == 2,
         "extra level stride 64");
  const int64_t s = 12 * 16 + 6 * 8 + 3 * 4 + 2 * 2;
  EXPECT(out.memory.size(0) == 2 && out.memory.size(1) == s && out.memory.size(2) == c.hiddenDim, "memory shape");
  EXPECT(static_cast<int64_t>(out.layers.size()) == c.decoderLayers, "one prediction per decoder layer");
  for (const auto& p : out.layers) {
    EXPECT(p.logits.size(1) == c.numQueries && p.logits.size(2) == c.numClasses, "logits shape");
    EXPECT(p.boxes.size(1) == c.numQueries && p.boxes.size(2) == 4, "boxes shape");
    EXPECT(p.boxes.min().item<double>() >= 0 && p.boxes.max().item<double>() <= 1, "boxes in [0,1]");
  }
  EXPECT(out.encoder.logits.size(1) == c.numQueries, "encoder proposals");
  EXPECT(out.dn.has_value(), "denoising queries in training with targets");
  if (out.dn) {
    EXPECT(out.dn->maxGt == 2 && out.dn->numGroups == c.dnNumber / 2, "G_max = 2, ng = dnNumber / 2");
    EXPECT(out.denoising.size() == out.layers.size() && out.denoising[0].logits.size(1) == out.dn->padSize(),
           "dn outputs");
  }
  // Valid ratios of image 1: 100/128 and 80/96 at level 0 with exact arithmetic (ceil(100/8)=13 of 16).
  auto vr = out.validRatios;
  EXPECT(std::abs(vr[1][0][0].item<double>() - 13.0 / 16.0) < 1e-6, "valid ratio w %f", vr[1][0][0].item<double>());
  EXPECT(std::abs(vr[1][0][1].item<double>() - 10.0 / 12.0) < 1e-6, "valid ratio h %f", vr[1][0][1].item<double>());
  // Gradients reach the backbone, the heads and the label embedding.
  auto loss = out.layers.back().logits.sum() + out.layers.back().boxes.sum() + out.denoising.back().logits.sum() +
              out.encoder.boxes.sum();
  loss.backward();
  auto params = model->named_parameters();
  EXPECT(params["backbone.res5.0.conv1.weight"].grad().defined(), "backbone grad");
  EXPECT(params["label_enc.weight"].grad().defined(), "label_enc grad");
  EXPECT(params["transformer.encoder.layers.0.attentions.0.sampling_offsets.weight"].grad().defined(), "msda grad");
}

void testPaddingInvariance() {
  at::manual_seed(1);
  auto c = smallConfig();
  auto model = adetr::model::Dino(c);
  model->eval();
  at::NoGradGuard noGrad;
  auto image = at::randn({1, 3, 90, 117});
  auto alone = model->forward({image, at::tensor({90, 117}, at::kLong).view({1, 2})});
  auto padded = at::zeros({1, 3, 128, 160});
  padded.slice(2, 0, 90).slice(3, 0, 117).copy_(image);
  auto withPad = model->forward({padded, at::tensor({90, 117}, at::kLong).view({1, 2})});
  auto dl = (alone.layers.back().logits - withPad.layers.back().logits).abs().max().item<double>();
  auto db = (alone.layers.back().boxes - withPad.layers.back().boxes).abs().max().item<double>();
  std::printf("padding invariance: max |dlogits| %.3g, max |dboxes| %.3g\n", dl, db);
  EXPECT(dl < 1e-3 && db < 1e-4, "padding changed the predictions: %g %g", dl, db);
}

}  // namespace

// createDino(config, seed): the same seed gives identical parameters and buffers, another seed
// different ones, and the default generator's stream is left as it was (unseeded creation and
// any later draw behave as if the seeded creation had not happened).
void testSeededCreation() {
  auto c = smallConfig();
  auto state = [](adetr::model::Dino& m) {
    std::vector<at::Tensor> all;
    for (const auto& p : m->named_parameters()) all.push_back(p.value().detach().reshape({-1}));
    for (const auto& b : m->named_buffers())
      all.push_back(b.value().detach().to(at::kDouble).reshape({-1}).to(at::kFloat));
    return at::cat(all);
  };
  at::manual_seed(123);
  auto before = at::rand({4});
  auto expectedNext = at::rand({4});
  at::manual_seed(123);
  EXPECT(at::equal(at::rand({4}), before), "manual_seed reproduces");
  auto a = adetr::model::createDino(c, 2024);
  auto next = at::rand({4});
  EXPECT(at::equal(next, expectedNext), "a seeded creation leaves the default generator's stream as it was");
  auto b = adetr::model::createDino(c, 2024);
  auto other = adetr::model::createDino(c, 2025);
  const auto sa = state(a), sb = state(b), so = state(other);
  EXPECT(at::equal(sa, sb), "the same seed gives bit-identical weights");
  EXPECT(!at::equal(sa, so), "another seed gives other weights");
  // Thread count does not matter.
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto single = adetr::model::createDino(c, 2024);
  at::set_num_threads(threads);
  EXPECT(at::equal(state(single), sa), "the same weights with one thread");
  // Without a seed: the default generator as before (two creations differ, manual_seed decides).
  at::manual_seed(5);
  auto u1 = adetr::model::createDino(c);
  at::manual_seed(5);
  auto u2 = adetr::model::Dino(c);
  EXPECT(at::equal(state(u1), state(u2)), "unseeded creation draws from the default generator as Dino(config)");
  auto u3 = adetr::model::createDino(c);
  EXPECT(!at::equal(state(u1), state(u3)), "unseeded creations continue the default stream");
}

int main() {
  return adetr::test::runTests("test_model", [] {
    testSeededCreation();
    testParameterCounts();
    testDenoisingMask();
    testShapesAndDenoising();
    testPaddingInvariance();
  });
}
