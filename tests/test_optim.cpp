// tests/test_optim.cpp: SGD (momentum, dampening, nesterov, weight decay), Adam, AdamW,
// clip_grad_norm and the lr schedules: two steps worked by hand on a tiny quadratic, then
// longer trajectories against PyTorch 1.13 (tests/reference/ref_optim.py), optimizer state
// save/restore, and the argument errors.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "support/reference.h"
#include "support/test_util.h"

using namespace fg;
using namespace fg::optim;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {

using fg::test::vals;
using fg::test::error_of;
using fg::test::contains;

// The tiny quadratic of the hand-worked cases: L(w) = (w - 3)^2, so dL/dw = 2 (w - 3), from w = 1.
Tensor scalar_param(double v = 1.0) { return from_vector(std::vector<double>{v}, {1}, f64_opts().with_requires_grad()); }
void quadratic_step(Optimizer& opt, const Tensor& w) {
  opt.zero_grad();
  sum(square(w - 3.0)).backward();
  opt.step();
}
double value(const Tensor& w) { return w.item(); }

}  // namespace

// ---------------------------------------------------------------- by hand
TEST_CASE("optim: SGD with momentum, two steps by hand") {
  Tensor w = scalar_param();
  SGD opt({w}, {.lr = 0.1, .momentum = 0.9});
  // step 1: g = 2(1 - 3) = -4; buf = g = -4 (first step); w = 1 - 0.1 * -4 = 1.4
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(1.4).epsilon(1e-14));
  // step 2: g = 2(1.4 - 3) = -3.2; buf = 0.9 * -4 + -3.2 = -6.8; w = 1.4 + 0.68 = 2.08
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(2.08).epsilon(1e-14));
  CHECK(opt.state(0).slots.at("momentum_buffer").item() == doctest::Approx(-6.8).epsilon(1e-14));
  CHECK(opt.state(0).step == 2);
}

TEST_CASE("optim: SGD with dampening and weight decay, and nesterov, two steps by hand") {
  Tensor w = scalar_param();
  SGD opt({w}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.1});
  // step 1: g = -4 + 0.1 * 1 = -3.9; buf = -3.9 (no dampening on the first step); w = 1 + 0.39 = 1.39
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(1.39).epsilon(1e-14));
  // step 2: g = 2(1.39 - 3) + 0.1 * 1.39 = -3.081; buf = 0.9 * -3.9 + 0.5 * -3.081 = -5.0505
  //         w = 1.39 + 0.1 * 5.0505 = 1.89505
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(1.89505).epsilon(1e-14));

  Tensor v = scalar_param();
  SGD nesterov({v}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  // step 1: g = -4; buf = -4; d = g + 0.9 buf = -7.6; w = 1 + 0.76 = 1.76
  quadratic_step(nesterov, v);
  CHECK(value(v) == doctest::Approx(1.76).epsilon(1e-14));
  // step 2: g = 2(1.76 - 3) = -2.48; buf = 0.9 * -4 - 2.48 = -6.08; d = -2.48 + 0.9 * -6.08 = -7.952
  //         w = 1.76 + 0.7952 = 2.5552
  quadratic_step(nesterov, v);
  CHECK(value(v) == doctest::Approx(2.5552).epsilon(1e-14));
}

TEST_CASE("optim: Adam, two steps by hand") {
  Tensor w = scalar_param();
  Adam opt({w}, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
  // step 1: g = -4; m = 0.1 * -4 = -0.4; v = 0.001 * 16 = 0.016
  //         m^ = -0.4 / (1 - 0.9) = -4; sqrt(v^) = sqrt(0.016 / (1 - 0.999)) = 4
  //         w = 1 - 0.1 * -4 / (4 + 1e-8)
  const double w1 = 1 + 0.4 / (4 + 1e-8);
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(w1).epsilon(1e-13));
  // step 2: g = 2(w1 - 3); m = 0.9 * -0.4 + 0.1 g; v = 0.999 * 0.016 + 0.001 g^2
  //         w = w1 - 0.1 * (m / (1 - 0.81)) / (sqrt(v / (1 - 0.998001)) + 1e-8)
  const double g2 = 2 * (w1 - 3), m2 = 0.9 * -0.4 + 0.1 * g2, v2 = 0.999 * 0.016 + 0.001 * g2 * g2;
  const double w2 = w1 - 0.1 * (m2 / 0.19) / (std::sqrt(v2 / 0.001999) + 1e-8);
  CHECK(w2 == doctest::Approx(1.19983).epsilon(1e-5));  // the numbers: m = -0.74, v = 0.030424
  quadratic_step(opt, w);
  CHECK(value(w) == doctest::Approx(w2).epsilon(1e-13));
  CHECK(opt.state(0).step == 2);
  CHECK(vals(opt.state(0).slots.at("exp_avg"))[0] == doctest::Approx(m2).epsilon(1e-14));
  CHECK(vals(opt.state(0).slots.at("exp_avg_sq"))[0] == doctest::Approx(v2).epsilon(1e-14));
}

