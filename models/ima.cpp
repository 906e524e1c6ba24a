// models/ima.cpp: see ima.h.
#include "models/ima.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "losses/ima.h"

namespace fg::models {

ReconLoss parse_recon_loss(const std::string& s) {
  if (s == "bce") return ReconLoss::BCE;
  if (s == "sse") return ReconLoss::SSE;
  FG_FAIL("reconstruction loss '{}' is unknown: expected bce (binary cross-entropy, inputs in [0, 1]) or sse", s);
}

const char* recon_loss_name(ReconLoss r) { return r == ReconLoss::BCE ? "bce" : "sse"; }

const char* rep_mode_name(RepMode m) {
  switch (m) {
    case RepMode::Weighted: return "weighted";
    case RepMode::Unweighted: return "unweighted";
    case RepMode::Only0: return "image";
    case RepMode::Only1: return "speech";
  }
  return "?";
}

std::vector<bool> mode_present(RepMode mode, std::size_t m) {
  std::vector<bool> p(m, true);
  if (mode == RepMode::Only0 || mode == RepMode::Only1) {
    const std::size_t keep = mode == RepMode::Only0 ? 0 : 1;
    FG_CHECK(keep < m, "representation '{}' needs modality {} of {}", rep_mode_name(mode), keep, m);
    for (std::size_t j = 0; j < m; ++j) p[j] = j == keep;
  }
  return p;
}

void MultimodalAEConfig::validate() const {
  FG_CHECK(!modalities.empty(), "model config: 'modalities' is empty");
  FG_CHECK(input_sizes.size() == modalities.size() && hidden.size() == modalities.size(),
           "model config: 'input_sizes' ({}) and 'hidden' ({}) need one entry per modality ({})", input_sizes.size(),
           hidden.size(), modalities.size());
  for (std::size_t j = 0; j < size(); ++j) {
    FG_CHECK(input_sizes[j] > 0, "model config: input_sizes[{}] = {} must be positive", j, input_sizes[j]);
    FG_CHECK(hidden[j] > 0, "model config: hidden[{}] = {} must be positive", j, hidden[j]);
  }
  FG_CHECK(latent > 0, "model config: latent = {} must be positive", latent);
}

std::shared_ptr<nn::MLP> two_layer_mlp(std::int64_t in, std::int64_t hidden, std::int64_t out, Generator& gen,
                                       TensorOptions opts) {
  nn::MLPOptions o;
  o.sizes = {in, hidden, hidden, out};
  o.activations = {nn::Activation::ReLU};
  o.param_options = opts;
  return std::make_shared<nn::MLP>(o, gen);
}

Tensor reconstruction_loss(ReconLoss r, const Tensor& x, const Tensor& out) {
  FG_CHECK(x.defined() && out.defined() && x.shape() == out.shape() && x.dim() == 2,
           "reconstruction_loss: expected input and output of one shape [B, D], got {} and {}", x.str(), out.str());
  const double b = static_cast<double>(x.size(0));
  if (r == ReconLoss::BCE) return binary_cross_entropy_with_logits(out, x, Reduction::Sum) * (1.0 / b);
  return sum(square(x - out)) * (1.0 / b);
}

Tensor reconstruction(ReconLoss r, const Tensor& out) { return r == ReconLoss::BCE ? sigmoid(out) : out; }

namespace {

void check_inputs(const MultimodalAEConfig& c, const std::vector<Tensor>& xs, const char* who) {
  FG_CHECK(xs.size() == c.size(), "{}: expected {} modality inputs, got {}", who, c.size(), xs.size());
  for (std::size_t j = 0; j < xs.size(); ++j)
    FG_CHECK(xs[j].defined() && xs[j].dim() == 2 && xs[j].size(1) == c.input_sizes[j] &&
                 xs[j].size(0) == xs[0].size(0),
             "{}: modality '{}' must be [B, {}] (B = {}), got {}", who, c.modalities[j], c.input_sizes[j],
             xs[0].defined() ? xs[0].size(0) : -1, xs[j].defined() ? xs[j].str() : "undefined");
}

void check_vec(const std::vector<double>& v, std::size_t m, const char* name) {
  FG_CHECK(v.size() == m, "model config: '{}' needs one value per modality ({}), got {}", name, m, v.size());
  for (double x : v) FG_CHECK(std::isfinite(x) && x >= 0, "model config: '{}' values must be finite and >= 0, got {}", name, x);
}

void build_shared(nn::Module& self, const MultimodalAEConfig& c, std::int64_t enc_out, Generator& gen, TensorOptions opts,
                  std::vector<std::shared_ptr<nn::MLP>>& encoders, std::vector<std::shared_ptr<nn::MLP>>& decoders) {
  for (std::size_t j = 0; j < c.size(); ++j)
    encoders.push_back(
        self.register_module("enc_" + c.modalities[j], two_layer_mlp(c.input_sizes[j], c.hidden[j], enc_out, gen, opts)));
  for (std::size_t j = 0; j < c.size(); ++j)
    decoders.push_back(
        self.register_module("dec_" + c.modalities[j], two_layer_mlp(c.latent, c.hidden[j], c.input_sizes[j], gen, opts)));
}

losses::GaussianParams split_gaussian(const Tensor& h, std::int64_t d) {
  return {slice(h, 1, 0, d), slice(h, 1, d, d)};
}

}  // namespace

// ------------------------------------------------------------------ IMA
void IMAConfig::validate() const {
  ae.validate();
  const std::size_t m = ae.size();
  FG_CHECK(std::isfinite(lambda_glob) && lambda_glob >= 0, "model config: lambda_glob must be finite and >= 0, got {}",
           lambda_glob);
  check_vec(lambda_rec, m, "lambda_rec");
  check_vec(lambda_align, m, "lambda_align");
  check_vec(lambda_local, m, "lambda_local");
  check_vec(lambda_corr, m, "lambda_corr");
  FG_CHECK(rho.size() == m, "model config: 'rho' needs one value per modality ({}), got {}", m, rho.size());
  for (double r : rho) FG_CHECK(r > 0 && r < 1, "model config: rho must lie in (0, 1), got {}", r);
}

IMA::IMA(const IMAConfig& config, Generator& gen, TensorOptions opts) : config_(config) {
  config_.validate();
  const auto& c = config_.ae;
  build_shared(*this, c, c.latent, gen, opts, encoders, decoders);
  for (std::size_t j = 0; j < c.size(); ++j)
    importance_nets.push_back(
        register_module("imp_" + c.modalities[j], two_layer_mlp(c.input_sizes[j], c.hidden[j], 1, gen, opts)));
}

Tensor IMA::encode(std::size_t j, const Tensor& x) const { return encoders.at(j)->forward(x); }

Tensor IMA::importance(std::size_t j, const Tensor& x) const {
  const Tensor h = importance_nets.at(j)->forward(x);
  return sigmoid(reshape(h, {h.size(0)}));
}

Tensor IMA::fuse(const std::vector<Tensor>& u, const std::vector<Tensor>& y, const std::vector<bool>& present) {
  FG_CHECK(!u.empty() && u.size() == y.size() && u.size() == present.size(),
           "IMA::fuse: expected one representation, importance and present flag per modality ({}, {}, {})", u.size(),
           y.size(), present.size());
  Tensor num, den;
  for (std::size_t j = 0; j < u.size(); ++j) {
    if (!present[j]) continue;
    const Tensor yj = reshape(y[j], {u[j].size(0), 1});
    num = num.defined() ? num + yj * u[j] : yj * u[j];
    den = den.defined() ? den + yj : yj;
  }
  FG_CHECK(num.defined(), "IMA::fuse: no modality present (at least one is needed)");
  return num / (den + 1e-8);
}

NamedLoss IMA::autoencoder_loss(const std::vector<Tensor>& xs) const {
  check_inputs(config_.ae, xs, "IMA::autoencoder_loss");
  const std::size_t m = xs.size();
  std::vector<Tensor> u(m), y(m);
  for (std::size_t j = 0; j < m; ++j) {
    u[j] = encode(j, xs[j]);
    y[j] = importance(j, xs[j]).detach();
  }
  const Tensor z = fuse(u, y, std::vector<bool>(m, true));
  NamedLoss l;
  const Tensor glob = losses::global_norm_regularizer(z);
  l.total = glob * config_.lambda_glob;
  l.terms.push_back({"glob", glob});
  for (std::size_t j = 0; j < m; ++j) {
    const Tensor rec = reconstruction_loss(config_.ae.recon, xs[j], decoders[j]->forward(z));
    l.total = l.total + rec * config_.lambda_rec[j];
    l.terms.push_back({"rec_" + config_.ae.modalities[j], rec});
  }
  for (std::size_t j = 0; j < m; ++j) {
    const Tensor al = losses::alignment_sse(z, u[j]);
    l.total = l.total + al * config_.lambda_align[j];
    l.terms.push_back({"align_" + config_.ae.modalities[j], al});
  }
  return l;
}

NamedLoss IMA::importance_loss(const std::vector<Tensor>& xs) const {
  check_inputs(config_.ae, xs, "IMA::importance_loss");
  const std::size_t m = xs.size();
  std::vector<Tensor> u(m), y(m), yd(m);
  for (std::size_t j = 0; j < m; ++j) {
    u[j] = encode(j, xs[j]).detach();
    y[j] = importance(j, xs[j]);
    yd[j] = y[j].detach();
  }
  const Tensor z = fuse(u, yd, std::vector<bool>(m, true));
  NamedLoss l;
  for (std::size_t j = 0; j < m; ++j) {
    const Tensor local = losses::bernoulli_kl_prior(y[j], config_.rho[j]);
    Tensor corr = losses::weighted_cross_covariance_loss(z, u[j], y[j]);
    if (config_.corr_normalize)
      corr = corr / (losses::weighted_cross_covariance_loss(z, u[j], zeros_like(yd[j])).detach() + 1e-12);
    const Tensor t = local * config_.lambda_local[j] + corr * config_.lambda_corr[j];
    l.total = l.total.defined() ? l.total + t : t;
    l.terms.push_back({"local_" + config_.ae.modalities[j], local});
    l.terms.push_back({"corr_" + config_.ae.modalities[j], corr});
  }
  return l;
}

Tensor IMA::represent(const std::vector<Tensor>& xs, RepMode mode) const {
  check_inputs(config_.ae, xs, "IMA::represent");
  const std::size_t m = xs.size();
  const std::vector<bool> present = mode_present(mode, m);
  std::vector<Tensor> u(m), y(m);
  for (std::size_t j = 0; j < m; ++j) {
    if (!present[j]) {
      u[j] = zeros({xs[j].size(0), config_.ae.latent}, xs[j].options());
      y[j] = zeros({xs[j].size(0)}, xs[j].options());
      continue;
    }
    u[j] = encode(j, xs[j]);
    y[j] = mode == RepMode::Weighted ? importance(j, xs[j]) : ones({xs[j].size(0)}, xs[j].options());
  }
  return fuse(u, y, present);
}

std::vector<Tensor> IMA::autoencoder_parameters() const {
  std::vector<Tensor> p;
  for (const auto* group : {&encoders, &decoders})
    for (const auto& net : *group)
      for (const auto& t : net->parameters()) p.push_back(t);
  return p;
}

std::vector<Tensor> IMA::importance_parameters() const {
  std::vector<Tensor> p;
  for (const auto& net : importance_nets)
    for (const auto& t : net->parameters()) p.push_back(t);
  return p;
}

// ------------------------------------------------------------------ JMVAE-KL
void VAEConfig::validate() const {
  ae.validate();
  FG_CHECK(std::isfinite(alpha) && alpha >= 0, "model config: alpha must be finite and >= 0, got {}", alpha);
}

JMVAE::JMVAE(const VAEConfig& config, Generator& gen, TensorOptions opts) : config_(config) {
  config_.validate();
  const auto& c = config_.ae;
  std::int64_t in = 0, hid = 0;
  for (std::size_t j = 0; j < c.size(); ++j) {
    in += c.input_sizes[j];
    hid += c.hidden[j];
  }
  joint_encoder = register_module("enc_joint", two_layer_mlp(in, hid, 2 * c.latent, gen, opts));
  build_shared(*this, c, 2 * c.latent, gen, opts, encoders, decoders);
}

losses::GaussianParams JMVAE::encode_joint(const std::vector<Tensor>& xs) const {
  check_inputs(config_.ae, xs, "JMVAE::encode_joint");
  return split_gaussian(joint_encoder->forward(concat(xs, 1)), config_.ae.latent);
}

losses::GaussianParams JMVAE::encode(std::size_t j, const Tensor& x) const {
  return split_gaussian(encoders.at(j)->forward(x), config_.ae.latent);
}

NamedLoss JMVAE::loss(const std::vector<Tensor>& xs, const Tensor& eps, double beta) const {
  const auto q = encode_joint(xs);
  FG_CHECK(eps.defined() && eps.shape() == q.mu.shape(), "JMVAE::loss: eps must be {}, got {}", q.mu.str(),
           eps.defined() ? eps.str() : "undefined");
  const Tensor z = q.mu + exp(q.logvar * 0.5) * eps;
  NamedLoss l;
  const Tensor kl = losses::gaussian_kl_standard(q.mu, q.logvar);
  l.total = kl * beta;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const Tensor rec = reconstruction_loss(config_.ae.recon, xs[j], decoders[j]->forward(z));
    l.total = l.total + rec;
    l.terms.push_back({"rec_" + config_.ae.modalities[j], rec});
  }
  l.terms.push_back({"kl", kl});
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const auto qj = encode(j, xs[j]);
    const Tensor t = losses::gaussian_kl(q.mu, q.logvar, qj.mu, qj.logvar);
    l.total = l.total + t * config_.alpha;
    l.terms.push_back({"kl_" + config_.ae.modalities[j], t});
  }
  return l;
}

