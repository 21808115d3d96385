// Argument checks of the MSDA op. Every message starts with the argument's name; wrong kinds
// (rank, dtype, device) are TypeErrors, wrong sizes are RangeErrors.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "common/shape_string.h"
#include "ops/msda/msda.h"

namespace adetr::ops {
namespace {

const char* dtypeName(at::ScalarType t) { return c10::toString(t); }

bool isKernelFloat(const at::Tensor& t) {
  const auto st = t.scalar_type();
  if (st == at::kFloat || st == at::kDouble) return true;
  // Half precision runs on CUDA only (the CPU kernel keeps float32 / float64).
  return t.is_cuda() && (st == at::kHalf || st == at::kBFloat16);
}

void checkDefined(const at::Tensor& t, const char* name) { checkType(t.defined(), name, ": expected a tensor"); }

void checkRank(const at::Tensor& t, const char* name, int64_t rank, const char* layout) {
  checkType(t.dim() == rank, name, ": must be ", rank, "-D ", layout, ", got shape ", shapeString(t));
}

void checkDim(const at::Tensor& t, const char* name, int64_t dim, int64_t expected, const char* what) {
  checkRange(t.size(dim) == expected, name, ": dim ", dim, " (", what, ") must be ", expected, ", got ", t.size(dim),
             " (shape ", shapeString(t), ")");
}

void checkSameFloat(const at::Tensor& t, const char* name, const at::Tensor& value) {
  checkType(t.scalar_type() == value.scalar_type(), name, ": dtype must match value (", dtypeName(value.scalar_type()),
            "), got ", dtypeName(t.scalar_type()));
  checkType(t.device() == value.device(), name, ": must be on value's device (", value.device().str(), "), got ",
            t.device().str());
}

void checkIndexTensor(const at::Tensor& t, const char* name, const at::Tensor& value) {
  checkType(t.scalar_type() == at::kLong || t.scalar_type() == at::kInt, name, ": dtype must be int64 (or int32), got ",
            dtypeName(t.scalar_type()));
  checkType(t.is_cpu() || t.device() == value.device(), name, ": must be on the CPU or on value's device (",
            value.device().str(), "), got ", t.device().str());
}

// The int64 values of a small index tensor, read on the host.
std::vector<int64_t> hostValues(const at::Tensor& t) {
  at::Tensor h = t.to(at::kCPU).to(at::kLong).contiguous();
  const int64_t* p = h.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + h.numel());
}

}  // namespace

MsDeformAttnDims validateMsDeformAttn(const at::Tensor& value, const at::Tensor& spatialShapes,
                                      const at::Tensor& levelStartIndex, const at::Tensor& samplingLocations,
                                      const at::Tensor& attentionWeights, const at::Tensor& gradOutput) {
  checkDefined(value, "value");
  checkDefined(spatialShapes, "spatialShapes");
  checkDefined(levelStartIndex, "levelStartIndex");
  checkDefined(samplingLocations, "samplingLocations");
  checkDefined(attentionWeights, "attentionWeights");

  checkRank(value, "value", 4, "[N, S, M, D]");
  checkType(isKernelFloat(value), "value: dtype must be float32 or float64 (float16/bfloat16 on CUDA), got ",
            dtypeName(value.scalar_type()), value.is_cuda() ? " on CUDA" : " on the CPU");
  checkType(value.is_cpu() || value.is_cuda(), "value: must be a CPU or CUDA tensor, got ", value.device().str());

  checkRank(spatialShapes, "spatialShapes", 2, "[L, 2]");
  checkIndexTensor(spatialShapes, "spatialShapes", value);
  checkRank(levelStartIndex, "levelStartIndex", 1, "[L]");
  checkIndexTensor(levelStartIndex, "levelStartIndex", value);
  checkRank(samplingLocations, "samplingLocations", 6, "[N, Q, M, L, P, 2]");
  checkSameFloat(samplingLocations, "samplingLocations", value);
  checkRank(attentionWeights, "attentionWeights", 5, "[N, Q, M, L, P]");
  checkSameFloat(attentionWeights, "attentionWeights", value);

  MsDeformAttnDims d;
  d.batch = value.size(0);
  d.valueLen = value.size(1);
  d.heads = value.size(2);
  d.channels = value.size(3);
  d.levels = spatialShapes.size(0);
  d.queries = samplingLocations.size(1);
  d.points = samplingLocations.size(4);

  checkRange(d.levels >= 1, "spatialShapes: must hold at least one level, got shape ", shapeString(spatialShapes));
  checkDim(spatialShapes, "spatialShapes", 1, 2, "(H, W)");
  checkDim(levelStartIndex, "levelStartIndex", 0, d.levels, "levels, from spatialShapes");
  checkDim(samplingLocations, "samplingLocations", 0, d.batch, "batch N, from value");
  checkDim(samplingLocations, "samplingLocations", 2, d.heads, "heads M, from value");
  checkDim(samplingLocations, "samplingLocations", 3, d.levels, "levels L, from spatialShapes");
  checkDim(samplingLocations, "samplingLocations", 5, 2, "(x, y)");
  checkDim(attentionWeights, "attentionWeights", 0, d.batch, "batch N, from value");
  checkDim(attentionWeights, "attentionWeights", 1, d.queries, "queries Q, from samplingLocations");
  checkDim(attentionWeights, "attentionWeights", 2, d.heads, "heads M, from value");
  checkDim(attentionWeights, "attentionWeights", 3, d.levels, "levels L, from spatialShapes");
  checkDim(attentionWeights, "attentionWeights", 4, d.points, "points P, from samplingLocations");

  // The level table must tile value's S positions exactly: the kernels index value through it.
  const std::vector<int64_t> shapes = hostValues(spatialShapes);
  const std::vector<int64_t> starts = hostValues(levelStartIndex);
  int64_t total = 0;
  for (int64_t l = 0; l < d.levels; ++l) {
    const int64_t h = shapes[2 * l], w = shapes[2 * l + 1];
    checkRange(h >= 1 && w >= 1, "spatialShapes: level ", l, " has shape (", h, ", ", w,
               "); H and W must be at least 1");
    checkRange(starts[l] == total, "levelStartIndex: entry ", l, " must be ", total,
               " (the sum of H·W over the levels before it), got ", starts[l]);
    // Overflow-checked: int64 H·W products that wrap could otherwise add up to S and send the
    // kernels outside `value`.
    int64_t area = 0;
    checkRange(
        !__builtin_mul_overflow(h, w, &area) && area <= d.valueLen && !__builtin_add_overflow(total, area, &total),
        "spatialShapes: level ", l, " (", h, " × ", w, ") holds more positions than value's S = ", d.valueLen,
        " (dim 1 of shape ", shapeString(value), ")");
  }
  checkRange(total == d.valueLen, "spatialShapes: the levels cover ", total,
             " positions (sum of H·W) but value has S = ", d.valueLen, " (dim 1 of shape ", shapeString(value), ")");

  if (gradOutput.defined()) {
    checkRank(gradOutput, "gradOutput", 3, "[N, Q, M·D]");
    checkSameFloat(gradOutput, "gradOutput", value);
    checkDim(gradOutput, "gradOutput", 0, d.batch, "batch N, from value");
    checkDim(gradOutput, "gradOutput", 1, d.queries, "queries Q, from samplingLocations");
    checkDim(gradOutput, "gradOutput", 2, d.heads * d.channels, "M·D, from value");
  }
  return d;
}

}  // namespace adetr::ops
