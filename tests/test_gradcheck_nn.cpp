// tests/test_gradcheck_nn.cpp: float64 gradient checks of softmax and log_softmax (every
// axis), layer_norm (with and without gamma/beta, 2-D and 3-D input) and dropout (a fixed
// Philox generator re-seeded inside f, so every evaluation draws the same mask), plus the
// statistics of dropout's mask (rate ~p, survivors scaled by 1/(1-p)) and its identities
// (eval mode, p = 0).
#include <doctest/doctest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

}  // namespace

TEST_CASE("gradcheck: softmax") {
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    check_grad([axis](const Inputs& in) { return softmax(in[0], axis); }, {rand_input({2, 3, 4}, 1, -2, 2)});
  }
  // rows sum to one along the axis
  const Tensor y = softmax(rand_input({2, 3, 4}, 2, -2, 2).detach(), 1);
  const auto s = sum(y, 1).to_vector<double>();
  for (double v : s) CHECK(v == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("gradcheck: log_softmax") {
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    check_grad([axis](const Inputs& in) { return log_softmax(in[0], axis); }, {rand_input({2, 3, 4}, 3, -2, 2)});
  }
}

TEST_CASE("gradcheck: layer_norm") {
  const Tensor gamma = rand_input({5}, 1, 0.5, 1.5), beta = rand_input({5}, 2);
  SUBCASE("3-D input, gamma and beta") {
    check_grad([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); },
               {rand_input({2, 3, 5}, 3), gamma, beta});
  }
  SUBCASE("2-D input, gamma only") {
    check_grad([](const Inputs& in) { return layer_norm(in[0], in[1], Tensor()); }, {rand_input({4, 5}, 4), gamma});
  }
  SUBCASE("2-D input, beta only") {
    check_grad([](const Inputs& in) { return layer_norm(in[0], Tensor(), in[1]); }, {rand_input({4, 5}, 5), beta});
  }
  SUBCASE("3-D input, neither, larger eps") {
    check_grad([](const Inputs& in) { return layer_norm(in[0], Tensor(), Tensor(), 0.1); }, {rand_input({2, 2, 5}, 6)});
  }
  SUBCASE("gamma and beta constant, x varies") {
    const Tensor g = gamma.detach(), b = beta.detach();
    check_grad([&](const Inputs& in) { return layer_norm(in[0], g, b); }, {rand_input({3, 5}, 7)});
  }
}

TEST_CASE("gradcheck: dropout") {
  // The generator is re-created inside f: every evaluation (analytic and each central
  // difference) draws the same mask, so the function is a fixed masked scaling.
  for (double p : {0.3, 0.75}) {
    CAPTURE(p);
    check_grad(
        [p](const Inputs& in) {
          Generator gen(123);
          return dropout(in[0], p, true, gen);
        },
        {rand_input({4, 6}, 1)});
  }
  // the mask is not trivial at this size: some dropped, some kept
  Generator gen(123);
  const auto y = dropout(ones({4, 6}, f64_opts()), 0.3, true, gen).to_vector<double>();
  int kept = 0;
  for (double v : y) kept += v != 0.0;
  CHECK(kept > 0);
  CHECK(kept < 24);
}

TEST_CASE("dropout: mask rate is ~p and survivors are scaled by 1/(1-p)") {
  const std::int64_t n = 200000;
  for (DType dt : {DType::f32, DType::f64}) {
    for (double p : {0.1, 0.5, 0.8}) {
      CAPTURE(dtype_name(dt));
      CAPTURE(p);
      Generator gen(2024);
      const Tensor x = full({n}, 1.5, TensorOptions{dt});
      const auto y = dropout(x, p, true, gen).to_vector<double>();
      CHECK(gen.offset() == static_cast<std::uint64_t>(n));  // one counter per element
      std::int64_t dropped = 0, bad_scale = 0;
      const double kept_value = dt == DType::f32 ? static_cast<double>(1.5f * (1.0f / (1.0f - static_cast<float>(p))))
                                                 : 1.5 / (1.0 - p);
      for (double v : y) {
        if (v == 0.0) {
          ++dropped;
        } else if (std::abs(v - kept_value) > 1e-6 * kept_value) {
          ++bad_scale;
        }
      }
      // binomial: standard deviation sqrt(p (1-p) / n) <= 0.0012; 0.006 is 5 of them
      CHECK(std::abs(static_cast<double>(dropped) / static_cast<double>(n) - p) < 0.006);
      CHECK(bad_scale == 0);
    }
  }
}

TEST_CASE("dropout: the gradient is the saved mask, the same seed gives the same mask") {
  Generator gen_a(77), gen_b(77);
  const Tensor x = rand_input({50}, 3);
  const Tensor y = dropout(x, 0.4, true, gen_a);
  sum(y).backward();
  const auto g = x.grad().to_vector<double>();
  const auto yv = y.to_vector<double>(), xv = x.to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    CHECK((g[i] == 0.0 || g[i] == doctest::Approx(1.0 / 0.6).epsilon(1e-12)));
    CHECK(yv[i] == doctest::Approx(xv[i] * g[i]).epsilon(1e-12));
  }
  CHECK(dropout(x.detach(), 0.4, true, gen_b).to_vector<double>() == yv);
  // the generator advanced: the next draw is a different mask
  CHECK(dropout(x.detach(), 0.4, true, gen_b).to_vector<double>() != yv);
}

TEST_CASE("dropout: identity in eval mode and for p = 0") {
  Generator gen(5);
  const Tensor x = rand_input({3, 4}, 4);
  const Tensor eval_out = dropout(x, 0.5, false, gen);
  CHECK(eval_out.to_vector<double>() == x.to_vector<double>());
  CHECK(gen.offset() == 0);  // eval mode draws nothing
  const Tensor p0 = dropout(x, 0.0, true, gen);
  CHECK(p0.to_vector<double>() == x.to_vector<double>());
  // and the gradient passes through unchanged
  check_grad(
      [](const Inputs& in) {
        Generator g(5);
        return dropout(in[0], 0.5, false, g) * 2.0;
      },
      {x});
}
