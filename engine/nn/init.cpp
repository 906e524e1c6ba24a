// engine/nn/init.cpp: see init.h.
#include "engine/nn/init.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace fg::nn::init {

namespace {

void check_float_tensor(const Tensor& t, const char* fn) {
  FG_CHECK(t.defined(), "init::{}: the tensor is undefined", fn);
  FG_CHECK(t.dtype() != DType::i64, "init::{}: needs a float32 or float64 tensor, got {}", fn, t.str());
}

double fan(const Tensor& t, FanMode mode) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  return static_cast<double>(mode == FanMode::FanIn ? fan_in : fan_out);
}

}  // namespace

std::pair<std::int64_t, std::int64_t> fan_in_and_fan_out(const Tensor& t) {
  FG_CHECK(t.defined() && t.dim() >= 2,
           "init: fan in and fan out need a tensor with at least 2 dims ([out, in, ...]), got {}",
           t.defined() ? t.str() : std::string("an undefined tensor"));
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity == "identity") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  FG_FAIL("init::calculate_gain: unknown nonlinearity '{}' (expected linear, sigmoid, tanh, relu, leaky_relu or selu)",
          nonlinearity);
}

void uniform_(Tensor& t, Generator& gen, double lo, double hi) {
  check_float_tensor(t, "uniform_");
  FG_CHECK(lo <= hi, "init::uniform_: lo ({}) must not exceed hi ({})", lo, hi);
  NoGradGuard no_grad;
  copy_(t, rand(t.shape(), gen, t.options(), lo, hi));
}

void normal_(Tensor& t, Generator& gen, double mean, double std) {
  check_float_tensor(t, "normal_");
  FG_CHECK(std >= 0, "init::normal_: std must be non-negative, got {}", std);
  NoGradGuard no_grad;
  copy_(t, randn(t.shape(), gen, t.options(), mean, std));
}

void constant_(Tensor& t, double value) {
  check_float_tensor(t, "constant_");
  NoGradGuard no_grad;
  copy_(t, full(t.shape(), value, t.options()));
}
void zeros_(Tensor& t) { constant_(t, 0.0); }
void ones_(Tensor& t) { constant_(t, 1.0); }

void xavier_uniform_(Tensor& t, Generator& gen, double gain) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  uniform_(t, gen, -bound, bound);
}

void xavier_normal_(Tensor& t, Generator& gen, double gain) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  normal_(t, gen, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

void kaiming_uniform_(Tensor& t, Generator& gen, double a, FanMode mode, const std::string& nonlinearity) {
  const double f = fan(t, mode);
  FG_CHECK(f > 0, "init::kaiming_uniform_: zero fan for {}", t.str());
  const double bound = std::sqrt(3.0) * calculate_gain(nonlinearity, a) / std::sqrt(f);
  uniform_(t, gen, -bound, bound);
}

void kaiming_normal_(Tensor& t, Generator& gen, double a, FanMode mode, const std::string& nonlinearity) {
  const double f = fan(t, mode);
  FG_CHECK(f > 0, "init::kaiming_normal_: zero fan for {}", t.str());
  normal_(t, gen, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(f));
}

}  // namespace fg::nn::init
