// engine/nn/conv.h: 2-D convolution layers with PyTorch's parameter names, shapes and
// default initialization (torch.nn.Conv2d / ConvTranspose2d, groups = 1), so their
// checkpoints load into torch.nn by name. The ops: engine/ops_conv.h, docs/conv.md.
//
//   Conv2d           weight [out, in, KH, KW], bias [out]
//                    x [N, in, H, W] -> [N, out, HO, WO],
//                    HO = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1
//   ConvTranspose2d  weight [in, out, KH, KW], bias [out]
//                    x [N, in, H, W] -> [N, out, HO, WO],
//                    HO = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1
// init (both, as PyTorch's reset_parameters): weight kaiming_uniform_(a = sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in is
// computed from the weight's shape as torch does: weight.size(1) * KH * KW, i.e. in * KH * KW
// for Conv2d and out * KH * KW for ConvTranspose2d. Weights are drawn first, then the bias.
// The hyper-parameters are per axis {height, width} (Conv2dOptions); the constructors taking
// integers use them for both axes.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "engine/nn/module.h"
#include "engine/ops_conv.h"
#include "engine/random.h"

namespace fg::nn {

class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::array<std::int64_t, 2> kernel_size, Generator& gen,
         const Conv2dOptions& conv = {}, bool bias = true, TensorOptions opts = {});
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         std::int64_t stride = 1, std::int64_t padding = 0, bool bias = true, TensorOptions opts = {});
  std::string type_name() const override { return "Conv2d"; }
  // x: [N, in_channels, H, W] -> [N, out_channels, HO, WO]
  Tensor forward(const Tensor& x) const;

  std::int64_t in_channels, out_channels;
  std::array<std::int64_t, 2> kernel_size;
  Conv2dOptions conv;
  Tensor weight;  // [out, in, KH, KW]
  Tensor bias;    // [out], undefined without bias
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::array<std::int64_t, 2> kernel_size,
                  Generator& gen, const Conv2dOptions& conv = {}, bool bias = true, TensorOptions opts = {});
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
                  std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t output_padding = 0,
                  bool bias = true, TensorOptions opts = {});
  std::string type_name() const override { return "ConvTranspose2d"; }
  // x: [N, in_channels, H, W] -> [N, out_channels, HO, WO]
  Tensor forward(const Tensor& x) const;

  std::int64_t in_channels, out_channels;
  std::array<std::int64_t, 2> kernel_size;
  Conv2dOptions conv;
  Tensor weight;  // [in, out, KH, KW]
  Tensor bias;    // [out], undefined without bias
};

}  // namespace fg::nn
