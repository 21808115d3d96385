// at::Tensor → raw-pointer glue for the fused classification-loss CUDA kernel
// (align_loss_cuda_kernels.cu). Built only with a CUDA libtorch (ADETR_WITH_CUDA; CMake leaves
// *_cuda_glue.cpp out otherwise). Launches go on the current stream.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include "ops/align_loss/align_loss.h"
#include "ops/align_loss/align_loss_cuda_kernels.h"

namespace adetr::ops::detail {
namespace {

cuda::AlignLossType kernelType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::AlignLossType::Float32;
    case at::kDouble: return cuda::AlignLossType::Float64;
    case at::kHalf: return cuda::AlignLossType::Float16;
    case at::kBFloat16: return cuda::AlignLossType::BFloat16;
    default: TORCH_CHECK(false, "alignLoss: no CUDA kernel for dtype ", t);  // validation rules this out
  }
}

}  // namespace

AlignLossResult alignLossCuda(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                              const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                              bool withGrad) {
  const c10::cuda::CUDAGuard deviceGuard(logits.device());
  const int64_t n = logits.numel();
  AlignLossResult r;
  if (withGrad) r.gradLogits = at::empty(logits.sizes(), logits.options());
  // The loss is returned in the compute type (float64 for float64 logits, float32 otherwise).
  const at::ScalarType lossType = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  r.loss = at::empty({}, logits.options().dtype(lossType));
  at::Tensor partials = at::empty({cuda::alignLossPartialCount(n)}, logits.options().dtype(at::kDouble));
  const cuda::AlignLossArgs args{static_cast<int>(kind), params.gamma, params.focalAlpha, params.vflAlpha,
                                 params.qflBeta};
  const cudaError_t status = cuda::alignLossForwardBackward(
      kernelType(logits.scalar_type()), logits.data_ptr(), target.data_ptr(), positive.data_ptr<bool>(),
      weights.defined() ? weights.data_ptr() : nullptr, n, args, withGrad ? r.gradLogits.data_ptr() : nullptr,
      partials.data_ptr<double>(), r.loss.data_ptr(), c10::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, "alignLoss: CUDA kernel launch failed: ", cudaGetErrorString(status));
  return r;
}

}  // namespace adetr::ops::detail
