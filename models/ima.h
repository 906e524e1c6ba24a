// models/ima.h: the Importance-based Multimodal Autoencoder (IMA, paper 004) and the
// baselines of its digit study: JMVAE-KL (Suzuki et al. 2016), MVAE (Wu & Goodman 2018) and
// a multimodal denoising autoencoder. docs/ima.md.
//
// Shared layers (one copy, used by every model here): each modality j has
//   encoder  two_layer_mlp(D_j, h_j, out):  Linear(D_j, h_j) ReLU Linear(h_j, h_j) ReLU Linear(h_j, out)
//   decoder  two_layer_mlp(d, h_j, D_j):    the same shape backwards; its output are logits
//            (reconstruction = sigmoid, BCE loss) or values (SSE loss)
// with the paper's sizes h = 500 (images), 100 (speech), d = 2 or 50 (section 5).
//
// IMA (section 3):
//   u_j = enc_j(x_j) [B, d]               (out = d)
//   y_j = sigmoid(imp_j(x_j)) [B] in (0, 1) (importance network, two_layer_mlp(D_j, h_j, 1))
//   z   = sum_j m_j y_j u_j / (sum_j m_j y_j + eps)   eq. 1 with section 5.3's normalization;
//         m_j = 0 for a missing modality (y_j = 0), eps = 1e-8; "unweighted": y_j = 1
//   x^_j = dec_j(z)
//   L_auto (eq. 2, per-sample terms averaged over the batch):
//     lambda_glob ||z||^2 + sum_j lambda_rec_j rec(x_j, x^_j) + sum_j lambda_align_j ||z - u_j||^2
//     rec: binary cross-entropy summed over the features (BCE) or the sum of squared errors (SSE)
//   L_imp (eq. 4): sum_j lambda_local_j KL(Bern(mean_i y_ij) || Bern(rho_j))
//                + sum_j lambda_corr_j L_corr(z, u_j, y_j)   (eq. 3, losses/ima.h)
//     (corr_normalize, default on: L_corr / L_corr(z, u_j, 0) detached, see IMAConfig)
// Two-stage training (section 5): stage 1 minimizes L_auto over the encoders and decoders
// with the importances computed but held constant (detached); stage 2 minimizes L_imp over
// the importance networks with the autoencoder held constant (u_j and z detached: the
// gradient reaches y_j through eq. 3's weights and the prior only).
//
// Baselines (same encoder/decoder shapes; their encoders output [mu, logvar], 2d values):
//   JMVAE-KL: q(z|x_1, x_2) = enc_joint([x_1, x_2]) = two_layer_mlp(D_1 + D_2, h_1 + h_2, 2d);
//     q(z|x_j) = enc_j(x_j); p(x_j|z) = dec_j(z).
//     L = sum_j rec(x_j, dec_j(z)), z ~ q(z|X)  + beta KL(q(z|X) || N(0, I))
//       + alpha sum_j KL(q(z|X) || q(z|x_j))
//   MVAE: q(z|X_S) = product of the Gaussian experts of the modalities in S and a N(0, I)
//     prior expert (losses::product_of_experts). With M = 2 the sub-sampled ELBO terms are
//     all subsets: L = ELBO({1, 2}) + ELBO({1}) + ELBO({2}), ELBO(S) = sum_{j in S} rec(x_j,
//     dec_j(z)), z ~ q(z|X_S), + beta KL(q(z|X_S) || N(0, I)).
//   DAE (multimodal denoising autoencoder): u_j = enc_j(x~_j) with x~ = x with each input value
//     set to 0 with probability `denoise` (0.3, masking noise), z = fuse([u_1, .., u_M])
//     (Linear(M d, d); a missing modality contributes u_j = 0), x^_j = dec_j(z), L = sum_j
//     rec(x_j, x^_j) against the clean input.
// beta: the KL weight, annealed by the caller (examples/harness/ima_task.h).
//
// Representations (evaluation): IMA weighted / unweighted z, or u_j alone; VAEs: the mean of
// the posterior of the modalities present; DAE: z with the absent modality's u_j = 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/mlp.h"
#include "engine/nn/module.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "losses/vae.h"