TEST_CASE("optim: Adam's weight decay is an L2 term in the gradient, AdamW's is decoupled; by hand") {
  Tensor a = scalar_param();
  Adam adam({a}, {.lr = 0.1, .weight_decay = 0.5});
  // step 1: g = -4 + 0.5 * 1 = -3.5; m^ = -3.5, sqrt(v^) = 3.5; w = 1 + 0.1 * 3.5 / (3.5 + 1e-8)
  const double a1 = 1 + 0.35 / (3.5 + 1e-8);
  quadratic_step(adam, a);
  CHECK(value(a) == doctest::Approx(a1).epsilon(1e-13));
  // step 2: g = 2(a1 - 3) + 0.5 a1
  const double g2 = 2 * (a1 - 3) + 0.5 * a1, m2 = 0.9 * -0.35 + 0.1 * g2,
               v2 = 0.999 * (0.001 * 3.5 * 3.5) + 0.001 * g2 * g2;
  const double a2 = a1 - 0.1 * (m2 / 0.19) / (std::sqrt(v2 / 0.001999) + 1e-8);
  quadratic_step(adam, a);
  CHECK(value(a) == doctest::Approx(a2).epsilon(1e-13));

  Tensor b = scalar_param();
  AdamW adamw({b}, {.lr = 0.1, .weight_decay = 0.5});
  // step 1: the gradient is taken at w = 1: g = -4; decay first: w = 1 * (1 - 0.1 * 0.5) = 0.95
  //         then the Adam step: w = 0.95 + 0.1 * 4 / (4 + 1e-8)
  const double b1 = 0.95 + 0.4 / (4 + 1e-8);
  quadratic_step(adamw, b);
  CHECK(value(b) == doctest::Approx(b1).epsilon(1e-13));
  // step 2: g = 2(b1 - 3) (no decay term); w = b1 * 0.95 - 0.1 * m^ / (sqrt(v^) + eps)
  const double h2 = 2 * (b1 - 3), n2 = 0.9 * -0.4 + 0.1 * h2, u2 = 0.999 * 0.016 + 0.001 * h2 * h2;
  const double b2 = b1 * 0.95 - 0.1 * (n2 / 0.19) / (std::sqrt(u2 / 0.001999) + 1e-8);
  quadratic_step(adamw, b);
  CHECK(value(b) == doctest::Approx(b2).epsilon(1e-13));
  CHECK(AdamW({scalar_param()}).param_groups()[0].weight_decay == 0.01);  // PyTorch's AdamW default
}

