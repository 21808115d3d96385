// ResNet backbone (detectron2 layout and parameter names: stem.conv1, res2..res5, each conv
// with its FrozenBatchNorm as `.norm`, projection shortcuts as `.shortcut`), returning the
// res3, res4 and res5 maps (strides 8, 16, 32).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace adetr::model {

// BatchNorm with fixed statistics and affine parameters, all four stored as buffers.
class FrozenBatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit FrozenBatchNorm2dImpl(int64_t channels, double eps = 1e-5);
  at::Tensor forward(const at::Tensor& x);

 private:
  double eps_;
  at::Tensor weight_, bias_, runningMean_, runningVar_;
};
TORCH_MODULE(FrozenBatchNorm2d);

// A bias-free convolution followed by its norm (detectron2's Conv2d with norm): FrozenBatchNorm
// (pretrained backbones), or a trainable GroupNorm (backbones trained from scratch).
class ConvNormImpl : public torch::nn::Module {
 public:
  ConvNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool groupNorm = false);
  // `mask`: valid mask [B, 1, H, W] of the output (GroupNorm statistics over it), or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

 private:
  int64_t stride_, padding_, groups_ = 0;
  at::Tensor weight_;
  FrozenBatchNorm2d frozen_{nullptr};
  torch::nn::GroupNorm groupNorm_{nullptr};
};
TORCH_MODULE(ConvNorm);

// One residual block, basic (two 3×3) or bottleneck (1×1, 3×3 with the stride, 1×1).
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t bottleneck, int64_t out, int64_t stride, bool isBottleneck, bool groupNorm);
  // Masks: float [B, 1, H, W] valid masks at the block's input and output resolutions, or
  // undefined (no masking).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& inMask, const at::Tensor& outMask);
  int64_t stride() const { return stride_; }

 private:
  int64_t stride_;
  bool bottleneck_;
  ConvNorm conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, shortcut_{nullptr};
};
TORCH_MODULE(ResBlock);

class ResNetImpl : public torch::nn::Module {
 public:
  // depth ∈ {18, 34, 50, 101}; width = stem width (64 for the standard ResNets).
  ResNetImpl(int64_t depth, int64_t width, int64_t freezeAt, bool groupNorm = false);

  // images [B, 3, H, W]; validSizes [B, 2] (h, w) int64 or undefined (no masking).
  // Returns {res3, res4, res5}.
  std::vector<at::Tensor> forward(const at::Tensor& images, const at::Tensor& validSizes);

  // Channels of res3, res4, res5.
  std::vector<int64_t> outChannels() const { return outChannels_; }

 private:
  ConvNorm stem_{nullptr};
  std::vector<torch::nn::ModuleList> stages_;
  std::vector<int64_t> outChannels_;
};
TORCH_MODULE(ResNet);

}  // namespace adetr::model
