#include "model/neck.h"

#include <torch/nn/init.h>

#include "model/masked_norm.h"
#include "model/masking.h"

namespace adetr::model {

ConvGroupNormImpl::ConvGroupNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups)
    : groups_(groups) {
  conv_ = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2)));
  norm_ = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, out)));
  // docs/numerical-contract.md §A.3: neck conv weights xavier_uniform, biases 0.
  torch::nn::init::xavier_uniform_(conv_->weight);
  torch::nn::init::zeros_(conv_->bias);
}

at::Tensor ConvGroupNormImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor y = conv_->forward(x);
  return maskedGroupNorm(y, mask, groups_, norm_->weight, norm_->bias, norm_->options.eps());
}

ChannelMapperImpl::ChannelMapperImpl(const std::vector<int64_t>& inChannels, int64_t outChannels, int64_t groups) {
  convs_ = register_module("convs", torch::nn::ModuleList());
  for (int64_t in : inChannels) convs_->push_back(ConvGroupNorm(in, outChannels, 1, 1, groups));
  extraConvs_ = register_module("extra_convs", torch::nn::ModuleList());
  extraConvs_->push_back(ConvGroupNorm(inChannels.back(), outChannels, 3, 2, groups));  // on res5
}

std::vector<at::Tensor> ChannelMapperImpl::forward(const std::vector<at::Tensor>& feats, const at::Tensor& validSizes) {
  auto maskFor = [&](int64_t halvings, int64_t h, int64_t w, const at::Tensor& like) {
    return validSizes.defined() ? validMask(validSizesAt(validSizes, halvings), h, w, like.options()) : at::Tensor();
  };
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i < feats.size(); ++i) {
    const auto& f = feats[i];
    outs.push_back(
        convs_->ptr<ConvGroupNormImpl>(i)->forward(f, maskFor(3 + static_cast<int64_t>(i), f.size(2), f.size(3), f)));
  }
  const auto& last = feats.back();
  const int64_t h = (last.size(2) + 1) / 2, w = (last.size(3) + 1) / 2;
  outs.push_back(extraConvs_->ptr<ConvGroupNormImpl>(0)->forward(
      last, maskFor(3 + static_cast<int64_t>(feats.size()), h, w, last)));
  return outs;
}

}  // namespace adetr::model