TEST_CASE("optim: parameters without a gradient are skipped; groups keep their own lr and weight decay") {
  Tensor w = scalar_param(), idle = scalar_param(5.0);
  ParamGroup fast{.params = {w}, .lr = 0.5, .name = "fast"};
  ParamGroup slow{.params = {idle}};
  SGD opt(std::vector<ParamGroup>{fast, slow}, {.lr = 0.1, .weight_decay = 0.2});
  CHECK(opt.lr(0) == 0.5);
  CHECK(opt.lr(1) == 0.1);
  CHECK(*opt.param_groups()[0].weight_decay == 0.2);  // unset: the optimizer's default
  quadratic_step(opt, w);                             // idle has no gradient
  // g = -4 + 0.2 * 1 = -3.8; w = 1 + 0.5 * 3.8 = 2.9
  CHECK(value(w) == doctest::Approx(2.9).epsilon(1e-14));
  CHECK(value(idle) == 5.0);
  CHECK(opt.state(1).step == 0);
  opt.set_lr(0.01);
  CHECK(opt.lr(0) == 0.01);
  CHECK(opt.lr(1) == 0.01);
  opt.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("optim: constructor errors name the problem") {
  Tensor w = scalar_param();
  CHECK(contains(error_of([] { SGD(std::vector<Tensor>{}, {}); }), "empty parameter list"));
  CHECK(contains(error_of([&] { SGD({w, w}, {}); }), "appears more than once"));
  CHECK(contains(error_of([&] { SGD({w * 2.0}, {}); }), "must be a float leaf with requires_grad"));
  CHECK(contains(error_of([&] { SGD({ones({2})}, {}); }), "must be a float leaf with requires_grad"));
  CHECK(contains(error_of([&] { SGD({w}, {.lr = -1}); }), "lr must be a non-negative number"));
  CHECK(contains(error_of([&] { SGD({w}, {.lr = 0.1, .nesterov = true}); }), "nesterov momentum needs momentum > 0"));
  CHECK(contains(error_of([&] { Adam({w}, {.beta1 = 1.0}); }), "beta1 must be in [0, 1)"));
  CHECK(contains(error_of([&] { AdamW({w}, {.eps = -1}); }), "AdamW: eps must be non-negative"));
}

TEST_CASE("optim: SGD, Adam and AdamW fit a linear regression through nn::Linear") {
  // y = x W^T + b with W = [[2, -1, 0.5]], b = [0.3]; noise-free, so the optimum is exact
  Generator gen(3);
  const Tensor x = randn({64, 3}, gen, f64_opts());
  const Tensor W = from_vector(std::vector<double>{2, -1, 0.5}, {1, 3}, f64_opts());
  const Tensor y = linear(x, W, from_vector(std::vector<double>{0.3}, {1}, f64_opts()));
  auto fit = [&](auto make, int steps) {
    Generator init(1);
    nn::Linear lin(3, 1, init, true, f64_opts());
    auto opt = make(lin.parameters());
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      mse_loss(lin.forward(x), y).backward();
      opt.step();
    }
    return std::vector<double>{vals(lin.weight)[0], vals(lin.weight)[1], vals(lin.weight)[2], vals(lin.bias)[0]};
  };
  const std::vector<double> truth{2, -1, 0.5, 0.3};
  const auto sgd = fit([](std::vector<Tensor> p) { return SGD(p, {.lr = 0.1, .momentum = 0.9}); }, 300);
  const auto adam = fit([](std::vector<Tensor> p) { return Adam(p, {.lr = 0.05}); }, 1500);
  const auto adamw = fit([](std::vector<Tensor> p) { return AdamW(p, {.lr = 0.05, .weight_decay = 0.0}); }, 1500);
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(sgd[i] == doctest::Approx(truth[i]).epsilon(1e-6));
    CHECK(adam[i] == doctest::Approx(truth[i]).epsilon(1e-4));
    CHECK(adamw[i] == doctest::Approx(truth[i]).epsilon(1e-4));
  }
}

TEST_CASE("optim: state follows its parameter when the module changes dtype after a step") {
  Generator gen(5);
  nn::Linear lin(2, 2, gen);
  Adam opt(lin.parameters(), {.lr = 0.01});
  const Tensor x = randn({4, 2}, gen);
  sum(square(lin.forward(x))).backward();
  opt.step();
  CHECK(opt.state(0).slots.at("exp_avg").dtype() == DType::f32);
  lin.to(DType::f64);
  opt.zero_grad();
  sum(square(lin.forward(x.to(DType::f64)))).backward();
  opt.step();
  CHECK(opt.state(0).slots.at("exp_avg").dtype() == DType::f64);
  CHECK(opt.state(0).step == 2);
}

