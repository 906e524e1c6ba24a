// models/mmb.cpp: MMB1 / MMB2 (paper 000); the equations are in models/mmb.h and docs/models.md.
#include "models/mmb.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

#include <map>

#include "data/batching.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"

namespace fg::models {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int kText = 0, kAcoustic = 1, kVisual = 2;

int role_of(const std::string& role) {
  if (role == "text") return kText;
  if (role == "acoustic") return kAcoustic;
  return kVisual;
}

std::vector<std::string> tokens_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string role_modality(const MMBConfig& c, int role) {
  return role == kText ? c.text : role == kAcoustic ? c.acoustic : c.visual;
}

double present_of(const data::MultimodalSplit& s, std::int64_t i, std::int64_t m) {
  if (!s.present.defined()) return 1.0;
  return s.present.to_vector<float>()[static_cast<std::size_t>(i * s.num_modalities() + m)];
}

void check_split(const data::MultimodalSplit& s, const MMBConfig& c) {
  FG_CHECK(s.aligned(), "MMB: split '{}' must be word-aligned (the word model reads token t at step t)", s.name);
  FG_CHECK(static_cast<std::int64_t>(s.raw_text.size()) == s.size(),
           "MMB: split '{}' has no raw_text (one transcript per utterance); the synthetic corpus has it with "
           "SyntheticConfig::words_vocab > 0 (the words variant)",
           s.name);
  for (int r = 0; r < 3; ++r) (void)s.modality_index(role_modality(c, r));
}

}  // namespace

std::vector<std::vector<std::string>> mmb_targets(MMBVariant variant) {
  if (variant == MMBVariant::mmb1) return {{"acoustic"}, {"visual"}};
  return {{"acoustic"}, {"visual"}, {"acoustic", "visual"}, {"text", "acoustic"}, {"text", "visual"},
          {"text", "acoustic", "visual"}};
}

const char* mmb_variant_name(MMBVariant variant) { return variant == MMBVariant::mmb1 ? "mmb1" : "mmb2"; }

std::int64_t MMBVocabulary::lookup_or_add(const std::string& word, const float* vector) {
  auto it = index.find(word);
  if (it != index.end()) return it->second;
  const auto row = static_cast<std::int64_t>(frequency.size());
  index.emplace(word, row);
  frequency.push_back(0.0);
  for (std::int64_t j = 0; j < dim; ++j) vectors.push_back(static_cast<double>(vector[j]));
  return row;
}

// ---------------------------------------------------------------- corpus and splits