Tensor JMVAE::represent(const std::vector<Tensor>& xs, RepMode mode) const {
  if (mode == RepMode::Weighted || mode == RepMode::Unweighted) return encode_joint(xs).mu;
  check_inputs(config_.ae, xs, "JMVAE::represent");
  const std::size_t j = mode == RepMode::Only0 ? 0 : 1;
  return encode(j, xs.at(j)).mu;
}

// ------------------------------------------------------------------ MVAE
MVAE::MVAE(const VAEConfig& config, Generator& gen, TensorOptions opts) : config_(config) {
  config_.validate();
  build_shared(*this, config_.ae, 2 * config_.ae.latent, gen, opts, encoders, decoders);
}

losses::GaussianParams MVAE::encode(std::size_t j, const Tensor& x) const {
  return split_gaussian(encoders.at(j)->forward(x), config_.ae.latent);
}

losses::GaussianParams MVAE::posterior(const std::vector<Tensor>& xs, const std::vector<bool>& present) const {
  check_inputs(config_.ae, xs, "MVAE::posterior");
  FG_CHECK(present.size() == xs.size(), "MVAE::posterior: {} present flags for {} modalities", present.size(), xs.size());
  std::vector<losses::GaussianParams> experts;
  for (std::size_t j = 0; j < xs.size(); ++j)
    if (present[j]) experts.push_back(encode(j, xs[j]));
  FG_CHECK(!experts.empty(), "MVAE::posterior: no modality present (at least one is needed)");
  return losses::product_of_experts(experts, true);
}