// ---------------------------------------------------------------- state save / restore
TEST_CASE("optim: state_dict then load_state_dict resumes the exact trajectory") {
  auto run = [](auto make, bool interrupt) {
    Tensor w = from_vector(std::vector<double>{1.0, -0.5, 2.0}, {3}, f64_opts().with_requires_grad());
    const Tensor target = from_vector(std::vector<double>{3.0, 0.0, -1.0}, {3}, f64_opts());
    auto opt = make(w);
    auto step = [&](auto& o) {
      o.zero_grad();
      sum(square(w - target) * square(w)).backward();
      o.step();
    };
    for (int i = 0; i < 3; ++i) step(opt);
    if (interrupt) {
      const OptimizerState saved = opt.state_dict();
      auto fresh = make(w);  // new optimizer, default state
      fresh.load_state_dict(saved);
      for (int i = 0; i < 3; ++i) step(fresh);
    } else {
      for (int i = 0; i < 3; ++i) step(opt);
    }
    return vals(w);
  };
  auto sgd = [](Tensor w) { return SGD({w}, {.lr = 0.01, .momentum = 0.9, .nesterov = true}); };
  auto adam = [](Tensor w) { return Adam({w}, {.lr = 0.05, .amsgrad = true}); };
  auto adamw = [](Tensor w) { return AdamW({w}, {.lr = 0.05}); };
  CHECK(run(sgd, true) == run(sgd, false));
  CHECK(run(adam, true) == run(adam, false));
  CHECK(run(adamw, true) == run(adamw, false));
  // without restoring, Adam's bias correction restarts: a different trajectory (the test can fail)
  auto adam_reset = [](Tensor w) { return Adam({w}, {.lr = 0.05}); };
  CHECK(run(adam_reset, false) != run([](Tensor w) { return Adam({w}, {.lr = 0.05, .beta1 = 0.5}); }, false));
}

TEST_CASE("optim: load_state_dict restores lr and hyperparameters, and rejects mismatched state") {
  Tensor w = scalar_param();
  Adam src({w}, {.lr = 0.3, .beta1 = 0.7});
  quadratic_step(src, w);
  const OptimizerState saved = src.state_dict();
  CHECK(saved.tensors.count("state/0/exp_avg") == 1);
  CHECK(saved.tensors.count("state/0/exp_avg_sq") == 1);
  CHECK(saved.tensors.at("state/0/step").dtype() == DType::i64);

  Adam dst({scalar_param()}, {.lr = 0.001});
  dst.load_state_dict(saved);
  CHECK(dst.lr() == 0.3);
  CHECK(dst.options().beta1 == 0.7);
  CHECK(dst.state(0).step == 1);

  SGD sgd({scalar_param()}, {});
  CHECK(contains(error_of([&] { sgd.load_state_dict(saved); }), "belongs to a Adam optimizer, not SGD"));
  AdamW adamw({scalar_param()});
  CHECK(contains(error_of([&] { adamw.load_state_dict(saved); }), "belongs to a Adam optimizer, not AdamW"));
  Adam wrong_shape({from_vector(std::vector<double>{1, 2}, {2}, f64_opts().with_requires_grad())}, {});
  CHECK(contains(error_of([&] { wrong_shape.load_state_dict(saved); }),
                 "key 'state/0/exp_avg' is float64[1] on cpu but parameter 0 is float64[2] on cpu"));
  Adam two({scalar_param(), scalar_param()}, {});
  CHECK(contains(error_of([&] { two.load_state_dict(saved); }), "has 1 parameters, this optimizer's group 0 has 2"));
  OptimizerState bad = saved;
  bad.tensors["state/0/velocity"] = zeros({1}, f64_opts());
  CHECK(contains(error_of([&] { dst.load_state_dict(bad); }), "Adam keeps no state 'velocity'"));
  bad = saved;
  bad.tensors["state/7/exp_avg"] = zeros({1}, f64_opts());
  CHECK(contains(error_of([&] { dst.load_state_dict(bad); }), "names parameter 7, but the optimizer has 1"));
  bad = saved;
  bad.tensors.erase("state/0/step");
  CHECK(contains(error_of([&] { dst.load_state_dict(bad); }), "has state but no 'state/0/step'"));
  bad = saved;
  bad.config = "{not json";
  CHECK(contains(error_of([&] { dst.load_state_dict(bad); }), "not valid JSON"));
  // the failed loads left dst as it was
  CHECK(dst.state(0).step == 1);
  CHECK(dst.lr() == 0.3);
}

