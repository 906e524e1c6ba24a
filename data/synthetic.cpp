// data/synthetic.cpp: the synthetic multimodal sentiment generator (the process is
// documented step by step in data/synthetic.h; the numbers below follow it).
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "data/metrics.h"  // round_half_even
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace fg::data {

namespace {

// The fixed matrices of one modality: A_m [D, |S|] and B_m [D, R], row-major.
struct ModalityWorld {
  std::vector<double> signal_map, nuisance_map;
};

std::vector<double> to_doubles(const Tensor& t) { return t.to_vector<double>(); }

MultimodalSplit generate_split(const SyntheticConfig& cfg, const std::vector<ModalityWorld>& world,
                               const std::string& name, std::int64_t n, std::uint64_t seed, SyntheticTruth& truth) {
  Generator gen(seed);
  const auto k = static_cast<std::int64_t>(cfg.factor_weights.size());
  const auto n_mod = static_cast<std::int64_t>(cfg.modalities.size());
  const std::int64_t t_max = cfg.max_steps;

  // Every random draw of the split, in a fixed order (each advances the Philox stream).
  const auto z = to_doubles(randn({n, k}, gen, f64_opts()));
  const auto annot = to_doubles(randn({n, cfg.annotators}, gen, f64_opts()));
  const auto len_u = to_doubles(rand({n}, gen, f64_opts()));
  const auto odd_u = to_doubles(rand({n, 2}, gen, f64_opts()));  // which case, which modality
  const auto expr_n = to_doubles(randn({n, n_mod}, gen, f64_opts()));
  const auto bump_u = to_doubles(rand({n, 2}, gen, f64_opts()));  // centre, width

  double w_norm = 0;
  for (double w : cfg.factor_weights) w_norm += w * w;
  w_norm = std::sqrt(w_norm);

  std::vector<float> labels(static_cast<std::size_t>(n)), score(static_cast<std::size_t>(n));
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(n));
  std::vector<float> expression(static_cast<std::size_t>(n * n_mod), 1.0f);
  std::vector<double> envelope(static_cast<std::size_t>(n * t_max), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    // 2. sentiment score
    double s = 0;
    for (std::int64_t f = 0; f < k; ++f) s += cfg.factor_weights[f] * z[i * k + f];
    s /= w_norm;
    score[i] = static_cast<float>(s);
    // 3. label: mean of the annotators' integer ratings
    double sum = 0;
    for (std::int64_t a = 0; a < cfg.annotators; ++a) {
      const double r = round_half_even(3.0 * std::tanh(cfg.label_gain * s) + cfg.annotator_noise * annot[i * cfg.annotators + a]);
      sum += std::clamp(r, -3.0, 3.0);
    }
    labels[i] = static_cast<float>(sum / static_cast<double>(cfg.annotators));
    // 4. length
    const std::int64_t span = cfg.max_steps - cfg.min_steps + 1;
    const std::int64_t len = cfg.min_steps + std::min(span - 1, static_cast<std::int64_t>(len_u[i] * span));
    lengths[i] = len;
    // 5. at most one silent or contradicting modality
    const double u = odd_u[i * 2];
    const auto which = std::min(n_mod - 1, static_cast<std::int64_t>(odd_u[i * 2 + 1] * n_mod));
    if (u < cfg.p_silent) expression[i * n_mod + which] = 0.0f;
    else if (u < cfg.p_silent + cfg.p_contradict) expression[i * n_mod + which] = -1.0f;
    // 6. the bump, mean 1 over the valid steps
    const double centre = (0.2 + 0.6 * bump_u[i * 2]) * static_cast<double>(len);
    const double width = (0.15 + 0.2 * bump_u[i * 2 + 1]) * static_cast<double>(len);
    double total = 0;
    for (std::int64_t t = 0; t < len; ++t) {
      const double d = (static_cast<double>(t) - centre) / width;
      envelope[i * t_max + t] = std::exp(-0.5 * d * d);
      total += envelope[i * t_max + t];
    }
    for (std::int64_t t = 0; t < len; ++t) envelope[i * t_max + t] *= static_cast<double>(len) / total;
  }

  MultimodalSplit split;
  split.name = name;
  split.labels = from_vector(labels, {n});
  split.lengths = from_vector(lengths, {n}, TensorOptions{DType::i64});
  split.mask = mask_from_lengths(split.lengths, t_max);

  for (std::int64_t m = 0; m < n_mod; ++m) {
    const SyntheticModality& spec = cfg.modalities[m];
    const ModalityWorld& mw = world[m];
    const std::int64_t d = spec.dim;
    const auto n_sig = static_cast<std::int64_t>(spec.factors.size());
    const std::int64_t n_nui = spec.nuisance_factors;
    // 7. nuisance, 8. per-step noise (drawn for padding steps too, then overwritten by zeros)
    const auto nuis = to_doubles(randn({n, std::max<std::int64_t>(n_nui, 1)}, gen, f64_opts()));
    Tensor x = randn({n, t_max, d}, gen, f32_opts());
    float* xp = x.data<float>();
    std::vector<double> signal(static_cast<std::size_t>(d)), offset(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < n; ++i) {
      const double gain = expression[i * n_mod + m] * std::exp(cfg.expressiveness_std * expr_n[i * n_mod + m]) *
                          spec.signal_scale;
      for (std::int64_t j = 0; j < d; ++j) {
        double sg = 0, nu = 0;
        for (std::int64_t f = 0; f < n_sig; ++f) sg += mw.signal_map[j * n_sig + f] * z[i * k + spec.factors[f]];
        for (std::int64_t r = 0; r < n_nui; ++r) nu += mw.nuisance_map[j * n_nui + r] * nuis[i * std::max<std::int64_t>(n_nui, 1) + r];
        signal[j] = gain * sg;
        offset[j] = spec.nuisance_scale * nu;
      }
      for (std::int64_t t = 0; t < t_max; ++t) {
        float* row = xp + (i * t_max + t) * d;
        if (t >= lengths[i]) {
          std::fill_n(row, d, 0.0f);
          continue;
        }
        const double h = envelope[i * t_max + t];
        for (std::int64_t j = 0; j < d; ++j)
          row[j] = static_cast<float>(h * signal[j] + offset[j] + spec.noise_std * static_cast<double>(row[j]));
      }
    }
    split.modality_names.push_back(spec.name);
    split.features.push_back(x);
  }

  truth.latent = from_vector(z, {n, k}, f32_opts());
  truth.score = from_vector(score, {n});
  truth.expression = from_vector(expression, {n, n_mod});
  split.validate();
  return split;
}

}  // namespace