namespace fg::models {

enum class ReconLoss { BCE, SSE };
ReconLoss parse_recon_loss(const std::string& s);  // "bce" | "sse"; throws naming the accepted values
const char* recon_loss_name(ReconLoss r);

// The sizes every model of the study shares.
struct MultimodalAEConfig {
  std::vector<std::string> modalities = {"image", "speech"};
  std::vector<std::int64_t> input_sizes = {784, 696};
  std::vector<std::int64_t> hidden = {500, 100};  // per modality, both hidden layers
  std::int64_t latent = 50;                        // d
  ReconLoss recon = ReconLoss::BCE;
  // Throws naming the field: sizes missing, non-positive or of different counts.
  void validate() const;
  std::size_t size() const { return modalities.size(); }
};

// Linear(in, hidden) ReLU Linear(hidden, hidden) ReLU Linear(hidden, out) (children 0, 2, 4).
std::shared_ptr<nn::MLP> two_layer_mlp(std::int64_t in, std::int64_t hidden, std::int64_t out, Generator& gen,
                                       TensorOptions opts);
// rec(x, out): BCE(sigmoid(out), x) or ||x - out||^2, summed over features, averaged over rows.
Tensor reconstruction_loss(ReconLoss r, const Tensor& x, const Tensor& out);
// What a decoder's output reconstructs: sigmoid(out) for BCE, out for SSE.
Tensor reconstruction(ReconLoss r, const Tensor& out);

// A loss and its named terms (unweighted), total weighted.
struct NamedLoss {
  Tensor total;
  std::vector<std::pair<std::string, Tensor>> terms;
};

// How a representation is formed at evaluation.
enum class RepMode { Weighted, Unweighted, Only0, Only1 };
const char* rep_mode_name(RepMode m);  // "weighted", "unweighted", "image", "speech" (modality names for Only*)

// ------------------------------------------------------------------ IMA
struct IMAConfig {
  MultimodalAEConfig ae;
  double lambda_glob = 1.0;
  std::vector<double> lambda_rec = {1.0, 1.0}, lambda_align = {1.0, 1.0};
  std::vector<double> rho = {0.8, 0.3};  // the paper's best F1 priors (section 6.1)
  std::vector<double> lambda_local = {1.0, 1.0}, lambda_corr = {1.0, 1.0};
  // Ours (docs/ima.md): divide each L_corr by the batch's unweighted value (eq. 3 with all
  // y = 0, uniform weights), detached. It only rescales the gradient per batch, so eq. 3 stays
  // the objective's shape, but the term no longer shrinks with the fourth power of the scale of
  // z and u (which L_glob drives towards 0), where the prior alone would set every y_j to rho.
  bool corr_normalize = true;
  void validate() const;
};

struct IMAOutput {
  std::vector<Tensor> u;     // [B, d] per modality
  std::vector<Tensor> y;     // [B] per modality (1 for unweighted, 0 for missing)
  Tensor z;                  // [B, d]
  std::vector<Tensor> out;   // decoder outputs [B, D_j] (only when decoded)
};

class IMA : public nn::Module {
 public:
  IMA(const IMAConfig& config, Generator& gen, TensorOptions opts = {});
  std::string type_name() const override { return "IMA"; }
  const IMAConfig& config() const { return config_; }
  IMAConfig& mutable_config() { return config_; }  // rho and lambdas (the sweep changes rho)

