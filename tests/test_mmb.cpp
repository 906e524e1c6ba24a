// tests/test_mmb.cpp: MMB1 / MMB2 of paper 000 (models/mmb.h):
//   - the end-to-end loss and the gradient of every input that has one (latents, norm,
//     head, every generator weight) against a PyTorch float64 implementation from identical
//     weights (tests/reference/ref_mmb.py), relative error <= 1e-6 (measured: ~1e-15);
//   - eq. 43's closed form against a direct numpy evaluation, both weightings;
//   - a float64 gradient check of the log-likelihood and of angular_similarity;
//   - SIF + principal-component removal and the feature scaler fitted on TRAIN only (a test
//     that fails if valid/test data reach them), and a tiny end-to-end run whose validation
//     predictions do not depend on the test split.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/synthetic.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/serialize/safetensors.h"
#include "models/mmb.h"
#include "support/gradcheck.h"
#include "support/reference.h"

using namespace fg;
using namespace fg::models;

namespace {

using testing::fixture_tensor;

// The split data of a fixture case: word arrays and the sufficient statistics of x (as
// mmb_prepare computes them from rescaled features).
MMBSplitData split_from(const std::vector<Tensor>& in) {
  MMBSplitData s;
  const Tensor& mask = in[4];
  s.n = mask.size(0);
  s.word_ids = in[6];
  s.word_mask = mask;
  s.word_c = in[7];
  s.word_psi = in[8];
  s.labels = in[9];
  for (int r = 0; r < 3; ++r) {
    const Tensor m3 = unsqueeze(mask, 2);
    s.s1.push_back(sum(mul(in[1 + r], m3), 1));
    s.s2.push_back(sum(mul(square(in[1 + r]), m3), 1));
    s.count.push_back(sum(mask, 1));
  }
  return s;
}

std::vector<MMBGenerator> generators_from(MMBVariant variant, const std::vector<Tensor>& w,
                                          const std::vector<std::int64_t>& dims) {
  std::vector<MMBGenerator> out;
  const auto targets = mmb_targets(variant);
  for (std::size_t k = 0; k < targets.size(); ++k) {
    MMBGenerator g;
    std::int64_t off = 0;
    for (const auto& role : targets[k]) {
      const int r = role == "text" ? 0 : role == "acoustic" ? 1 : 2;
      g.roles.push_back(r);
      g.w_mu.push_back(slice(w[4 * k], 0, off, dims[r]));
      g.b_mu.push_back(slice(w[4 * k + 1], 0, off, dims[r]));
      g.w_s.push_back(slice(w[4 * k + 2], 0, off, dims[r]));
      g.b_s.push_back(slice(w[4 * k + 3], 0, off, dims[r]));
      off += dims[r];
    }
    out.push_back(std::move(g));
  }
  return out;
}

data::SyntheticConfig tiny_words(std::uint64_t seed = 3) {
  data::SyntheticConfig c;
  c.seed = seed;
  c.train_size = 60, c.valid_size = 20, c.test_size = 20;
  c.min_steps = 5, c.max_steps = 10;
  c.modalities = data::SyntheticConfig::default_modalities(16, 3, 4);
  c.words_vocab = 80;
  return c;
}

}  // namespace