std::vector<SyntheticModality> SyntheticConfig::default_modalities(std::int64_t text_dim, std::int64_t acoustic_dim,
                                                                   std::int64_t visual_dim) {
  return {
      {"text", text_dim, {0, 1, 2, 3}, 8, 1.0, 1.0, 3.0},
      {"acoustic", acoustic_dim, {1, 4}, 2, 1.0, 1.0, 1.5},
      {"visual", visual_dim, {2, 4, 5}, 4, 1.0, 1.0, 2.0},
  };
}

void SyntheticConfig::validate() const {
  FG_CHECK(train_size >= 0 && valid_size >= 0 && test_size >= 0,
           "synthetic config: train_size, valid_size and test_size must be >= 0, got {}, {}, {}", train_size,
           valid_size, test_size);
  FG_CHECK(min_steps >= 1 && min_steps <= max_steps,
           "synthetic config: need 1 <= min_steps <= max_steps, got min_steps = {}, max_steps = {}", min_steps,
           max_steps);
  FG_CHECK(!factor_weights.empty(), "synthetic config: factor_weights must not be empty");
  double w2 = 0;
  for (double w : factor_weights) {
    FG_CHECK(std::isfinite(w), "synthetic config: factor_weights must be finite");
    w2 += w * w;
  }
  FG_CHECK(w2 > 0, "synthetic config: factor_weights must not be all zero");
  FG_CHECK(std::isfinite(label_gain) && label_gain > 0, "synthetic config: label_gain must be > 0, got {}", label_gain);
  FG_CHECK(annotators >= 1, "synthetic config: annotators must be >= 1, got {}", annotators);
  FG_CHECK(annotator_noise >= 0, "synthetic config: annotator_noise must be >= 0, got {}", annotator_noise);
  FG_CHECK(p_silent >= 0 && p_contradict >= 0 && p_silent + p_contradict <= 1,
           "synthetic config: need p_silent, p_contradict >= 0 with p_silent + p_contradict <= 1, got {} and {}",
           p_silent, p_contradict);
  FG_CHECK(expressiveness_std >= 0, "synthetic config: expressiveness_std must be >= 0, got {}", expressiveness_std);
  FG_CHECK(!modalities.empty(), "synthetic config: needs at least one modality");
  const auto k = static_cast<std::int64_t>(factor_weights.size());
  for (std::size_t m = 0; m < modalities.size(); ++m) {
    const SyntheticModality& s = modalities[m];
    FG_CHECK(!s.name.empty(), "synthetic config: modality {} has an empty name", m);
    for (std::size_t o = 0; o < m; ++o)
      FG_CHECK(modalities[o].name != s.name, "synthetic config: modality name '{}' used twice", s.name);
    FG_CHECK(s.dim >= 1, "synthetic config: modality '{}': dim must be >= 1, got {}", s.name, s.dim);
    FG_CHECK(!s.factors.empty(), "synthetic config: modality '{}': factors must not be empty", s.name);
    for (std::int64_t f : s.factors)
      FG_CHECK(f >= 0 && f < k, "synthetic config: modality '{}': factor {} is outside [0, {}) (K = factor_weights.size())",
               s.name, f, k);
    FG_CHECK(s.nuisance_factors >= 0, "synthetic config: modality '{}': nuisance_factors must be >= 0", s.name);
    FG_CHECK(s.signal_scale >= 0 && s.nuisance_scale >= 0 && s.noise_std >= 0,
             "synthetic config: modality '{}': signal_scale, nuisance_scale and noise_std must be >= 0", s.name);
  }
}

