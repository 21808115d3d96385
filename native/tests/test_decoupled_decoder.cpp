// C++ tests of the decoupled (SD-DETR-style) decoder, docs/neighbour-methods.md §2.6 stage A and §3:
//   SD-T1  DINO equivalence: loc weights copied from the cls ones give DINO's outputs (training,
//          DN queries on, every decoder layer, 1e-5);
//   SD-T2  stream independence: layer l's loc_cross_attn never reaches the cls logits of layers
//          ≤ l, but does reach layer l's boxes (and, through the shared self-attention and the
//          box chain, the later layers);
//   SD-T3  the tiled DN mask: its structure, and matching outputs that do not move when the DN
//          contents do;
//   the new state-dict keys, their initialisation and the exact parameter delta of the "sd-detr"
//   preset; gradients into both streams; the decoder alone refines the references from the loc stream.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/cdn.h"
#include "model/dino.h"
#include "model/transformer_layers.h"
#include "tests/test_support.h"

namespace {

using adetr::model::DecoderKind;
using adetr::model::Dino;
using adetr::model::DinoConfig;
using adetr::model::DinoOutput;

DinoConfig smallConfig(DecoderKind kind) {
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  c.numQueries = 30;
  c.decoderLayers = 3;  // a middle layer for SD-T2
  c.decoder = kind;
  return c;
}

struct Batch {
  adetr::model::ImageBatch images;
  std::vector<adetr::model::Target> targets;
};

Batch makeBatch() {
  at::manual_seed(77);
  Batch b;
  b.images = {at::randn({2, 3, 96, 128}), at::tensor({96, 128, 80, 100}, at::kLong).view({2, 2})};
  b.targets.resize(2);
  b.targets[0] = {at::tensor({0, 2}, at::kLong), at::tensor({0.5, 0.5, 0.2, 0.3, 0.3, 0.6, 0.1, 0.1}).view({2, 4})};
  b.targets[1] = {at::tensor({1}, at::kLong), at::tensor({0.4, 0.4, 0.5, 0.5}).view({1, 4})};
  return b;
}

// Training-mode forward with DN queries drawn from a fixed generator seed.
DinoOutput forwardWithDn(Dino& model, const Batch& batch) {
  model->train();
  at::NoGradGuard noGrad;
  return model->forward(batch.images, &batch.targets, at::make_generator<at::CPUGeneratorImpl>(4321));
}

double maxDiff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Gives the parameters that start at 0 (the box heads' last layer, the MSDA offsets and weights)
// random values, so that the boxes depend on the decoder states and the sampling is not uniform.
void randomiseZeroInits(Dino& model) {
  at::NoGradGuard noGrad;
  at::manual_seed(99);
  for (auto& p : model->named_parameters()) {
    const std::string& n = p.key();
    if (n.find("bbox_embed") != std::string::npos && n.find("layers.2") != std::string::npos)
      p.value().normal_(0, 0.05);
    if (n.find("sampling_offsets.weight") != std::string::npos ||
        n.find("attention_weights.weight") != std::string::npos)
      p.value().normal_(0, 0.01);
  }
}

// The cls key a decoupled model's loc key is copied from in SD-T1; "" when `name` is not a loc key.
std::string clsSourceOf(const std::string& name) {
  const std::vector<std::pair<std::string, std::string>> rules = {
      {".loc_cross_attn.", ".attentions.1."}, {".loc_norms.0.", ".norms.1."},
      {".loc_norms.1.", ".norms.2."},         {".loc_ffn.", ".ffns.0."},
      {"decoder.norm_loc.", "decoder.norm."}, {"tgt_embed_loc.", "tgt_embed."}};
  for (const auto& [from, to] : rules) {
    const auto at = name.find(from);
    if (at != std::string::npos) return name.substr(0, at) + to + name.substr(at + from.size());
  }
  return "";
}

// The decoupled model's new keys are exactly the documented ones, and DINO's keys are all kept.
void testKeys() {
  at::manual_seed(0);
  auto dino = Dino(smallConfig(DecoderKind::Dino));
  auto sd = Dino(smallConfig(DecoderKind::Decoupled));
  auto dinoParams = dino->named_parameters();
  auto sdParams = sd->named_parameters();
  std::set<std::string> added;
  for (const auto& p : sdParams) {
    if (!dinoParams.contains(p.key())) added.insert(p.key());
  }
  for (const auto& p : dinoParams) {
    EXPECT(sdParams.contains(p.key()), "DINO key %s missing from the decoupled model", p.key().c_str());
    if (sdParams.contains(p.key()))
      EXPECT(sdParams[p.key()].sizes() == p.value().sizes(), "shape of %s", p.key().c_str());
    EXPECT(clsSourceOf(p.key()).empty(), "a DINO model has the loc key %s", p.key().c_str());
  }
  std::set<std::string> expected = {"transformer.decoder.norm_loc.weight", "transformer.decoder.norm_loc.bias",
                                    "transformer.tgt_embed_loc.weight"};
  for (int i = 0; i < 3; ++i) {
    const std::string pre = "transformer.decoder.layers." + std::to_string(i) + ".";
    for (const char* m : {"sampling_offsets", "attention_weights", "value_proj", "output_proj"}) {
      expected.insert(pre + "loc_cross_attn." + m + ".weight");
      expected.insert(pre + "loc_cross_attn." + m + ".bias");
    }
    for (const char* n : {"loc_norms.0", "loc_norms.1"}) {
      expected.insert(pre + n + ".weight");
      expected.insert(pre + n + ".bias");
    }
    for (const char* f : {"loc_ffn.layers.0.0", "loc_ffn.layers.1"}) {
      expected.insert(pre + f + ".weight");
      expected.insert(pre + f + ".bias");
    }
  }
  EXPECT(added == expected, "new keys: %zu, expected %zu", added.size(), expected.size());
  for (const auto& k : added) {
    if (!expected.count(k)) std::fprintf(stderr, "  unexpected new key %s\n", k.c_str());
  }
  // Every new key has a cls counterpart of the same shape (SD-T1 copies from it).
  for (const auto& k : added) {
    const auto src = clsSourceOf(k);
    EXPECT(!src.empty() && sdParams.contains(src) && sdParams[src].sizes() == sdParams[k].sizes(), "source of %s",
           k.c_str());
  }
  // Initialisation as the rest of the transformer: MSDA reset (offsets weight 0, the grid bias,
  // attention weights 0), LayerNorm (1, 0), xavier-bounded matrices.
  for (int i = 0; i < 3; ++i) {
    const std::string pre = "transformer.decoder.layers." + std::to_string(i) + ".";
    EXPECT(sdParams[pre + "loc_cross_attn.sampling_offsets.weight"].abs().max().item<double>() == 0,
           "offsets weight 0");
    EXPECT(at::equal(sdParams[pre + "loc_cross_attn.sampling_offsets.bias"],
                     sdParams[pre + "attentions.1.sampling_offsets.bias"]),
           "the MSDA grid bias");
    EXPECT(sdParams[pre + "loc_cross_attn.attention_weights.weight"].abs().max().item<double>() == 0, "attn weights 0");
    EXPECT(sdParams[pre + "loc_norms.1.weight"].eq(1).all().item<bool>() &&
               sdParams[pre + "loc_norms.1.bias"].eq(0).all().item<bool>(),
           "LayerNorm init");
    const auto& w = sdParams[pre + "loc_ffn.layers.0.0.weight"];  // [ffn, d]: xavier bound sqrt(6 / (ffn + d))
    const double bound = std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));
    EXPECT(w.abs().max().item<double>() <= bound && w.abs().max().item<double>() > 0.9 * bound, "loc_ffn xavier");
  }
  const auto& loc = sdParams["transformer.tgt_embed_loc.weight"];
  const double bound = std::sqrt(6.0 / static_cast<double>(loc.size(0) + loc.size(1)));
  EXPECT(loc.abs().max().item<double>() <= bound && loc.abs().max().item<double>() > 0.9 * bound,
         "tgt_embed_loc xavier");
  EXPECT(!at::equal(loc, sdParams["transformer.tgt_embed.weight"]), "q_loc and q_cls start apart");
}

