// data/synthetic.h: a built-in multimodal sentiment dataset, generated in memory from a seed.
//
// Real CMU-MOSI cannot be shipped or fetched at run time (docs/data-format.md, section 4), so
// the examples and tests train on a synthetic stand-in with MOSI's shapes: three word-aligned
// modalities (text 300, acoustic 5, visual 20 features per step), 20 to 50 steps per utterance, labels
// in [-3, 3], and a 1284 / 229 / 686 train / valid / test split. It is built so that the
// lesson of the fusion papers holds by construction: every modality sees only part of the
// sentiment, so a model that fuses them beats any single one.
//
// The generative process, for one utterance i:
//
//   1. Latent factors. z ~ N(0, I_K) (K = 6 by default): the "true" affective state.
//   2. Sentiment score. s = w . z / |w|, a fixed weighting of all K factors (unit variance).
//   3. Label. A annotators (3) each give an integer rating
//          r_a = clip(round(3 tanh(g s) + N(0, sigma_a^2)), -3, 3)
//      and the label is their mean, y = mean_a r_a: a multiple of 1/A in [-3, 3], exactly
//      0 now and then (MOSI's labels are also annotator averages). The noise of the
//      annotators is the floor no model can beat.
//   4. Length. L ~ Uniform{min_steps .. max_steps}; steps t >= L are padding (zeros).
//   5. What each modality expresses. Modality m sees only a subset S_m of the factors:
//      by default text {0, 1, 2, 3}, acoustic {1, 4}, visual {2, 4, 5}. Text alone can
//      explain about 80% of the variance of s, acoustic and visual about a third each,
//      and only all three together cover every factor. On top of that, per utterance:
//        - with probability p_silent one modality (chosen uniformly) says nothing
//          (e_m = 0: a flat voice, a still face, neutral words);
//        - with probability p_contradict one modality contradicts the sentiment
//          (e_m = -1: sarcasm, a polite smile);
//        - otherwise e_m = +1 for every modality.
//      A speaker's expressiveness scales the signal: gamma_m = exp(sigma_gamma N(0, 1)).
//   6. Time. The expression rises and falls over the utterance with a bump
//          h_t = exp(-((t - c) / width)^2 / 2),  c ~ U(0.2, 0.8) L, width ~ U(0.15, 0.35) L,
//      rescaled so that its mean over the L valid steps is 1.
//   7. Nuisance. Per utterance and modality, u_m ~ N(0, I_{R_m}) (who speaks, the room,
//      the camera): constant over the utterance and unrelated to the sentiment.
//   8. Features, for t < L:
//          x_{m,t} = e_m gamma_m h_t a_m A_m z[S_m]  +  b_m B_m u_m  +  sigma_m eps_{m,t}
//      with eps ~ N(0, I): fresh noise at every step. A_m [D_m, |S_m|] and B_m [D_m, R_m]
//      are drawn once per dataset (entries N(0, 1/|S_m|) and N(0, 1/R_m), so each term has
//      unit variance per feature before the scales a_m, b_m, sigma_m).
//      Defaults (SyntheticConfig::default_modalities), with a_m = b_m = 1:
//          modality   D_m   S_m           R_m   sigma_m
//          text       300   {0, 1, 2, 3}   8    3.0
//          acoustic     5   {1, 4}         2    1.5
//          visual      20   {2, 4, 5}      4    2.0
//
// Variants (all off by default; the default config gives exactly the dataset above):
//
//   aligned = false   UNALIGNED modalities (MMSA's unaligned_50, MulT's *_noalign): modality m
//                     has its own time grid of T_m = ceil(max_steps * steps_per_word_m) steps and
//                     utterance lengths L_m = max(1, round(L * steps_per_word_m)); the bump of
//                     step 6 sits at the same fraction of the utterance on every grid. The split
//                     then has modality_lengths / modality_masks instead of lengths / mask.
//   p_missing         each (utterance, modality) is MISSING with this probability (at least
//                     one modality stays per utterance: if all were drawn missing, the one with
//                     the largest draw is kept). A missing modality has all-zero features (and
//                     length 0 when unaligned), and split.present [N, M] says which are there.
//   task              what the labels are, all from the same latent z:
//     sentiment       the regression score y of step 3 (default)
//     three_class     class_index 0 / 1 / 2 = negative (y <= -0.5), neutral (|y| < 0.5),
//                     positive (y >= 0.5), named "negative", "neutral", "positive"
//     emotions        IEMOCAP-like multi-label over 6 emotions (happy, sad, angry, neutral,
//                     excited, frustrated): emotion k is present iff
//                       v_k . z / |v_k| + emotion_noise * N(0, 1) > emotion_threshold,
//                     with v_k ~ N(0, I_K) drawn once per dataset (about 1 in 4 utterances has
//                     each emotion; several can co-occur, none is possible)
//     traits          POM-like regression of 16 speaker traits (confident, passionate, ...),
//                     each the mean of A integer ratings on 1..7:
//                       r_a = clip(round(4 + 3 tanh(g v_k . z / |v_k|) + N(0, sigma_a^2)), 1, 7)
//   words_vocab = V   WORDS (off when 0; our own construction, not MOSI's): the text modality
//                     (the one named "text", which must be aligned, steps_per_word 1) becomes a
//                     sequence of pseudo-words from a vocabulary of V types "w0001" .. (zero-
//                     padded to the width of V). Each type w has a fixed vector
//                     v_w ~ N(0, word_vector_std^2 I_D) (D = text dim; GloVe-like scale) and a
//                     Zipf prior zipf(w) proportional to 1 / w^zipf_exponent (w = 1 .. V, type 1
//                     the most frequent). At a valid step t the text generator computes its
//                     noise-free text signal
//                       c_t = e gamma h_t a A z[S]  +  b B u          (steps 5 to 8, no eps)
//                     and the word of step t is drawn from
//                       p(w | t) proportional to zipf(w) exp(word_beta <v_w / |v_w|, c_t>)
//                     (a word prior tilted towards types whose direction agrees with what the
//                     speaker expresses; sampling the word is the text noise in place of eps).
//                     The text feature of step t is then v_{w_t} (a GloVe lookup), padding stays
//                     zero, split.raw_text[i] is the words joined by single spaces (token j is
//                     step j), and SyntheticDataset::vocabulary / word_vectors hold the types.
//                     A missing text modality (p_missing) has no words (raw_text ""). Defaults
//                     when on: V = 2000, zipf_exponent 1.0, word_vector_std 0.4, word_beta 1.0,
//                     picked once as plausible values and never tuned to any model's result.
//                     Draws: the vectors from stream derive_seed(seed, 5), each split's word
//                     choices from derive_seed(split seed, 2); every other number is unchanged.
//   preset(name)      "mosi", "mosei", "iemocap", "pom": split sizes, feature sizes and task of
//                     the real dataset (table in docs/data-format.md). Memory: N * T * sum(D_m)
//                     floats (MOSEI's train split at T = 50: about 1 GB); shrink the sizes for demos.
//
// Averaging x_m over the valid steps (what the late-fusion baseline does) keeps the signal
// (h has mean 1), keeps the nuisance, and divides the noise variance by L: what remains is a
// noisy, nuisance-laden view of part of z, different for every modality.
//
// Determinism: the seed fixes everything. The per-dataset matrices and each split are
// drawn from their own Philox streams (engine/random.h), so changing train_size leaves
// the valid and test splits untouched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace fg::data {