MMBCorpus mmb_fit_corpus(const data::MultimodalSplit& train, const MMBConfig& config) {
  check_split(train, config);
  MMBCorpus corpus;
  const std::int64_t ti = train.modality_index(config.text);
  const Tensor& x = train.features[static_cast<std::size_t>(ti)];
  const std::int64_t n = train.size(), t_max = x.size(1), d = x.size(2);
  corpus.vocab.dim = d;
  const auto lens = train.lengths.to_vector<std::int64_t>();
  const float* xp = x.data<float>();
  std::vector<double> counts;
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto tok = tokens_of(train.raw_text[static_cast<std::size_t>(i)]);
    if (tok.empty()) continue;
    FG_CHECK(static_cast<std::int64_t>(tok.size()) == lens[i],
             "MMB: train utterance {} has {} tokens in raw_text but {} steps; the word model needs one token per step",
             i, tok.size(), lens[i]);
    for (std::int64_t t = 0; t < lens[i]; ++t) {
      const std::int64_t row = corpus.vocab.lookup_or_add(tok[t], xp + (i * t_max + t) * d);
      if (row >= static_cast<std::int64_t>(counts.size())) counts.resize(static_cast<std::size_t>(row + 1), 0.0);
      counts[row] += 1, total += 1;
    }
  }
  FG_CHECK(total > 0, "MMB: the train split has no words");
  for (std::size_t r = 0; r < counts.size(); ++r) corpus.vocab.frequency[r] = counts[r] / total;
  corpus.vocab.train_types = static_cast<std::int64_t>(counts.size());

  // per-feature [-1, 1] rescaling with the train split's range over valid steps
  for (int r = 0; r < 3; ++r) {
    const std::int64_t m = train.modality_index(role_modality(config, r));
    const Tensor& f = train.features[static_cast<std::size_t>(m)];
    const std::int64_t dm = f.size(2), tm = f.size(1);
    const float* fp = f.data<float>();
    std::vector<double> lo(static_cast<std::size_t>(dm), INFINITY), hi(static_cast<std::size_t>(dm), -INFINITY);
    for (std::int64_t i = 0; i < n; ++i) {
      if (present_of(train, i, m) == 0.0) continue;
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (std::int64_t j = 0; j < dm; ++j) {
          const double v = fp[(i * tm + t) * dm + j];
          lo[j] = std::min(lo[j], v), hi[j] = std::max(hi[j], v);
        }
    }
    MMBScaler s;
    for (std::int64_t j = 0; j < dm; ++j)
      if (hi[j] > lo[j]) s.kept.push_back(j), s.lo.push_back(lo[j]), s.hi.push_back(hi[j]);
    FG_CHECK(!s.kept.empty(), "MMB: every feature of modality '{}' is constant on train", role_modality(config, r));
    corpus.scalers.push_back(std::move(s));
  }
  return corpus;
}

void mmb_finish_vocabulary(MMBCorpus& corpus) {
  const auto rows = static_cast<std::int64_t>(corpus.vocab.frequency.size());
  corpus.vocab_vectors = from_vector(corpus.vocab.vectors, {rows, corpus.vocab.dim}, f64_opts());
}

MMBSplitData mmb_prepare(const data::MultimodalSplit& split, MMBCorpus& corpus, const MMBConfig& config) {
  check_split(split, config);
  MMBSplitData out;
  const std::int64_t n = split.size(), t_max = split.max_steps();
  out.n = n;
  const auto lens = split.lengths.to_vector<std::int64_t>();
  const std::int64_t ti = split.modality_index(config.text);
  const float* xp = split.features[static_cast<std::size_t>(ti)].data<float>();
  const std::int64_t d = corpus.vocab.dim;
  FG_CHECK(split.feature_dim(ti) == d, "MMB: split '{}' has text dim {}, the train split {}", split.name,
           split.feature_dim(ti), d);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n * t_max), 0);
  std::vector<double> mask(ids.size(), 0.0), c(ids.size(), 0.0), psi(ids.size(), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto tok = tokens_of(split.raw_text[static_cast<std::size_t>(i)]);
    if (tok.empty()) continue;
    FG_CHECK(static_cast<std::int64_t>(tok.size()) == lens[i],
             "MMB: {} utterance {} has {} tokens in raw_text but {} steps", split.name, i, tok.size(), lens[i]);
    for (std::int64_t t = 0; t < lens[i]; ++t) {
      const std::int64_t row = corpus.vocab.lookup_or_add(tok[t], xp + (i * t_max + t) * d);
      const double p = corpus.vocab.frequency[row];
      const double ps = row < corpus.vocab.train_types ? config.sif_a / (config.sif_a + p) : 1.0;
      const auto k = static_cast<std::size_t>(i * t_max + t);
      ids[k] = row, mask[k] = 1.0, psi[k] = ps;
      c[k] = config.word_form == MMBWordForm::paper ? p : ps;
    }
  }
  out.word_ids = from_vector(ids, {n, t_max}, TensorOptions{DType::i64});
  out.word_mask = from_vector(mask, {n, t_max}, f64_opts());
  out.word_c = from_vector(c, {n, t_max}, f64_opts());
  out.word_psi = from_vector(psi, {n, t_max}, f64_opts());
  // sufficient statistics of the rescaled Gaussian targets
  for (int r = 0; r < 3; ++r) {
    const std::int64_t m = split.modality_index(role_modality(config, r));
    const Tensor& f = split.features[static_cast<std::size_t>(m)];
    const std::int64_t dm = f.size(2), tm = f.size(1);
    const MMBScaler& sc = corpus.scalers[static_cast<std::size_t>(r)];
    const auto dk = static_cast<std::int64_t>(sc.kept.size());
    FG_CHECK(dm > sc.kept.back(), "MMB: split '{}' modality '{}' has {} features, fewer than train", split.name,
             role_modality(config, r), dm);
    const float* fp = f.data<float>();
    std::vector<double> s1(static_cast<std::size_t>(n * dk), 0.0), s2(s1.size(), 0.0), cnt(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      if (present_of(split, i, m) == 0.0) continue;
      cnt[i] = static_cast<double>(lens[i]);
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (std::int64_t j = 0; j < dk; ++j) {
          const double v = fp[(i * tm + t) * dm + sc.kept[j]];
          const double z = 2.0 * (v - sc.lo[j]) / (sc.hi[j] - sc.lo[j]) - 1.0;
          s1[i * dk + j] += z, s2[i * dk + j] += z * z;
        }
    }
    out.s1.push_back(from_vector(s1, {n, dk}, f64_opts()));
    out.s2.push_back(from_vector(s2, {n, dk}, f64_opts()));
    out.count.push_back(from_vector(cnt, {n}, f64_opts()));
  }
  std::vector<double> y = split.labels.to_vector<double>();
  out.labels = from_vector(y, {n}, f64_opts());
  return out;
}

