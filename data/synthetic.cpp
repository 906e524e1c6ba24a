// data/synthetic.cpp: the synthetic multimodal sentiment generator (the process is
// documented step by step in data/synthetic.h; the numbers below follow it).
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

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

// The per-dataset part of the label variants: v_k [n_targets, K], row-major.
struct TaskWorld {
  std::int64_t targets = 0;
  std::vector<double> weights;
};

// The words variant's vocabulary (data/synthetic.h): V types, their vectors [V, D] and unit
// directions, and the log of the Zipf prior.
struct WordWorld {
  std::int64_t vocab = 0, dim = 0, modality = -1;
  std::vector<double> vectors, units, log_prior;
};

std::vector<double> to_doubles(const Tensor& t) { return t.to_vector<double>(); }

// Steps of modality m's grid and an utterance's length on it (the identity when aligned).
std::int64_t grid_steps(const SyntheticConfig& cfg, const SyntheticModality& spec) {
  if (cfg.aligned) return cfg.max_steps;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(static_cast<double>(cfg.max_steps) * spec.steps_per_word)));
}
std::int64_t grid_length(const SyntheticConfig& cfg, const SyntheticModality& spec, std::int64_t len) {
  if (cfg.aligned) return len;
  const auto l = static_cast<std::int64_t>(std::llround(static_cast<double>(len) * spec.steps_per_word));
  return std::clamp<std::int64_t>(l, 1, grid_steps(cfg, spec));
}