// ---------------------------------------------------------------- clip_grad_norm
TEST_CASE("optim: clip_grad_norm by hand (PyTorch's formula, eps 1e-6)") {
  Tensor a = from_vector(std::vector<double>{0, 0}, {2}, f64_opts().with_requires_grad());
  Tensor b = from_vector(std::vector<double>{0}, {1}, f64_opts().with_requires_grad());
  Tensor none = scalar_param();
  auto set = [&] {
    a.set_grad(from_vector(std::vector<double>{3, -4}, {2}, f64_opts()));
    b.set_grad(from_vector(std::vector<double>{12}, {1}, f64_opts()));
  };
  // total = sqrt(9 + 16 + 144) = 13; max_norm 6.5: every gradient times 6.5 / (13 + 1e-6)
  set();
  CHECK(clip_grad_norm({a, b, none}, 6.5) == doctest::Approx(13.0).epsilon(1e-15));
  const double c = 6.5 / (13 + 1e-6);
  CHECK(vals(a.grad())[0] == doctest::Approx(3 * c).epsilon(1e-15));
  CHECK(vals(a.grad())[1] == doctest::Approx(-4 * c).epsilon(1e-15));
  CHECK(vals(b.grad())[0] == doctest::Approx(12 * c).epsilon(1e-15));
  // under the limit: unchanged
  set();
  CHECK(clip_grad_norm({a, b}, 20.0) == doctest::Approx(13.0).epsilon(1e-15));
  CHECK(vals(a.grad()) == std::vector<double>{3, -4});
  // infinity norm: the largest |g| = 12; max_norm 3 -> times 3 / (12 + 1e-6)
  set();
  CHECK(clip_grad_norm({a, b}, 3.0, kInfNorm) == 12.0);
  CHECK(vals(b.grad())[0] == doctest::Approx(12 * 3 / (12 + 1e-6)).epsilon(1e-15));
  // 1-norm: 3 + 4 + 12 = 19
  set();
  CHECK(clip_grad_norm({a, b}, 100.0, 1.0) == doctest::Approx(19.0).epsilon(1e-15));
  // nothing has a gradient
  CHECK(clip_grad_norm({none}, 1.0) == 0.0);
  // non-finite
  a.set_grad(from_vector(std::vector<double>{NAN, 1}, {2}, f64_opts()));
  CHECK(contains(error_of([&] { clip_grad_norm({a, b}, 1.0, 2.0, true); }), "a gradient holds NaN or Inf"));
  CHECK(vals(b.grad())[0] == 12.0);  // nothing was scaled
  CHECK(std::isnan(clip_grad_norm({a, b}, 1.0)));
  CHECK(contains(error_of([&] { clip_grad_norm({a}, -1.0); }), "max_norm must be non-negative"));
}

// ---------------------------------------------------------------- schedules by hand
TEST_CASE("optim: constant and linear-warmup schedules, lr sequences by hand") {
  Tensor w = scalar_param();
  SGD opt({w}, {.lr = 0.5});
  {
    ConstantSchedule s(opt);
    for (int i = 0; i < 3; ++i) {
      s.step();
      CHECK(opt.lr() == 0.5);
    }
  }
  // warmup W = 2, total T = 5, base lr 0.5:
  //   t = 0: 0/2 -> 0     t = 1: 1/2 -> 0.25     t = 2: (5-2)/3 -> 0.5
  //   t = 3: 2/3 -> 1/3   t = 4: 1/3 -> 1/6      t = 5: 0     t = 6: max(0, -1/3) = 0
  LinearWarmupSchedule s(opt, 2, 5);
  std::vector<double> lrs{opt.lr()};
  for (int i = 0; i < 6; ++i) {
    s.step();
    lrs.push_back(opt.lr());
  }
  const std::vector<double> expect{0.0, 0.25, 0.5, 0.5 * 2 / 3, 0.5 / 3, 0.0, 0.0};
  REQUIRE(lrs.size() == expect.size());
  for (std::size_t i = 0; i < lrs.size(); ++i) CHECK(lrs[i] == doctest::Approx(expect[i]).epsilon(1e-15));
  CHECK(s.last_step() == 6);
  CHECK(s.base_lrs() == std::vector<double>{0.5});

  // resume: a new schedule restored from state_json continues at step 6
  SGD opt2({scalar_param()}, {.lr = 0.5});
  LinearWarmupSchedule s2(opt2, 2, 5);
  s2.load_state_json(s.state_json());
  CHECK(s2.last_step() == 6);
  CHECK(opt2.lr() == 0.0);
  CHECK(contains(error_of([&] { LinearWarmupSchedule bad(opt, 6, 5); }), "warmup_steps (6) exceeds total_steps (5)"));
  CHECK(contains(error_of([&] { s2.load_state_json("[1]"); }), "expected a JSON object"));
}