Tensor mmb_sif(const MMBSplitData& split, const MMBCorpus& corpus) {
  const std::int64_t n = split.n, t_max = split.word_ids.size(1), d = corpus.vocab.dim;
  const auto ids = split.word_ids.to_vector<std::int64_t>();
  const auto mask = split.word_mask.to_vector<double>();
  const auto psi = split.word_psi.to_vector<double>();
  std::vector<double> out(static_cast<std::size_t>(n * d), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double count = 0;
    for (std::int64_t t = 0; t < t_max; ++t) {
      const auto k = static_cast<std::size_t>(i * t_max + t);
      if (mask[k] == 0.0) continue;
      count += 1;
      const double* v = corpus.vocab.vectors.data() + ids[k] * d;
      for (std::int64_t j = 0; j < d; ++j) out[i * d + j] += psi[k] * v[j];
    }
    if (count > 0)
      for (std::int64_t j = 0; j < d; ++j) out[i * d + j] /= count;
  }
  return from_vector(out, {n, d}, f64_opts());
}

Tensor mmb_first_pc(const Tensor& embeddings) {
  const std::int64_t n = embeddings.size(0), d = embeddings.size(1);
  const auto e = embeddings.to_vector<double>();
  std::vector<double> c(static_cast<std::size_t>(d * d), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t a = 0; a < d; ++a) {
      const double ea = e[i * d + a];
      if (ea == 0.0) continue;
      for (std::int64_t b = 0; b < d; ++b) c[a * d + b] += ea * e[i * d + b];
    }
  std::vector<double> u(static_cast<std::size_t>(d), 1.0 / std::sqrt(static_cast<double>(d))), next(u.size());
  for (int it = 0; it < 500; ++it) {
    double norm = 0;
    for (std::int64_t a = 0; a < d; ++a) {
      double s = 0;
      for (std::int64_t b = 0; b < d; ++b) s += c[a * d + b] * u[b];
      next[a] = s, norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) break;
    double change = 0;
    for (std::int64_t a = 0; a < d; ++a) change = std::max(change, std::abs(next[a] / norm - u[a])), u[a] = next[a] / norm;
    if (change < 1e-13) break;
  }
  // a fixed sign: the largest entry positive
  std::int64_t big = 0;
  for (std::int64_t a = 0; a < d; ++a)
    if (std::abs(u[a]) > std::abs(u[big])) big = a;
  if (u[big] < 0)
    for (double& v : u) v = -v;
  return from_vector(u, {d}, f64_opts());
}

