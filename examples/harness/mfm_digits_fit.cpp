// examples/harness/mfm_digits_fit.cpp: see mfm_digits_fit.h.
#include "examples/harness/mfm_digits_fit.h"

#include <fmt/format.h>

#include <algorithm>

#include "data/batching.h"
#include "data/dataset.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/divergence.h"
#include "examples/harness/trainer.h"

namespace fg::harness {

DigitTensors DigitTensors::rows(const std::vector<std::int64_t>& r) const {
  FG_CHECK(!r.empty(), "digit pairs: no rows selected");
  const Tensor idx = from_vector(r, {static_cast<std::int64_t>(r.size())}, TensorOptions{DType::i64, labels.device()});
  DigitTensors o;
  if (image.defined()) o.image = index_select(image, 0, idx);
  if (speech.defined()) o.speech = index_select(speech, 0, idx);
  o.labels = index_select(labels, 0, idx);
  return o;
}

DigitTensors DigitTensors::first(std::int64_t n) const {
  const std::int64_t k = std::min(n, size());
  std::vector<std::int64_t> r(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) r[static_cast<std::size_t>(i)] = i;
  return rows(r);
}

DigitTensors DigitTensors::to(Device d) const {
  DigitTensors o;
  if (image.defined()) o.image = image.to(d);
  if (speech.defined()) o.speech = speech.to(d);
  o.labels = labels.to(d);
  return o;
}

std::shared_ptr<models::MfmDigits> build_digit_model(const models::MfmDigitsConfig& config, std::uint64_t seed,
                                                     Device device) {
  Generator init(data::derive_seed(seed, 1000));
  auto dropout = std::make_shared<Generator>(data::derive_seed(seed, 2000));
  TensorOptions opts;
  opts.device = device;
  return std::make_shared<models::MfmDigits>(config, init, opts, dropout);
}

Tensor predict_digits(models::MfmDigits& model, const DigitTensors& split, std::int64_t batch_size, Device device) {
  FG_CHECK(split.size() > 0, "digit pairs: the split to score is empty");
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  std::vector<std::int64_t> pred;
  pred.reserve(static_cast<std::size_t>(split.size()));
  for (std::int64_t b = 0; b < split.size(); b += batch_size) {
    std::vector<std::int64_t> r;
    for (std::int64_t i = b; i < std::min(split.size(), b + batch_size); ++i) r.push_back(i);
    const DigitTensors x = split.rows(r).to(device);
    const auto out = model.forward(x.image, x.speech);
    const auto p = argmax(out.logits, 1).to(Device::cpu()).to_vector<std::int64_t>();
    pred.insert(pred.end(), p.begin(), p.end());
  }
  if (was_training) model.train();
  return from_vector(pred, {split.size()}, TensorOptions{DType::i64});
}

double digit_accuracy(models::MfmDigits& model, const DigitTensors& split, std::int64_t batch_size, Device device) {
  const auto p = predict_digits(model, split, batch_size, device).to_vector<std::int64_t>();
  const auto y = split.labels.to(Device::cpu()).to_vector<std::int64_t>();
  std::int64_t right = 0;
  for (std::size_t i = 0; i < p.size(); ++i) right += p[i] == y[i];
  return static_cast<double>(right) / static_cast<double>(p.size());
}

DigitFitResult fit_digits(models::MfmDigits& model, const DigitTensors& train, const DigitTensors& valid,
                          const DigitFitOptions& o) {
  FG_CHECK(o.epochs > 0 && o.batch_size > 0 && o.lr > 0, "digit fit: epochs, batch_size and lr must be positive");
  FG_CHECK(train.size() > 0 && valid.size() > 0, "digit fit: the train and valid splits must not be empty");
  const auto t0 = Clock::now();
  DigitFitResult res;
  res.parameters = model.num_parameters();
  optim::Adam opt(model.parameters(), optim::AdamOptions{o.lr});
  optim::DivergenceGuard guard(o.name, optim::DivergenceOptions{1000.0, 1.0, fmt::format("lower --lr (now {})", o.lr)});
  Generator prior(data::derive_seed(o.seed, 3000));
  std::map<std::string, Tensor> best;
  const std::int64_t n = train.size(), steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  model.train();
  for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto te = Clock::now();
    const auto order = data::epoch_order(n, true, o.seed, epoch - 1);
    ProgressBar bar(!o.quiet, epoch, o.epochs, steps_per_epoch, o.name);
    DigitEpoch rec;
    rec.epoch = epoch;
    for (std::int64_t s = 0; s < steps_per_epoch; ++s) {
      const std::vector<std::int64_t> r(order.begin() + s * o.batch_size,
                                        order.begin() + std::min(n, (s + 1) * o.batch_size));
      const DigitTensors x = train.rows(r).to(o.device);
      opt.zero_grad();
      const auto out = model.forward(x.image, x.speech);
      const auto L = models::mfm_digits_objective(model.config(), x.image, x.speech, x.labels, out,
                                                  models::draw_digit_prior(model.config(), out, prior));
      const std::string where = fmt::format("epoch {}, step {} (global step {})", epoch, s + 1, res.steps + 1);
      for (const auto& [name, t] : L.terms) {
        const double v = t.item();
        guard.check(fmt::format("loss term '{}'", name), v, where);
        rec.train_terms[name] += v / static_cast<double>(steps_per_epoch);
      }
      const double total = L.total.item();
      guard.check("loss 'total'", total, where);
      rec.train_loss += total / static_cast<double>(steps_per_epoch);
      L.total.backward();
      opt.step();
      ++res.steps;
      bar.advance(s + 1);
    }
    rec.valid_accuracy = digit_accuracy(model, valid, 256, o.device);
    guard.check("validation metric 'accuracy'", rec.valid_accuracy, fmt::format("epoch {}", epoch));
    rec.seconds = seconds_since(te);
    const bool improved = res.best_epoch == 0 || rec.valid_accuracy > res.best_valid_accuracy;
    if (improved) {
      res.best_epoch = epoch;
      res.best_valid_accuracy = rec.valid_accuracy;
      best.clear();
      for (const auto& [k, t] : model.state_dict()) best[k] = t.clone();
    }
    bar.finish(fmt::format("train loss {:.4f}  valid acc {:.4f}{}  ({:.1f} s)", rec.train_loss, rec.valid_accuracy,
                           improved ? " *" : "", rec.seconds));
    res.history.push_back(rec);
  }
  model.load_state_dict(best);
  model.eval();
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace fg::harness
