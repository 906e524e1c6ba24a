// tests/test_nn.cpp: fg::nn: the module registry (names as PyTorch spells them, train/eval,
// load_state_dict and its errors, to()), the initializers and the layers (Linear, MLP,
// Embedding, LayerNorm, Dropout), with float64 gradient checks through the modules.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/nn/nn.h"
#include "engine/ops.h"
#include "support/gradcheck.h"
#include "support/test_util.h"

using namespace fg;
using namespace fg::nn;

namespace {

std::vector<std::string> names_of(const NamedTensors& list) {
  std::vector<std::string> out;
  for (const auto& [name, t] : list) out.push_back(name);
  return out;
}

std::vector<std::string> keys_of(const std::map<std::string, Tensor>& m) {
  std::vector<std::string> out;
  for (const auto& [name, t] : m) out.push_back(name);
  return out;
}

using fg::test::vals;
using fg::test::error_of;
using fg::test::contains;

// A small model using every layer: the same structure as Net in tests/reference/torch_checkpoint.py.
struct Net : Module {
  Net(Generator& gen, TensorOptions opts = {}) {
    embed = register_module("embed", std::make_shared<Embedding>(10, 4, gen, 0, opts));
    MLPOptions mo;
    mo.sizes = {4, 8, 6};
    mo.activations = {Activation::ReLU, Activation::Tanh};
    mo.dropout = {0.25, 0.0};
    mo.activate_last = true;
    mo.param_options = opts;
    encoder = register_module("encoder", std::make_shared<MLP>(mo, gen));
    norm = register_module("norm", std::make_shared<LayerNorm>(6, 1e-5, true, opts));
    head = register_module("head", std::make_shared<Linear>(6, 3, gen, true, opts));
    steps = register_buffer("steps", zeros({1}, TensorOptions{DType::i64}));
  }
  std::string type_name() const override { return "Net"; }
  // ids: int64 [N], feats: [N, 4] -> [N, 3]
  Tensor forward(const Tensor& ids, const Tensor& feats) const {
    return head->forward(norm->forward(encoder->forward(embed->forward(ids) + feats)));
  }
  std::shared_ptr<Embedding> embed;
  std::shared_ptr<MLP> encoder;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> head;
  Tensor steps;
};

}  // namespace

// ---------------------------------------------------------------- registry
TEST_CASE("nn: named_parameters and state_dict use PyTorch's dotted names") {
  Generator gen(1);
  auto net = std::make_shared<Net>(gen);
  // registration order: own entries, then each child's subtree (torch.nn.Module order)
  CHECK(names_of(net->named_parameters()) ==
        std::vector<std::string>{"embed.weight", "encoder.0.weight", "encoder.0.bias", "encoder.3.weight",
                                 "encoder.3.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"});
  CHECK(names_of(net->named_buffers()) == std::vector<std::string>{"steps"});
  CHECK(keys_of(net->state_dict()) ==
        std::vector<std::string>{"embed.weight", "encoder.0.bias", "encoder.0.weight", "encoder.3.bias",
                                 "encoder.3.weight", "head.bias", "head.weight", "norm.bias", "norm.weight", "steps"});
  // 10*4 + (8*4 + 8) + (6*8 + 6) + 6 + 6 + (3*6 + 3)
  CHECK(net->num_parameters() == 40 + 40 + 54 + 12 + 21);
  for (const Tensor& p : net->parameters()) {
    CHECK(p.is_leaf());
    CHECK(p.requires_grad());
    CHECK(p.dtype() == DType::f32);
  }
  CHECK_FALSE(net->steps.requires_grad());
  // the member handles and the registry are the same tensors
  CHECK(net->state_dict().at("head.weight").impl() == net->head->weight.impl());
  CHECK(net->named_children().size() == 4);
}

TEST_CASE("nn: a tensor registered twice is one parameter but two state_dict entries") {
  struct Tied : Module {
    Tied() {
      Tensor w = ones({2, 2});
      a = register_parameter("a", w);
      b = register_parameter("b", a);
    }
    Tensor a, b;
  };
  Tied m;
  CHECK(names_of(m.named_parameters()) == std::vector<std::string>{"a"});
  CHECK(m.num_parameters() == 4);
  CHECK(m.state_dict().size() == 2);
}