Tensor mmb_remove_pc(const Tensor& embeddings, const Tensor& pc) {
  NoGradGuard guard;
  const Tensor proj = matmul(embeddings, unsqueeze(pc, 1));  // [N, 1]
  return sub(embeddings, mul(proj, unsqueeze(pc, 0)));
}

// ---------------------------------------------------------------- likelihood

Tensor angular_similarity(const Tensor& cosine) {
  FG_CHECK(cosine.device().is_cpu(), "angular_similarity: CPU tensors only (MMB runs on the CPU)");
  const auto c = cosine.to_vector<double>();
  std::vector<double> y(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) y[i] = 1.0 - std::acos(std::clamp(c[i], -1.0, 1.0)) / std::numbers::pi;
  Tensor out = from_vector(y, cosine.shape(), TensorOptions{cosine.dtype()});
  autograd::record("angular_similarity", {out}, {cosine},
                   [saved = cosine.detach()](const std::vector<Tensor>& grads, const std::vector<bool>&) {
                     const auto cv = saved.to_vector<double>();
                     std::vector<double> dy(cv.size());
                     for (std::size_t i = 0; i < cv.size(); ++i) {
                       const double c2 = std::min(cv[i] * cv[i], 1.0 - 1e-12);
                       dy[i] = 1.0 / (std::numbers::pi * std::sqrt(1.0 - c2));
                     }
                     return std::vector<Tensor>{mul(grads[0], from_vector(dy, saved.shape(), TensorOptions{saved.dtype()}))};
                   });
  return out;
}

MMBTerms mmb_log_likelihood(const Tensor& m, const MMBSplitData& split, const Tensor& rows, const Tensor& vocab_vectors,
                            std::int64_t train_types, const std::vector<MMBGenerator>& generators,
                            const Tensor& norm_w, const Tensor& norm_b, const MMBConfig& config) {
  MMBTerms out;
  // words
  const Tensor ids = index_select(split.word_ids, 0, rows);
  const Tensor mask = index_select(split.word_mask, 0, rows);
  const Tensor cw = index_select(split.word_c, 0, rows);
  Tensor vunit;
  {
    NoGradGuard guard;
    vunit = div(vocab_vectors, sqrt(sum(square(vocab_vectors), 1, true)));
  }
  const Tensor munit = div(m, sqrt(sum(square(m), 1, true)));
  const Tensor s = angular_similarity(matmul(munit, transpose(vunit, 0, 1)));  // [B, R]
  const Tensor z = sum(slice(s, 1, 0, train_types), 1, true);                   // [B, 1]
  const Tensor alpha = reciprocal(add_scalar(mul_scalar(z, config.sif_a), 1.0));
  const Tensor st = gather(s, 1, ids);                                          // [B, T]
  const Tensor inner = add(mul(alpha, cw), div(mul(sub(ones_like(alpha), alpha), st), z));
  const Tensor safe = add(mul(inner, mask), sub(ones_like(mask), mask));        // 1 on padding: log 1 = 0
  out.word = sum(log(safe), 1);
  // Gaussians
  const Tensor mt = norm_w.defined() ? layer_norm(m, norm_w, norm_b) : m;
  Tensor gauss;
  const double half_log_2pi = 0.5 * std::log(2.0 * std::numbers::pi);
  for (const MMBGenerator& g : generators) {
    for (std::size_t j = 0; j < g.roles.size(); ++j) {
      const auto r = static_cast<std::size_t>(g.roles[j]);
      const Tensor s1 = index_select(split.s1[r], 0, rows), s2 = index_select(split.s2[r], 0, rows);
      const Tensor cnt = unsqueeze(index_select(split.count[r], 0, rows), 1);
      const Tensor mu = linear(mt, g.w_mu[j], g.b_mu[j]);
      const Tensor ls = linear(mt, g.w_s[j], g.b_s[j]);
      // sum_t log N(x_t; mu, sigma^2) = -L (log sigma + log sqrt(2 pi)) - (S2 - 2 mu S1 + L mu^2) / (2 sigma^2)
      const Tensor quad = add(sub(s2, mul_scalar(mul(mu, s1), 2.0)), mul(cnt, square(mu)));
      const Tensor term = sub(neg(mul(cnt, add_scalar(ls, half_log_2pi))), mul_scalar(mul(quad, exp(mul_scalar(ls, -2.0))), 0.5));
      const Tensor block = sum(term, 1);
      gauss = gauss.defined() ? add(gauss, block) : block;
    }
  }
  out.gaussian = gauss;
  const double k = static_cast<double>(generators.size());
  out.log_p = add(mul_scalar(out.word, config.word_weight), mul_scalar(gauss, (1.0 - config.word_weight) / k));
  return out;
}

