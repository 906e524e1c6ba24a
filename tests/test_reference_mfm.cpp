// tests/test_reference_mfm.cpp: MFM and its ablations (models/mfm.h) against the same model
// and objective written in plain PyTorch (tests/reference/ref_mfm.py; float64, eval mode)
// from identical weights and identical N(0, I) draws: the vector [total, l1, recon_<m>...,
// mmd] and the gradients of every modality's features and every parameter, within
// ||ours - torch||_2 <= 1e-6 ||torch||_2 (the measured errors are printed per variant).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/serialize/safetensors.h"
#include "models/mfm.h"
#include "support/reference.h"
#include "test_zoo_support.h"

using namespace fg;

namespace {

using testing::fixture_tensor;

models::MFMConfig config_from(const nlohmann::json& p) {
  models::MFMConfig c;
  c.variant = models::parse_mfm_variant(p["variant"]);
  c.mmd_placement = models::parse_mmd_placement(p["placement"]);
  c.modality_names = p["modalities"].get<std::vector<std::string>>();
  c.input_sizes = p["input_dims"].get<std::vector<std::int64_t>>();
  c.mfn.hidden_sizes = p["hidden"].get<std::vector<std::int64_t>>();
  c.mfn.memory_size = 3;  // ref_mfm.py's MFN_BASE
  c.mfn.attention_hidden = 4;
  c.mfn.memory_hidden = 3;
  c.mfn.gamma1_hidden = 3;
  c.mfn.gamma2_hidden = 3;
  c.mfn.output_hidden = {3};
  c.mfn.attention_dropout = c.mfn.memory_dropout = c.mfn.gamma1_dropout = c.mfn.gamma2_dropout = 0;
  c.mfn.output_dropout = 0;
  c.encoder_hidden = p["encoder_hidden"].get<std::vector<std::int64_t>>();
  c.zy_size = p["zy"];
  c.za_sizes = p["za"].get<std::vector<std::int64_t>>();
  c.fy_size = p["fy"];
  c.fa_sizes = p["fa"].get<std::vector<std::int64_t>>();
  c.lambda_recon = p["lambda_recon"].get<std::vector<double>>();
  c.lambda_mmd = p["lambda_mmd"];
  c.dropout = 0;
  return c;
}

}  // namespace

TEST_CASE("reference vs PyTorch [mfm]: eq. 4's terms and every gradient, MFM and M_A..M_E, both MMD placements") {
  const SafetensorsFile f = testing::load_fixture("mfm");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  int ran = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto& p = c["params"];
    const models::MFMConfig cfg = config_from(p);
    Generator gen(1);
    models::MFM model(cfg, gen, TensorOptions{DType::f64});
    model.eval();
    const auto param_names = p["param_names"].get<std::vector<std::string>>();
    const std::size_t P = p["num_prior"], first_param = 6 + P;
    REQUIRE(c["num_inputs"].get<std::size_t>() == first_param + param_names.size());
    const auto named = model.named_parameters();
    REQUIRE(named.size() == param_names.size());
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CHECK(named[k].first == param_names[k]);
      state[param_names[k]] = fixture_tensor(f, fmt::format("{}.in.{}", name, first_param + k));
    }
    model.load_state_dict(state);

    std::vector<Tensor> xs;
    for (std::size_t m = 0; m < 3; ++m)
      xs.push_back(fixture_tensor(f, fmt::format("{}.in.{}", name, m)).clone().requires_grad_());
    const auto lengths = fixture_tensor(f, name + ".in.3").to_vector<std::int64_t>();
    data::Batch batch = zoo_test::make_batch(cfg.modality_names, xs, {lengths}, fixture_tensor(f, name + ".in.4"));
    batch.labels = fixture_tensor(f, name + ".in.5");
    std::vector<Tensor> prior;
    for (std::size_t k = 0; k < P; ++k) prior.push_back(fixture_tensor(f, fmt::format("{}.in.{}", name, 6 + k)));

    const models::MFMLoss l = models::mfm_objective(cfg, batch, model.forward_all(batch), prior);
    std::vector<Tensor> parts = {reshape(l.total, {1})};
    for (const auto& t : l.terms) parts.push_back(reshape(t.second, {1}));
    const Tensor out = concat(parts, 0);
    const Tensor& ref_out = fixture_tensor(f, name + ".out");
    REQUIRE(out.shape() == ref_out.shape());
    const double out_err = testing::relative_error(out, ref_out);
    CHECK(out_err <= 1e-6);

    sum(mul(out, fixture_tensor(f, name + ".R"))).backward();
    std::map<std::string, Tensor> params(named.begin(), named.end());
    double worst_g = 0;
    for (std::size_t m = 0; m < 3; ++m) {
      CAPTURE(m);
      REQUIRE(xs[m].grad().defined());
      worst_g = std::max(worst_g, testing::relative_error(xs[m].grad(), fixture_tensor(f, fmt::format("{}.grad.{}", name, m))));
    }
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CAPTURE(param_names[k]);
      const Tensor& g = params.at(param_names[k]).grad();
      REQUIRE(g.defined());
      const double e = testing::relative_error(g, fixture_tensor(f, fmt::format("{}.grad.{}", name, first_param + k)));
      CHECK(e <= 1e-6);
      worst_g = std::max(worst_g, e);
    }
    CHECK(worst_g <= 1e-6);
    MESSAGE(fmt::format("{}: relative error terms {:.2e}, gradients {:.2e}", name, out_err, worst_g));
    ++ran;
  }
  CHECK(ran == 7);
}