TEST_CASE("optim: ReduceLROnPlateau, lr sequence by hand") {
  Tensor w = scalar_param(), v = scalar_param();
  SGD opt(std::vector<ParamGroup>{{.params = {w}}, {.params = {v}, .lr = 0.3}}, {.lr = 1.0});
  PlateauOptions po;
  po.factor = 0.5;
  po.patience = 1;
  po.threshold = 0.0;
  po.threshold_mode = PlateauOptions::ThresholdMode::Abs;
  po.cooldown = 1;
  po.min_lr = {0.0, 0.2};
  ReduceLROnPlateau s(opt, po);
  // metric: 5 4 4 4 4 3 3 3
  //  epoch 1: 5 < inf better, bad 0          epoch 2: 4 better, bad 0
  //  epoch 3: 4 not < 4, bad 1               epoch 4: bad 2 > 1: lr *= 0.5, cooldown 1, bad 0
  //  epoch 5: bad 1, but cooling down: counter 0, bad 0
  //  epoch 6: 3 better, bad 0   epoch 7: bad 1   epoch 8: bad 2 > 1: lr *= 0.5
  // group 1 starts at 0.3: 0.15 is below its min_lr 0.2, so it becomes 0.2, then stays
  const std::vector<double> metrics{5, 4, 4, 4, 4, 3, 3, 3};
  const std::vector<double> lr0{1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25};
  const std::vector<double> lr1{0.3, 0.3, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    s.step(metrics[i]);
    CAPTURE(i);
    CHECK(opt.lr(0) == lr0[i]);
    CHECK(opt.lr(1) == doctest::Approx(lr1[i]).epsilon(1e-15));
  }
  CHECK(s.best() == 3.0);
  CHECK(s.in_cooldown());
  CHECK(s.last_epoch() == 8);

  CHECK(contains(error_of([&] { s.step(NAN); }), "the metric at epoch 9 is NaN"));

  // state round trip: a restored schedule continues like the original
  PlateauOptions one = po;
  one.min_lr = {0.0};
  SGD opt_a({scalar_param()}, {.lr = 1.0}), opt_b({scalar_param()}, {.lr = 1.0});
  ReduceLROnPlateau a(opt_a, one), b(opt_b, one);
  b.load_state_json(a.state_json());  // nothing seen yet: best is null in JSON
  for (double m : {5.0, 4.0, 4.0}) a.step(m);  // one bad epoch so far
  b.load_state_json(a.state_json());
  CHECK(b.num_bad_epochs() == 1);
  CHECK(b.best() == 4.0);
  a.step(4.0);
  b.step(4.0);  // both: a second bad epoch, lr halves
  CHECK(opt_a.lr() == 0.5);
  CHECK(opt_b.lr() == 0.5);

  CHECK(error_of([&] { ReduceLROnPlateau fine(opt, one); }).empty());  // one min_lr for all groups
  PlateauOptions three = po;
  three.min_lr = {0.0, 0.1, 0.2};
  CHECK(contains(error_of([&] { ReduceLROnPlateau bad(opt, three); }),
                 "min_lr needs 1 entry or one per parameter group (2), got 3"));
  PlateauOptions big = po;
  big.factor = 1.0;
  CHECK(contains(error_of([&] { ReduceLROnPlateau bad(opt, big); }), "factor must be in [0, 1)"));
}

// ---------------------------------------------------------------- against PyTorch (ref_optim.py)
namespace {

// Runs the fixture's problem (see ref_optim.py) with our optimizer; returns [steps, 17].
template <class MakeOpt>
Tensor optimizer_trajectory(const Inputs& in, const Params& params, MakeOpt make) {
  Tensor p = in[0].detach().clone().requires_grad_(true);
  Tensor q = in[1].detach().clone().requires_grad_(true);
  const Tensor t = in[2];
  ParamGroup g0{.params = {p}};
  if (params.contains("lr0")) g0.lr = params["lr0"].get<double>();
  if (params.contains("wd0")) g0.weight_decay = params["wd0"].get<double>();
  ParamGroup g1{.params = {q}};
  auto opt = make(std::vector<ParamGroup>{g0, g1}, params.value("lr", 0.0), params.value("weight_decay", 0.0));
  std::vector<Tensor> rows;
  for (int i = 0; i < params["steps"].get<int>(); ++i) {
    opt.zero_grad();
    (sum(square(p - t)) + sum(pow(q, 4.0)) * 0.25 + sum(p) * sum(q) * 0.1).backward();
    opt.step();
    rows.push_back(concat({flatten(p.detach()), q.detach()}, 0));
  }
  return stack(rows, 0);
}

AdamOptions adam_options(const Params& p, double lr, double wd) {
  return AdamOptions{.lr = lr, .beta1 = p.value("beta1", 0.9), .beta2 = p.value("beta2", 0.999),
                     .eps = p.value("eps", 1e-8), .weight_decay = wd, .amsgrad = p.value("amsgrad", false)};
}

}  // namespace