TEST_CASE("nn: registration rejects bad names, duplicates, integer parameters and cycles") {
  struct M : Module {};
  auto m = std::make_shared<M>();
  m->register_parameter("w", zeros({2}));
  CHECK(contains(error_of([&] { m->register_parameter("w", zeros({2})); }), "already registered"));
  CHECK(contains(error_of([&] { m->register_buffer("w", zeros({2})); }), "'w'"));
  CHECK(contains(error_of([&] { m->register_parameter("a.b", zeros({2})); }), "may not contain '.'"));
  CHECK(contains(error_of([&] { m->register_parameter("", zeros({2})); }), "must not be empty"));
  CHECK(contains(error_of([&] { m->register_parameter("i", zeros({2}, TensorOptions{DType::i64})); }),
                 "float32 or float64"));
  auto child = std::make_shared<M>();
  m->register_module("child", child);
  CHECK(contains(error_of([&] { child->register_module("loop", m); }), "contain itself"));
  CHECK(contains(error_of([&] { m->register_module("self", m); }), "contain itself"));
  // a tensor with a graph is detached into a leaf
  Tensor x = ones({2}, f32_opts().with_requires_grad());
  Tensor y = m->register_parameter("y", x * 2.0);
  CHECK(y.is_leaf());
  CHECK(y.requires_grad());
}

TEST_CASE("nn: train() and eval() reach every descendant; dropout follows the mode") {
  Generator gen(2);
  auto net = std::make_shared<Net>(gen);
  CHECK(net->is_training());
  net->eval();
  CHECK_FALSE(net->is_training());
  CHECK_FALSE(net->encoder->is_training());
  for (const auto& [name, child] : net->encoder->named_children()) CHECK_FALSE(child->is_training());
  Tensor ids = from_vector(std::vector<std::int64_t>{1, 2, 3, 0, 9}, {5}, TensorOptions{DType::i64});
  Tensor feats = randn({5, 4}, gen);
  // eval: deterministic
  CHECK(vals(net->forward(ids, feats)) == vals(net->forward(ids, feats)));
  net->train();
  CHECK(net->encoder->is_training());
  for (const auto& [name, child] : net->encoder->named_children()) CHECK(child->is_training());
  // training: dropout (p = 0.25) draws a new mask each call from the default generator
  manual_seed(5);
  const auto a = vals(net->forward(ids, feats));
  const auto b = vals(net->forward(ids, feats));
  manual_seed(5);
  const auto a_again = vals(net->forward(ids, feats));
  CHECK(a != b);
  CHECK(a == a_again);
  net->train(false);
  CHECK_FALSE(net->head->is_training());
}

// ---------------------------------------------------------------- load_state_dict
TEST_CASE("nn: load_state_dict copies by name, in place") {
  Generator g1(1), g2(2);
  auto src = std::make_shared<Net>(g1);
  auto dst = std::make_shared<Net>(g2);
  const Tensor head_w = dst->head->weight;  // a handle taken before loading
  CHECK(vals(head_w) != vals(src->head->weight));
  copy_(src->steps, from_vector(std::vector<std::int64_t>{7}, {1}, TensorOptions{DType::i64}));
  const LoadResult r = dst->load_state_dict(src->state_dict());
  CHECK(r.missing_keys.empty());
  CHECK(r.unexpected_keys.empty());
  CHECK(vals(head_w) == vals(src->head->weight));
  CHECK(head_w.impl() == dst->head->weight.impl());
  CHECK(dst->head->weight.requires_grad());
  CHECK(vals(dst->steps) == std::vector<double>{7});
  for (const auto& [name, t] : src->state_dict()) CHECK(vals(dst->state_dict().at(name)) == vals(t));
  // float64 values load into float32 parameters (converted)
  auto state = src->state_dict();
  state["head.bias"] = from_vector(std::vector<double>{0.5, -0.25, 2.0}, {3}, f64_opts());
  dst->load_state_dict(state);
  CHECK(vals(dst->head->bias) == std::vector<double>{0.5, -0.25, 2.0});
  CHECK(dst->head->bias.dtype() == DType::f32);
}

