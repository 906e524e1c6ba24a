// examples/harness/mdm_task.cpp: see mdm_task.h.
#include "examples/harness/mdm_task.h"

#include "examples/harness/harness.h"

#include <algorithm>
#include <cmath>

#include "data/dataset.h"
#include "data/permute.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/clip_grad.h"
#include "models/mag_bert.h"

namespace fg::harness {

namespace {
// Registers the model and the critic as children, so both are trained state and checkpointed.
class MdmContainer : public nn::Module {
 public:
  MdmContainer(std::shared_ptr<nn::Module> model, std::shared_ptr<nn::Module> critic) {
    register_module("model", std::move(model));
    if (critic) register_module("critic", std::move(critic));
  }
  std::string type_name() const override { return "MdmContainer"; }
};
}  // namespace

std::vector<std::string> mdm_loss_names() { return {"null", "kl", "f", "w", "w-log"}; }

void check_mdm_loss(const std::string& loss, const std::string& flag) {
  const auto names = mdm_loss_names();
  FG_CHECK(std::find(names.begin(), names.end(), loss) != names.end(),
           "{}: unknown loss '{}' (known: null, kl, f, w, w-log)", flag, loss);
}

MdmTask::MdmTask(std::shared_ptr<models::SentimentModel> model, const MdmOptions& options, std::uint64_t seed,
                 std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators)
    : model_(std::move(model)), opts_(options), generators_(std::move(generators)) {
  FG_CHECK(model_ != nullptr, "MdmTask: no model");
  check_mdm_loss(opts_.loss, "MdmTask: loss");
  FG_CHECK(opts_.unroll >= 1, "--unroll: must be >= 1, got {}", opts_.unroll);
  FG_CHECK(std::isfinite(opts_.lambda) && opts_.lambda >= 0, "--lambda: must be finite and >= 0, got {}", opts_.lambda);
  FG_CHECK(std::isfinite(opts_.critic_lr) && opts_.critic_lr > 0, "--critic-lr: must be > 0, got {}", opts_.critic_lr);
  permute_gen_ = std::make_shared<Generator>(data::derive_seed(seed, 3002));
  if (opts_.loss != "null") {
    const losses::DependencyBound bound = losses::parse_dependency_bound(opts_.loss);
    const bool lipschitz = bound == losses::DependencyBound::Wasserstein || bound == losses::DependencyBound::WassersteinLog;
    critic_dropout_gen_ = std::make_shared<Generator>(data::derive_seed(seed, 3001));
    Generator init(data::derive_seed(seed, 3000));
    losses::StatisticNetworkOptions so;
    so.input_dim = model_->fused_dim();
    so.hidden = opts_.critic_hidden;
    so.dropout = opts_.critic_dropout;
    so.output = losses::CriticOutput::Sigmoid;  // Table 4 (and positive scores for w-log)
    so.spectral_norm = lipschitz;               // the 1-Lipschitz constraint of eq. 8
    const auto params = model_->parameters();
    so.param_options = TensorOptions{params.empty() ? DType::f32 : params[0].dtype(),
                                     params.empty() ? Device::cpu() : params[0].device()};
    so.dropout_generator = critic_dropout_gen_;
    critic_ = std::make_shared<losses::StatisticNetwork>(so, init);
    losses::DependencyMaximizer::Options mo;
    mo.bound = bound;
    mo.unroll = opts_.unroll;
    mo.lr = opts_.critic_lr;
    mo.weight_decay = opts_.critic_weight_decay;
    maximizer_ = std::make_unique<losses::DependencyMaximizer>(critic_, mo);
  }
  container_ = std::make_shared<MdmContainer>(model_, critic_);
}

losses::StatisticNetwork& MdmTask::critic() {
  FG_CHECK(critic_ != nullptr, "MdmTask: loss '{}' has no critic", opts_.loss);
  return *critic_;
}

data::Batch MdmTask::marginal_batch(const data::Batch& batch,
                                    const std::vector<std::vector<std::int64_t>>& perms) const {
  return data::permute_modalities(batch, perms, opts_.shared_grid);
}

std::pair<Tensor, CriticView> MdmTask::penalty_terms(const data::Batch& batch, Tensor& l1) {
  const models::SentimentOutput out = model_->forward(batch);
  l1 = l1_loss(out.prediction, batch.labels);
  CriticView view;
  view.stage = 2;
  if (!maximizer_) return {Tensor(), view};
  view.permutations = data::draw_modality_permutations(batch.size(), batch.features.size(), *permute_gen_);
  const Tensor zm = model_->forward(marginal_batch(batch, view.permutations)).z;
  view.joint = out.z;
  view.marginal = zm;
  if (on_critic_input) on_critic_input(view);
  return {maximizer_->penalty(out.z, zm), view};
}

Loss MdmTask::loss(const data::Batch& batch) {
  Tensor l1;
  const auto [bound, view] = penalty_terms(batch, l1);
  if (!bound.defined()) return {l1, {{"l1", l1}}};
  return {l1 - opts_.lambda * bound, {{"l1", l1}, {"bound", bound}}};
}

Tensor MdmTask::predict(const data::Batch& batch) { return model_->forward(batch).prediction; }

std::vector<std::pair<std::string, Generator*>> MdmTask::generators() {
  std::vector<std::pair<std::string, Generator*>> out;
  for (auto& [name, g] : generators_) out.emplace_back(name, g.get());
  out.emplace_back("mdm_permute", permute_gen_.get());
  if (critic_dropout_gen_) out.emplace_back("critic_dropout", critic_dropout_gen_.get());
  return out;
}

std::vector<std::pair<std::string, optim::Optimizer*>> MdmTask::extra_optimizers() {
  if (!maximizer_) return {};
  return {{"critic", &maximizer_->optimizer()}};
}

StepOutput MdmTask::train_step(const data::Batch& batch, StepContext& ctx) {
  StepOutput out;
  double critic_bound = NAN;
  if (maximizer_) {
    // stage 1: T_theta alone, `unroll` steps; the model is only read (no gradient reaches it)
    Tensor zj;
    {
      NoGradGuard ng;
      zj = model_->forward(batch).z;
    }
    critic_bound = maximizer_->train_critic([&] {
      CriticView v;
      v.stage = 1;
      v.permutations = data::draw_modality_permutations(batch.size(), batch.features.size(), *permute_gen_);
      NoGradGuard ng;
      v.joint = zj;
      v.marginal = model_->forward(marginal_batch(batch, v.permutations)).z;
      if (on_critic_input) on_critic_input(v);
      return std::make_pair(v.joint, v.marginal);
    });
  }
  // stage 2: the model step on L1 - lambda * bound
  ctx.optimizer.zero_grad();
  const Loss l = loss(batch);
  out.total = l.total.item();
  for (const auto& [name, t] : l.terms) {
    const double v = t.item();
    out.terms.emplace_back(name, v);
    ctx.check(name, v);
  }
  if (maximizer_) {
    out.terms.emplace_back("critic_bound", critic_bound);
    ctx.check("critic_bound", critic_bound);
    ctx.check("total", out.total);
  }
  l.total.backward();
  if (ctx.clip > 0) out.grad_norm = optim::clip_grad_norm(parameters(), ctx.clip);
  ctx.optimizer.step();
  if (maximizer_) maximizer_->optimizer().zero_grad();  // stage 2's critic gradients are discarded
  return out;
}

std::vector<optim::ParamGroup> MdmTask::param_groups() {
  if (const auto* mb = dynamic_cast<const models::MagBertSentiment*>(model_.get())) return mb->param_groups();
  return optim::single_group(parameters());
}

Tensor MdmTask::critic_scores(const data::Batch& batch) {
  const bool was_model = model_->is_training(), was_critic = critic().is_training();
  model_->eval();
  critic_->eval();
  Tensor s;
  {
    NoGradGuard ng;
    s = critic_->forward(model_->forward(batch).z);
  }
  model_->train(was_model);
  critic_->train(was_critic);
  return s;
}

namespace {

// MAG-BERT (models/mag_bert.h) on word-piece batches: config "bert_dir" (required: the
// pretrained folder), "bert_lr" (1e-4), "beta_shift" (1.0), "mag_dropout" (0.5, the authors'),
// "head_dropout" (0.1). input_dims: text 1 (the ids), acoustic, visual.
std::unique_ptr<MdmTask> make_mag_bert_mdm_task(const std::vector<std::string>& modalities,
                                                const std::vector<std::int64_t>& input_dims, const nlohmann::json& c,
                                                MdmOptions options, std::uint64_t seed, Device device, Generator& init) {
  FG_CHECK(c.contains("bert_dir"), "mag_bert: the model config needs \"bert_dir\" (the pretrained BERT folder)");
  FG_CHECK(modalities.size() == 3 && modalities.size() == input_dims.size(),
           "mag_bert: expected the modalities text, acoustic, visual, got {}", modalities.size());
  auto dim = [&](const std::string& m) {
    const auto it = std::find(modalities.begin(), modalities.end(), m);
    FG_CHECK(it != modalities.end(), "mag_bert: no modality '{}'", m);
    return input_dims[static_cast<std::size_t>(it - modalities.begin())];
  };
  models::MagConfig mag;
  mag.acoustic_dim = dim("acoustic"), mag.visual_dim = dim("visual");
  mag.beta_shift = c.value("beta_shift", 1.0);
  mag.dropout = c.value("mag_dropout", 0.5);
  models::MagBertSentimentConfig mc;
  mc.bert_lr = c.value("bert_lr", 1e-4);
  mc.head_dropout = c.value("head_dropout", 0.1);
  auto dropout = std::make_shared<Generator>(data::derive_seed(seed, 2000));
  const TensorOptions opts{DType::f32, device, false};
  auto bert = models::load_mag_bert(c.at("bert_dir").get<std::string>(), mag, init, opts, dropout);
  auto model = std::make_shared<models::MagBertSentiment>(bert, mc, init, opts, dropout);
  options.shared_grid = true;  // one grid of word pieces
  return std::make_unique<MdmTask>(model, options, seed,
                                   std::vector<std::pair<std::string, std::shared_ptr<Generator>>>{{"dropout", dropout}});
}

}  // namespace

std::unique_ptr<MdmTask> make_mdm_task(const std::string& name, const std::vector<std::string>& modalities,
                                       const std::vector<std::int64_t>& input_dims, const nlohmann::json& c,
                                       MdmOptions options, std::uint64_t seed, Device device) {
  Generator init(data::derive_seed(seed, 1000));
  if (name == "mag_bert") return make_mag_bert_mdm_task(modalities, input_dims, c, options, seed, device, init);
  models::ZooConfig z;
  z.modalities = modalities;
  z.input_dims = input_dims;
  z.device = device;
  z.init_gen = &init;
  auto dropout = std::make_shared<Generator>(data::derive_seed(seed, 2000));
  z.dropout_gen = dropout;
  apply_zoo_config(z, c);
  if (name == "ef_lstm" || name == "mfn") options.shared_grid = true;
  return std::make_unique<MdmTask>(models::make_zoo_model(name, z), options, seed,
                                   std::vector<std::pair<std::string, std::shared_ptr<Generator>>>{{"dropout", dropout}});
}

}  // namespace fg::harness