NamedLoss MVAE::loss(const std::vector<Tensor>& xs, const std::vector<Tensor>& eps, double beta) const {
  const std::size_t m = xs.size();
  FG_CHECK(eps.size() == m + 1, "MVAE::loss: expected {} N(0, I) draws (joint, then one per modality), got {}", m + 1,
           eps.size());
  NamedLoss l;
  for (std::size_t s = 0; s <= m; ++s) {  // s = 0: all modalities; s = j + 1: modality j alone
    std::vector<bool> present(m, s == 0);
    if (s > 0) present[s - 1] = true;
    const auto q = posterior(xs, present);
    FG_CHECK(eps[s].defined() && eps[s].shape() == q.mu.shape(), "MVAE::loss: eps[{}] must be {}", s, q.mu.str());
    const Tensor z = q.mu + exp(q.logvar * 0.5) * eps[s];
    const std::string tag = s == 0 ? "joint" : config_.ae.modalities[s - 1];
    Tensor elbo = losses::gaussian_kl_standard(q.mu, q.logvar);
    l.terms.push_back({"kl_" + tag, elbo});
    elbo = elbo * beta;
    for (std::size_t j = 0; j < m; ++j) {
      if (!present[j]) continue;
      const Tensor rec = reconstruction_loss(config_.ae.recon, xs[j], decoders[j]->forward(z));
      elbo = elbo + rec;
      l.terms.push_back({"rec_" + tag + (s == 0 ? "_" + config_.ae.modalities[j] : ""), rec});
    }
    l.total = l.total.defined() ? l.total + elbo : elbo;
  }
  return l;
}