TEST_CASE("nn: load_state_dict names missing keys, unexpected keys and shape mismatches, and loads nothing") {
  Generator g1(1), g2(2);
  auto src = std::make_shared<Net>(g1);
  auto dst = std::make_shared<Net>(g2);
  const auto before = vals(dst->encoder->linears()[0]->weight);

  auto missing = src->state_dict();
  missing.erase("norm.bias");
  std::string err = error_of([&] { dst->load_state_dict(missing); });
  CHECK(contains(err, "missing keys"));
  CHECK(contains(err, "'norm.bias'"));
  CHECK(contains(err, "nothing was loaded"));

  auto unexpected = src->state_dict();
  unexpected["encoder.9.weight"] = zeros({2, 2});
  err = error_of([&] { dst->load_state_dict(unexpected); });
  CHECK(contains(err, "unexpected keys"));
  CHECK(contains(err, "'encoder.9.weight'"));

  auto wrong_shape = src->state_dict();
  wrong_shape["head.weight"] = zeros({6, 3});
  err = error_of([&] { dst->load_state_dict(wrong_shape, /*strict=*/false); });
  CHECK(contains(err, "'head.weight' has shape [6, 3] in the given state but [3, 6] in the module"));

  auto wrong_kind = src->state_dict();
  wrong_kind["steps"] = zeros({1});
  err = error_of([&] { dst->load_state_dict(wrong_kind); });
  CHECK(contains(err, "'steps' is float32 in the given state but int64 in the module"));

  // none of the failed loads changed anything (the checks run before any copy)
  CHECK(vals(dst->encoder->linears()[0]->weight) == before);

  // non-strict: loads what matches and reports the rest
  const LoadResult r = dst->load_state_dict(missing, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"norm.bias"});
  CHECK(r.unexpected_keys.empty());
  CHECK(vals(dst->encoder->linears()[0]->weight) == vals(src->encoder->linears()[0]->weight));
  const LoadResult r2 = dst->load_state_dict(unexpected, /*strict=*/false);
  CHECK(r2.unexpected_keys == std::vector<std::string>{"encoder.9.weight"});
}

// ---------------------------------------------------------------- to(), zero_grad
TEST_CASE("nn: to(float64) converts in place; parameters stay leaves; a gradient check through the model passes") {
  Generator gen(3);
  auto net = std::make_shared<Net>(gen);
  net->eval();  // dropout off: a deterministic function for the gradient check
  const Tensor w = net->head->weight;
  const auto w32 = vals(w);
  net->to(DType::f64);
  CHECK(w.dtype() == DType::f64);
  CHECK(net->steps.dtype() == DType::i64);  // integer buffers keep their dtype
  CHECK(vals(w) == w32);                    // float32 -> float64 is exact
  for (const Tensor& p : net->parameters()) {
    CHECK(p.dtype() == DType::f64);
    CHECK(p.is_leaf());
    CHECK(p.requires_grad());
  }
  // no padding index (0) here: its row gets no gradient by design, unlike the numeric one
  Tensor ids = from_vector(std::vector<std::int64_t>{1, 2, 3, 3}, {4}, TensorOptions{DType::i64});
  Tensor feats = testing::rand_input({4, 4}, 11);
  std::vector<Tensor> inputs = net->parameters();
  inputs.push_back(feats);
  // gradcheck perturbs the parameters' storage in place, which the module reads
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return net->forward(ids, feats); }, inputs);
  // and back: gradients follow the conversion
  sum(net->forward(ids, feats)).backward();
  net->to(DType::f32);
  CHECK(w.dtype() == DType::f32);
  CHECK(w.grad().dtype() == DType::f32);
  net->zero_grad();
  for (const Tensor& p : net->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("nn: float64 layers built directly pass gradient checks") {
  Generator gen(4);
  MLPOptions mo;
  mo.sizes = {3, 5, 4, 2};
  mo.activations = {Activation::GELU, Activation::LeakyReLU, Activation::Sigmoid};
  mo.activate_last = true;
  mo.negative_slope = 0.2;
  mo.param_options = f64_opts();
  auto mlp = std::make_shared<MLP>(mo, gen);
  Tensor x = testing::rand_input({6, 3}, 5);
  std::vector<Tensor> inputs = mlp->parameters();
  inputs.push_back(x);
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return mlp->forward(x); }, inputs);

  auto ln = std::make_shared<LayerNorm>(5, 1e-5, true, f64_opts());
  init::normal_(ln->weight, gen);
  init::normal_(ln->bias, gen);
  Tensor y = testing::rand_input({2, 3, 5}, 6);
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return ln->forward(y); },
                  std::vector<Tensor>({ln->weight, ln->bias, y}));
}

