// tests/test_spectral_norm.cpp: SpectralNormLinear finds the largest singular value,
// normalizes the weight to spectral norm 1, and differentiates correctly.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/spectral_norm.h"
#include "support/gradcheck.h"

using namespace fg;

namespace {
// Largest singular value of w [m, n] by 500 power iterations on w^T w (double, host).
double top_singular_value(const Tensor& w) {
  const auto v = w.to_vector<double>();
  const std::int64_t m = w.size(0), n = w.size(1);
  std::vector<double> x(static_cast<std::size_t>(n), 1.0), y(static_cast<std::size_t>(m));
  double s = 0;
  for (int it = 0; it < 500; ++it) {
    for (std::int64_t i = 0; i < m; ++i) {
      y[i] = 0;
      for (std::int64_t j = 0; j < n; ++j) y[i] += v[i * n + j] * x[j];
    }
    double norm = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      x[j] = 0;
      for (std::int64_t i = 0; i < m; ++i) x[j] += v[i * n + j] * y[i];
      norm += x[j] * x[j];
    }
    norm = std::sqrt(norm);
    for (auto& e : x) e /= norm;
    s = std::sqrt(norm);
  }
  return s;
}
}  // namespace

TEST_CASE("spectral norm: power iteration finds sigma and the normalized weight has norm 1") {
  Generator gen(3);
  nn::SpectralNormLinear layer(5, 4, gen, true, 1, f64_opts());
  const double truth = top_singular_value(layer.weight_orig);
  const Tensor x = randn({2, 5}, gen, f64_opts());
  for (int i = 0; i < 60; ++i) layer.forward(x);  // each training forward runs one power iteration
  CHECK(layer.sigma() == doctest::Approx(truth).epsilon(1e-6));
  NoGradGuard ng;
  CHECK(top_singular_value(layer.normalized_weight()) == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("spectral norm: eval mode keeps u and v fixed") {
  Generator gen(4);
  nn::SpectralNormLinear layer(3, 3, gen, true, 1, f64_opts());
  layer.eval();
  const auto u0 = layer.weight_u.to_vector<double>();
  layer.forward(randn({2, 3}, gen, f64_opts()));
  CHECK(layer.weight_u.to_vector<double>() == u0);
}

TEST_CASE("gradcheck: SpectralNormLinear (eval mode: u, v fixed), input and weight") {
  Generator gen(5);
  auto layer = std::make_shared<nn::SpectralNormLinear>(4, 3, gen, true, 1, f64_opts());
  for (int i = 0; i < 5; ++i) layer->forward(randn({1, 4}, gen, f64_opts()));
  layer->eval();
  auto f = [layer](const std::vector<Tensor>& in) { return layer->forward(in[0]); };
  CHECK_GRADCHECK(f, (std::vector<Tensor>{testing::rand_input({3, 4}, 6), layer->weight_orig, layer->bias}));
}

TEST_CASE("spectral norm: names follow torch.nn.utils.spectral_norm") {
  Generator gen(7);
  nn::SpectralNormLinear layer(3, 2, gen);
  const auto sd = layer.state_dict();
  for (const char* name : {"weight_orig", "bias", "weight_u", "weight_v"}) CHECK(sd.count(name) == 1);
  CHECK(layer.parameters().size() == 2);
}