TEST_CASE("mmb vs PyTorch: the end-to-end loss and every gradient; eq. 43 vs numpy") {
  const SafetensorsFile f = testing::load_fixture("mmb");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  const std::vector<std::int64_t> dims = {6, 2, 3};
  int losses = 0, closed = 0;
  double worst = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto& p = c["params"];
    const MMBVariant variant = p["variant"] == "mmb1" ? MMBVariant::mmb1 : MMBVariant::mmb2;
    std::vector<Tensor> in;
    for (std::size_t k = 0; k < c["num_inputs"].get<std::size_t>(); ++k) {
      Tensor t = fixture_tensor(f, fmt::format("{}.in.{}", name, k)).clone();
      if (t.dtype() == DType::f64) t.requires_grad_();
      in.push_back(t);
    }
    const MMBSplitData split = [&] {
      NoGradGuard g;
      return split_from(in);
    }();
    MMBConfig cfg;
    cfg.variant = variant;
    cfg.word_weight = p["word_weight"].get<double>();
    if (c["op"] == "mmb_loss") {
      const bool norm = p["norm"].get<bool>();
      cfg.likelihood_weight = p["likelihood_weight"].get<double>();
      std::size_t k = 10;
      Tensor nw, nb;
      if (norm) nw = in[k++], nb = in[k++];
      const Tensor w1 = in[k++], b1 = in[k++], w2 = in[k++], b2 = in[k++];
      const std::vector<Tensor> gw(in.begin() + static_cast<std::ptrdiff_t>(k), in.end());
      const Tensor rows = from_vector(std::vector<std::int64_t>{0, 1, 2}, {3}, TensorOptions{DType::i64});
      const MMBTerms terms =
          mmb_log_likelihood(in[0], split, rows, in[5].detach(), 5, generators_from(variant, gw, dims), nw, nb, cfg);
      const Tensor pred = squeeze(linear(relu(linear(in[0], w1, b1)), w2, b2), 1);
      const Tensor loss = add(mul_scalar(neg(mean(terms.log_p)), cfg.likelihood_weight),
                              mul_scalar(l1_loss(pred, in[9]), 1.0 - cfg.likelihood_weight));
      const double out_err = testing::relative_error(reshape(loss, {}), fixture_tensor(f, name + ".out"));
      INFO("loss relative error " << out_err);
      CHECK(out_err <= 1e-6);
      worst = std::max(worst, out_err);
      mul(loss, fixture_tensor(f, name + ".R")).backward();
      // every model input: the latents (0) and every parameter (10..); the data inputs (1-9)
      // reach the C++ loss through sufficient statistics or as constants, not through autograd
      int compared = 0;
      for (std::size_t g : c["grads"].get<std::vector<std::size_t>>()) {
        if (g >= 1 && g <= 9) continue;
        CAPTURE(g);
        REQUIRE(in[g].grad().defined());
        const double err = testing::relative_error(in[g].grad(), fixture_tensor(f, fmt::format("{}.grad.{}", name, g)));
        INFO("gradient relative error " << err);
        CHECK(err <= 1e-6);
        worst = std::max(worst, err);
        ++compared;
      }
      CHECK(compared == static_cast<int>(in.size()) - 9);
      ++losses;
    } else {
      REQUIRE(c["op"] == "mmb_closed_form");
      cfg.closed_weights = p["weights"] == "paper" ? MMBClosedWeights::paper : MMBClosedWeights::code;
      MMBCorpus corpus;
      corpus.vocab.dim = 6;
      corpus.vocab.vectors = in[5].to_vector<double>();
      const std::vector<Tensor> gw(in.begin() + 10, in.end());
      const Tensor cf = mmb_closed_form(split, corpus, generators_from(variant, gw, dims), cfg);
      const double err = testing::relative_error(cf, fixture_tensor(f, name + ".out"));
      INFO("closed form relative error " << err);
      CHECK(err <= 1e-10);
      ++closed;
    }
  }
  MESSAGE("worst relative error of the MMB loss and gradients vs PyTorch: " << worst);
  CHECK(losses == 3);
  CHECK(closed == 4);
}

TEST_CASE("mmb gradcheck: angular_similarity and the log-likelihood in float64") {
  const Tensor c = testing::rand_input({4, 5}, 1, -0.95, 0.95);
  CHECK_GRADCHECK([](const std::vector<Tensor>& x) { return angular_similarity(x[0]); }, std::vector<Tensor>{c});

  // a tiny MMB2 on the synthetic words corpus, the latents and one generator's weights checked
  data::SyntheticConfig sc = tiny_words();
  sc.train_size = 4;
  const auto ds = data::make_synthetic_dataset(sc);
  MMBConfig cfg;
  cfg.word_weight = 0.4;
  MMBCorpus corpus = mmb_fit_corpus(ds.data.train, cfg);
  const MMBSplitData tr = mmb_prepare(ds.data.train, corpus, cfg);
  mmb_finish_vocabulary(corpus);
  Generator gen(5);
  MMBModel model(cfg, 16, {16, 3, 4}, gen);
  const Tensor rows = from_vector(std::vector<std::int64_t>{0, 1, 2, 3}, {4}, TensorOptions{DType::i64});
  const Tensor m0 = testing::rand_input({4, 16}, 2);
  auto f = [&](const std::vector<Tensor>& x) {
    auto gens = model.generators();
    gens[5].w_mu[2] = x[1];  // the visual rows of the text+acoustic+visual generator
    gens[5].b_s[0] = x[2];   // its text log-sigma bias
    return mmb_log_likelihood(x[0], tr, rows, corpus.vocab_vectors, corpus.vocab.train_types, gens, model.norm->weight,
                              model.norm->bias, cfg)
        .log_p;
  };
  const auto gens = model.generators();
  CHECK_GRADCHECK(f, (std::vector<Tensor>{m0, gens[5].w_mu[2].detach().clone(), gens[5].b_s[0].detach().clone()}));
}

