// MSDA dispatcher (CPU / CUDA by value's device) and the autograd Function tying the forward
// and backward kernels together.
#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/arg_error.h"
#include "ops/msda/msda.h"

namespace adetr::ops {
namespace {

// Kernel-ready arguments: contiguous, index tensors as int64 on value's device.
struct Prepared {
  at::Tensor value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights;
};

Prepared prepare(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                 const at::Tensor& samplingLocations, const at::Tensor& attentionWeights) {
  const auto indexOptions = value.options().dtype(at::kLong);
  return {value.contiguous(), spatialShapes.to(indexOptions).contiguous(),
          levelStartIndex.to(indexOptions).contiguous(), samplingLocations.contiguous(), attentionWeights.contiguous()};
}

[[noreturn]] void noCuda(const char* what) {
  throw ArgError(
      ArgError::Kind::Type,
      std::string("value: is a CUDA tensor but this build of align-detr has no CUDA kernels (") + what + ")");
}

}  // namespace

at::Tensor msDeformAttnForward(const at::Tensor& value, const at::Tensor& spatialShapes,
                               const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                               const at::Tensor& attentionWeights) {
  const MsDeformAttnDims dims =
      validateMsDeformAttn(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights);
  const Prepared a = prepare(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights);
  if (value.is_cuda()) {
#ifdef ADETR_WITH_CUDA
    return detail::msdaForwardCuda(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations, a.attentionWeights,
                                   dims);
#else
    noCuda("msDeformAttn");
#endif
  }
  return detail::msdaForwardCpu(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations, a.attentionWeights,
                                dims);
}

MsDeformAttnGrads msDeformAttnBackward(const at::Tensor& value, const at::Tensor& spatialShapes,
                                       const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                       const at::Tensor& attentionWeights, const at::Tensor& gradOutput) {
  checkType(gradOutput.defined(), "gradOutput: expected a tensor");
  const MsDeformAttnDims dims =
      validateMsDeformAttn(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights, gradOutput);
  const Prepared a = prepare(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights);
  const at::Tensor grad = gradOutput.contiguous();
  if (value.is_cuda()) {
#ifdef ADETR_WITH_CUDA
    return detail::msdaBackwardCuda(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations,
                                    a.attentionWeights, grad, dims);
#else
    noCuda("msDeformAttnBackward");
#endif
  }
  return detail::msdaBackwardCpu(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations, a.attentionWeights,
                                 grad, dims);
}

namespace {

class MsDeformAttnFunction : public torch::autograd::Function<MsDeformAttnFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& value,
                            const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                            const at::Tensor& samplingLocations, const at::Tensor& attentionWeights) {
    ctx->save_for_backward({value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights});
    return msDeformAttnForward(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    const auto saved = ctx->get_saved_variables();
    MsDeformAttnGrads g = msDeformAttnBackward(saved[0], saved[1], saved[2], saved[3], saved[4], gradOutputs[0]);
    // One entry per forward input; the index tensors get none.
    return {g.gradValue, at::Tensor(), at::Tensor(), g.gradSamplingLocations, g.gradAttentionWeights};
  }
};

}  // namespace

at::Tensor msDeformAttn(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                        const at::Tensor& samplingLocations, const at::Tensor& attentionWeights) {
  return MsDeformAttnFunction::apply(value, spatialShapes, levelStartIndex, samplingLocations, attentionWeights);
}

}  // namespace adetr::ops