Tensor mmb_closed_form(const MMBSplitData& split, const MMBCorpus& corpus, const std::vector<MMBGenerator>& generators,
                       const MMBConfig& config) {
  NoGradGuard guard;
  const bool paper = config.closed_weights == MMBClosedWeights::paper;
  // words: sum_t psi~_t v_t
  Tensor words = mmb_sif(split, corpus);  // sum_t psi_t v_t / count
  {
    const Tensor count = sum(split.word_mask, 1, true);
    words = mul(words, count);
    if (paper) words = mul_scalar(words, config.word_weight);
  }
  Tensor total = words;
  const double alpha_k = paper ? (1.0 - config.word_weight) / static_cast<double>(generators.size()) : 1.0;
  for (const MMBGenerator& g : generators)
    for (std::size_t j = 0; j < g.roles.size(); ++j) {
      const auto r = static_cast<std::size_t>(g.roles[j]);
      const Tensor& s1 = split.s1[r];
      const Tensor& s2 = split.s2[r];
      const Tensor cnt = unsqueeze(split.count[r], 1);
      const Tensor bm = unsqueeze(g.b_mu[j].detach(), 0), inv = exp(mul_scalar(unsqueeze(g.b_s[j].detach(), 0), -2.0));
      const Tensor q1 = mul(sub(s1, mul(cnt, bm)), inv);                                          // sum_t q1
      const Tensor q2 = sub(mul(add(sub(s2, mul_scalar(mul(bm, s1), 2.0)), mul(cnt, square(bm))), inv), cnt);  // sum_t q2
      const Tensor contrib = add(matmul(q1, g.w_mu[j].detach()), matmul(q2, g.w_s[j].detach()));
      total = add(total, mul_scalar(contrib, alpha_k));
    }
  const Tensor norm = sqrt(sum(square(total), 1, true));
  const Tensor safe = add(norm, mul_scalar(eq(norm, zeros_like(norm)), 1.0));  // a zero row stays zero
  return div(total, safe);
}

// ---------------------------------------------------------------- the model

namespace {
class GeneratorPair : public nn::Module {
 public:
  GeneratorPair(std::int64_t in, std::int64_t out, Generator& gen, TensorOptions opts) {
    mu = register_module("mu", std::make_shared<nn::Linear>(in, out, gen, true, opts));
    log_sigma = register_module("log_sigma", std::make_shared<nn::Linear>(in, out, gen, true, opts));
  }
  std::string type_name() const override { return "MMBGenerator"; }
  std::shared_ptr<nn::Linear> mu, log_sigma;
};
}  // namespace

