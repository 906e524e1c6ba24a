// examples/harness/ima_task.cpp: see ima_task.h.
#include "examples/harness/ima_task.h"

#include <algorithm>
#include <cmath>

#include "data/batching.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"

namespace fg::harness {

std::vector<Tensor> flat_inputs(const data::Batch& batch, const std::vector<std::string>& modalities) {
  std::vector<Tensor> xs;
  for (const std::string& m : modalities) {
    const Tensor& f = batch.modality(m);
    FG_CHECK(f.dim() == 3 && f.size(1) == 1, "modality '{}': expected one step per pair [B, 1, D], got {}", m, f.str());
    xs.push_back(reshape(f, {f.size(0), f.size(2)}));
  }
  return xs;
}

ImaTask::ImaTask(std::shared_ptr<nn::Module> module, std::vector<std::string> modalities, std::vector<Tensor> params,
                 LossFn loss_fn, std::shared_ptr<Generator> sample)
    : module_(std::move(module)), modalities_(std::move(modalities)), params_(std::move(params)),
      loss_fn_(std::move(loss_fn)), sample_(std::move(sample)) {}

Loss ImaTask::loss(const data::Batch& batch) {
  models::NamedLoss l = loss_fn_(flat_inputs(batch, modalities_), true);
  return {l.total, l.terms};
}

Tensor ImaTask::predict(const data::Batch& batch) {
  const models::NamedLoss l = loss_fn_(flat_inputs(batch, modalities_), false);
  return full({batch.size()}, l.total.item(), TensorOptions{DType::f32, l.total.device()});
}

std::vector<std::pair<std::string, Generator*>> ImaTask::generators() {
  if (!sample_) return {};
  return {{"sample", sample_.get()}};
}

data::MultimodalSplit ImaTask::unsupervised(const data::MultimodalSplit& split) {
  data::MultimodalSplit s = split;
  s.labels = zeros({split.size()}, TensorOptions{DType::f32});
  s.label_kind = data::LabelKind::regression;
  s.label_names.clear();
  return s;
}

namespace {
double anneal(std::int64_t step, std::int64_t steps) {
  return steps <= 0 ? 1.0 : std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(steps));
}
}  // namespace

std::unique_ptr<ImaTask> make_ima_task(std::shared_ptr<models::IMA> model, ImaStage stage) {
  models::IMA* m = model.get();
  const auto mods = m->config().ae.modalities;
  if (stage == ImaStage::Autoencoder)
    return std::make_unique<ImaTask>(model, mods, m->autoencoder_parameters(),
                                     [m](const std::vector<Tensor>& xs, bool) { return m->autoencoder_loss(xs); });
  return std::make_unique<ImaTask>(model, mods, m->importance_parameters(),
                                   [m](const std::vector<Tensor>& xs, bool) { return m->importance_loss(xs); });
}

std::unique_ptr<ImaTask> make_jmvae_task(std::shared_ptr<models::JMVAE> model, std::uint64_t seed,
                                         std::int64_t anneal_steps) {
  auto gen = std::make_shared<Generator>(data::derive_seed(seed, 3000));
  auto step = std::make_shared<std::int64_t>(0);
  models::JMVAE* m = model.get();
  return std::make_unique<ImaTask>(
      model, m->config().ae.modalities, model->parameters(),
      [m, gen, step, anneal_steps](const std::vector<Tensor>& xs, bool training) {
        const Shape s{xs.at(0).size(0), m->config().ae.latent};
        if (!training) return m->loss(xs, zeros(s, xs[0].options()), 1.0);
        const Tensor eps = randn(s, *gen, xs[0].options());
        return m->loss(xs, eps, anneal((*step)++, anneal_steps));
      },
      gen);
}