// The exact parameter delta of "sd-detr" over "dino-r50-4scale" (docs/neighbour-methods.md §2.6 "Size"), from the
// module sizes: per decoder layer one MSDA, one FFN and two LayerNorms; plus norm_loc and
// tgt_embed_loc.
void testParameterCount() {
  auto dino = Dino(adetr::model::presetConfig("dino-r50-4scale"));
  auto sd = Dino(adetr::model::presetConfig("sd-detr"));
  const auto c = adetr::model::presetConfig("sd-detr");
  EXPECT(c.decoder == DecoderKind::Decoupled, "the sd-detr preset uses the decoupled decoder");
  const int64_t d = c.hiddenDim, hlp = c.numHeads * c.numLevels * c.numPoints;
  const int64_t msda = (d * 2 * hlp + 2 * hlp) + (d * hlp + hlp) + 2 * (d * d + d);
  const int64_t ffn = d * c.ffnDim + c.ffnDim + c.ffnDim * d + d;
  const int64_t ln = 2 * d;
  const int64_t perLayer = msda + ffn + 2 * ln;
  const int64_t delta = c.decoderLayers * perLayer + ln + c.numQueries * d;
  const int64_t nd = dino->numParameters(), ns = sd->numParameters();
  std::printf("dino-r50-4scale: %lld parameters (%lld trainable); sd-detr: %lld (%lld trainable)\n",
              static_cast<long long>(nd), static_cast<long long>(dino->numParameters(true)), static_cast<long long>(ns),
              static_cast<long long>(sd->numParameters(true)));
  std::printf("sd-detr delta: %lld = %lld x (MSDA %lld + FFN %lld + 2 LN %lld) + norm_loc %lld + tgt_embed_loc %lld\n",
              static_cast<long long>(ns - nd), static_cast<long long>(c.decoderLayers), static_cast<long long>(msda),
              static_cast<long long>(ffn), static_cast<long long>(ln), static_cast<long long>(ln),
              static_cast<long long>(c.numQueries * d));
  EXPECT(msda == 230272 && ffn == 1050880 && perLayer == 1282176, "§2.6's per-layer sizes: %lld %lld %lld",
         static_cast<long long>(msda), static_cast<long long>(ffn), static_cast<long long>(perLayer));
  EXPECT(delta == 7923968, "derived delta %lld", static_cast<long long>(delta));
  EXPECT(ns - nd == delta, "sd-detr - dino = %lld, expected %lld", static_cast<long long>(ns - nd),
         static_cast<long long>(delta));
  EXPECT(sd->numParameters(true) - dino->numParameters(true) == delta, "every new parameter is trainable");
}

