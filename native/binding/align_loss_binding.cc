// alignLoss / alignTargets: the fused classification losses and the Align / IA-BCE / SD-align targets
// (native/ops/align_loss) on tensor handles. The core validates the tensors and the parameter
// values; this file reads the options object, unwraps and wraps.
#include <napi.h>

#include <ATen/core/Tensor.h>

#include <initializer_list>
#include <string>

#include "binding/args.h"
#include "binding/guard.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "common/arg_error.h"
#include "ops/align_loss/align_loss.h"
#include "ops/align_loss/align_targets.h"

namespace adetr::binding {
namespace {

double readNumberOption(const Napi::Object& options, const char* optionsName, const char* key, double fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  checkType(v.IsNumber(), optionsName, ".", key, ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

ops::AlignLossKind readKind(const Napi::Object& options, const char* optionsName) {
  Napi::Value v = options.Get("kind");
  if (v.IsUndefined()) return ops::AlignLossKind::Align;
  checkType(v.IsString(), optionsName, ".kind: expected a string");
  return ops::parseAlignLossKind(v.As<Napi::String>().Utf8Value(), "options.kind");
}

// alignLoss(logits, target, positive, weights | null, options) → { loss, gradLogits | null }
Napi::Value AlignLoss(const Napi::CallbackInfo& info) {
  const at::Tensor logits = TensorWrap::TensorArg(info[0], "logits");
  const at::Tensor target = TensorWrap::TensorArg(info[1], "target");
  const at::Tensor positive = TensorWrap::TensorArg(info[2], "positive");
  at::Tensor weights;
  if (!info[3].IsUndefined() && !info[3].IsNull()) weights = TensorWrap::TensorArg(info[3], "weights");
  const Napi::Object options = readOptions(info[4], "options");
  checkKnownKeys(options, "options", {"kind", "gamma", "focalAlpha", "vflAlpha", "qflBeta", "grad"});
  const ops::AlignLossKind kind = readKind(options, "options");
  ops::AlignLossParams params;
  params.gamma = readNumberOption(options, "options", "gamma", params.gamma);
  params.focalAlpha = readNumberOption(options, "options", "focalAlpha", params.focalAlpha);
  params.vflAlpha = readNumberOption(options, "options", "vflAlpha", params.vflAlpha);
  params.qflBeta = readNumberOption(options, "options", "qflBeta", params.qflBeta);
  const bool withGrad = readBoolOption(options, "options", "grad", true);

  ops::AlignLossResult r = ops::alignLossForwardBackward(logits, target, positive, weights, kind, params, withGrad);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss.item<double>()));
  if (r.gradLogits.defined()) {
    out.Set("gradLogits", TensorWrap::NewInstance(env, std::move(r.gradLogits)));
  } else {
    out.Set("gradLogits", env.Null());
  }
  return out;
}

// alignTargets(prob, iou, groups, options) → { quality, rank, weight, target }
Napi::Value AlignTargets(const Napi::CallbackInfo& info) {
  const at::Tensor prob = TensorWrap::TensorArg(info[0], "prob");
  const at::Tensor iou = TensorWrap::TensorArg(info[1], "iou");
  const at::Tensor groups = TensorWrap::TensorArg(info[2], "groups");
  const Napi::Object options = readOptions(info[3], "options");
  checkKnownKeys(options, "options", {"kind", "alpha", "tau", "minQuality", "primeWeights"});
  const ops::AlignLossKind kind = readKind(options, "options");
  ops::AlignTargetParams params;
  params.alpha = readNumberOption(options, "options", "alpha", params.alpha);
  params.tau = readNumberOption(options, "options", "tau", params.tau);
  params.minQuality = readNumberOption(options, "options", "minQuality", params.minQuality);
  // SD-DETR's task alignment loss has no prime weights, so its target is q unless asked otherwise.
  params.primeWeights = readBoolOption(options, "options", "primeWeights", kind != ops::AlignLossKind::SdAlign);

  ops::AlignTargets r = ops::alignTargets(prob, iou, groups, kind, params);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("quality", TensorWrap::NewInstance(env, std::move(r.quality)));
  out.Set("rank", TensorWrap::NewInstance(env, std::move(r.rank)));
  out.Set("weight", TensorWrap::NewInstance(env, std::move(r.weight)));
  out.Set("target", TensorWrap::NewInstance(env, std::move(r.target)));
  return out;
}

void registerAlignLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("alignLoss", Napi::Function::New<Guarded<&AlignLoss>>(env, "alignLoss"));
  exports.Set("alignTargets", Napi::Function::New<Guarded<&AlignTargets>>(env, "alignTargets"));
}

const Registrar kRegistrar(&registerAlignLoss);

}  // namespace
}  // namespace adetr::binding