MMBModel::MMBModel(const MMBConfig& cfg, std::int64_t latent, const std::vector<std::int64_t>& dims, Generator& gen,
                   TensorOptions opts)
    : config(cfg), latent_dim(latent), role_dims(dims) {
  FG_CHECK(dims.size() == 3, "MMBModel: role_dims needs text, acoustic and visual sizes");
  if (cfg.norm == MMBNorm::layer) norm = register_module("norm", std::make_shared<nn::LayerNorm>(latent, 1e-5, true, opts));
  const auto targets = mmb_targets(cfg.variant);
  for (std::size_t k = 0; k < targets.size(); ++k) {
    std::int64_t out = 0;
    for (const auto& role : targets[k]) out += dims[static_cast<std::size_t>(role_of(role))];
    auto pair = register_module(fmt::format("gen{}", k), std::make_shared<GeneratorPair>(latent, out, gen, opts));
    mu.push_back(pair->mu);
    log_sigma.push_back(pair->log_sigma);
  }
  nn::MLPOptions h;
  h.sizes = {latent, cfg.head_hidden, 1};
  h.param_options = opts;
  head = register_module("head", std::make_shared<nn::MLP>(h, gen));
}

std::vector<MMBGenerator> MMBModel::generators() const {
  const auto targets = mmb_targets(config.variant);
  std::vector<MMBGenerator> out;
  for (std::size_t k = 0; k < targets.size(); ++k) {
    MMBGenerator g;
    std::int64_t offset = 0;
    for (const auto& role : targets[k]) {
      const int r = role_of(role);
      const std::int64_t dr = role_dims[static_cast<std::size_t>(r)];
      g.roles.push_back(r);
      g.w_mu.push_back(slice(mu[k]->weight, 0, offset, dr));
      g.b_mu.push_back(slice(mu[k]->bias, 0, offset, dr));
      g.w_s.push_back(slice(log_sigma[k]->weight, 0, offset, dr));
      g.b_s.push_back(slice(log_sigma[k]->bias, 0, offset, dr));
      offset += dr;
    }
    out.push_back(std::move(g));
  }
  return out;
}

MMBTerms MMBModel::log_likelihood(const Tensor& m, const MMBSplitData& split, const Tensor& rows,
                                  const MMBCorpus& corpus) const {
  return mmb_log_likelihood(m, split, rows, corpus.vocab_vectors, corpus.vocab.train_types, generators(),
                            norm ? norm->weight : Tensor(), norm ? norm->bias : Tensor(), config);
}

Tensor MMBModel::predict(const Tensor& m) const { return squeeze(head->forward(m), 1); }

std::vector<Tensor> MMBModel::generator_parameters() const {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named_parameters())
    if (name.rfind("head.", 0) != 0) out.push_back(t);
  return out;
}

// ---------------------------------------------------------------- the study

namespace {

Tensor rows_tensor(const std::vector<std::int64_t>& rows) {
  return from_vector(rows, {static_cast<std::int64_t>(rows.size())}, TensorOptions{DType::i64});
}

void check_finite(double v, const std::string& what, std::int64_t epoch, double lr) {
  FG_CHECK(std::isfinite(v), "MMB: {} became {} at epoch {}; lower the learning rate (now {})", what, v, epoch, lr);
}

// Standardise with the train statistics (the fresh head's inputs).
struct Standardizer {
  Tensor mean, std;
  explicit Standardizer(const Tensor& x) {
    NoGradGuard g;
    mean = fg::mean(x, 0, true);
    std = add_scalar(sqrt(fg::mean(square(sub(x, mean)), 0, true)), 1e-8);
  }
  Tensor operator()(const Tensor& x) const {
    NoGradGuard g;
    return div(sub(x, mean), std);
  }
};

}  // namespace