TEST_CASE("nn: to(Device) moves parameters in place to CUDA and back") {
  if (!device::cuda_available()) {
    std::puts("SKIPPED: no CUDA device");
    return;
  }
  Generator gen(7);
  auto net = std::make_shared<Net>(gen);
  net->eval();
  Tensor ids = from_vector(std::vector<std::int64_t>{1, 2, 0}, {3}, TensorOptions{DType::i64});
  Tensor feats = randn({3, 4}, gen);
  const auto cpu_out = vals(net->forward(ids, feats));
  const Tensor w = net->head->weight;
  net->to(Device::cuda());
  CHECK(w.device().is_cuda());
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  Tensor out = net->forward(ids.to(Device::cuda()), feats.to(Device::cuda()));
  CHECK(out.device().is_cuda());
  const auto gpu_out = vals(out);
  for (std::size_t i = 0; i < cpu_out.size(); ++i) CHECK(gpu_out[i] == doctest::Approx(cpu_out[i]).epsilon(1e-5));
  sum(out).backward();
  CHECK(w.grad().device().is_cuda());
  net->to(Device::cpu());
  CHECK(w.device().is_cpu());
  CHECK(w.grad().device().is_cpu());
}

// ---------------------------------------------------------------- init
TEST_CASE("nn::init: fans, gains and deterministic draws") {
  CHECK(init::fan_in_and_fan_out(zeros({5, 3})) == std::pair<std::int64_t, std::int64_t>{3, 5});
  CHECK(init::fan_in_and_fan_out(zeros({5, 3, 2, 2})) == std::pair<std::int64_t, std::int64_t>{12, 20});
  CHECK(contains(error_of([] { init::fan_in_and_fan_out(zeros({5})); }), "at least 2 dims"));
  CHECK(init::calculate_gain("relu") == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK(contains(error_of([] { init::calculate_gain("swish"); }), "unknown nonlinearity 'swish'"));

  Tensor a = empty({64, 32}), b = empty({64, 32}), c = empty({64, 32});
  Generator g1(9), g2(9), g3(10);
  init::xavier_uniform_(a, g1);
  init::xavier_uniform_(b, g2);
  init::xavier_uniform_(c, g3);
  CHECK(vals(a) == vals(b));
  CHECK(vals(a) != vals(c));
}

TEST_CASE("nn::init: the distributions have PyTorch's bounds and spreads") {
  Generator gen(12);
  // [400, 250]: fan_in 250, fan_out 400, 100000 draws (sample std within ~1%)
  auto sample_std = [](const Tensor& t) {
    const auto v = vals(t);
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size()));
  };
  auto max_abs = [](const Tensor& t) { return max(abs(t)).item(); };
  Tensor t = empty({400, 250}, f64_opts());

  init::xavier_uniform_(t, gen, 2.0);
  const double xb = 2.0 * std::sqrt(6.0 / 650.0);
  CHECK(max_abs(t) <= xb);
  CHECK(max_abs(t) > 0.99 * xb);
  CHECK(sample_std(t) == doctest::Approx(xb / std::sqrt(3.0)).epsilon(0.02));

  init::xavier_normal_(t, gen);
  CHECK(sample_std(t) == doctest::Approx(std::sqrt(2.0 / 650.0)).epsilon(0.02));

  init::kaiming_uniform_(t, gen, 0.0, init::FanMode::FanIn, "relu");
  const double kb = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(250.0);
  CHECK(max_abs(t) <= kb);
  CHECK(max_abs(t) > 0.99 * kb);

  init::kaiming_normal_(t, gen, 0.0, init::FanMode::FanOut, "relu");
  CHECK(sample_std(t) == doctest::Approx(std::sqrt(2.0) / std::sqrt(400.0)).epsilon(0.02));

  init::normal_(t, gen, 3.0, 0.5);
  CHECK(mean(t).item() == doctest::Approx(3.0).epsilon(0.01));
  CHECK(sample_std(t) == doctest::Approx(0.5).epsilon(0.02));

  init::uniform_(t, gen, -0.5, 1.5);
  CHECK(min(t).item() >= -0.5);
  CHECK(max(t).item() < 1.5);

  init::ones_(t);
  CHECK(min(t).item() == 1.0);
  init::zeros_(t);
  CHECK(max_abs(t) == 0.0);
}