MultimodalSplit generate_split(const SyntheticConfig& cfg, const std::vector<ModalityWorld>& world,
                               const TaskWorld& task_world, const WordWorld& words, const std::string& name, std::int64_t n,
                               std::uint64_t seed, SyntheticTruth& truth) {
  Generator gen(seed);
  const auto k = static_cast<std::int64_t>(cfg.factor_weights.size());
  const auto n_mod = static_cast<std::int64_t>(cfg.modalities.size());

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
    lengths[i] = cfg.min_steps + std::min(span - 1, static_cast<std::int64_t>(len_u[i] * span));
    // 5. at most one silent or contradicting modality
    const double u = odd_u[i * 2];
    const auto which = std::min(n_mod - 1, static_cast<std::int64_t>(odd_u[i * 2 + 1] * n_mod));
    if (u < cfg.p_silent) expression[i * n_mod + which] = 0.0f;
    else if (u < cfg.p_silent + cfg.p_contradict) expression[i * n_mod + which] = -1.0f;
  }

  // 6. the bump of utterance i on a grid where it has `len` steps, mean 1 over them
  auto envelope = [&](std::int64_t i, std::int64_t len, std::vector<double>& h) {
    const double centre = (0.2 + 0.6 * bump_u[i * 2]) * static_cast<double>(len);
    const double width = (0.15 + 0.2 * bump_u[i * 2 + 1]) * static_cast<double>(len);
    double total = 0;
    h.assign(static_cast<std::size_t>(len), 0.0);
    for (std::int64_t t = 0; t < len; ++t) {
      const double d = (static_cast<double>(t) - centre) / width;
      h[t] = std::exp(-0.5 * d * d);
      total += h[t];
    }
    for (std::int64_t t = 0; t < len; ++t) h[t] *= static_cast<double>(len) / total;
  };

  // Variants draw from their own stream, so the base dataset stays the same bit for bit.
  Generator extra(derive_seed(seed, 1));
  std::vector<float> present(static_cast<std::size_t>(n * n_mod), 1.0f);
  if (cfg.p_missing > 0) {
    const auto miss_u = to_doubles(rand({n, n_mod}, extra, f64_opts()));
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t kept = 0, best = 0;
      for (std::int64_t m = 0; m < n_mod; ++m) {
        if (miss_u[i * n_mod + m] < cfg.p_missing) present[i * n_mod + m] = 0.0f;
        else ++kept;
        if (miss_u[i * n_mod + m] > miss_u[i * n_mod + best]) best = m;
      }
      if (kept == 0) present[i * n_mod + best] = 1.0f;
    }
  }

  // The words variant's choices: one uniform per (utterance, step), padding included.
  std::vector<double> word_u;
  std::vector<std::int64_t> word_ids;
  if (words.vocab > 0) {
    Generator word_gen(derive_seed(seed, 2));
    word_u = to_doubles(rand({n, grid_steps(cfg, cfg.modalities[words.modality])}, word_gen, f64_opts()));
  }

  MultimodalSplit split;
  split.name = name;
  split.lengths = from_vector(lengths, {n}, TensorOptions{DType::i64});
  if (cfg.aligned) split.mask = mask_from_lengths(split.lengths, cfg.max_steps);

  std::vector<double> h;
  for (std::int64_t m = 0; m < n_mod; ++m) {
    const SyntheticModality& spec = cfg.modalities[m];
    const ModalityWorld& mw = world[m];
    const std::int64_t d = spec.dim;
    const std::int64_t t_max = grid_steps(cfg, spec);
    const auto n_sig = static_cast<std::int64_t>(spec.factors.size());
    const std::int64_t n_nui = spec.nuisance_factors;
    // 7. nuisance, 8. per-step noise (drawn for padding steps too, then overwritten by zeros)
    const auto nuis = to_doubles(randn({n, std::max<std::int64_t>(n_nui, 1)}, gen, f64_opts()));
    Tensor x = randn({n, t_max, d}, gen, f32_opts());
    float* xp = x.data<float>();
    std::vector<double> signal(static_cast<std::size_t>(d)), offset(static_cast<std::size_t>(d));
    std::vector<std::int64_t> mod_len(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      const bool here = present[i * n_mod + m] != 0.0f;
      const std::int64_t len = here ? grid_length(cfg, spec, lengths[i]) : (cfg.aligned ? lengths[i] : 0);
      mod_len[i] = len;
      const double gain = expression[i * n_mod + m] * std::exp(cfg.expressiveness_std * expr_n[i * n_mod + m]) *
                          spec.signal_scale;
      for (std::int64_t j = 0; j < d; ++j) {
        double sg = 0, nu = 0;
        for (std::int64_t f = 0; f < n_sig; ++f) sg += mw.signal_map[j * n_sig + f] * z[i * k + spec.factors[f]];
        for (std::int64_t r = 0; r < n_nui; ++r) nu += mw.nuisance_map[j * n_nui + r] * nuis[i * std::max<std::int64_t>(n_nui, 1) + r];
        signal[j] = gain * sg;
        offset[j] = spec.nuisance_scale * nu;
      }
      if (here) envelope(i, len, h);
      if (m == words.modality) {  // the words variant: step t is the vector of a drawn word
        const std::int64_t v_n = words.vocab;
        std::vector<double> ps(static_cast<std::size_t>(v_n)), po(static_cast<std::size_t>(v_n)),
            p(static_cast<std::size_t>(v_n));
        if (here)
          for (std::int64_t w = 0; w < v_n; ++w) {
            double a = 0, b = 0;
            const double* u = words.units.data() + w * d;
            for (std::int64_t j = 0; j < d; ++j) a += u[j] * signal[j], b += u[j] * offset[j];
            ps[w] = a, po[w] = b;
          }
        std::string text;
        for (std::int64_t t = 0; t < t_max; ++t) {
          float* row = xp + (i * t_max + t) * d;
          if (!here || t >= len) {
            std::fill_n(row, d, 0.0f);
            word_ids.push_back(-1);
            continue;
          }
          double top = -std::numeric_limits<double>::infinity(), total = 0;
          for (std::int64_t w = 0; w < v_n; ++w) {
            p[w] = words.log_prior[w] + cfg.word_beta * (h[t] * ps[w] + po[w]);
            top = std::max(top, p[w]);
          }
          for (std::int64_t w = 0; w < v_n; ++w) total += (p[w] = std::exp(p[w] - top));
          const double target = word_u[i * t_max + t] * total;
          std::int64_t pick = v_n - 1;
          double acc = 0;
          for (std::int64_t w = 0; w < v_n; ++w) {
            acc += p[w];
            if (acc > target) {
              pick = w;
              break;
            }
          }
          word_ids.push_back(pick);
          for (std::int64_t j = 0; j < d; ++j) row[j] = static_cast<float>(words.vectors[pick * d + j]);
          if (!text.empty()) text += ' ';
          text += word_name(pick, v_n);
        }
        split.raw_text.push_back(std::move(text));
        continue;
      }
      for (std::int64_t t = 0; t < t_max; ++t) {
        float* row = xp + (i * t_max + t) * d;
        if (!here || t >= len) {
          std::fill_n(row, d, 0.0f);
          continue;
        }
        for (std::int64_t j = 0; j < d; ++j)
          row[j] = static_cast<float>(h[t] * signal[j] + offset[j] + spec.noise_std * static_cast<double>(row[j]));
      }
    }
    split.modality_names.push_back(spec.name);
    split.features.push_back(x);
    if (!cfg.aligned) {
      split.modality_lengths.push_back(from_vector(mod_len, {n}, TensorOptions{DType::i64}));
      split.modality_masks.push_back(mask_from_lengths(split.modality_lengths.back(), t_max));
    }
  }
  if (!cfg.aligned) split.lengths = Tensor();
  if (cfg.p_missing > 0) split.present = from_vector(present, {n, n_mod});

  // Labels of the task (data/synthetic.h); the variants' noise comes from `extra`.
  split.label_names = SyntheticConfig::task_label_names(cfg.task);
  switch (cfg.task) {
    case SyntheticTask::sentiment:
      split.labels = from_vector(labels, {n});
      break;
    case SyntheticTask::three_class: {
      std::vector<float> c(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) c[i] = labels[i] <= -0.5f ? 0.0f : labels[i] >= 0.5f ? 2.0f : 1.0f;
      split.labels = from_vector(c, {n});
      split.label_kind = LabelKind::class_index;
      break;
    }
    case SyntheticTask::emotions:
    case SyntheticTask::traits: {
      const std::int64_t kt = task_world.targets;
      std::vector<float> target(static_cast<std::size_t>(n * kt)), y(static_cast<std::size_t>(n * kt));
      const bool emotions = cfg.task == SyntheticTask::emotions;
      const auto noise = to_doubles(randn({n, kt, emotions ? 1 : cfg.annotators}, extra, f64_opts()));
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t e = 0; e < kt; ++e) {
          double v = 0, norm = 0;
          for (std::int64_t f = 0; f < k; ++f) {
            const double w = task_world.weights[e * k + f];
            v += w * z[i * k + f], norm += w * w;
          }
          v /= std::sqrt(norm);
          target[i * kt + e] = static_cast<float>(v);
          if (emotions) {
            y[i * kt + e] = v + cfg.emotion_noise * noise[i * kt + e] > cfg.emotion_threshold ? 1.0f : 0.0f;
          } else {
            double sum = 0;
            for (std::int64_t a = 0; a < cfg.annotators; ++a) {
              const double r = round_half_even(4.0 + 3.0 * std::tanh(cfg.label_gain * v) +
                                               cfg.annotator_noise * noise[(i * kt + e) * cfg.annotators + a]);
              sum += std::clamp(r, 1.0, 7.0);
            }
            y[i * kt + e] = static_cast<float>(sum / static_cast<double>(cfg.annotators));
          }
        }
      split.labels = from_vector(y, {n, kt});
      split.label_kind = emotions ? LabelKind::multi_label : LabelKind::multi_regression;
      truth.target_scores = from_vector(target, {n, kt});
      break;
    }
  }

  if (words.vocab > 0)
    truth.word_ids = from_vector(word_ids, {n, grid_steps(cfg, cfg.modalities[words.modality])}, TensorOptions{DType::i64});
  truth.latent = from_vector(z, {n, k}, f32_opts());
  truth.score = from_vector(score, {n});
  truth.expression = from_vector(expression, {n, n_mod});
  std::vector<float> peak(static_cast<std::size_t>(n)), peak_width(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    peak[static_cast<std::size_t>(i)] = static_cast<float>(0.2 + 0.6 * bump_u[i * 2]);
    peak_width[static_cast<std::size_t>(i)] = static_cast<float>(0.15 + 0.2 * bump_u[i * 2 + 1]);
  }
  truth.peak = from_vector(peak, {n});
  truth.peak_width = from_vector(peak_width, {n});
  split.validate();
  return split;
}

}  // namespace

