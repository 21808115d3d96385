// Fused classification-loss CPU kernel: one pass over the entries writes ∂loss/∂x and adds the
// loss into a float64 sum. float32 / float16 / bfloat16 logits compute in float32, float64 in
// float64 (align_loss_math.h holds the per-entry formulas).
//
// Determinism: the entries are cut into fixed blocks of kBlock, whatever the thread count; each
// block sums its own losses and the block sums are added in order, so the result does not depend
// on how at::parallel_for spreads the blocks over threads.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/scalar_tensor.h>

#include <cstdint>
#include <vector>

#include "common/compute_type.h"
#include "ops/align_loss/align_loss.h"
#include "ops/align_loss/align_loss_math.h"

namespace adetr::ops::detail {
namespace {

constexpr int64_t kBlock = 16384;

template <typename T, typename A = ComputeType<T>>
double runBlocks(const T* x, const A* t, const bool* positive, const A* w, T* grad, int64_t n,
                 const align_math::Coeffs<A>& c) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> blockSums(static_cast<size_t>(blocks), 0.0);
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kBlock;
      const int64_t hi = lo + kBlock < n ? lo + kBlock : n;
      double sum = 0.0;
      for (int64_t i = lo; i < hi; ++i) {
        A loss, g;
        align_math::elementLoss<A>(c, static_cast<A>(x[i]), t[i], positive[i], loss, g);
        if (w) {
          loss *= w[i];
          g *= w[i];
        }
        sum += static_cast<double>(loss);
        if (grad) grad[i] = static_cast<T>(g);
      }
      blockSums[static_cast<size_t>(b)] = sum;
    }
  });
  double total = 0.0;
  for (double s : blockSums) total += s;
  return total;
}

}  // namespace

AlignLossResult alignLossCpu(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                             const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                             bool withGrad) {
  AlignLossResult r;
  const int64_t n = logits.numel();
  if (withGrad) r.gradLogits = at::empty(logits.sizes(), logits.options());
  double total = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "alignLossCpu", [&] {
    using A = ComputeType<scalar_t>;
    const auto c = align_math::makeCoeffs<A>(static_cast<int>(kind), params.gamma, params.focalAlpha, params.vflAlpha,
                                             params.qflBeta);
    total = runBlocks<scalar_t>(logits.data_ptr<scalar_t>(), target.data_ptr<A>(), positive.data_ptr<bool>(),
                                weights.defined() ? weights.data_ptr<A>() : nullptr,
                                withGrad ? r.gradLogits.data_ptr<scalar_t>() : nullptr, n, c);
  });
  const at::ScalarType lossType = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  r.loss = at::scalar_tensor(total, logits.options().dtype(lossType));
  return r;
}

}  // namespace adetr::ops::detail
