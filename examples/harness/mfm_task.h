// examples/harness/mfm_task.h: paper 001's MFM (models/mfm.h) as a harness Task (task.h).
// loss() returns eq. 4's total and its named terms: "l1", "recon_<modality>" (one per
// modality, unweighted MSE) and "mmd" (the placement's sum, unweighted); the discriminative
// variants D and E return "l1" only. The default train_step() is enough, so a NaN names its
// term. The N(0, I) draws of the MMD come from the task's own generator ("prior",
// checkpointed with the model's "dropout").
//
// register_mfm_task() registers the name "mfm" with the harness. Its RunSpec model_config keys
// (all optional; defaults: MFMConfig's, the authors' MOSI settings):
//   variant            "full" | "A" .. "E"
//   mmd_placement      "per_factor" (the code, default) | "joint" (the paper)
//   lambda_mmd         number;  lambda_recon  [one per modality]
//   hidden             MFN's per-modality LSTM widths;  memory  MFN's memory size
//   encoder_hidden     the per-modality encoder LSTMs (Z_a);  zy, za, fy, fa  factor widths
//   dropout            inside G_* and D
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "examples/harness/harness.h"
#include "examples/harness/task.h"
#include "models/mfm.h"

namespace fg::harness {

// model_config (above) onto an MFMConfig for `modalities` with `input_dims`; throws naming
// the key for a wrong value.
models::MFMConfig mfm_config(const std::vector<std::string>& modalities, const std::vector<std::int64_t>& input_dims,
                             const nlohmann::json& config);

class MfmTask : public Task {
 public:
  MfmTask(std::shared_ptr<models::MFM> model, std::uint64_t seed, std::shared_ptr<Generator> dropout);
  nn::Module& module() override { return *model_; }
  Loss loss(const data::Batch& batch) override;
  Tensor predict(const data::Batch& batch) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;
  models::MFM& model() { return *model_; }

 private:
  std::shared_ptr<models::MFM> model_;
  std::shared_ptr<Generator> dropout_;
  Generator prior_;
};

// Registers "mfm": weights from derive_seed(seed, 1000), dropout derive_seed(seed, 2000),
// prior draws derive_seed(seed, 3000). `on_build` (optional) sees every model built, in
// order: examples/mfm keeps them to interpret the trained models (fit() leaves the best
// weights loaded).
void register_mfm_task(std::function<void(std::shared_ptr<models::MFM>)> on_build = {});

}  // namespace fg::harness
