// engine/nn/init.h: parameter initializers with PyTorch's formulas (torch.nn.init), drawn
// from an explicit fg::Generator so one seed gives one model, on the CPU and on CUDA.
//
// All fill an existing tensor in place (no graph) with numbers drawn on its device.
// Fans, for a weight of shape [out, in, k...] (receptive field r = prod(k...)):
//   fan_in = in * r,  fan_out = out * r            (tensors of rank < 2 are rejected)
//   xavier_uniform_:  U(-b, b),  b = gain * sqrt(6 / (fan_in + fan_out))
//   xavier_normal_:   N(0, s),   s = gain * sqrt(2 / (fan_in + fan_out))
//   kaiming_uniform_: U(-b, b),  b = sqrt(3) * gain / sqrt(fan)      (fan = fan_in or fan_out)
//   kaiming_normal_:  N(0, s),   s = gain / sqrt(fan)
//   gain (calculate_gain): linear, sigmoid 1; tanh 5/3; relu sqrt(2);
//                          leaky_relu sqrt(2 / (1 + a^2)); selu 3/4
#pragma once

#include <string>
#include <utility>

#include "engine/random.h"
#include "engine/tensor.h"

namespace fg::nn::init {

enum class FanMode { FanIn, FanOut };

// {fan_in, fan_out} of a weight shape; throws for rank < 2.
std::pair<std::int64_t, std::int64_t> fan_in_and_fan_out(const Tensor& t);
// nonlinearity: "linear", "sigmoid", "tanh", "relu", "leaky_relu" (param = negative slope), "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

void uniform_(Tensor& t, Generator& gen, double lo = 0.0, double hi = 1.0);
void normal_(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void ones_(Tensor& t);
void xavier_uniform_(Tensor& t, Generator& gen, double gain = 1.0);
void xavier_normal_(Tensor& t, Generator& gen, double gain = 1.0);
// a: the negative slope of the leaky_relu that follows (used when nonlinearity is "leaky_relu").
void kaiming_uniform_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                      const std::string& nonlinearity = "leaky_relu");
void kaiming_normal_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                     const std::string& nonlinearity = "leaky_relu");

}  // namespace fg::nn::init
