// models/mfm.cpp: see mfm.h.
#include "models/mfm.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "losses/hsic.h"
#include "losses/mmd.h"

namespace fg::models {

MfmVariant parse_mfm_variant(const std::string& s) {
  std::string u = s;
  for (char& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (u == "FULL" || u == "MFM") return MfmVariant::Full;
  if (u == "A") return MfmVariant::A;
  if (u == "B") return MfmVariant::B;
  if (u == "C") return MfmVariant::C;
  if (u == "D") return MfmVariant::D;
  if (u == "E") return MfmVariant::E;
  FG_FAIL("MFM variant '{}' is unknown: expected one of full, A, B, C, D, E", s);
}

std::string mfm_variant_name(MfmVariant v) {
  switch (v) {
    case MfmVariant::Full: return "full";
    case MfmVariant::A: return "A";
    case MfmVariant::B: return "B";
    case MfmVariant::C: return "C";
    case MfmVariant::D: return "D";
    case MfmVariant::E: return "E";
  }
  return "?";
}

std::vector<MfmVariant> all_mfm_variants() {
  return {MfmVariant::Full, MfmVariant::A, MfmVariant::B, MfmVariant::C, MfmVariant::D, MfmVariant::E};
}

MmdPlacement parse_mmd_placement(const std::string& s) {
  if (s == "per_factor" || s == "per-factor") return MmdPlacement::PerFactor;
  if (s == "joint") return MmdPlacement::Joint;
  FG_FAIL("MMD placement '{}' is unknown: expected per_factor (the authors' code) or joint (the paper's eq. 4)", s);
}

std::string mmd_placement_name(MmdPlacement p) { return p == MmdPlacement::Joint ? "joint" : "per_factor"; }

MFNConfig MFMConfig::default_mfn() {
  MFNConfig m;
  m.hidden_sizes = {88, 64, 48};
  m.memory_size = 64;
  return m;
}

bool MFMConfig::has_zy() const { return variant != MfmVariant::B && variant != MfmVariant::D; }
bool MFMConfig::has_modality_factors() const {
  return variant == MfmVariant::Full || variant == MfmVariant::B || variant == MfmVariant::D;
}
bool MFMConfig::has_shared_factor() const { return variant == MfmVariant::A; }
bool MFMConfig::generative() const { return variant != MfmVariant::D && variant != MfmVariant::E; }
std::int64_t MFMConfig::shared_z() const { return std::accumulate(za_sizes.begin(), za_sizes.end(), std::int64_t{0}); }
std::int64_t MFMConfig::shared_f() const { return std::accumulate(fa_sizes.begin(), fa_sizes.end(), std::int64_t{0}); }

std::int64_t MFMConfig::decoder_width(std::size_t m) const {
  switch (variant) {
    case MfmVariant::Full: return fy_size + fa_sizes.at(m);
    case MfmVariant::A: return fy_size + shared_f();
    case MfmVariant::B: return fa_sizes.at(m);
    case MfmVariant::C: return fy_size;
    default: return 0;
  }
}

std::int64_t MFMConfig::head_input() const { return has_zy() ? fy_size : shared_f(); }

void MFMConfig::validate() const {
  const std::size_t M = modality_names.size();
  FG_CHECK(M > 0, "MFM: modality_names is empty");
  auto same = [&](std::size_t n, const char* field) {
    FG_CHECK(n == M, "MFM: {} has {} entries but there are {} modalities", field, n, M);
  };
  same(input_sizes.size(), "input_sizes");
  same(encoder_hidden.size(), "encoder_hidden");
  same(za_sizes.size(), "za_sizes");
  same(fa_sizes.size(), "fa_sizes");
  same(lambda_recon.size(), "lambda_recon");
  auto positive = [](const std::vector<std::int64_t>& v, const char* field) {
    for (std::int64_t x : v) FG_CHECK(x > 0, "MFM: every entry of {} must be positive, got {}", field, x);
  };
  positive(input_sizes, "input_sizes");
  positive(encoder_hidden, "encoder_hidden");
  positive(za_sizes, "za_sizes");
  positive(fa_sizes, "fa_sizes");
  FG_CHECK(zy_size > 0 && fy_size > 0, "MFM: zy_size and fy_size must be positive, got {} and {}", zy_size, fy_size);
  FG_CHECK(dropout >= 0 && dropout < 1, "MFM: dropout must be in [0, 1), got {}", dropout);
  FG_CHECK(lambda_mmd >= 0, "MFM: lambda_mmd must be >= 0, got {}", lambda_mmd);
  for (double l : lambda_recon) FG_CHECK(l >= 0, "MFM: every lambda_recon must be >= 0, got {}", l);
}

std::shared_ptr<nn::MLP> mfm_factor_net(std::int64_t in, std::int64_t out, double p, Generator& gen,
                                        TensorOptions opts, std::shared_ptr<Generator> dg) {
  nn::MLPOptions o;
  o.sizes = {in, out, out};
  o.dropout = {p, 0.0};
  o.activate_last = true;
  o.param_options = opts;
  o.dropout_generator = std::move(dg);
  return std::make_shared<nn::MLP>(o, gen);
}

std::shared_ptr<nn::MLP> mfm_head(std::int64_t in, std::int64_t out, double p, Generator& gen, TensorOptions opts,
                                  std::shared_ptr<Generator> dg) {
  nn::MLPOptions o;
  o.sizes = {in, in, out};
  o.dropout = {p};
  o.param_options = opts;
  o.dropout_generator = std::move(dg);
  return std::make_shared<nn::MLP>(o, gen);
}

namespace {

Tensor masked_input(const data::Batch& batch, const std::string& name) {
  const Tensor& x = batch.modality(name);
  return x * unsqueeze(present_column(batch, name, x), 2);
}

}  // namespace

MFM::MFM(const MFMConfig& config, Generator& gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config_(config), dropout_gen_(std::move(dropout_gen)) {
  config_.validate();
  const std::size_t M = config_.modality_names.size();
  config_.mfn.modality_names = config_.modality_names;
  config_.mfn.input_sizes = config_.input_sizes;
  config_.mfn.batch_first = true;
  if (config_.has_zy()) {
    MFNConfig m = config_.mfn;
    m.output_size = config_.zy_size;
    mfn = register_module("mfn", std::make_shared<MFN>(m, gen, opts, dropout_gen_));
  }
  if (config_.has_shared_factor()) {
    MFNConfig m = config_.mfn;
    m.output_size = config_.shared_z();
    mfn_a = register_module("mfn_a", std::make_shared<MFN>(m, gen, opts, dropout_gen_));
  }
  if (config_.has_modality_factors()) {
    for (std::size_t i = 0; i < M; ++i) {
      nn::LSTMOptions lo;
      lo.input_size = config_.input_sizes[i];
      lo.hidden_size = config_.encoder_hidden[i];
      lo.batch_first = true;
      lo.param_options = opts;
      encoders.push_back(register_module("enc_" + config_.modality_names[i], std::make_shared<nn::LSTM>(lo, gen)));
      za_heads.push_back(register_module("za_" + config_.modality_names[i],
                                         std::make_shared<nn::Linear>(config_.encoder_hidden[i], config_.za_sizes[i],
                                                                      gen, true, opts)));
    }
  }
  if (config_.has_zy())
    g_y = register_module("g_y", mfm_factor_net(config_.zy_size, config_.fy_size, config_.dropout, gen, opts, dropout_gen_));
  if (config_.has_modality_factors())
    for (std::size_t i = 0; i < M; ++i)
      g_a.push_back(register_module("g_a_" + config_.modality_names[i],
                                    mfm_factor_net(config_.za_sizes[i], config_.fa_sizes[i], config_.dropout, gen, opts,
                                           dropout_gen_)));
  if (config_.has_shared_factor())
    g_a_shared = register_module(
        "g_a", mfm_factor_net(config_.shared_z(), config_.shared_f(), config_.dropout, gen, opts, dropout_gen_));
  d = register_module("d", mfm_head(config_.head_input(), 1, config_.dropout, gen, opts, dropout_gen_));
  if (config_.generative())
    for (std::size_t i = 0; i < M; ++i) {
      const std::int64_t w = config_.decoder_width(i);
      decoders.push_back(register_module("dec_" + config_.modality_names[i],
                                         std::make_shared<nn::LSTMCell>(w, w, gen, true, opts)));
      decoder_out.push_back(register_module(
          "dec_out_" + config_.modality_names[i],
          std::make_shared<nn::Linear>(w, config_.input_sizes[i], gen, true, opts)));
    }
}

MFMOutput MFM::forward_all(const data::Batch& batch) {
  const std::size_t M = config_.modality_names.size();
  MFMOutput o;
  std::vector<Tensor> xs;
  for (const std::string& name : config_.modality_names) {
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3, "MFM: modality '{}' must be [B, T, D], got {} dimensions", name, x.dim());
    xs.push_back(masked_input(batch, name));
  }
  for (std::size_t i = 0; i < M; ++i)
    FG_CHECK(xs[i].size(2) == config_.input_sizes[i], "MFM: modality '{}' has {} features per step, the model expects {}",
             config_.modality_names[i], xs[i].size(2), config_.input_sizes[i]);
  if (mfn || mfn_a)
    FG_CHECK(batch.modality_lengths.empty() && batch.lengths.defined(),
             "MFM variant {} encodes with MFN, which needs word-aligned data (one time grid): this batch is unaligned",
             mfm_variant_name(config_.variant));
  if (mfn) {
    const Tensor zy = mfn->forward(xs, batch.lengths.to(xs[0].device())).output;
    o.factors.emplace_back("z_y", zy);
    o.f_y = g_y->forward(zy);
  }
  if (mfn_a) {
    const Tensor za = mfn_a->forward(xs, batch.lengths.to(xs[0].device())).output;
    o.factors.emplace_back("z_a", za);
    o.f_a.push_back(g_a_shared->forward(za));
  }
  for (std::size_t i = 0; i < encoders.size(); ++i) {
    const std::string& name = config_.modality_names[i];
    const Tensor len = batch_lengths(batch, name).to(xs[i].device());
    const Tensor h = select(encoders[i]->forward(xs[i], len).h_n, 0, 0);
    const Tensor za = za_heads[i]->forward(h);
    o.factors.emplace_back("z_a_" + name, za);
    o.f_a.push_back(g_a[i]->forward(za));
  }
  o.head_input = o.f_y.defined() ? o.f_y : concat(o.f_a, 1);
  o.prediction = reshape(d->forward(o.head_input), {batch.size()});
  for (std::size_t i = 0; i < decoders.size(); ++i) {
    Tensor init;
    switch (config_.variant) {
      case MfmVariant::Full: init = concat({o.f_y, o.f_a[i]}, 1); break;
      case MfmVariant::A: init = concat({o.f_y, o.f_a[0]}, 1); break;
      case MfmVariant::B: init = o.f_a[i]; break;
      default: init = o.f_y; break;
    }
    o.reconstructions.push_back(decode(i, init, xs[i].size(1)));  // [B, T, D_i]
  }
  return o;
}

Tensor MFM::decode(std::size_t i, const Tensor& init, std::int64_t T) const {
  FG_CHECK(i < decoders.size(), "MFM::decode: no decoder {} (variant {} has {})", i, mfm_variant_name(config_.variant),
           decoders.size());
  FG_CHECK(T > 0, "MFM::decode: T must be positive, got {}", T);
  std::vector<Tensor> hs;
  Tensor h, c, in = init;
  for (std::int64_t t = 0; t < T; ++t) {
    const LSTMCellOutput s = decoders[i]->forward(in, h, c);
    h = s.h, c = s.c, in = s.h;
    hs.push_back(s.h);
  }
  return decoder_out[i]->forward(stack(hs, 1));
}

SentimentOutput MFM::forward(const data::Batch& batch) {
  MFMOutput o = forward_all(batch);
  SentimentOutput s;
  s.z = o.head_input;
  s.prediction = o.prediction;
  for (std::size_t i = 0; i < config_.modality_names.size(); ++i)
    s.encodings.push_back(config_.has_modality_factors() ? o.f_a[i] : Tensor());
  return s;
}

Tensor masked_mse(const Tensor& x, const Tensor& x_hat, const Tensor& weight) {
  FG_CHECK(x.shape() == x_hat.shape() && x.dim() == 3, "masked_mse: x and x_hat must be the same [B, T, D] shape");
  FG_CHECK(weight.dim() == 2 && weight.size(0) == x.size(0) && weight.size(1) == x.size(1),
           "masked_mse: weight must be [B, T] = [{}, {}]", x.size(0), x.size(1));
  const Tensor d = square(x - x_hat) * unsqueeze(weight, 2);
  const Tensor count = clamp(sum(weight), 1.0, 1e300) * static_cast<double>(x.size(2));
  return sum(d) / count;
}

std::vector<Tensor> draw_mfm_prior(MmdPlacement placement, const std::vector<std::pair<std::string, Tensor>>& factors,
                                   Generator& gen) {
  std::vector<Tensor> prior;
  if (factors.empty()) return prior;
  const Tensor& z0 = factors[0].second;
  const TensorOptions o{z0.dtype(), z0.device(), false};
  if (placement == MmdPlacement::Joint) {
    std::int64_t d = 0;
    for (const auto& f : factors) d += f.second.size(1);
    prior.push_back(randn({z0.size(0), d}, gen, o));
  } else {
    for (const auto& f : factors) prior.push_back(randn({f.second.size(0), f.second.size(1)}, gen, o));
  }
  return prior;
}

std::vector<Tensor> draw_mfm_prior(const MFMConfig& config, const MFMOutput& out, Generator& gen) {
  return draw_mfm_prior(config.mmd_placement, out.factors, gen);
}

Tensor mfm_mmd(MmdPlacement placement, const std::vector<std::pair<std::string, Tensor>>& factors,
               const std::vector<Tensor>& prior) {
  FG_CHECK(!factors.empty(), "MFM: the MMD needs at least one factor");
  if (placement == MmdPlacement::Joint) {
    FG_CHECK(prior.size() == 1, "MFM: the joint MMD needs one prior sample, got {}", prior.size());
    std::vector<Tensor> zs;
    for (const auto& f : factors) zs.push_back(f.second);
    return losses::mmd_mfm(concat(zs, 1), prior[0]);
  }
  FG_CHECK(prior.size() == factors.size(), "MFM: the per-factor MMD needs {} prior samples, got {}", factors.size(),
           prior.size());
  Tensor mmd;
  for (std::size_t k = 0; k < prior.size(); ++k) {
    const Tensor m = losses::mmd_mfm(factors[k].second, prior[k]);
    mmd = mmd.defined() ? mmd + m : m;
  }
  return mmd;
}

MFMLoss mfm_objective(const MFMConfig& config, const data::Batch& batch, const MFMOutput& out,
                      const std::vector<Tensor>& prior) {
  MFMLoss L;
  const Tensor y = batch.labels.to(out.prediction.device()).to(out.prediction.dtype());
  FG_CHECK(y.dim() == 1 && y.size(0) == out.prediction.size(0),
           "MFM: labels must be [B] (one sentiment score per utterance), got {} dimensions", y.dim());
  const Tensor l1 = l1_loss(out.prediction, y);
  L.terms.emplace_back("l1", l1);
  Tensor total = l1;
  if (!config.generative()) {
    L.total = total;
    return L;
  }
  for (std::size_t i = 0; i < out.reconstructions.size(); ++i) {
    const std::string& name = config.modality_names[i];
    const Tensor& xh = out.reconstructions[i];
    const Tensor x = batch.modality(name).to(xh.device()).to(xh.dtype());
    const Tensor w = batch_mask(batch, name).to(xh.device()).to(xh.dtype()) * present_column(batch, name, xh);
    const Tensor r = masked_mse(x, xh, w);
    L.terms.emplace_back("recon_" + name, r);
    total = total + r * config.lambda_recon[i];
  }
  const Tensor mmd = mfm_mmd(config.mmd_placement, out.factors, prior);
  L.terms.emplace_back("mmd", mmd);
  L.total = total + mmd * config.lambda_mmd;
  return L;
}

MfmRatios mfm_dependency_ratios(const MFMConfig& config, const data::Batch& batch, const MFMOutput& out,
                                double sigma) {
  FG_CHECK(config.variant == MfmVariant::Full || config.variant == MfmVariant::A,
           "MFM dependency ratios need F_y and generative factors: variant full or A, got {}",
           mfm_variant_name(config.variant));
  FG_CHECK(out.f_y.defined() && out.reconstructions.size() == config.modality_names.size(),
           "MFM dependency ratios: `out` must come from forward_all of the same model");
  FG_CHECK(batch.size() >= 2, "MFM dependency ratios need at least 2 utterances, got {}", batch.size());
  MfmRatios r;
  for (std::size_t i = 0; i < config.modality_names.size(); ++i) {
    const std::string& name = config.modality_names[i];
    const Tensor& xh = out.reconstructions[i];
    const Tensor mask = batch_mask(batch, name).to(xh.device()).to(xh.dtype());
    // float64: nearly equal rows must not round to a Gram matrix of exact ones (0 / 0)
    const Tensor xbar = masked_time_mean(xh, mask).to(DType::f64);
    const Tensor fa = (config.variant == MfmVariant::A ? out.f_a[0] : out.f_a[i]).to(DType::f64);
    const Tensor fy = out.f_y.to(DType::f64);
    r.dep_y.push_back(losses::normalized_hsic(fy, xbar, sigma, sigma).item());
    r.dep_a.push_back(losses::normalized_hsic(fa, xbar, sigma, sigma).item());
    r.ratio.push_back(r.dep_y.back() / r.dep_a.back());
  }
  return r;
}

std::vector<Tensor> mfm_gradient_flow(const MFM& model, const MFMOutput& out, std::int64_t T) {
  const MFMConfig& config = model.config();
  FG_CHECK(config.variant == MfmVariant::Full || config.variant == MfmVariant::A,
           "MFM gradient flow needs F_y feeding decoders with generative factors: variant full or A, got {}",
           mfm_variant_name(config.variant));
  FG_CHECK(out.f_y.defined() && !out.f_a.empty(), "MFM gradient flow: `out` must come from forward_all of the same model");
  NoGradGuard ng;
  const TensorOptions f64{DType::f64, out.f_y.device(), false};
  const Tensor f_y = out.f_y.to(DType::f64);
  const std::int64_t B = f_y.size(0), fy = f_y.size(1);
  std::vector<Tensor> flows;
  for (std::size_t i = 0; i < model.decoders.size(); ++i) {
    const nn::LSTMCell& cell = *model.decoders[i];
    const Tensor w_ih = cell.weight_ih.to(DType::f64), w_hh = cell.weight_hh.to(DType::f64);
    const Tensor b = (cell.bias_ih + cell.bias_hh).to(DType::f64);
    const Tensor w_out = model.decoder_out[i]->weight.to(DType::f64);  // the bias has no tangent
    const Tensor fa = (config.variant == MfmVariant::A ? out.f_a[0] : out.f_a[i]).to(DType::f64);
    const Tensor init = concat({f_y, fa}, 1);
    const std::int64_t H = cell.hidden_size, W = init.size(1);
    std::vector<Tensor> per_step(static_cast<std::size_t>(T));
    for (std::int64_t k = 0; k < fy; ++k) {
      std::vector<double> e(static_cast<std::size_t>(B * W), 0.0);
      for (std::int64_t r = 0; r < B; ++r) e[static_cast<std::size_t>(r * W + k)] = 1.0;
      Tensor x = init, dx = from_vector(e, {B, W}, f64);
      Tensor h = zeros({B, H}, f64), c = zeros({B, H}, f64), dh = zeros({B, H}, f64), dc = zeros({B, H}, f64);
      for (std::int64_t t = 0; t < T; ++t) {
        const Tensor gates = linear(x, w_ih, b) + linear(h, w_hh);
        const Tensor dgates = linear(dx, w_ih) + linear(dh, w_hh);
        // PyTorch's gate order: input, forget, cell (g), output
        const Tensor ig = sigmoid(slice(gates, 1, 0, H)), fg_ = sigmoid(slice(gates, 1, H, H));
        const Tensor gg = tanh(slice(gates, 1, 2 * H, H)), og = sigmoid(slice(gates, 1, 3 * H, H));
        const Tensor di = ig * (1.0 - ig) * slice(dgates, 1, 0, H), df = fg_ * (1.0 - fg_) * slice(dgates, 1, H, H);
        const Tensor dg = (1.0 - gg * gg) * slice(dgates, 1, 2 * H, H), d_o = og * (1.0 - og) * slice(dgates, 1, 3 * H, H);
        const Tensor c_new = fg_ * c + ig * gg;
        const Tensor dc_new = df * c + fg_ * dc + di * gg + ig * dg;
        const Tensor tc = tanh(c_new);
        const Tensor h_new = og * tc;
        const Tensor dh_new = d_o * tc + og * (1.0 - tc * tc) * dc_new;
        const Tensor dxh = linear(dh_new, w_out);  // [B, D_i]: column k of d x^_t / d f_y
        const Tensor sq = sum(dxh * dxh, 1, /*keepdim=*/true);  // [B, 1]
        per_step[static_cast<std::size_t>(t)] = per_step[static_cast<std::size_t>(t)].defined()
                                                    ? per_step[static_cast<std::size_t>(t)] + sq
                                                    : sq;
        x = h_new, dx = dh_new, h = h_new, c = c_new, dh = dh_new, dc = dc_new;
      }
    }
    flows.push_back(concat(per_step, 1));  // [B, T]
  }
  return flows;
}

SyntheticImplied mfm_synthetic_implied(const data::SyntheticConfig& c) {
  double w2 = 0;
  for (double w : c.factor_weights) w2 += w * w;
  const double lbar = 0.5 * static_cast<double>(c.min_steps + c.max_steps);
  SyntheticImplied r;
  for (const auto& m : c.modalities) {
    double cov = 0;
    for (std::int64_t k : m.factors) {
      FG_CHECK(k >= 0 && k < static_cast<std::int64_t>(c.factor_weights.size()),
               "synthetic modality '{}': factor {} outside 0..{}", m.name, k, c.factor_weights.size() - 1);
      cov += c.factor_weights[static_cast<std::size_t>(k)] * c.factor_weights[static_cast<std::size_t>(k)] / w2;
    }
    const double per_feature = m.factors.empty() ? 0.0 : cov / static_cast<double>(m.factors.size());
    const double a2 = m.signal_scale * m.signal_scale, b2 = m.nuisance_scale * m.nuisance_scale;
    r.coverage.push_back(cov);
    r.sentiment_share.push_back(a2 * per_feature / (a2 + b2 + m.noise_std * m.noise_std / lbar));
  }
  return r;
}

FlowPeakCheck mfm_flow_peak_check(const Tensor& flow, const std::vector<std::int64_t>& lengths,
                                  const std::vector<double>& peak_fraction, std::int64_t k) {
  FG_CHECK(flow.dim() == 2, "flow peak check: the flow must be [B, T], got {}", shape_str(flow.shape()));
  const std::int64_t B = flow.size(0), T = flow.size(1);
  FG_CHECK(static_cast<std::int64_t>(lengths.size()) == B && static_cast<std::int64_t>(peak_fraction.size()) == B,
           "flow peak check: {} rows but {} lengths and {} peaks", B, lengths.size(), peak_fraction.size());
  FG_CHECK(k >= 0, "flow peak check: k must be >= 0, got {}", k);
  const auto v = flow.to(Device::cpu()).to(DType::f64).to_vector<double>();
  FlowPeakCheck r;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t L = lengths[static_cast<std::size_t>(b)];
    FG_CHECK(L >= 1 && L <= T, "flow peak check: row {} has length {} (the flow has {} steps)", b, L, T);
    std::int64_t arg = 0;
    for (std::int64_t t = 1; t < L; ++t)
      if (v[static_cast<std::size_t>(b * T + t)] > v[static_cast<std::size_t>(b * T + arg)]) arg = t;
    const std::int64_t p =
        std::clamp<std::int64_t>(std::lround(peak_fraction[static_cast<std::size_t>(b)] * static_cast<double>(L)), 0, L - 1);
    r.hit_rate += std::abs(arg - p) <= k ? 1.0 : 0.0;
    r.chance += static_cast<double>(std::min(L - 1, p + k) - std::max<std::int64_t>(0, p - k) + 1) / static_cast<double>(L);
    r.mean_argmax_fraction += static_cast<double>(arg) / static_cast<double>(L);
    r.mean_peak_fraction += static_cast<double>(p) / static_cast<double>(L);
  }
  r.utterances = B;
  if (B > 0) {
    r.hit_rate /= static_cast<double>(B);
    r.chance /= static_cast<double>(B);
    r.mean_argmax_fraction /= static_cast<double>(B);
    r.mean_peak_fraction /= static_cast<double>(B);
  }
  return r;
}

}  // namespace fg::models
