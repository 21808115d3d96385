// Argument checks of the fused classification loss. Messages start with the argument's name;
// wrong kinds (dtype, device, missing tensor) are TypeErrors, wrong sizes and parameter values
// are RangeErrors.
#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/arg_error.h"
#include "common/shape_string.h"
#include "ops/align_loss/align_loss.h"

namespace adetr::ops {
namespace {

bool isLossFloat(at::ScalarType st) {
  return st == at::kFloat || st == at::kDouble || st == at::kHalf || st == at::kBFloat16;
}

void checkCompanion(const at::Tensor& t, const char* name, const at::Tensor& logits) {
  checkType(t.device() == logits.device(), name, ": must be on logits' device (", logits.device().str(), "), got ",
            t.device().str());
  checkRange(t.sizes() == logits.sizes(), name, ": shape ", shapeString(t), " must equal logits' shape ",
             shapeString(logits));
}

void checkParam(double v, const char* name, double lo, double hi) {
  checkRange(std::isfinite(v) && v >= lo && v <= hi, "options.", name, ": must be a finite number in [", lo, ", ", hi,
             "], got ", v);
}

}  // namespace

AlignLossKind parseAlignLossKind(const std::string& name, const char* argName) {
  for (AlignLossKind k : {AlignLossKind::Align, AlignLossKind::IaBce, AlignLossKind::Focal, AlignLossKind::Qfl,
                          AlignLossKind::Vfl, AlignLossKind::StableDino, AlignLossKind::SdAlign}) {
    if (name == alignLossKindName(k)) return k;
  }
  checkRange(false, argName, ": unknown loss '", name,
             "'; expected 'align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino' or 'sd-align'");
  return AlignLossKind::Align;
}

const char* alignLossKindName(AlignLossKind kind) {
  switch (kind) {
    case AlignLossKind::Align: return "align";
    case AlignLossKind::IaBce: return "ia-bce";
    case AlignLossKind::Focal: return "focal";
    case AlignLossKind::Qfl: return "qfl";
    case AlignLossKind::Vfl: return "vfl";
    case AlignLossKind::StableDino: return "stable-dino";
    case AlignLossKind::SdAlign: return "sd-align";
  }
  return "align";
}

int64_t validateAlignLoss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                          const at::Tensor& weights, const AlignLossParams& params) {
  checkType(logits.defined(), "logits: expected a tensor");
  checkType(target.defined(), "target: expected a tensor");
  checkType(positive.defined(), "positive: expected a tensor");
  checkType(isLossFloat(logits.scalar_type()), "logits: dtype must be float32, float64, float16 or bfloat16, got ",
            c10::toString(logits.scalar_type()));
  checkType(logits.is_cpu() || logits.is_cuda(), "logits: must be a CPU or CUDA tensor, got ", logits.device().str());

  checkType(isLossFloat(target.scalar_type()), "target: dtype must be floating point, got ",
            c10::toString(target.scalar_type()));
  checkCompanion(target, "target", logits);
  checkType(positive.scalar_type() == at::kBool || positive.scalar_type() == at::kByte,
            "positive: dtype must be bool or uint8, got ", c10::toString(positive.scalar_type()));
  checkCompanion(positive, "positive", logits);
  if (weights.defined()) {
    checkType(isLossFloat(weights.scalar_type()), "weights: dtype must be floating point, got ",
              c10::toString(weights.scalar_type()));
    checkCompanion(weights, "weights", logits);
  }

  checkParam(params.gamma, "gamma", 0.0, 16.0);
  checkParam(params.focalAlpha, "focalAlpha", 0.0, 1.0);
  checkParam(params.vflAlpha, "vflAlpha", 0.0, 1e6);
  checkParam(params.qflBeta, "qflBeta", 0.0, 16.0);
  return logits.numel();
}

}  // namespace adetr::ops