// SD-T1: a decoupled model with every loc weight copied from its cls counterpart and the shared
// weights equal to a DINO model's gives DINO's logits and boxes, for every layer, the encoder
// proposals and the DN outputs, in training with DN queries.
void testDinoEquivalence() {
  at::manual_seed(1);
  auto dino = Dino(smallConfig(DecoderKind::Dino));
  randomiseZeroInits(dino);
  at::manual_seed(2);
  auto sd = Dino(smallConfig(DecoderKind::Decoupled));
  {
    at::NoGradGuard noGrad;
    auto dinoParams = dino->named_parameters();
    auto sdParams = sd->named_parameters();
    for (auto& p : sdParams) {
      const auto src = clsSourceOf(p.key());
      p.value().copy_(dinoParams[src.empty() ? p.key() : src]);
    }
    auto dinoBuffers = dino->named_buffers();
    for (auto& b : sd->named_buffers()) b.value().copy_(dinoBuffers[b.key()]);
  }
  const auto batch = makeBatch();
  auto a = forwardWithDn(dino, batch);
  auto b = forwardWithDn(sd, batch);
  EXPECT(a.dn.has_value() && b.dn.has_value() && a.denoising.size() == 3 && b.denoising.size() == 3, "DN on");
  EXPECT(a.layers.size() == b.layers.size(), "layers");
  double worst = 0;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const double dl = maxDiff(a.layers[l].logits, b.layers[l].logits),
                 db = maxDiff(a.layers[l].boxes, b.layers[l].boxes);
    const double nl = maxDiff(a.denoising[l].logits, b.denoising[l].logits);
    const double nb = maxDiff(a.denoising[l].boxes, b.denoising[l].boxes);
    std::printf("SD-T1 layer %zu: max |dlogits| %.3g, |dboxes| %.3g; DN %.3g, %.3g\n", l, dl, db, nl, nb);
    EXPECT(dl < 1e-5 && db < 1e-5 && nl < 1e-5 && nb < 1e-5, "layer %zu differs from DINO", l);
    worst = std::max({worst, dl, db, nl, nb});
  }
  EXPECT(at::equal(a.encoder.logits, b.encoder.logits) && at::equal(a.encoder.boxes, b.encoder.boxes), "encoder");
  // The boxes really depend on the decoder (else box routing would go untested).
  EXPECT(maxDiff(a.layers[2].boxes, a.layers[1].boxes) > 1e-3, "boxes move between layers");
  // And the test can fail: one loc weight off (the last layer's loc_ffn) moves the final boxes only.
  {
    at::NoGradGuard noGrad;
    // (random, not a constant shift, which loc_norms.1 would take out again)
    auto bias = sd->named_parameters()["transformer.decoder.layers.2.loc_ffn.layers.1.bias"];
    bias.add_(at::randn_like(bias) * 0.5);
  }
  auto c = forwardWithDn(sd, batch);
  EXPECT(maxDiff(a.layers[2].boxes, c.layers[2].boxes) > 1e-4, "a different loc_ffn changes the final boxes");
  EXPECT(maxDiff(a.layers[2].logits, c.layers[2].logits) < 1e-5, "... but not the final logits");
  std::printf("SD-T1: worst difference %.3g\n", worst);
}