TEST_CASE("mmb: SIF, its principal component and the feature scaler are fitted on the train split only") {
  MMBConfig cfg;
  const auto a = data::make_synthetic_dataset(tiny_words());
  // the same train split with other valid/test splits (another seed's, features scaled up)
  auto b = a;
  const auto other = data::make_synthetic_dataset(tiny_words(9));
  b.data.valid = other.data.valid;
  b.data.test = other.data.test;
  for (auto* s : {&b.data.valid, &b.data.test})
    for (auto& feat : s->features) feat = mul_scalar(feat, 100.0);
  auto fit = [&](const data::MultimodalDataset& d) {
    MMBCorpus corpus = mmb_fit_corpus(d.train, cfg);
    const MMBSplitData tr = mmb_prepare(d.train, corpus, cfg);
    const MMBSplitData va = mmb_prepare(d.valid, corpus, cfg);
    mmb_finish_vocabulary(corpus);
    corpus.pc = mmb_first_pc(mmb_sif(tr, corpus));
    return std::tuple{corpus, tr, va};
  };
  const auto [ca, tra, vaa] = fit(a.data);
  const auto [cb, trb, vab] = fit(b.data);
  CHECK(ca.vocab.train_types == cb.vocab.train_types);
  for (std::int64_t w = 0; w < ca.vocab.train_types; ++w) CHECK(ca.vocab.frequency[w] == cb.vocab.frequency[w]);
  for (std::size_t r = 0; r < 3; ++r) {
    CHECK(ca.scalers[r].lo == cb.scalers[r].lo);
    CHECK(ca.scalers[r].hi == cb.scalers[r].hi);
  }
  CHECK(ca.pc.to_vector<double>() == cb.pc.to_vector<double>());
  // the pc is the train SIF's, not valid's; the valid embeddings lose the TRAIN component
  const Tensor sif_va = mmb_sif(vaa, ca);
  const Tensor pc_va = mmb_first_pc(sif_va);
  CHECK(std::abs(sum(mul(pc_va, ca.pc)).item()) < 0.999999);
  const Tensor cleaned = mmb_remove_pc(sif_va, ca.pc);
  CHECK(max(abs(matmul(cleaned, unsqueeze(ca.pc, 1)))).item() < 1e-12);
  // the pc is the top eigenvector of E^T E of the train SIF embeddings
  const Tensor e = mmb_sif(tra, ca);
  const Tensor cov = matmul(transpose(e, 0, 1), e);
  const Tensor cu = matmul(cov, unsqueeze(ca.pc, 1));
  const double lambda = sum(mul(squeeze(cu, 1), ca.pc)).item();
  CHECK(testing::relative_error(squeeze(cu, 1), mul_scalar(ca.pc, lambda)) < 1e-8);
  // unseen valid words: frequency 0, psi 1, and they are not part of the train vocabulary's Z
  CHECK(ca.vocab.frequency.size() >= static_cast<std::size_t>(ca.vocab.train_types));
}

TEST_CASE("mmb: a tiny end-to-end run; validation predictions never depend on the test split") {
  auto d = data::make_synthetic_dataset(tiny_words()).data;
  MMBConfig cfg;
  cfg.variant = MMBVariant::mmb1;
  cfg.head_hidden = 8;
  MMBTrainOptions o;
  o.epochs = 2, o.infer_steps = 3, o.head_epochs = 4;
  const MMBResult a = mmb_run(d, cfg, o);
  CHECK(a.train_losses.size() == 2);
  CHECK(a.optimised.test.size() == 20);
  CHECK(a.closed_form.valid.size() == 20);
  CHECK(a.infer_seconds_per_utt > 0);
  // closed-form embeddings are unit rows
  const auto norms = sqrt(sum(square(a.test_closed), 1)).to_vector<double>();
  for (double v : norms) CHECK(v == doctest::Approx(1.0));
  // change the test split's labels and features: nothing selected on valid may move
  for (auto& feat : d.test.features) feat = mul_scalar(feat, -3.0);
  d.test.labels = mul_scalar(d.test.labels, -1.0);
  const MMBResult b = mmb_run(d, cfg, o);
  CHECK(a.optimised.valid == b.optimised.valid);
  CHECK(a.optimised.best_head_epoch == b.optimised.best_head_epoch);
  CHECK(a.closed_form.valid == b.closed_form.valid);
  CHECK(a.train_losses == b.train_losses);
  CHECK(a.optimised.test != b.optimised.test);
}

TEST_CASE("mmb: a split without raw_text or with a token count that differs from its steps is a clear error") {
  MMBConfig cfg;
  auto d = data::make_synthetic_dataset(tiny_words()).data;
  auto no_text = d.train;
  no_text.raw_text.clear();
  CHECK_THROWS_WITH_AS(mmb_fit_corpus(no_text, cfg), doctest::Contains("words_vocab"), fg::Error);
  auto bad = d.train;
  bad.raw_text[3] += " extra";
  CHECK_THROWS_WITH_AS(mmb_fit_corpus(bad, cfg), doctest::Contains("tokens"), fg::Error);
}
