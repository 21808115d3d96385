// msDeformAttn / msDeformAttnBackward: multi-scale deformable attention (native/ops/msda) on
// tensor handles. The core validates every argument; this file only unwraps and wraps.
#include <napi.h>

#include <ATen/core/Tensor.h>

#include "binding/guard.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "ops/msda/msda.h"

namespace adetr::binding {
namespace {

struct MsdaTensorArgs {
  at::Tensor value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights;
};

MsdaTensorArgs readArgs(const Napi::CallbackInfo& info) {
  return {TensorWrap::TensorArg(info[0], "value"), TensorWrap::TensorArg(info[1], "spatialShapes"),
          TensorWrap::TensorArg(info[2], "levelStartIndex"), TensorWrap::TensorArg(info[3], "samplingLocations"),
          TensorWrap::TensorArg(info[4], "attentionWeights")};
}

Napi::Value MsDeformAttn(const Napi::CallbackInfo& info) {
  const MsdaTensorArgs a = readArgs(info);
  at::Tensor out =
      ops::msDeformAttnForward(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations, a.attentionWeights);
  return TensorWrap::NewInstance(info.Env(), std::move(out));
}

Napi::Value MsDeformAttnBackward(const Napi::CallbackInfo& info) {
  const MsdaTensorArgs a = readArgs(info);
  const at::Tensor gradOutput = TensorWrap::TensorArg(info[5], "gradOutput");
  ops::MsDeformAttnGrads g = ops::msDeformAttnBackward(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations,
                                                       a.attentionWeights, gradOutput);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("gradValue", TensorWrap::NewInstance(env, std::move(g.gradValue)));
  out.Set("gradSamplingLocations", TensorWrap::NewInstance(env, std::move(g.gradSamplingLocations)));
  out.Set("gradAttentionWeights", TensorWrap::NewInstance(env, std::move(g.gradAttentionWeights)));
  return out;
}

void registerMsda(Napi::Env env, Napi::Object exports) {
  exports.Set("msDeformAttn", Napi::Function::New<Guarded<&MsDeformAttn>>(env, "msDeformAttn"));
  exports.Set("msDeformAttnBackward", Napi::Function::New<Guarded<&MsDeformAttnBackward>>(env, "msDeformAttnBackward"));
}

const Registrar kRegistrar(&registerMsda);

}  // namespace
}  // namespace adetr::binding