// SD-T2: perturbing layer l's loc_cross_attn leaves the cls logits of layers ≤ l as they were and
// changes layer l's boxes; later layers' logits change (shared self-attention and box chain).
void testStreamIndependence() {
  at::manual_seed(3);
  auto sd = Dino(smallConfig(DecoderKind::Decoupled));
  randomiseZeroInits(sd);
  const auto batch = makeBatch();
  auto base = forwardWithDn(sd, batch);
  const int layers = 3;
  for (int l = 0; l < layers; ++l) {
    const std::string pre = "transformer.decoder.layers." + std::to_string(l) + ".loc_cross_attn.";
    std::map<std::string, at::Tensor> saved;
    {
      at::NoGradGuard noGrad;
      at::manual_seed(10 + l);
      for (auto& p : sd->named_parameters()) {
        if (p.key().rfind(pre, 0) != 0) continue;
        saved[p.key()] = p.value().clone();
        p.value().add_(at::randn_like(p.value()) * 0.05);
      }
    }
    EXPECT(saved.size() == 8, "layer %d: 8 loc_cross_attn tensors", l);
    auto out = forwardWithDn(sd, batch);
    for (int k = 0; k <= l; ++k) {
      const double dl = maxDiff(base.layers[k].logits, out.layers[k].logits);
      const double dn = maxDiff(base.denoising[k].logits, out.denoising[k].logits);
      EXPECT(dl == 0 && dn == 0, "perturbing layer %d's loc_cross_attn changed layer %d's logits by %g / %g", l, k, dl,
             dn);
    }
    const double db = maxDiff(base.layers[l].boxes, out.layers[l].boxes);
    std::printf("SD-T2 layer %d: max |dboxes| of layer %d = %.3g\n", l, l, db);
    EXPECT(db > 1e-4, "perturbing layer %d's loc_cross_attn left its boxes unchanged (%g)", l, db);
    for (int k = 0; k < l; ++k) {
      EXPECT(maxDiff(base.layers[k].boxes, out.layers[k].boxes) == 0, "layer %d boxes moved (perturbed %d)", k, l);
    }
    if (l + 1 < layers) {
      const double later = maxDiff(base.layers[l + 1].logits, out.layers[l + 1].logits);
      EXPECT(later > 1e-6, "layer %d's logits should feel layer %d's loc stream (%g)", l + 1, l, later);
    }
    at::NoGradGuard noGrad;
    for (auto& p : sd->named_parameters()) {
      if (saved.count(p.key())) p.value().copy_(saved[p.key()]);
    }
  }
  // The self-attention is shared across the streams: changing q_loc alone (tgt_embed_loc)
  // changes layer 0's class logits, whose only contact with the loc stream is that attention.
  {
    at::NoGradGuard noGrad;
    sd->named_parameters()["transformer.tgt_embed_loc.weight"].mul_(-1);
  }
  auto flipped = forwardWithDn(sd, batch);
  const double d0 = maxDiff(base.layers[0].logits, flipped.layers[0].logits);
  std::printf("SD-T2 cross-stream self-attention: layer-0 logits move by %.3g when q_loc changes\n", d0);
  EXPECT(d0 > 1e-5, "the cls stream does not attend to the loc stream");
}

