// tests/test_reference_zoo.cpp: every zoo model (models/zoo.h) against the same model written
// in plain PyTorch (tests/reference/ref_zoo.py; PyTorch 1.13, CPU, float64) from identical
// weights: aligned and unaligned batches with uneven lengths and missing modalities
// (present = 0). The fixture carries PyTorch's parameter names and values; they are loaded
// into our model by name (so the names must match exactly, in the same order), and the
// output cat([prediction, z]) and the gradient of every parameter and of every modality's
// features are compared with ||ours - torch||_2 <= 1e-6 ||torch||_2 (the issue's bound; the
// measured errors, printed per case, are near 1e-15).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/serialize/safetensors.h"
#include "support/reference.h"
#include "test_zoo_support.h"

using namespace fg;

namespace {

using testing::fixture_tensor;

}  // namespace

TEST_CASE("reference vs PyTorch [zoo]: ef_lstm, tfn, lmf, mfn, late_fusion: output, z and every gradient") {
  const SafetensorsFile f = testing::load_fixture("zoo");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  std::map<std::string, std::pair<double, double>> worst;  // model -> (output, gradient) max relative error
  int ran = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto& p = c["params"];
    const std::string model_name = p["model"];
    Generator gen(1);
    models::ZooConfig z = zoo_test::tiny_zoo(gen);
    z.modalities = p["modalities"].get<std::vector<std::string>>();
    z.input_dims = p["input_dims"].get<std::vector<std::int64_t>>();
    z.hidden = p["hidden"].get<std::vector<std::int64_t>>();
    z.fused_hidden = p["fused_hidden"];
    z.text_out = p["text_out"];
    z.rank = p["rank"];
    z.num_layers = p["num_layers"];
    z.sequence_modalities = p["sequence_modalities"].get<std::vector<std::string>>();
    auto model = zoo_test::tiny_model(model_name, z, gen);
    model->eval();

    const std::size_t M = z.modalities.size(), L = p["num_lengths"];
    const auto param_names = p["param_names"].get<std::vector<std::string>>();
    const std::size_t first_param = M + L + 1;
    REQUIRE(c["num_inputs"].get<std::size_t>() == first_param + param_names.size());
    const auto named = model->named_parameters();
    REQUIRE(named.size() == param_names.size());
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CHECK(named[k].first == param_names[k]);
      state[param_names[k]] = fixture_tensor(f, fmt::format("{}.in.{}", name, first_param + k));
    }
    model->load_state_dict(state);

    std::vector<Tensor> xs;
    for (std::size_t m = 0; m < M; ++m)
      xs.push_back(fixture_tensor(f, fmt::format("{}.in.{}", name, m)).clone().requires_grad_());
    std::vector<std::vector<std::int64_t>> lengths;
    for (std::size_t l = 0; l < L; ++l)
      lengths.push_back(fixture_tensor(f, fmt::format("{}.in.{}", name, M + l)).to_vector<std::int64_t>());
    const Tensor present = fixture_tensor(f, fmt::format("{}.in.{}", name, M + L));
    const data::Batch batch = zoo_test::make_batch(z.modalities, xs, lengths, present);

    const Tensor out = zoo_test::everything(model->forward(batch));
    const Tensor& ref_out = fixture_tensor(f, name + ".out");
    REQUIRE(out.shape() == ref_out.shape());
    const double out_err = testing::relative_error(out, ref_out);
    INFO("output relative error " << out_err);
    CHECK(out_err <= 1e-6);
    auto& w = worst[model_name];
    w.first = std::max(w.first, out_err);

    sum(mul(out, fixture_tensor(f, name + ".R"))).backward();
    std::map<std::string, Tensor> params(named.begin(), named.end());
    std::vector<std::size_t> want;  // the features and every parameter (not present's gradient)
    for (std::size_t m = 0; m < M; ++m) want.push_back(m);
    for (std::size_t k = 0; k < param_names.size(); ++k) want.push_back(first_param + k);
    for (std::size_t k : want) {
      const Tensor& ref_g = fixture_tensor(f, fmt::format("{}.grad.{}", name, k));
      const Tensor& wrt = k < M ? xs[k] : params.at(param_names[k - first_param]);
      const std::string what = k < M ? z.modalities[k] : param_names[k - first_param];
      CAPTURE(what);
      REQUIRE(wrt.grad().defined());
      const double g_err = testing::relative_error(wrt.grad(), ref_g);
      INFO("gradient relative error " << g_err);
      CHECK(g_err <= 1e-6);
      w.second = std::max(w.second, g_err);
    }
    ++ran;
  }
  CHECK(ran == 10);
  for (const auto& [m, e] : worst)
    MESSAGE(fmt::format("{}: max relative error output {:.2e}, gradients {:.2e}", m, e.first, e.second));
}
