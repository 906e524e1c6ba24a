// models/mfm.h: the Multimodal Factorization Model (Tsai et al., ICLR 2019; paper 001) for
// time series, and its ablations M_A .. M_E (paper Table 2 / Figure 6). docs/mfm.md.
//
// Full model (section 3.1, supplement B; the authors' code as recorded in reference-facts):
//   Z_y   = MFN(X_1:M)                     Q(Z_y | X_1:M): models::MFN (reused, child "mfn"),
//                                          its output MLP ends in a Linear to d(Z_y)
//   Z_a_i = Linear(h_T(LSTM_i(X_i)))       Q(Z_a_i | X_i): one nn::LSTM per modality
//   F_*   = ReLU(FC2(dropout(ReLU(FC1(Z_*)))))       G_y, G_a_i (FC1 width = d(F_*))
//   y^    = FC2(dropout(ReLU(FC1(F_y))))             D (FC1 width = d(F_y))
//   X^_i  : decoder F_i, an LSTMCell with input = hidden = d(F_y) + d(F_a_i), fed
//           [F_y, F_a_i] at step 0 and its own output h_{t-1} after; X^_i^t = Linear(h_t)
// Objective (eq. 4, with the code's scales):
//   L = L1(y^, y) + sum_i lambda_i * MSE(X_i, X^_i) + lambda_mmd * MMD
//   MSE over the valid steps of each sequence (padding and missing modalities excluded),
//   mean over steps and features (the code's nn.MSELoss scale, for which its lambdas are set).
//   MMD (losses::mmd_mfm: k(x, y) = exp(-mean_d (x - y)^2 / dim), biased) between the batch's
//   factors and as many N(0, I) draws:
//     per_factor (default, the code): sum over the factors Z_y, Z_a_1..M of MMD(Z_f, N(0, I))
//     joint      (the paper's eq. 4): MMD([Z_y, Z_a_1, .., Z_a_M], N(0, I)) on the concatenation
//
// Ablations (one enum, MfmVariant; the parts below are built only where a variant has them):
//   variant  Z_y (MFN)  Z_a                      decoders read         D reads        loss
//   full     yes        one LSTM per modality    [F_y, F_a_i]          F_y            L1 + recon + MMD
//   A        yes        ONE multimodal (2nd MFN) [F_y, F_a]            F_y            L1 + recon + MMD
//   B        no         one LSTM per modality    F_a_i                 [F_a_1..M]     L1 + recon + MMD
//   C        yes        none                     F_y                   F_y            L1 + recon + MMD
//   D        no         one LSTM per modality    (none)                [F_a_1..M]     L1
//   E        yes        none                     (none)                F_y            L1
// A's single generative factor: Figure 6 is not in our text of the paper; we encode it with a
// second MFN (a multimodal encoder like Z_y's, own weights) whose Z_a and F_a widths are the
// sums of the per-modality ones, so capacity stays comparable.
//
// Missing modalities (`present`): the modality's input is zeroed before every encoder (as
// MFNModel does) and its reconstruction term is masked out.
// Parameter names: mfn.* (models::MFN), mfn_a.* (A), enc_<m>.* (nn::LSTM), zy.*/za_<m>.* are
// the Linear heads of the LSTM encoders (MFN's head is its own `out`), g_y.*, g_a_<m>.* (or
// g_a.* for A), d.*, dec_<m>.* (LSTMCell), dec_out_<m>.* (Linear).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/lstm.h"
#include "data/synthetic.h"
#include "engine/nn/nn.h"
#include "models/mfn.h"
#include "models/sentiment.h"

namespace fg::models {

enum class MfmVariant { Full, A, B, C, D, E };
enum class MmdPlacement { PerFactor, Joint };

// "full", "A" .. "E" (case-insensitive for the letters); throws naming the accepted values.
MfmVariant parse_mfm_variant(const std::string& s);
std::string mfm_variant_name(MfmVariant v);  // "full", "A", ..
std::vector<MfmVariant> all_mfm_variants();  // full, A, B, C, D, E
MmdPlacement parse_mmd_placement(const std::string& s);  // "per_factor" | "joint"
std::string mmd_placement_name(MmdPlacement p);

// Defaults: the authors' best MOSI settings (reference-facts "MFM"): MFN hidden [88, 64, 48],
// memory 64; Z_y 32, Z_a [32, 8, 80]; F_y 16, F_a [88, 8, 8]; lambda_mmd 1, lambda_recon
// [1, 0.01, 0.5]. Not in that record (ours): encoder LSTM widths (= MFN's hidden sizes), the
// dropout of G and D (0.2).
struct MFMConfig {
  MfmVariant variant = MfmVariant::Full;
  std::vector<std::string> modality_names = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_sizes = {300, 5, 20};
  MFNConfig mfn = default_mfn();               // modality names, input sizes, output_size set from above
  std::vector<std::int64_t> encoder_hidden = {88, 64, 48};
  std::int64_t zy_size = 32;
  std::vector<std::int64_t> za_sizes = {32, 8, 80};
  std::int64_t fy_size = 16;
  std::vector<std::int64_t> fa_sizes = {88, 8, 8};
  double dropout = 0.2;                        // inside G_* and D
  double lambda_mmd = 1.0;
  std::vector<double> lambda_recon = {1.0, 0.01, 0.5};
  MmdPlacement mmd_placement = MmdPlacement::PerFactor;