std::string word_name(std::int64_t index, std::int64_t vocab) {
  const auto width = std::max<std::size_t>(4, std::to_string(vocab).size());
  std::string digits = std::to_string(index + 1);
  return "w" + std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
}

std::vector<SyntheticModality> SyntheticConfig::default_modalities(std::int64_t text_dim, std::int64_t acoustic_dim,
                                                                   std::int64_t visual_dim) {
  return {
      {"text", text_dim, {0, 1, 2, 3}, 8, 1.0, 1.0, 3.0, 1.0},
      {"acoustic", acoustic_dim, {1, 4}, 2, 1.0, 1.0, 1.5, 3.0},
      {"visual", visual_dim, {2, 4, 5}, 4, 1.0, 1.0, 2.0, 2.0},
  };
}

std::vector<std::string> SyntheticConfig::task_label_names(SyntheticTask task) {
  switch (task) {
    case SyntheticTask::sentiment: return {};
    case SyntheticTask::three_class: return {"negative", "neutral", "positive"};
    case SyntheticTask::emotions: return {"happy", "sad", "angry", "neutral", "excited", "frustrated"};
    case SyntheticTask::traits:
      return {"confident", "passionate", "voice_pleasant", "dominant", "credible", "vivid",
              "expertise", "entertaining", "reserved", "trusting", "relaxed", "outgoing",
              "thorough", "nervous", "persuasive", "humorous"};
  }
  return {};
}

