// examples/harness/ima_task.h: paper 004's models (models/ima.h: IMA, JMVAE-KL, MVAE, the
// multimodal DAE) as harness Tasks (task.h), and the evaluations of its digit study.
//
// The models are unsupervised, but fit() selects the weights with the lowest validation MAE
// of predict() against the split's labels. The study's training splits therefore carry the
// label 0 for every pair (the digits are kept aside for the evaluations, the paper's "the
// sample label is not known at model training time"), and predict() returns, for each row
// of a batch, the batch's loss with the model in eval mode (VAEs at the posterior mean, the
// DAE without corruption). The harness's "valid MAE" is then the mean validation loss of the
// stage, and the best epoch is the one with the lowest validation loss. ImaTask::unsupervised()
// makes such a split from a labelled one.
//
// Tasks (every term is checked by name by the harness's divergence guard):
//   IMA stage 1 (autoencoder): terms glob, rec_<m>, align_<m>; parameters: encoders, decoders
//   IMA stage 2 (importance):  terms local_<m>, corr_<m>; parameters: importance networks
//   JMVAE-KL: rec_<m>, kl, kl_<m>;  MVAE: kl_<S>, rec_<S>...;  DAE: rec_<m>
// VAE KL annealing: beta = min(1, (step + 1) / anneal_steps) over the task's training steps
// (anneal_steps 0: beta = 1 throughout); N(0, I) draws and DAE masks come from the task's
// generator "sample" (derive_seed(seed, 3000)), checkpointed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "examples/harness/task.h"
#include "models/ima.h"

namespace fg::harness {

// Modality m's features [B, 1, D] (one step) -> [B, D], in `modalities` order.
std::vector<Tensor> flat_inputs(const data::Batch& batch, const std::vector<std::string>& modalities);

class ImaTask : public Task {
 public:
  using LossFn = std::function<models::NamedLoss(const std::vector<Tensor>& xs, bool training)>;
  ImaTask(std::shared_ptr<nn::Module> module, std::vector<std::string> modalities, std::vector<Tensor> params,
          LossFn loss_fn, std::shared_ptr<Generator> sample = nullptr);
  nn::Module& module() override { return *module_; }
  Loss loss(const data::Batch& batch) override;
  Tensor predict(const data::Batch& batch) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;
  std::vector<Tensor> parameters() override { return params_; }

  // A copy of `split` with every label 0 (see the header comment).
  static data::MultimodalSplit unsupervised(const data::MultimodalSplit& split);

 private:
  std::shared_ptr<nn::Module> module_;
  std::vector<std::string> modalities_;
  std::vector<Tensor> params_;
  LossFn loss_fn_;
  std::shared_ptr<Generator> sample_;
};

enum class ImaStage { Autoencoder, Importance };
std::unique_ptr<ImaTask> make_ima_task(std::shared_ptr<models::IMA> model, ImaStage stage);
// beta annealed over anneal_steps training steps; draws from derive_seed(seed, 3000).
std::unique_ptr<ImaTask> make_jmvae_task(std::shared_ptr<models::JMVAE> model, std::uint64_t seed,
                                         std::int64_t anneal_steps);
std::unique_ptr<ImaTask> make_mvae_task(std::shared_ptr<models::MVAE> model, std::uint64_t seed,
                                        std::int64_t anneal_steps);
std::unique_ptr<ImaTask> make_dae_task(std::shared_ptr<models::MultimodalDAE> model, std::uint64_t seed);

// ---- evaluation
// A model's representation of a mode for a batch's inputs.
using RepresentFn = std::function<Tensor(const std::vector<Tensor>& xs, models::RepMode mode)>;
// The representations of a whole split in row order, float32 [N * d] row-major (eval mode, no
// gradients, batches of batch_size on `device`).
std::vector<float> represent_split(nn::Module& module, const RepresentFn& fn, const data::MultimodalSplit& split,
                                   const std::vector<std::string>& modalities, models::RepMode mode,
                                   std::int64_t batch_size, Device device, std::int64_t* dim = nullptr);
// IMA's importances y_j of a whole split, per modality.
std::vector<std::vector<float>> importances_split(models::IMA& model, const data::MultimodalSplit& split,
                                                  std::int64_t batch_size, Device device);

// Precision, recall and F1 of the positive class ("is noise"): pred/truth per sample.
struct BinaryPRF {
  double precision = 0, recall = 0, f1 = 0;  // 0/0 is taken as 0 (as sklearn's zero_division default)
  std::int64_t tp = 0, fp = 0, fn = 0, tn = 0;
};
BinaryPRF binary_prf(const std::vector<bool>& pred, const std::vector<bool>& truth);
// Importance as a noise detector: noise predicted where y < threshold.
BinaryPRF noise_detection(const std::vector<float>& importance, const std::vector<bool>& is_noise,
                          double threshold = 0.5);

// The classifier of Table 5: Linear(d, hidden) ReLU Linear(hidden, 10) trained with Adam on the
// train representations (cross-entropy, batches of 100, shuffled from `seed`), the epoch with
// the best validation accuracy kept; returns the predicted class of every test row.
struct ProbeOptions {
  std::int64_t hidden = 50;  // Table 3: 50 neurons/layer
  std::int64_t epochs = 30;
  double lr = 1e-3;
  std::int64_t classes = 10;
  std::uint64_t seed = 0;
};
std::vector<std::int64_t> probe_classifier(const std::vector<float>& train, const std::vector<std::int64_t>& train_labels,
                                           const std::vector<float>& valid, const std::vector<std::int64_t>& valid_labels,
                                           const std::vector<float>& test, std::int64_t dim, const ProbeOptions& options,
                                           double* best_valid_accuracy = nullptr);

}  // namespace fg::harness
