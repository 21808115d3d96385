// ChannelMapper neck (detrex): 1×1 conv + GroupNorm per backbone level, plus one extra level
// from a 3×3 stride-2 conv + GroupNorm on res5 (keys convs.{i}.conv/norm, extra_convs.0.conv/norm).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace adetr::model {

class ConvGroupNormImpl : public torch::nn::Module {
 public:
  ConvGroupNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups);
  // `mask` (float [B, 1, H, W] of the output, or undefined): GroupNorm statistics over the
  // valid positions only, padding zeroed.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask);

 private:
  int64_t groups_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::GroupNorm norm_{nullptr};
};
TORCH_MODULE(ConvGroupNorm);

class ChannelMapperImpl : public torch::nn::Module {
 public:
  ChannelMapperImpl(const std::vector<int64_t>& inChannels, int64_t outChannels, int64_t groups);
  // feats: res3, res4, res5. validSizes [B, 2] or undefined. Returns the 4 level maps.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& feats, const at::Tensor& validSizes);

 private:
  torch::nn::ModuleList convs_, extraConvs_;
};
TORCH_MODULE(ChannelMapper);

}  // namespace adetr::model