  Tensor encode(std::size_t j, const Tensor& x) const;      // u_j
  Tensor importance(std::size_t j, const Tensor& x) const;  // y_j [B]
  // eq. 1: present[j] false -> y_j = 0. At least one modality must be present.
  static Tensor fuse(const std::vector<Tensor>& u, const std::vector<Tensor>& y, const std::vector<bool>& present);
  // Stage 1's loss (importances detached).
  NamedLoss autoencoder_loss(const std::vector<Tensor>& xs) const;
  // Stage 2's loss (u and z detached).
  NamedLoss importance_loss(const std::vector<Tensor>& xs) const;
  // The representation of a mode (no decoding).
  Tensor represent(const std::vector<Tensor>& xs, RepMode mode) const;
  std::vector<Tensor> autoencoder_parameters() const;
  std::vector<Tensor> importance_parameters() const;

  std::vector<std::shared_ptr<nn::MLP>> encoders, decoders, importance_nets;  // enc_<m>, dec_<m>, imp_<m>

 private:
  IMAConfig config_;
};

// ------------------------------------------------------------------ VAEs
struct VAEConfig {
  MultimodalAEConfig ae;
  double alpha = 0.1;  // JMVAE-KL's weight of KL(q(z|X) || q(z|x_j))
  void validate() const;
};

class JMVAE : public nn::Module {
 public:
  JMVAE(const VAEConfig& config, Generator& gen, TensorOptions opts = {});
  std::string type_name() const override { return "JMVAE-KL"; }
  const VAEConfig& config() const { return config_; }
  losses::GaussianParams encode_joint(const std::vector<Tensor>& xs) const;
  losses::GaussianParams encode(std::size_t j, const Tensor& x) const;
  // eps: one N(0, I) draw [B, d] for z ~ q(z|X).
  NamedLoss loss(const std::vector<Tensor>& xs, const Tensor& eps, double beta) const;
  Tensor represent(const std::vector<Tensor>& xs, RepMode mode) const;  // Unweighted = joint mean

  std::shared_ptr<nn::MLP> joint_encoder;                      // enc_joint
  std::vector<std::shared_ptr<nn::MLP>> encoders, decoders;    // enc_<m>, dec_<m>

 private:
  VAEConfig config_;
};

class MVAE : public nn::Module {
 public:
  MVAE(const VAEConfig& config, Generator& gen, TensorOptions opts = {});
  std::string type_name() const override { return "MVAE"; }
  const VAEConfig& config() const { return config_; }
  losses::GaussianParams encode(std::size_t j, const Tensor& x) const;
  // The product of the present modalities' experts and the prior expert.
  losses::GaussianParams posterior(const std::vector<Tensor>& xs, const std::vector<bool>& present) const;
  // eps: one N(0, I) draw [B, d] per ELBO term, in the order joint, modality 0, modality 1, ...
  NamedLoss loss(const std::vector<Tensor>& xs, const std::vector<Tensor>& eps, double beta) const;
  Tensor represent(const std::vector<Tensor>& xs, RepMode mode) const;

  std::vector<std::shared_ptr<nn::MLP>> encoders, decoders;  // enc_<m>, dec_<m>

 private:
  VAEConfig config_;
};

struct DAEConfig {
  MultimodalAEConfig ae;
  double denoise = 0.3;  // the paper's denoising rate
  void validate() const;
};

class MultimodalDAE : public nn::Module {
 public:
  MultimodalDAE(const DAEConfig& config, Generator& gen, TensorOptions opts = {});
  std::string type_name() const override { return "DAE"; }
  const DAEConfig& config() const { return config_; }
  Tensor encode(const std::vector<Tensor>& xs, const std::vector<bool>& present) const;  // z
  // keep: one 0/1 mask per modality shaped like its input (1 = kept), drawn by the caller.
  NamedLoss loss(const std::vector<Tensor>& xs, const std::vector<Tensor>& keep) const;
  Tensor represent(const std::vector<Tensor>& xs, RepMode mode) const;

  std::vector<std::shared_ptr<nn::MLP>> encoders, decoders;  // enc_<m>, dec_<m>
  std::shared_ptr<nn::Linear> fusion;                        // fuse

 private:
  DAEConfig config_;
};

// present flags of a mode for M modalities (Weighted/Unweighted: all).
std::vector<bool> mode_present(RepMode mode, std::size_t m);

}  // namespace fg::models
