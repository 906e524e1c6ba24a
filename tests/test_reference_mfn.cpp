// tests/test_reference_mfn.cpp: models::MFN vs a step-by-step PyTorch MFN (PyTorch 1.13,
// float64), fixtures from tests/reference/ref_mfn.py: packed batches with uneven lengths,
// full-length batches, two modalities with a one-Linear head, and dropout configurations
// in eval mode. The fixture carries PyTorch's parameter names and values; they are loaded
// into fusegrad's MFN by name (so the names must match PyTorch's exactly), and the output,
// the gradients of every modality input and of every parameter are compared with
//   ||ours - torch||_2 <= 1e-10 ||torch||_2.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/serialize/safetensors.h"
#include "models/mfn.h"
#include "support/reference.h"

using namespace fg;

namespace {

using testing::fixture_tensor;

models::MFNConfig config_from(const nlohmann::json& p) {
  models::MFNConfig c;
  c.modality_names = p["modality_names"].get<std::vector<std::string>>();
  c.input_sizes = p["input_sizes"].get<std::vector<std::int64_t>>();
  c.hidden_sizes = p["hidden_sizes"].get<std::vector<std::int64_t>>();
  c.memory_size = p["memory_size"].get<std::int64_t>();
  c.attention_hidden = p["attention_hidden"].get<std::int64_t>();
  c.memory_hidden = p["memory_hidden"].get<std::int64_t>();
  c.gamma1_hidden = p["gamma1_hidden"].get<std::int64_t>();
  c.gamma2_hidden = p["gamma2_hidden"].get<std::int64_t>();
  c.output_hidden = p["output_hidden"].get<std::vector<std::int64_t>>();
  c.output_size = p["output_size"].get<std::int64_t>();
  c.attention_dropout = p["attention_dropout"].get<double>();
  c.memory_dropout = p["memory_dropout"].get<double>();
  c.gamma1_dropout = p["gamma1_dropout"].get<double>();
  c.gamma2_dropout = p["gamma2_dropout"].get<double>();
  c.output_dropout = p["output_dropout"].get<double>();
  c.batch_first = true;
  return c;
}

}  // namespace

TEST_CASE("reference vs PyTorch [mfn]: output and gradients of every input and parameter") {
  const SafetensorsFile f = testing::load_fixture("mfn");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  int ran = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    REQUIRE(c["op"] == "mfn");
    const auto& p = c["params"];
    const models::MFNConfig cfg = config_from(p);
    const std::size_t M = cfg.modality_names.size();
    const bool has_lengths = p["lengths"].get<bool>();
    const auto param_names = p["param_names"].get<std::vector<std::string>>();
    const std::size_t first_param = M + (has_lengths ? 1 : 0);
    REQUIRE(c["num_inputs"].get<std::size_t>() == first_param + param_names.size());

    Generator gen(1);
    models::MFN mfn(cfg, gen, f64_opts());
    mfn.eval();
    // fusegrad names its parameters as PyTorch does, in the same order
    const auto named = mfn.named_parameters();
    REQUIRE(named.size() == param_names.size());
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CHECK(named[k].first == param_names[k]);
      state[param_names[k]] = fixture_tensor(f, fmt::format("{}.in.{}", name, first_param + k));
    }
    mfn.load_state_dict(state);

    std::vector<Tensor> xs;
    for (std::size_t m = 0; m < M; ++m) xs.push_back(fixture_tensor(f, fmt::format("{}.in.{}", name, m)).clone().requires_grad_());
    const Tensor lengths = has_lengths ? fixture_tensor(f, fmt::format("{}.in.{}", name, M)) : Tensor();
    const Tensor out = mfn.forward(xs, lengths).output;
    const Tensor& ref_out = fixture_tensor(f, name + ".out");
    REQUIRE(out.shape() == ref_out.shape());
    const double out_err = testing::relative_error(out, ref_out);
    INFO("output relative error " << out_err);
    CHECK(out_err <= 1e-10);

    sum(mul(out, fixture_tensor(f, name + ".R"))).backward();
    std::map<std::string, Tensor> params(named.begin(), named.end());
    const auto grads = c["grads"].get<std::vector<std::size_t>>();
    CHECK(grads.size() == M + param_names.size());  // every float input has a reference gradient
    for (std::size_t k : grads) {
      const Tensor& ref_g = fixture_tensor(f, fmt::format("{}.grad.{}", name, k));
      const Tensor& wrt = k < M ? xs[k] : params.at(param_names[k - first_param]);
      const std::string what = k < M ? cfg.modality_names[k] : param_names[k - first_param];
      CAPTURE(what);
      REQUIRE(wrt.grad().defined());
      const double g_err = testing::relative_error(wrt.grad(), ref_g);
      INFO("gradient relative error " << g_err);
      CHECK(g_err <= 1e-10);
    }
    ++ran;
  }
  CHECK(ran == 4);
}