SyntheticDataset make_synthetic_dataset(const SyntheticConfig& cfg) {
  cfg.validate();
  // The fixed mixing matrices of each modality, from the per-dataset stream.
  Generator world_gen(derive_seed(cfg.seed, 0));
  std::vector<ModalityWorld> world;
  for (const SyntheticModality& spec : cfg.modalities) {
    const auto n_sig = static_cast<std::int64_t>(spec.factors.size());
    ModalityWorld mw;
    mw.signal_map = to_doubles(randn({spec.dim, n_sig}, world_gen, f64_opts(), 0.0, 1.0 / std::sqrt(double(n_sig))));
    if (spec.nuisance_factors > 0)
      mw.nuisance_map = to_doubles(randn({spec.dim, spec.nuisance_factors}, world_gen, f64_opts(), 0.0,
                                         1.0 / std::sqrt(double(spec.nuisance_factors))));
    world.push_back(std::move(mw));
  }
  SyntheticDataset out;
  out.data.train = generate_split(cfg, world, "train", cfg.train_size, derive_seed(cfg.seed, 1), out.train_truth);
  out.data.valid = generate_split(cfg, world, "valid", cfg.valid_size, derive_seed(cfg.seed, 2), out.valid_truth);
  out.data.test = generate_split(cfg, world, "test", cfg.test_size, derive_seed(cfg.seed, 3), out.test_truth);
  return out;
}

}  // namespace fg::data