// SD-T3: the tiled mask keeps the matching tokens of both streams from every DN token and the DN
// groups apart; and in the model, changing the DN contents (label_enc) moves the DN outputs but
// not the matching ones.
void testMask() {
  const int64_t g = 2, ng = 3, q = 4;
  const int64_t pad = 2 * g * ng, t = pad + q;
  auto tiled = adetr::model::decoupledAttnMask(adetr::model::denoisingAttnMask(g, ng, q));
  EXPECT(tiled.size(0) == 2 * t && tiled.size(1) == 2 * t, "tiled mask shape");
  auto acc = tiled.accessor<bool, 2>();
  for (int64_t i = 0; i < 2 * t; ++i) {
    for (int64_t j = 0; j < 2 * t; ++j) {
      const int64_t qi = i % t, qj = j % t;  // the query each token belongs to
      bool expected;
      if (qi >= pad)
        expected = qj < pad;  // matching tokens never see DN tokens
      else if (qj >= pad)
        expected = false;  // DN tokens see the matching queries
      else
        expected = (qi / (2 * g)) != (qj / (2 * g));  // DN groups see only themselves (both streams)
      EXPECT(acc[i][j] == expected, "tiled mask [%lld][%lld]", static_cast<long long>(i), static_cast<long long>(j));
    }
  }
  EXPECT(!adetr::model::decoupledAttnMask(at::Tensor()).defined(), "no mask stays no mask");

  at::manual_seed(5);
  auto sd = Dino(smallConfig(DecoderKind::Decoupled));
  randomiseZeroInits(sd);
  const auto batch = makeBatch();
  auto base = forwardWithDn(sd, batch);
  {
    at::NoGradGuard noGrad;
    auto w = sd->named_parameters()["label_enc.weight"];
    w.add_(at::randn_like(w));
  }
  auto out = forwardWithDn(sd, batch);
  for (size_t l = 0; l < base.layers.size(); ++l) {
    const double dl = maxDiff(base.layers[l].logits, out.layers[l].logits);
    const double db = maxDiff(base.layers[l].boxes, out.layers[l].boxes);
    const double dn = maxDiff(base.denoising[l].logits, out.denoising[l].logits);
    std::printf("SD-T3 layer %zu: matching |dlogits| %.3g |dboxes| %.3g; DN |dlogits| %.3g\n", l, dl, db, dn);
    EXPECT(dl < 1e-6 && db < 1e-6, "matching outputs of layer %zu saw the DN contents (%g, %g)", l, dl, db);
    EXPECT(dn > 1e-4, "the DN outputs of layer %zu should change (%g)", l, dn);
  }
}

// Gradients reach both streams' modules and both query embeddings.
void testGradients() {
  at::manual_seed(6);
  auto sd = Dino(smallConfig(DecoderKind::Decoupled));
  randomiseZeroInits(sd);
  const auto batch = makeBatch();
  sd->train();
  auto out = sd->forward(batch.images, &batch.targets, at::make_generator<at::CPUGeneratorImpl>(4321));
  auto loss = out.layers.back().logits.sum() + out.layers.back().boxes.sum() + out.denoising.back().boxes.sum();
  loss.backward();
  auto params = sd->named_parameters();
  for (const char* k : {"transformer.tgt_embed_loc.weight", "transformer.tgt_embed.weight",
                        "transformer.decoder.layers.2.loc_cross_attn.value_proj.weight",
                        "transformer.decoder.layers.2.loc_ffn.layers.1.weight", "transformer.decoder.norm_loc.weight",
                        "transformer.decoder.layers.2.attentions.1.value_proj.weight", "label_enc.weight"}) {
    const auto& grad = params[k].grad();
    EXPECT(grad.defined() && grad.abs().sum().item<double>() > 0, "no gradient for %s", k);
  }
}