std::unique_ptr<ImaTask> make_mvae_task(std::shared_ptr<models::MVAE> model, std::uint64_t seed,
                                        std::int64_t anneal_steps) {
  auto gen = std::make_shared<Generator>(data::derive_seed(seed, 3000));
  auto step = std::make_shared<std::int64_t>(0);
  models::MVAE* m = model.get();
  return std::make_unique<ImaTask>(
      model, m->config().ae.modalities, model->parameters(),
      [m, gen, step, anneal_steps](const std::vector<Tensor>& xs, bool training) {
        const Shape s{xs.at(0).size(0), m->config().ae.latent};
        std::vector<Tensor> eps;
        for (std::size_t k = 0; k <= xs.size(); ++k)
          eps.push_back(training ? randn(s, *gen, xs[0].options()) : zeros(s, xs[0].options()));
        return m->loss(xs, eps, training ? anneal((*step)++, anneal_steps) : 1.0);
      },
      gen);
}

std::unique_ptr<ImaTask> make_dae_task(std::shared_ptr<models::MultimodalDAE> model, std::uint64_t seed) {
  auto gen = std::make_shared<Generator>(data::derive_seed(seed, 3000));
  models::MultimodalDAE* m = model.get();
  return std::make_unique<ImaTask>(
      model, m->config().ae.modalities, model->parameters(),
      [m, gen](const std::vector<Tensor>& xs, bool training) {
        std::vector<Tensor> keep;
        for (const Tensor& x : xs) {
          if (!training || m->config().denoise == 0) {
            keep.push_back(ones_like(x.detach()));
            continue;
          }
          const Tensor r = rand(x.shape(), *gen, x.options());
          keep.push_back(ge(r, full({1}, m->config().denoise, x.options())));
        }
        return m->loss(xs, keep);
      },
      gen);
}

// ------------------------------------------------------------------ evaluation
std::vector<float> represent_split(nn::Module& module, const RepresentFn& fn, const data::MultimodalSplit& split,
                                   const std::vector<std::string>& modalities, models::RepMode mode,
                                   std::int64_t batch_size, Device device, std::int64_t* dim) {
  const bool was_training = module.is_training();
  module.eval();
  NoGradGuard no_grad;
  data::BatchOptions bo;
  bo.batch_size = batch_size;
  bo.shuffle = false;
  bo.device = device;
  data::BatchLoader loader(split, bo);
  std::vector<float> out;
  std::int64_t d = 0;
  for (std::int64_t i = 0; i < loader.num_batches(); ++i) {
    const Tensor r = fn(flat_inputs(loader.batch(i), modalities), mode).to(Device::cpu()).to(DType::f32);
    d = r.size(1);
    const auto v = r.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  module.train(was_training);
  if (dim) *dim = d;
  return out;
}

std::vector<std::vector<float>> importances_split(models::IMA& model, const data::MultimodalSplit& split,
                                                  std::int64_t batch_size, Device device) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  data::BatchOptions bo;
  bo.batch_size = batch_size;
  bo.shuffle = false;
  bo.device = device;
  data::BatchLoader loader(split, bo);
  const auto& mods = model.config().ae.modalities;
  std::vector<std::vector<float>> out(mods.size());
  for (std::int64_t i = 0; i < loader.num_batches(); ++i) {
    const auto xs = flat_inputs(loader.batch(i), mods);
    for (std::size_t j = 0; j < mods.size(); ++j) {
      const auto v = model.importance(j, xs[j]).to(Device::cpu()).to(DType::f32).to_vector<float>();
      out[j].insert(out[j].end(), v.begin(), v.end());
    }
  }
  model.train(was_training);
  return out;
}