MMBPredictions mmb_fit_head(const Tensor& train_x, const Tensor& train_y, const Tensor& valid_x, const Tensor& valid_y,
                            const Tensor& test_x, const MMBConfig& config, const MMBTrainOptions& options,
                            double* seconds_test_forward) {
  const Standardizer st(train_x);
  const Tensor xtr = st(train_x), xva = st(valid_x);
  Generator gen(data::derive_seed(options.seed, 77));
  nn::MLPOptions h;
  h.sizes = {train_x.size(1), config.head_hidden, 1};
  h.param_options = f64_opts();
  nn::MLP head(h, gen);
  optim::SGD opt(head.parameters(), optim::SGDOptions{.lr = options.head_lr});
  const std::int64_t n = train_x.size(0);
  const auto yv = valid_y.to_vector<double>();
  MMBPredictions out;
  out.best_valid_mae = INFINITY;
  std::map<std::string, Tensor> best;
  for (std::int64_t epoch = 0; epoch < options.head_epochs; ++epoch) {
    const auto order = data::epoch_order(n, true, data::derive_seed(options.seed, 78), epoch);
    for (std::int64_t b = 0; b < n; b += options.batch_size) {
      const std::vector<std::int64_t> rows(order.begin() + b, order.begin() + std::min(n, b + options.batch_size));
      const Tensor r = rows_tensor(rows);
      const Tensor loss = l1_loss(squeeze(head.forward(index_select(xtr, 0, r)), 1), index_select(train_y, 0, r));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    NoGradGuard g;
    const auto pv = squeeze(head.forward(xva), 1).to_vector<double>();
    double mae = 0;
    for (std::size_t i = 0; i < pv.size(); ++i) mae += std::abs(pv[i] - yv[i]);
    mae /= static_cast<double>(pv.size());
    check_finite(mae, "the head's validation MAE", epoch + 1, options.head_lr);
    if (mae < out.best_valid_mae) {
      out.best_valid_mae = mae, out.best_head_epoch = epoch + 1, out.valid = pv;
      best.clear();
      for (const auto& [name, t] : head.named_parameters()) best[name] = t.clone();
    }
  }
  head.load_state_dict(best);
  NoGradGuard g;
  const auto t0 = Clock::now();
  out.test = squeeze(head.forward(st(test_x)), 1).to_vector<double>();
  if (seconds_test_forward) *seconds_test_forward = since(t0);
  return out;
}

Tensor mmb_infer_latents(const MMBModel& model, const MMBSplitData& split, const MMBCorpus& corpus, const Tensor& init,
                         const MMBTrainOptions& options) {
  Tensor m = init.detach().clone().requires_grad_();
  optim::Adam opt({m}, optim::AdamOptions{.lr = options.lr});
  std::vector<std::int64_t> all(static_cast<std::size_t>(split.n));
  for (std::int64_t i = 0; i < split.n; ++i) all[i] = i;
  const Tensor rows = rows_tensor(all);
  std::vector<Tensor> frozen = model.generator_parameters();
  for (Tensor& p : frozen) p.requires_grad_(false);
  for (std::int64_t step = 0; step < options.infer_steps; ++step) {
    const Tensor nll = neg(mean(model.log_likelihood(m, split, rows, corpus).log_p));
    check_finite(nll.item(), "the inference NLL", step + 1, options.lr);
    opt.zero_grad();
    nll.backward();
    opt.step();
  }
  for (Tensor& p : frozen) p.requires_grad_(true);
  return m.detach();
}

MMBResult mmb_run(const data::MultimodalDataset& data, const MMBConfig& config, const MMBTrainOptions& options) {
  MMBResult res;
  auto t0 = Clock::now();
  MMBCorpus corpus = mmb_fit_corpus(data.train, config);
  MMBSplitData tr = mmb_prepare(data.train, corpus, config);
  MMBSplitData va = mmb_prepare(data.valid, corpus, config);
  mmb_finish_vocabulary(corpus);
  corpus.pc = mmb_first_pc(mmb_sif(tr, corpus));
  Tensor latents = mmb_remove_pc(mmb_sif(tr, corpus), corpus.pc).requires_grad_();

  std::vector<std::int64_t> dims;
  for (const Tensor& s : tr.s1) dims.push_back(s.size(1));
  Generator gen(data::derive_seed(options.seed, 76));
  MMBModel model(config, corpus.vocab.dim, dims, gen);
  std::vector<Tensor> params = model.parameters();
  params.push_back(latents);
  optim::Adam opt(params, optim::AdamOptions{.lr = options.lr});
  const std::int64_t n = tr.n;
  for (std::int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const auto order = data::epoch_order(n, true, data::derive_seed(options.seed, 75), epoch);
    double total = 0;
    std::int64_t steps = 0;
    for (std::int64_t b = 0; b < n; b += options.batch_size) {
      const std::vector<std::int64_t> rows(order.begin() + b, order.begin() + std::min(n, b + options.batch_size));
      const Tensor r = rows_tensor(rows);
      const Tensor m = index_select(latents, 0, r);
      const Tensor nll = neg(mean(model.log_likelihood(m, tr, r, corpus).log_p));
      const Tensor l1 = l1_loss(model.predict(m), index_select(tr.labels, 0, r));
      const Tensor loss = add(mul_scalar(nll, config.likelihood_weight), mul_scalar(l1, 1.0 - config.likelihood_weight));
      const double lv = loss.item();
      check_finite(lv, "the end-to-end loss (lw NLL + (1 - lw) L1)", epoch + 1, options.lr);
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += lv, ++steps;
    }
    res.train_losses.push_back(total / static_cast<double>(steps));
    if (options.verbose) fmt::print(stderr, "  {} epoch {:3d}  loss {:.4f}\n", mmb_variant_name(config.variant), epoch + 1, res.train_losses.back());
  }
  res.train_latents = latents.detach();
  // valid latents: NLL only, generators frozen, from the SIF init with the TRAIN principal component removed
  res.valid_latents = mmb_infer_latents(model, va, corpus, mmb_remove_pc(mmb_sif(va, corpus), corpus.pc), options);
  res.train_seconds = since(t0);  // + the fresh head, fitted below once the test latents exist

  // closed form (eq. 43) with the trained generators
  const auto gens = model.generators();
  t0 = Clock::now();
  res.train_closed = mmb_closed_form(tr, corpus, gens, config);
  res.valid_closed = mmb_closed_form(va, corpus, gens, config);
  const double closed_prep = since(t0);

  // the test split: read once, after everything above was selected on valid
  t0 = Clock::now();
  MMBSplitData te = mmb_prepare(data.test, corpus, config);
  mmb_finish_vocabulary(corpus);
  const double prep_test = since(t0);
  t0 = Clock::now();
  res.test_latents = mmb_infer_latents(model, te, corpus, mmb_remove_pc(mmb_sif(te, corpus), corpus.pc), options);
  const double infer_test = since(t0);
  double head_forward = 0;
  const auto th = Clock::now();
  res.optimised = mmb_fit_head(res.train_latents, tr.labels, res.valid_latents, va.labels, res.test_latents, config,
                               options, &head_forward);
  res.train_seconds += since(th) - head_forward;
  res.infer_seconds_per_utt = (prep_test + infer_test + head_forward) / static_cast<double>(te.n);

  t0 = Clock::now();
  res.test_closed = mmb_closed_form(te, corpus, gens, config);
  const double closed_test = since(t0);
  const auto t1 = Clock::now();
  double closed_head_forward = 0;
  res.closed_form = mmb_fit_head(res.train_closed, tr.labels, res.valid_closed, va.labels, res.test_closed, config,
                                 options, &closed_head_forward);
  res.closed_train_seconds = closed_prep + since(t1) - closed_head_forward;
  res.closed_infer_seconds_per_utt = (prep_test + closed_test + closed_head_forward) / static_cast<double>(te.n);
  return res;
}

}  // namespace fg::models