struct SyntheticModality {
  std::string name;
  std::int64_t dim = 1;               // D_m: features per step
  std::vector<std::int64_t> factors;  // S_m: the latent factors it expresses
  std::int64_t nuisance_factors = 0;  // R_m
  double signal_scale = 1.0;          // a_m
  double nuisance_scale = 1.0;        // b_m
  double noise_std = 1.0;             // sigma_m (per step)
  double steps_per_word = 1.0;        // time-grid rate when the config is unaligned (else unused)
};

// What the labels of a synthetic dataset are (see the variants above).
enum class SyntheticTask { sentiment, three_class, emotions, traits };

struct SyntheticConfig {
  std::uint64_t seed = 0;
  std::int64_t train_size = 1284, valid_size = 229, test_size = 686;
  std::int64_t min_steps = 20, max_steps = 50;
  std::vector<double> factor_weights = {1.0, 0.8, 0.7, 0.6, 0.6, 0.5};  // w (K = its size)
  double label_gain = 0.6;          // g
  std::int64_t annotators = 3;      // A
  double annotator_noise = 0.6;     // sigma_a
  double p_silent = 0.15;
  double p_contradict = 0.10;
  double expressiveness_std = 0.3;  // sigma_gamma
  std::vector<SyntheticModality> modalities = default_modalities();
  // --- variants (the defaults keep the base dataset, bit for bit) ---
  bool aligned = true;
  double p_missing = 0.0;
  SyntheticTask task = SyntheticTask::sentiment;
  double emotion_threshold = 0.8, emotion_noise = 0.5;  // emotions task
  std::int64_t words_vocab = 0;     // V: > 0 turns on the words variant (above)
  double zipf_exponent = 1.0;       // the Zipf prior's exponent
  double word_vector_std = 0.4;     // entries of v_w ~ N(0, word_vector_std^2)
  double word_beta = 1.0;           // tilt of the prior by the text signal