Tensor MVAE::represent(const std::vector<Tensor>& xs, RepMode mode) const {
  return posterior(xs, mode_present(mode, xs.size())).mu;
}

// ------------------------------------------------------------------ DAE
void DAEConfig::validate() const {
  ae.validate();
  FG_CHECK(denoise >= 0 && denoise < 1, "model config: denoise must lie in [0, 1), got {}", denoise);
}

MultimodalDAE::MultimodalDAE(const DAEConfig& config, Generator& gen, TensorOptions opts) : config_(config) {
  config_.validate();
  const auto& c = config_.ae;
  build_shared(*this, c, c.latent, gen, opts, encoders, decoders);
  fusion = register_module("fuse", std::make_shared<nn::Linear>(static_cast<std::int64_t>(c.size()) * c.latent,
                                                                c.latent, gen, true, opts));
}

Tensor MultimodalDAE::encode(const std::vector<Tensor>& xs, const std::vector<bool>& present) const {
  check_inputs(config_.ae, xs, "MultimodalDAE::encode");
  std::vector<Tensor> u;
  bool any = false;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    any = any || present.at(j);
    u.push_back(present[j] ? encoders[j]->forward(xs[j]) : zeros({xs[j].size(0), config_.ae.latent}, xs[j].options()));
  }
  FG_CHECK(any, "MultimodalDAE::encode: no modality present (at least one is needed)");
  return fusion->forward(concat(u, 1));
}

NamedLoss MultimodalDAE::loss(const std::vector<Tensor>& xs, const std::vector<Tensor>& keep) const {
  FG_CHECK(keep.size() == xs.size(), "MultimodalDAE::loss: {} masks for {} modalities", keep.size(), xs.size());
  std::vector<Tensor> noisy;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    FG_CHECK(keep[j].defined() && keep[j].shape() == xs[j].shape(), "MultimodalDAE::loss: mask {} must be {}", j,
             xs[j].str());
    noisy.push_back(xs[j] * keep[j]);
  }
  const Tensor z = encode(noisy, std::vector<bool>(xs.size(), true));
  NamedLoss l;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const Tensor rec = reconstruction_loss(config_.ae.recon, xs[j], decoders[j]->forward(z));
    l.total = l.total.defined() ? l.total + rec : rec;
    l.terms.push_back({"rec_" + config_.ae.modalities[j], rec});
  }
  return l;
}

Tensor MultimodalDAE::represent(const std::vector<Tensor>& xs, RepMode mode) const {
  return encode(xs, mode_present(mode, xs.size()));
}

}  // namespace fg::models