  static MFNConfig default_mfn();
  // Throws naming the field for missing, mismatched or non-positive sizes.
  void validate() const;
  bool has_zy() const;                 // full, A, C, E
  bool has_modality_factors() const;   // full, B, D
  bool has_shared_factor() const;      // A
  bool generative() const;             // full, A, B, C: decoders, reconstruction and MMD
  std::int64_t shared_z() const;       // A: sum of za_sizes
  std::int64_t shared_f() const;       // A: sum of fa_sizes
  std::int64_t decoder_width(std::size_t m) const;  // the decoder's input = hidden size
  std::int64_t head_input() const;     // D's input width (= d_z of SentimentOutput)
};

struct MFMOutput {
  std::vector<std::pair<std::string, Tensor>> factors;  // ("z_y", [B, zy]), ("z_a_text", ..) / ("z_a", ..)
  Tensor f_y;                     // [B, fy] or undefined
  std::vector<Tensor> f_a;        // per modality [B, fa_m] (full, B, D), or one (A), or empty
  Tensor head_input;              // D's input [B, head_input()]
  Tensor prediction;              // [B]
  std::vector<Tensor> reconstructions;  // per modality [B, T, D_m] (generative variants), else empty
};

class MFM : public SentimentModel {
 public:
  MFM(const MFMConfig& config, Generator& init_gen, TensorOptions opts = {},
      std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MFM"; }
  const std::vector<std::string>& modalities() const override { return config_.modality_names; }
  std::int64_t fused_dim() const override { return config_.head_input(); }
  // z = D's input, prediction = y^, encodings = F_a_i where the variant has them.
  SentimentOutput forward(const data::Batch& batch) override;
  // Everything the objective needs (decoders run only for generative variants).
  MFMOutput forward_all(const data::Batch& batch);
  const MFMConfig& config() const { return config_; }
  // Decoder F_i: init [B, decoder_width(i)] fed at step 0, its own h after -> X^_i [B, T, D_i].
  Tensor decode(std::size_t i, const Tensor& init, std::int64_t T) const;

  std::shared_ptr<MFN> mfn, mfn_a;
  std::vector<std::shared_ptr<nn::LSTM>> encoders;
  std::vector<std::shared_ptr<nn::Linear>> za_heads;
  std::shared_ptr<nn::MLP> g_y, g_a_shared, d;
  std::vector<std::shared_ptr<nn::MLP>> g_a;
  std::vector<std::shared_ptr<nn::LSTMCell>> decoders;
  std::vector<std::shared_ptr<nn::Linear>> decoder_out;

 private:
  MFMConfig config_;
  std::shared_ptr<Generator> dropout_gen_;
};

// The pieces MFM's image variant (models/mfm_digits.h) shares:
// G_*: ReLU(FC2(dropout(ReLU(FC1(z))))), FC1 width = out.
std::shared_ptr<nn::MLP> mfm_factor_net(std::int64_t in, std::int64_t out, double dropout, Generator& gen,
                                        TensorOptions opts = {}, std::shared_ptr<Generator> dropout_gen = nullptr);
// D: FC2(dropout(ReLU(FC1(f)))), FC1 width = in.
std::shared_ptr<nn::MLP> mfm_head(std::int64_t in, std::int64_t out, double dropout, Generator& gen,
                                  TensorOptions opts = {}, std::shared_ptr<Generator> dropout_gen = nullptr);
// The N(0, I) draws for `factors` (one [B, d_f] per factor, or one [B, sum d] for joint), in
// factor order, and the MMD term of the placement (losses::mmd_mfm; per_factor: the sum).
std::vector<Tensor> draw_mfm_prior(MmdPlacement placement, const std::vector<std::pair<std::string, Tensor>>& factors,
                                   Generator& gen);
Tensor mfm_mmd(MmdPlacement placement, const std::vector<std::pair<std::string, Tensor>>& factors,
               const std::vector<Tensor>& prior);

struct MFMLoss {
  Tensor total;
  std::vector<std::pair<std::string, Tensor>> terms;  // l1, recon_<modality>..., mmd
};

// The N(0, I) draws the MMD compares with: one [B, d] per factor (per_factor) or one
// [B, sum d] (joint), drawn from gen in factor order.
std::vector<Tensor> draw_mfm_prior(const MFMConfig& config, const MFMOutput& out, Generator& gen);
// The objective of eq. 4 for `out` = model.forward_all(batch) and the prior draws above.
// The terms are unweighted (l1, recon_<m> = MSE, mmd = the placement's sum); total applies
// lambda_recon and lambda_mmd.
MFMLoss mfm_objective(const MFMConfig& config, const data::Batch& batch, const MFMOutput& out,
                      const std::vector<Tensor>& prior);

// Dependency-based interpretation (section 3.4, supplement F), for the full model (and M_A,
// whose one F_a serves every modality): over the N rows of `out` = forward_all(batch),
//   r_i = nHSIC(F_y, Xbar^_i) / nHSIC(F_a_i, Xbar^_i)
// with Xbar^_i the reconstruction averaged over each row's valid steps, Gaussian kernels of
// bandwidth sigma (1.0 as supplement F; sigma <= 0: the median heuristic), losses/hsic.h.
// A factor constant over the rows (e.g. every ReLU unit of F dead) gives nHSIC = 0 / 0 = NaN.
struct MfmRatios {
  std::vector<double> dep_y, dep_a, ratio;  // per modality
};
MfmRatios mfm_dependency_ratios(const MFMConfig& config, const data::Batch& batch, const MFMOutput& out,
                                double sigma = 1.0);

// Gradient-based interpretation (eq. 7), for the full model and M_A: per modality i, the
// per-step squared Frobenius norm ||d x^_i^t / d f_y||_F^2, [B, T] (f_y of each utterance
// affects only its own row). Exact: forward-mode tangents pushed by hand through the decoder's
// LSTMCell and output Linear (one tangent per coordinate of f_y, all utterances at once), so
// d(F_y) passes of T cell steps each, no reverse passes; float64, no autograd graph.
std::vector<Tensor> mfm_gradient_flow(const MFM& model, const MFMOutput& out, std::int64_t T);

// The interpretation read against the synthetic corpus's construction (data/synthetic.h,
// docs/mfm.md "Interpretation against the construction"). Per modality m of `c`, in
// expectation over the dataset's random matrices A_m, B_m (entries N(0, 1/|S_m|), N(0, 1/R_m)):
//   sentiment_share[m] = a_m^2 mean_{k in S_m} w_k^2 / |w|^2 / (a_m^2 + b_m^2 + sigma_m^2 / Lbar)
// the share of a time-averaged feature's variance that the sentiment score s explains (Lbar the
// mean length; the expression and expressiveness factors are common to all modalities), and
//   coverage[m] = sum_{k in S_m} w_k^2 / |w|^2, the share of s's variance the modality's factors carry.
// r_i measures how much X^_i depends on F_y relative to F_a_i, so the construction implies the
// order of sentiment_share (text > acoustic > visual with the defaults).
struct SyntheticImplied {
  std::vector<double> sentiment_share, coverage;
};
SyntheticImplied mfm_synthetic_implied(const data::SyntheticConfig& c);

// Gradient flow against where the expression peaks: flow [B, T] (one modality of
// mfm_gradient_flow), each row's valid length and the construction's peak (truth.peak, a
// fraction of the utterance; its step is lround(peak * L), the argmax of the bump). An
// utterance is a hit when the flow's argmax over its valid steps is within k steps of the
// peak; chance = the hit rate of an argmax uniform over the valid steps (exact, averaged).
struct FlowPeakCheck {
  std::int64_t utterances = 0;
  double hit_rate = 0, chance = 0;
  double mean_argmax_fraction = 0, mean_peak_fraction = 0;  // argmax / L and peak step / L, averaged
};
FlowPeakCheck mfm_flow_peak_check(const Tensor& flow, const std::vector<std::int64_t>& lengths,
                                  const std::vector<double>& peak_fraction, std::int64_t k);

// Masked reconstruction MSE: x, x_hat [B, T, D], weight [B, T] (1 = the step counts) ->
// sum weight * (x - x_hat)^2 / (D * max(sum weight, 1)).
Tensor masked_mse(const Tensor& x, const Tensor& x_hat, const Tensor& weight);

}  // namespace fg::models
