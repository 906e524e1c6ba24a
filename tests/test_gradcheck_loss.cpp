// tests/test_gradcheck_loss.cpp: float64 gradient checks of the losses of engine/ops.h
// (l1_loss, mse_loss, cross_entropy, binary_cross_entropy_with_logits), both reductions,
// with respect to the predictions and, where the loss is differentiable in them, the
// targets. Each loss is also checked once against a value computed by hand.
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

TEST_CASE("gradcheck: l1_loss") {
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    CAPTURE(static_cast<int>(r));
    // |p - t| has a kink at p == t: targets are the predictions shifted by +-[0.1, 1)
    const Tensor pred = rand_input({3, 4}, 1);
    const Tensor shift = testing::input_avoiding({3, 4}, 2, -1.0, 1.0, {0.0}, 0.1);
    const Tensor target = add(pred.detach(), shift.detach()).detach().requires_grad_();
    check_grad([r](const Inputs& in) { return l1_loss(in[0], in[1], r); }, {pred, target});
  }
  const Tensor p = testing::const_f64({1, 2, 3, 4}, {4}), t = testing::const_f64({0, 2.5, 3, 6}, {4});
  CHECK(l1_loss(p, t).item() == doctest::Approx(3.5 / 4).epsilon(1e-14));
  CHECK(l1_loss(p, t, Reduction::Sum).item() == doctest::Approx(3.5).epsilon(1e-14));
}

TEST_CASE("gradcheck: mse_loss") {
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    CAPTURE(static_cast<int>(r));
    check_grad([r](const Inputs& in) { return mse_loss(in[0], in[1], r); },
               {rand_input({2, 3, 2}, 3), rand_input({2, 3, 2}, 4)});
  }
  const Tensor p = testing::const_f64({1, 2, 3, 4}, {4}), t = testing::const_f64({0, 2.5, 3, 6}, {4});
  CHECK(mse_loss(p, t).item() == doctest::Approx(5.25 / 4).epsilon(1e-14));
  CHECK(mse_loss(p, t, Reduction::Sum).item() == doctest::Approx(5.25).epsilon(1e-14));
}

TEST_CASE("gradcheck: cross_entropy") {
  const Tensor target = testing::index_tensor({2, 0, 4, 2, 1}, {5});
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    CAPTURE(static_cast<int>(r));
    check_grad([r, target](const Inputs& in) { return cross_entropy(in[0], target, r); },
               {rand_input({5, 5}, 5, -3, 3)});
  }
  // one row, logits [0, log 3]: loss for class 1 is -log(3/4)
  const Tensor logits = testing::const_f64({0.0, std::log(3.0)}, {1, 2});
  CHECK(cross_entropy(logits, testing::index_tensor({1}, {1})).item() ==
        doctest::Approx(-std::log(0.75)).epsilon(1e-14));
  CHECK_FALSE(target.requires_grad());
}

TEST_CASE("gradcheck: binary_cross_entropy_with_logits") {
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    CAPTURE(static_cast<int>(r));
    // soft targets in [0, 1] are differentiable too
    check_grad([r](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); },
               {rand_input({3, 4}, 6, -4, 4), rand_input({3, 4}, 7, 0, 1)});
  }
  // large |x| stays finite and exact: x = 40, t = 0 gives 40 + log1p(e^-40)
  const Tensor x = testing::const_f64({40.0, -40.0}, {2}), t = testing::const_f64({0.0, 1.0}, {2});
  CHECK(binary_cross_entropy_with_logits(x, t, Reduction::Sum).item() ==
        doctest::Approx(80.0 + 2 * std::log1p(std::exp(-40.0))).epsilon(1e-14));
}