FG_REFERENCE_TEST("optim", "sgd", [](const Inputs& in, const Params& p) {
  return optimizer_trajectory(in, p, [&](std::vector<ParamGroup> groups, double lr, double wd) {
    return SGD(std::move(groups), {.lr = lr, .momentum = p.value("momentum", 0.0), .dampening = p.value("dampening", 0.0),
                                   .weight_decay = wd, .nesterov = p.value("nesterov", false)});
  });
})

FG_REFERENCE_TEST("optim", "adam", [](const Inputs& in, const Params& p) {
  return optimizer_trajectory(in, p, [&](std::vector<ParamGroup> groups, double lr, double wd) {
    return Adam(std::move(groups), adam_options(p, lr, wd));
  });
})

FG_REFERENCE_TEST("optim", "adamw", [](const Inputs& in, const Params& p) {
  return optimizer_trajectory(in, p, [&](std::vector<ParamGroup> groups, double lr, double wd) {
    const AdamOptions o = adam_options(p, lr, wd);
    return AdamW(std::move(groups), {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps,
                                     .weight_decay = o.weight_decay, .amsgrad = o.amsgrad});
  });
})

FG_REFERENCE_TEST("optim", "clip", [](const Inputs& in, const Params& p) {
  Tensor a = zeros_like(in[0]).requires_grad_(true);
  Tensor b = zeros_like(in[1]).requires_grad_(true);
  a.set_grad(in[0].clone());
  b.set_grad(in[1].clone());
  const double norm_type = p["norm_type"].is_string() ? kInfNorm : p["norm_type"].get<double>();
  const double total = clip_grad_norm({a, b}, p["max_norm"].get<double>(), norm_type);
  return concat({from_vector(std::vector<double>{total}, {1}, f64_opts()), flatten(a.grad()), b.grad()}, 0);
})

FG_REFERENCE_TEST("optim", "plateau", [](const Inputs& in, const Params& p) {
  SGD opt({scalar_param()}, {.lr = 1.0});
  PlateauOptions po;
  po.mode = p["mode"] == "min" ? PlateauOptions::Mode::Min : PlateauOptions::Mode::Max;
  po.factor = p["factor"].get<double>();
  po.patience = p["patience"].get<std::int64_t>();
  po.threshold = p["threshold"].get<double>();
  po.threshold_mode = p["threshold_mode"] == "rel" ? PlateauOptions::ThresholdMode::Rel : PlateauOptions::ThresholdMode::Abs;
  po.cooldown = p["cooldown"].get<std::int64_t>();
  po.min_lr = {p["min_lr"].get<double>()};
  po.eps = p["eps"].get<double>();
  ReduceLROnPlateau sched(opt, po);
  std::vector<double> lrs;
  for (double m : vals(in[0])) {
    sched.step(m);
    lrs.push_back(opt.lr());
  }
  return from_vector(lrs, {static_cast<std::int64_t>(lrs.size())}, f64_opts());
})

FG_REFERENCE_TEST("optim", "linear_warmup", [](const Inputs&, const Params& p) {
  SGD opt({scalar_param()}, {.lr = 2.0});
  LinearWarmupSchedule sched(opt, p["warmup"].get<std::int64_t>(), p["total"].get<std::int64_t>());
  std::vector<double> lrs{opt.lr()};
  for (int i = 0; i < p["steps"].get<int>(); ++i) {
    opt.step();  // no gradients: nothing moves, as in the PyTorch script
    sched.step();
    lrs.push_back(opt.lr());
  }
  return from_vector(lrs, {static_cast<std::int64_t>(lrs.size())}, f64_opts());
})

TEST_CASE("reference vs PyTorch [optim]: every fixture case has a C++ test") { testing::check_reference_coverage("optim"); }