SyntheticConfig SyntheticConfig::preset(const std::string& name) {
  SyntheticConfig c;
  if (name == "mosi") return c;  // the defaults: 1284 / 229 / 686, 300 / 5 / 20
  if (name == "mosei") {
    c.train_size = 16326, c.valid_size = 1871, c.test_size = 4659;
    c.modalities = default_modalities(300, 74, 35);
    return c;
  }
  if (name == "iemocap") {
    c.train_size = 2717, c.valid_size = 798, c.test_size = 938;
    c.modalities = default_modalities(300, 74, 35);
    c.task = SyntheticTask::emotions;
    return c;
  }
  if (name == "pom") {
    c.train_size = 600, c.valid_size = 100, c.test_size = 203;
    c.modalities = default_modalities(300, 74, 35);
    c.task = SyntheticTask::traits;
    return c;
  }
  FG_FAIL("synthetic preset '{}' is unknown (known: mosi, mosei, iemocap, pom)", name);
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
  FG_CHECK(p_missing >= 0 && p_missing < 1, "synthetic config: p_missing must be in [0, 1), got {}", p_missing);
  FG_CHECK(std::isfinite(emotion_threshold) && emotion_noise >= 0,
           "synthetic config: emotion_threshold must be finite and emotion_noise >= 0, got {} and {}",
           emotion_threshold, emotion_noise);
  FG_CHECK(!modalities.empty(), "synthetic config: needs at least one modality");
  FG_CHECK(words_vocab >= 0, "synthetic config: words_vocab must be >= 0, got {}", words_vocab);
  if (words_vocab > 0) {
    FG_CHECK(std::isfinite(zipf_exponent) && zipf_exponent >= 0,
             "synthetic config: zipf_exponent must be finite and >= 0, got {}", zipf_exponent);
    FG_CHECK(std::isfinite(word_vector_std) && word_vector_std > 0,
             "synthetic config: word_vector_std must be > 0, got {}", word_vector_std);
    FG_CHECK(std::isfinite(word_beta) && word_beta >= 0, "synthetic config: word_beta must be finite and >= 0, got {}",
             word_beta);
    bool has_text = false;
    for (const SyntheticModality& s : modalities)
      if (s.name == "text") has_text = aligned || s.steps_per_word == 1.0;
    FG_CHECK(has_text,
             "synthetic config: words_vocab > 0 needs a modality named 'text' on the word grid (aligned, or "
             "steps_per_word 1)");
  }
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
    FG_CHECK(aligned || (std::isfinite(s.steps_per_word) && s.steps_per_word > 0),
             "synthetic config: modality '{}': steps_per_word must be > 0 for an unaligned dataset, got {}", s.name,
             s.steps_per_word);
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
  // The label variants' weights v_k, from their own stream.
  TaskWorld task_world;
  if (cfg.task == SyntheticTask::emotions || cfg.task == SyntheticTask::traits) {
    task_world.targets = static_cast<std::int64_t>(SyntheticConfig::task_label_names(cfg.task).size());
    Generator task_gen(derive_seed(cfg.seed, 4));
    task_world.weights =
        to_doubles(randn({task_world.targets, static_cast<std::int64_t>(cfg.factor_weights.size())}, task_gen, f64_opts()));
  }
  SyntheticDataset out;
  // The words variant's vocabulary, from its own stream.
  WordWorld words;
  if (cfg.words_vocab > 0) {
    for (std::size_t m = 0; m < cfg.modalities.size(); ++m)
      if (cfg.modalities[m].name == "text") words.modality = static_cast<std::int64_t>(m);
    words.vocab = cfg.words_vocab;
    words.dim = cfg.modalities[words.modality].dim;
    Generator word_gen(derive_seed(cfg.seed, 5));
    const Tensor vec = randn({words.vocab, words.dim}, word_gen, f64_opts(), 0.0, cfg.word_vector_std);
    words.vectors = to_doubles(vec.to(DType::f32));  // the vectors the features hold, exactly
    words.units = words.vectors;
    for (std::int64_t w = 0; w < words.vocab; ++w) {
      double norm = 0;
      for (std::int64_t j = 0; j < words.dim; ++j) norm += words.units[w * words.dim + j] * words.units[w * words.dim + j];
      norm = std::sqrt(norm);
      for (std::int64_t j = 0; j < words.dim; ++j) words.units[w * words.dim + j] /= norm;
    }
    double zsum = 0;
    for (std::int64_t w = 0; w < words.vocab; ++w) zsum += std::pow(static_cast<double>(w + 1), -cfg.zipf_exponent);
    for (std::int64_t w = 0; w < words.vocab; ++w) {
      const double pw = std::pow(static_cast<double>(w + 1), -cfg.zipf_exponent) / zsum;
      words.log_prior.push_back(std::log(pw));
      out.word_prior.push_back(pw);
      out.vocabulary.push_back(word_name(w, words.vocab));
    }
    out.word_vectors = from_vector(words.vectors, {words.vocab, words.dim}, f32_opts());
  }
  out.data.train = generate_split(cfg, world, task_world, words, "train", cfg.train_size, derive_seed(cfg.seed, 1),
                                  out.train_truth);
  out.data.valid = generate_split(cfg, world, task_world, words, "valid", cfg.valid_size, derive_seed(cfg.seed, 2),
                                  out.valid_truth);
  out.data.test = generate_split(cfg, world, task_world, words, "test", cfg.test_size, derive_seed(cfg.seed, 3),
                                 out.test_truth);
  return out;
}

}  // namespace fg::data