  // text / acoustic / visual with the given feature sizes (MOSI's: 300, 5, 20); when unaligned,
  // acoustic has 3 and visual 2 steps per word.
  static std::vector<SyntheticModality> default_modalities(std::int64_t text_dim = 300, std::int64_t acoustic_dim = 5,
                                                           std::int64_t visual_dim = 20);
  // The config of a named real dataset (mosi, mosei, iemocap, pom); throws listing the names.
  static SyntheticConfig preset(const std::string& name);
  // Label names of a task (empty for sentiment).
  static std::vector<std::string> task_label_names(SyntheticTask task);
  // Throws naming the field and what was expected.
  void validate() const;
};

// What generated each utterance of a split, for analysis and tests (never model input).
struct SyntheticTruth {
  Tensor latent;      // float32 [N, K]: z
  Tensor score;       // float32 [N]: s
  Tensor expression;  // float32 [N, M]: e_m (1 expresses, 0 silent, -1 contradicts)
  Tensor peak;        // float32 [N]: the bump's centre c of step 6 as a fraction of the utterance (c / L)
  Tensor peak_width;  // float32 [N]: its width as a fraction of the utterance (width / L)
  Tensor target_scores;  // float32 [N, 6 or 16]: v_k . z / |v_k| (emotions, traits tasks only)
  Tensor word_ids;       // int64 [N, T]: the word type of each text step, -1 on padding (words variant only)
};

struct SyntheticDataset {
  MultimodalDataset data;
  SyntheticTruth train_truth, valid_truth, test_truth;
  // Words variant only (empty / undefined otherwise): the V type names ("w0001" ..), their
  // float32 vectors [V, D_text] and Zipf prior probabilities (sum 1).
  std::vector<std::string> vocabulary;
  Tensor word_vectors;
  std::vector<double> word_prior;
};

// The name of word type `index` (0-based) of a V-type vocabulary: "w" and index + 1 padded
// with zeros to max(4, digits of V) ("w0001" .. "w2000").
std::string word_name(std::int64_t index, std::int64_t vocab);

// Generates all three splits on the CPU. Throws (config.validate()) on a bad config.
SyntheticDataset make_synthetic_dataset(const SyntheticConfig& config);

}  // namespace fg::data