// ---------------------------------------------------------------- layers
TEST_CASE("nn::Linear: PyTorch layout and default init; forward is x W^T + b") {
  Generator gen(21);
  Linear lin(16, 5, gen);
  CHECK(lin.weight.shape() == Shape{5, 16});
  CHECK(lin.bias.shape() == Shape{5});
  CHECK(names_of(lin.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  const double bound = 1.0 / std::sqrt(16.0);  // kaiming_uniform(a = sqrt(5)) and the bias bound
  CHECK(max(abs(lin.weight)).item() <= bound);
  CHECK(max(abs(lin.bias)).item() <= bound);
  CHECK(max(abs(lin.weight)).item() > 0.8 * bound);

  Linear small(2, 2, gen, true, f64_opts());
  copy_(small.weight, from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}));
  copy_(small.bias, from_vector(std::vector<double>{0.5, -1}, {2}));
  Tensor x = from_vector(std::vector<double>{1, -1, 2, 0.5}, {2, 2}, f64_opts());
  // row [1, -1]: [1*1 + 2*(-1) + 0.5, 3*1 + 4*(-1) - 1] = [-0.5, -2]
  // row [2, 0.5]: [2 + 1 + 0.5, 6 + 2 - 1] = [3.5, 7]
  CHECK(vals(small.forward(x)) == std::vector<double>{-0.5, -2, 3.5, 7});
  CHECK(contains(error_of([&] { small.forward(zeros({3, 3}, f64_opts())); }), "Linear(2, 2): the input must be [..., 2]"));

  Linear no_bias(3, 2, gen, false);
  CHECK(names_of(no_bias.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.forward(zeros({4, 3})).shape() == Shape{4, 2});
}

TEST_CASE("nn::MLP: children are numbered like nn.Sequential") {
  Generator gen(22);
  MLPOptions mo;
  mo.sizes = {4, 8, 8, 2};
  mo.dropout = {0.1};
  MLP a(mo, gen);
  CHECK(names_of(a.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"});
  CHECK(a.named_children().size() == 7);
  CHECK(a.named_children()[1].second->type_name() == "ActivationLayer(relu)");
  CHECK(a.named_children()[2].second->type_name() == "Dropout");
  CHECK(a.sequential_index(2) == 6);
  CHECK(a.linears()[1]->weight.shape() == Shape{8, 8});

  mo.dropout = {0.0};  // no dropout: the indices close up
  MLP b(mo, gen);
  CHECK(names_of(b.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});

  mo.activations = {Activation::Tanh, Activation::None, Activation::Sigmoid};  // per layer
  mo.activate_last = true;
  MLP c(mo, gen);
  CHECK(names_of(c.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"});
  CHECK(c.named_children().size() == 5);  // 0 lin, 1 tanh, 2 lin, 3 lin, 4 sigmoid
  const Tensor y = c.forward(randn({5, 4}, gen));
  CHECK(y.shape() == Shape{5, 2});
  CHECK(min(y).item() > 0.0);  // sigmoid on the last layer
  CHECK(max(y).item() < 1.0);

  // forward = the layers applied by hand
  mo.activations = {Activation::ReLU};
  mo.activate_last = false;
  MLP d(mo, gen);
  Tensor x = randn({3, 4}, gen);
  const Tensor by_hand =
      d.linears()[2]->forward(relu(d.linears()[1]->forward(relu(d.linears()[0]->forward(x)))));
  CHECK(vals(d.forward(x)) == vals(by_hand));

  mo.activations = {Activation::ReLU, Activation::ReLU};
  CHECK(contains(error_of([&] { MLP bad(mo, gen); }), "activations needs 1 entry or one per Linear layer (3), got 2"));
  mo.activations = {Activation::ReLU};
  mo.dropout = {1.5};
  CHECK(contains(error_of([&] { MLP bad(mo, gen); }), "dropout of layer 0 must be in [0, 1)"));
  mo.dropout = {0.0};
  mo.sizes = {4};
  CHECK(contains(error_of([&] { MLP bad(mo, gen); }), "sizes needs at least"));
  CHECK(parse_activation("leaky_relu") == Activation::LeakyReLU);
  CHECK(contains(error_of([] { parse_activation("swish"); }), "unknown activation 'swish'"));
}

TEST_CASE("nn::Embedding: rows by index; the padding row is zero and gets no gradient") {
  Generator gen(23);
  Embedding e(6, 3, gen, /*padding_idx=*/-2, f64_opts());  // -2 -> row 4
  REQUIRE(e.padding_idx.has_value());
  CHECK(*e.padding_idx == 4);
  const auto w = vals(e.weight);
  for (int j = 0; j < 3; ++j) CHECK(w[4 * 3 + j] == 0.0);
  CHECK(vals(select(e.weight, 0, 1)) != std::vector<double>{0, 0, 0});

  Tensor idx = from_vector(std::vector<std::int64_t>{1, 4, 1, 5, 0, 4}, {2, 3}, TensorOptions{DType::i64});
  Tensor out = e.forward(idx);
  CHECK(out.shape() == Shape{2, 3, 3});
  const auto o = vals(out);
  const std::int64_t rows[6] = {1, 4, 1, 5, 0, 4};
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 3; ++j) CHECK(o[i * 3 + j] == w[rows[i] * 3 + j]);

  // d/dW of sum(out * R): row r collects the R rows of the positions holding r; row 4 gets none
  Tensor R = randn({2, 3, 3}, gen, f64_opts());
  sum(out * R).backward();
  const auto g = vals(e.weight.grad()), r = vals(R);
  for (int row = 0; row < 6; ++row)
    for (int j = 0; j < 3; ++j) {
      double expect = 0;
      for (int i = 0; i < 6; ++i)
        if (rows[i] == row && row != 4) expect += r[i * 3 + j];
      CHECK(g[row * 3 + j] == doctest::Approx(expect).epsilon(1e-12));
    }

  // the padding row is returned as it is, even if changed (PyTorch's semantics)
  copy_(e.weight, full({6, 3}, 2.0, f64_opts()));
  CHECK(vals(e.forward(idx)) == std::vector<double>(18, 2.0));

  CHECK(contains(error_of([&] { e.forward(zeros({2})); }), "indices must be int64"));
  CHECK(contains(error_of([&] { e.forward(from_vector(std::vector<std::int64_t>{6}, {1}, TensorOptions{DType::i64})); }),
                 "index_select"));
  CHECK(contains(error_of([&] { Embedding bad(6, 3, gen, 6); }), "padding_idx 6 is outside"));

  Embedding plain(5, 2, gen);
  CHECK(names_of(plain.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(plain.forward(from_vector(std::vector<std::int64_t>{3}, {1}, TensorOptions{DType::i64})).shape() ==
        Shape{1, 2});
}

TEST_CASE("nn::LayerNorm: PyTorch names and init, normalizes the last axis") {
  LayerNorm ln(4);
  CHECK(names_of(ln.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(vals(ln.weight) == std::vector<double>(4, 1.0));
  CHECK(vals(ln.bias) == std::vector<double>(4, 0.0));
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4}, f64_opts());
  LayerNorm ln64(4, 0.0, true, f64_opts());
  // mean 2.5, biased variance 1.25: (x - 2.5) / sqrt(1.25)
  const auto y = vals(ln64.forward(x));
  const double s = std::sqrt(1.25);
  const std::vector<double> expect{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s};
  for (int i = 0; i < 4; ++i) CHECK(y[i] == doctest::Approx(expect[i]).epsilon(1e-12));
  LayerNorm bare(4, 1e-5, false);
  CHECK(bare.named_parameters().empty());
  CHECK(contains(error_of([&] { ln.forward(zeros({2, 3})); }), "LayerNorm(4): the input must be [..., 4]"));
}

TEST_CASE("nn::Dropout: a shared generator gives reproducible masks; eval is the identity") {
  auto gen = std::make_shared<Generator>(31);
  Dropout d(0.5, gen);
  Tensor x = ones({1000});
  const auto a = vals(d.forward(x));
  gen->manual_seed(31);
  CHECK(vals(d.forward(x)) == a);
  int zeros_seen = 0;
  for (double v : a) {
    CHECK((v == 0.0 || v == 2.0));  // survivors scaled by 1 / (1 - p)
    zeros_seen += v == 0.0;
  }
  CHECK(zeros_seen > 400);
  CHECK(zeros_seen < 600);
  d.eval();
  CHECK(vals(d.forward(x)) == std::vector<double>(1000, 1.0));
  CHECK(contains(error_of([] { Dropout bad(1.0); }), "p must be in [0, 1)"));
}
