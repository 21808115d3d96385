// at::Tensor → raw-pointer glue for the MSDA CUDA kernels (msda_cuda_kernels.cu). Built only
// with a CUDA libtorch (ADETR_WITH_CUDA; CMake leaves *_cuda_glue.cpp out otherwise). Launches go on
// the current stream (c10::cuda::getCurrentCUDAStream, the same stream at::cuda:: returns).
#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/Exception.h>

#include "ops/msda/msda.h"
#include "ops/msda/msda_cuda_kernels.h"

namespace adetr::ops::detail {
namespace {

cuda::MsdaType kernelType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::MsdaType::Float32;
    case at::kDouble: return cuda::MsdaType::Float64;
    case at::kHalf: return cuda::MsdaType::Float16;
    case at::kBFloat16: return cuda::MsdaType::BFloat16;
    default: TORCH_CHECK(false, "msDeformAttn: no CUDA kernel for dtype ", t);  // validation rules this out
  }
}

cuda::MsdaSizes kernelSizes(const MsDeformAttnDims& d) {
  return {d.batch, d.valueLen, d.heads, d.channels, d.queries, d.levels, d.points};
}

void checkLaunch(cudaError_t status, const char* what) {
  TORCH_CHECK(status == cudaSuccess, what, ": CUDA kernel launch failed: ", cudaGetErrorString(status));
}

}  // namespace

at::Tensor msdaForwardCuda(const at::Tensor& value, const at::Tensor& spatialShapes, const at::Tensor& levelStartIndex,
                           const at::Tensor& samplingLocations, const at::Tensor& attentionWeights,
                           const MsDeformAttnDims& dims) {
  const c10::cuda::CUDAGuard deviceGuard(value.device());
  at::Tensor out = at::empty({dims.batch, dims.queries, dims.heads * dims.channels}, value.options());
  checkLaunch(
      cuda::msdaForward(kernelType(value.scalar_type()), value.data_ptr(), spatialShapes.data_ptr<int64_t>(),
                        levelStartIndex.data_ptr<int64_t>(), samplingLocations.data_ptr(), attentionWeights.data_ptr(),
                        out.data_ptr(), kernelSizes(dims), c10::cuda::getCurrentCUDAStream()),
      "msDeformAttn");
  return out;
}

MsDeformAttnGrads msdaBackwardCuda(const at::Tensor& value, const at::Tensor& spatialShapes,
                                   const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                   const at::Tensor& attentionWeights, const at::Tensor& gradOutput,
                                   const MsDeformAttnDims& dims) {
  const c10::cuda::CUDAGuard deviceGuard(value.device());
  // Value gradients are accumulated atomically in float32 (float64 for float64 inputs) and
  // cast back to value's dtype afterwards.
  const at::ScalarType accType = value.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor gradValueAcc = at::zeros(value.sizes(), value.options().dtype(accType));
  MsDeformAttnGrads g;
  g.gradSamplingLocations = at::empty(samplingLocations.sizes(), samplingLocations.options());
  g.gradAttentionWeights = at::empty(attentionWeights.sizes(), attentionWeights.options());
  checkLaunch(
      cuda::msdaBackward(kernelType(value.scalar_type()), value.data_ptr(), spatialShapes.data_ptr<int64_t>(),
                         levelStartIndex.data_ptr<int64_t>(), samplingLocations.data_ptr(), attentionWeights.data_ptr(),
                         gradOutput.data_ptr(), gradValueAcc.data_ptr(), g.gradSamplingLocations.data_ptr(),
                         g.gradAttentionWeights.data_ptr(), kernelSizes(dims), c10::cuda::getCurrentCUDAStream()),
      "msDeformAttnBackward");
  g.gradValue = accType == value.scalar_type() ? gradValueAcc : gradValueAcc.to(value.scalar_type());
  return g;
}

}  // namespace adetr::ops::detail