// The decoder alone: the reference chain is refined from the loc stream. Perturbing layer 0's cls
// cross-attention (attentions.1) moves its cls states only; perturbing its loc_cross_attn moves
// its loc states and the refined reference, never the cls states. And the loc contents are
// required by (only) the decoupled decoder.
void testDecoderRefinesFromLoc() {
  at::manual_seed(8);
  const int64_t d = 32, t = 5;
  adetr::model::Decoder dec(2, d, 4, 2, 2, 64, true, true);
  adetr::model::Decoder dino(2, d, 4, 2, 2, 64, true, false);
  std::vector<adetr::model::MLP> heads = {adetr::model::MLP(d, d, 4, 3), adetr::model::MLP(d, d, 4, 3)};
  {
    at::NoGradGuard noGrad;
    for (auto& p : dec->named_parameters()) {
      if (p.key().find("sampling_offsets.weight") != std::string::npos) p.value().normal_(0, 0.05);
    }
  }
  adetr::model::MultiScaleValue memory{at::randn({1, 20, d}), at::zeros({1, 20}, at::kBool),
                                       at::tensor({4, 4, 2, 2}, at::kLong).view({2, 2}),
                                       at::tensor({0, 16}, at::kLong)};
  auto target = at::randn({1, t, d}), targetLoc = at::randn({1, t, d});
  auto reference = at::rand({1, t, 4}) * 0.6 + 0.2;
  auto ratios = at::ones({1, 2, 2});
  at::NoGradGuard noGrad;
  auto base = dec->forward(target, reference, ratios, at::Tensor(), memory, heads, targetLoc);
  EXPECT(base.states.size() == 2 && base.locStates.size() == 2 && base.references.size() == 2, "decoupled outputs");
  auto perturbed = [&](const std::string& prefix) {
    std::map<std::string, at::Tensor> saved;
    for (auto& p : dec->named_parameters()) {
      if (p.key().rfind(prefix, 0) != 0) continue;
      saved[p.key()] = p.value().clone();
      p.value().add_(at::randn_like(p.value()) * 0.1);
    }
    EXPECT(saved.size() == 8, "%s: 8 tensors", prefix.c_str());
    auto out = dec->forward(target, reference, ratios, at::Tensor(), memory, heads, targetLoc);
    for (auto& p : dec->named_parameters()) {
      if (saved.count(p.key())) p.value().copy_(saved[p.key()]);
    }
    return out;
  };
  auto cls = perturbed("layers.0.attentions.1.");
  EXPECT(maxDiff(cls.states[0], base.states[0]) > 1e-4, "cls MSDA moves the cls states");
  EXPECT(maxDiff(cls.locStates[0], base.locStates[0]) == 0, "cls MSDA does not touch the loc states");
  EXPECT(maxDiff(cls.references[0], base.references[0]) == 0, "cls MSDA does not touch the refined reference");
  auto loc = perturbed("layers.0.loc_cross_attn.");
  EXPECT(maxDiff(loc.states[0], base.states[0]) == 0, "loc MSDA does not touch the cls states");
  EXPECT(maxDiff(loc.locStates[0], base.locStates[0]) > 1e-4, "loc MSDA moves the loc states");
  EXPECT(maxDiff(loc.references[0], base.references[0]) > 1e-5, "the reference is refined from the loc stream");
  adetr::test::expectArgError("decoupled without targetLoc", "targetLoc: ", [&] {
    dec->forward(target, reference, ratios, at::Tensor(), memory, heads);
  });
  adetr::test::expectArgError("dino with targetLoc", "targetLoc: ", [&] {
    dino->forward(target, reference, ratios, at::Tensor(), memory, heads, targetLoc);
  });
  auto plain = dino->forward(target, reference, ratios, at::Tensor(), memory, heads);
  EXPECT(plain.locStates.empty() && plain.states.size() == 2, "a DINO decoder has no loc stream");
}

}  // namespace

int main() {
  return adetr::test::runTests("test_decoupled_decoder", [] {
    testKeys();
    testParameterCount();
    testDinoEquivalence();
    testStreamIndependence();
    testMask();
    testGradients();
    testDecoderRefinesFromLoc();
  });
}
