// examples/harness/mfm_digits_fit.h: training and scoring of the digit classifiers of paper
// 001's image experiment (models/mfm_digits.h: UM(image), UM(speech), MM, MFM).
//
// Why not fit() (trainer.h): fit() selects the epoch on validation MAE and scores with the
// regression metrics of data/metrics.h; the digit task is 10-way classification, selected on
// validation ACCURACY. This loop keeps the harness's conventions and pieces: the rows' order
// per epoch from data::epoch_order(seed, epoch), Adam, every loss term and the validation
// accuracy through optim::DivergenceGuard (a NaN stops the run naming the term and the step),
// the harness's ProgressBar, the best epoch's weights loaded at the end, and no access to
// the test split (the caller scores it once, after).
//
// Random streams, from the run's seed (as register_mfm_task): weights derive_seed(seed,
// 1000), dropout 2000, the MMD's prior draws 3000, the batch order `seed` itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "models/mfm_digits.h"

namespace fg::harness {

// One split of digit pairs: image float [N, side^2], speech float [N, dim], labels int64 [N].
struct DigitTensors {
  Tensor image, speech, labels;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  DigitTensors rows(const std::vector<std::int64_t>& rows) const;  // on the same device
  DigitTensors first(std::int64_t n) const;                         // the first min(n, size) rows
  DigitTensors to(Device d) const;
};

struct DigitFitOptions {
  std::int64_t epochs = 10;
  std::int64_t batch_size = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  Device device = Device::cpu();
  bool quiet = false;
  std::string name = "run";
};

struct DigitEpoch {
  std::int64_t epoch = 0;
  double train_loss = 0;
  std::map<std::string, double> train_terms;  // means over the epoch's steps
  double valid_accuracy = 0;
  double seconds = 0;
};

struct DigitFitResult {
  std::vector<DigitEpoch> history;
  std::int64_t best_epoch = 0;  // 1-based; its weights are loaded after fit_digits
  double best_valid_accuracy = 0;
  std::int64_t steps = 0;
  std::int64_t parameters = 0;
  double seconds = 0;
};

// A model with its generators (weights from derive_seed(seed, 1000), dropout 2000).
std::shared_ptr<models::MfmDigits> build_digit_model(const models::MfmDigitsConfig& config, std::uint64_t seed,
                                                     Device device);

// Trains `model` on `train`, selects the epoch on `valid` accuracy. Throws optim::Diverged.
DigitFitResult fit_digits(models::MfmDigits& model, const DigitTensors& train, const DigitTensors& valid,
                          const DigitFitOptions& options);

// Eval mode, no gradients, in row order: the predicted class of each row, int64 [N] (CPU).
Tensor predict_digits(models::MfmDigits& model, const DigitTensors& split, std::int64_t batch_size, Device device);
double digit_accuracy(models::MfmDigits& model, const DigitTensors& split, std::int64_t batch_size, Device device);

}  // namespace fg::harness
