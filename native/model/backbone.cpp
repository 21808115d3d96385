#include "model/backbone.h"

#include <ATen/ops/conv2d.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/rsqrt.h>
#include <torch/nn/init.h>

#include "common/arg_error.h"
#include "model/masked_norm.h"
#include "model/masking.h"

namespace adetr::model {

namespace {
// Zeroes the padding of `x` when a mask is given.
at::Tensor masked(const at::Tensor& x, const at::Tensor& mask) { return mask.defined() ? x * mask : x; }
}  // namespace

FrozenBatchNorm2dImpl::FrozenBatchNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight_ = register_buffer("weight", at::ones({channels}));
  bias_ = register_buffer("bias", at::zeros({channels}));
  runningMean_ = register_buffer("running_mean", at::zeros({channels}));
  runningVar_ = register_buffer("running_var", at::ones({channels}) - eps);
}

at::Tensor FrozenBatchNorm2dImpl::forward(const at::Tensor& x) {
  auto scale = weight_ * at::rsqrt(runningVar_ + eps_);
  auto shift = bias_ - runningMean_ * scale;
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

ConvNormImpl::ConvNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool groupNorm)
    : stride_(stride), padding_(padding) {
  weight_ = register_parameter("weight", at::empty({out, in, kernel, kernel}));
  // detectron2: c2_msra_fill, i.e. kaiming normal (fan_out, ReLU gain).
  torch::nn::init::kaiming_normal_(weight_, 0.0, torch::kFanOut, torch::kReLU);
  if (groupNorm) {
    groups_ = std::min<int64_t>(32, std::max<int64_t>(1, out / 8));  // 4 channels per group at 32, 32 groups from 256
    groupNorm_ = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups_, out)));
  } else {
    frozen_ = register_module("norm", FrozenBatchNorm2d(out));
  }
}

at::Tensor ConvNormImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  auto y = at::conv2d(x, weight_, {}, {stride_, stride_}, {padding_, padding_});
  if (groupNorm_)
    return maskedGroupNorm(y, mask, groups_, groupNorm_->weight, groupNorm_->bias, groupNorm_->options.eps());
  return frozen_->forward(y);
}

ResBlockImpl::ResBlockImpl(int64_t in, int64_t bottleneck, int64_t out, int64_t stride, bool isBottleneck, bool gn)
    : stride_(stride), bottleneck_(isBottleneck) {
  if (isBottleneck) {
    conv1_ = register_module("conv1", ConvNorm(in, bottleneck, 1, 1, 0, gn));
    conv2_ = register_module("conv2", ConvNorm(bottleneck, bottleneck, 3, stride, 1, gn));  // stride on the 3×3
    conv3_ = register_module("conv3", ConvNorm(bottleneck, out, 1, 1, 0, gn));
  } else {
    conv1_ = register_module("conv1", ConvNorm(in, out, 3, stride, 1, gn));
    conv2_ = register_module("conv2", ConvNorm(out, out, 3, 1, 1, gn));
  }
  if (in != out || stride != 1) shortcut_ = register_module("shortcut", ConvNorm(in, out, 1, stride, 0, gn));
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, const at::Tensor& inMask, const at::Tensor& outMask) {
  // Every convolution must read zeros in the padding, as it would past the border of the image
  // alone: mask each conv input at its own resolution (x arrives masked).
  at::Tensor y;
  if (bottleneck_) {
    y = masked(at::relu(conv1_->forward(x, inMask)), inMask);
    y = masked(at::relu(conv2_->forward(y, outMask)), outMask);
    y = conv3_->forward(y, outMask);
  } else {
    y = conv2_->forward(masked(at::relu(conv1_->forward(x, outMask)), outMask), outMask);
  }
  auto identity = shortcut_ ? shortcut_->forward(x, outMask) : x;
  return masked(at::relu(y + identity), outMask);
}

ResNetImpl::ResNetImpl(int64_t depth, int64_t width, int64_t freezeAt, bool groupNorm) {
  std::vector<int64_t> blocks;
  bool bottleneck = depth >= 50;
  if (depth == 18)
    blocks = {2, 2, 2, 2};
  else if (depth == 34)
    blocks = {3, 4, 6, 3};
  else if (depth == 50)
    blocks = {3, 4, 6, 3};
  else if (depth == 101)
    blocks = {3, 4, 23, 3};
  else
    checkRange(false, "backboneDepth: expected 18, 34, 50 or 101, got ", depth);

  auto stemModule = register_module("stem", std::make_shared<torch::nn::Module>());
  stem_ = ConvNorm(3, width, 7, 2, 3, groupNorm);
  stemModule->register_module("conv1", stem_);

  int64_t in = width;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t bottleneckWidth = width << s;
    const int64_t out = bottleneck ? bottleneckWidth * 4 : bottleneckWidth;
    auto stage = register_module("res" + std::to_string(s + 2), torch::nn::ModuleList());
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(ResBlock(in, bottleneckWidth, out, stride, bottleneck, groupNorm));
      in = out;
    }
    stages_.push_back(stage);
    if (s >= 1) outChannels_.push_back(out);
  }
  // freezeAt >= 1 freezes the stem, >= 2 also res2, and so on (detectron2 semantics).
  if (freezeAt >= 1) {
    for (auto& p : stemModule->parameters()) p.set_requires_grad(false);
  }
  for (int64_t s = 0; s + 2 <= freezeAt && s < 4; ++s) {
    for (auto& p : stages_[s]->parameters()) p.set_requires_grad(false);
  }
}

std::vector<at::Tensor> ResNetImpl::forward(const at::Tensor& images, const at::Tensor& validSizes) {
  int64_t halvings = 1;
  auto maskAt = [&](const at::Tensor& like) {
    return validSizes.defined()
               ? validMask(validSizesAt(validSizes, halvings), like.size(2), like.size(3), like.options())
               : at::Tensor();
  };
  const int64_t stemH = (images.size(2) + 1) / 2, stemW = (images.size(3) + 1) / 2;
  at::Tensor stemMask =
      validSizes.defined() ? validMask(validSizesAt(validSizes, 1), stemH, stemW, images.options()) : at::Tensor();
  at::Tensor x = at::relu(stem_->forward(images, stemMask));
  x = masked(x, stemMask);  // the max-pool must see zeros (≤ any ReLU output) in the padding
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  halvings = 2;
  x = masked(x, maskAt(x));
  std::vector<at::Tensor> outs;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (size_t b = 0; b < stages_[s]->size(); ++b) {
      auto block = stages_[s]->ptr<ResBlockImpl>(b);
      // The block's output size: the input's, halved (ceil) by a strided block.
      const int64_t outH = block->stride() == 2 ? (x.size(2) + 1) / 2 : x.size(2);
      const int64_t outW = block->stride() == 2 ? (x.size(3) + 1) / 2 : x.size(3);
      at::Tensor inMask = block->stride() == 2 ? maskAt(x) : at::Tensor();
      if (block->stride() == 2) ++halvings;
      at::Tensor outMask =
          validSizes.defined() ? validMask(validSizesAt(validSizes, halvings), outH, outW, x.options()) : at::Tensor();
      if (block->stride() == 1) inMask = outMask;
      x = block->forward(x, inMask, outMask);
    }
    if (s >= 1) outs.push_back(x);
  }
  return outs;
}

}  // namespace adetr::model
