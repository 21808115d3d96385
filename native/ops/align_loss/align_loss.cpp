// Fused classification loss: dispatcher (CPU / CUDA by logits' device) and the autograd Function.
// The kernels compute the gradient during the forward pass; backward only scales it by the
// incoming gradient of the (scalar) loss.
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/arg_error.h"
#include "ops/align_loss/align_loss.h"

namespace adetr::ops {
namespace {

// Kernel-ready companions: contiguous, in the compute type, on logits' device.
struct Prepared {
  at::Tensor logits, target, positive, weights;
};

Prepared prepare(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                 const at::Tensor& weights) {
  const at::ScalarType compute = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  Prepared a;
  a.logits = logits.contiguous();
  a.target = target.detach().to(compute).contiguous();
  a.positive = positive.to(at::kBool).contiguous();
  if (weights.defined()) a.weights = weights.detach().to(compute).contiguous();
  return a;
}

}  // namespace

AlignLossResult alignLossForwardBackward(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                                         const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                                         bool withGrad) {
  validateAlignLoss(logits, target, positive, weights, params);
  const Prepared a = prepare(logits.detach(), target, positive, weights);
  if (logits.is_cuda()) {
#ifdef ADETR_WITH_CUDA
    return detail::alignLossCuda(a.logits, a.target, a.positive, a.weights, kind, params, withGrad);
#else
    throw ArgError(ArgError::Kind::Type,
                   "logits: is a CUDA tensor but this build of align-detr has no CUDA kernels (alignLoss)");
#endif
  }
  return detail::alignLossCpu(a.logits, a.target, a.positive, a.weights, kind, params, withGrad);
}

namespace {

class AlignLossFunction : public torch::autograd::Function<AlignLossFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& target,
                            const at::Tensor& positive, const c10::optional<at::Tensor>& weights, int64_t kind,
                            double gamma, double focalAlpha, double vflAlpha, double qflBeta) {
    AlignLossParams params;
    params.gamma = gamma;
    params.focalAlpha = focalAlpha;
    params.vflAlpha = vflAlpha;
    params.qflBeta = qflBeta;
    // Grad mode is off inside forward, but the input keeps its flag: skip the gradient when no
    // one will ask for it.
    AlignLossResult r = alignLossForwardBackward(logits, target, positive, weights.value_or(at::Tensor()),
                                                 static_cast<AlignLossKind>(kind), params, logits.requires_grad());
    if (r.gradLogits.defined()) ctx->saved_data["gradLogits"] = r.gradLogits;
    return r.loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    at::Tensor grad;
    if (ctx->saved_data.count("gradLogits") != 0 && gradOutputs[0].defined()) {
      const at::Tensor saved = ctx->saved_data["gradLogits"].toTensor();
      grad = saved * gradOutputs[0].to(saved.scalar_type());
    }
    // One entry per forward input (the non-tensor parameters included).
    return {grad,         at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor alignClassificationLoss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                                   const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params) {
  // Undefined weights travel as nullopt: Function::apply cannot record an undefined tensor input.
  const c10::optional<at::Tensor> w = weights.defined() ? c10::optional<at::Tensor>(weights) : c10::nullopt;
  return AlignLossFunction::apply(logits, target, positive, w, static_cast<int64_t>(kind), params.gamma,
                                  params.focalAlpha, params.vflAlpha, params.qflBeta);
}

}  // namespace adetr::ops