BinaryPRF binary_prf(const std::vector<bool>& pred, const std::vector<bool>& truth) {
  FG_CHECK(pred.size() == truth.size() && !pred.empty(), "binary_prf: {} predictions for {} truths (need >= 1)",
           pred.size(), truth.size());
  BinaryPRF r;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    if (pred[i] && truth[i]) ++r.tp;
    else if (pred[i]) ++r.fp;
    else if (truth[i]) ++r.fn;
    else ++r.tn;
  }
  r.precision = r.tp + r.fp > 0 ? static_cast<double>(r.tp) / static_cast<double>(r.tp + r.fp) : 0.0;
  r.recall = r.tp + r.fn > 0 ? static_cast<double>(r.tp) / static_cast<double>(r.tp + r.fn) : 0.0;
  r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0.0;
  return r;
}

BinaryPRF noise_detection(const std::vector<float>& importance, const std::vector<bool>& is_noise, double threshold) {
  std::vector<bool> pred(importance.size());
  for (std::size_t i = 0; i < importance.size(); ++i) {
    FG_CHECK(std::isfinite(importance[i]), "noise_detection: importance[{}] is {}", i, importance[i]);
    pred[i] = importance[i] < threshold;
  }
  return binary_prf(pred, is_noise);
}

std::vector<std::int64_t> probe_classifier(const std::vector<float>& train, const std::vector<std::int64_t>& train_labels,
                                           const std::vector<float>& valid, const std::vector<std::int64_t>& valid_labels,
                                           const std::vector<float>& test, std::int64_t dim, const ProbeOptions& o,
                                           double* best_valid_accuracy) {
  const auto n = static_cast<std::int64_t>(train_labels.size()), nv = static_cast<std::int64_t>(valid_labels.size());
  FG_CHECK(dim > 0 && n > 0 && nv > 0 && static_cast<std::int64_t>(train.size()) == n * dim &&
               static_cast<std::int64_t>(valid.size()) == nv * dim && test.size() % static_cast<std::size_t>(dim) == 0,
           "probe_classifier: representations and labels disagree (train {} / {} x {}, valid {} / {}, test {})",
           train.size(), n, dim, valid.size(), nv, test.size());
  Generator gen(data::derive_seed(o.seed, 4000));
  nn::MLPOptions mo;
  mo.sizes = {dim, o.hidden, o.classes};
  nn::MLP net(mo, gen);
  optim::AdamOptions ao;
  ao.lr = o.lr;
  optim::Adam opt(net.parameters(), ao);
  const Tensor xt = from_vector(train, {n, dim}, TensorOptions{DType::f32});
  const Tensor yt = from_vector(train_labels, {n}, TensorOptions{DType::i64});
  const Tensor xv = from_vector(valid, {nv, dim}, TensorOptions{DType::f32});
  const Tensor xs = from_vector(test, {static_cast<std::int64_t>(test.size()) / dim, dim}, TensorOptions{DType::f32});
  auto classify = [&](const Tensor& x) {
    NoGradGuard ng;
    return argmax(net.forward(x), 1).to_vector<std::int64_t>();
  };
  double best = -1;
  std::vector<std::int64_t> best_test;
  constexpr std::int64_t kBatch = 100;
  for (std::int64_t e = 0; e < o.epochs; ++e) {
    const auto order = data::epoch_order(n, true, o.seed, e);
    for (std::int64_t b = 0; b < n; b += kBatch) {
      const std::int64_t len = std::min(kBatch, n - b);
      const Tensor idx = from_vector(std::vector<std::int64_t>(order.begin() + b, order.begin() + b + len), {len},
                                     TensorOptions{DType::i64});
      opt.zero_grad();
      cross_entropy(net.forward(index_select(xt, 0, idx)), index_select(yt, 0, idx)).backward();
      opt.step();
    }
    const auto pv = classify(xv);
    std::int64_t hits = 0;
    for (std::int64_t i = 0; i < nv; ++i) hits += pv[i] == valid_labels[i];
    const double acc = static_cast<double>(hits) / static_cast<double>(nv);
    if (acc > best) {
      best = acc;
      best_test = classify(xs);
    }
  }
  if (best_valid_accuracy) *best_valid_accuracy = best;
  return best_test;
}

}  // namespace fg::harness
