// examples/harness/mmim_task.cpp: see mmim_task.h.
#include "examples/harness/mmim_task.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/clip_grad.h"

namespace fg::harness {

namespace {
class MmimContainer : public nn::Module {
 public:
  std::string type_name() const override { return "MmimTask"; }
  explicit MmimContainer(std::shared_ptr<models::Mmim> m) { register_module("mmim", std::move(m)); }
  Tensor add_buffer(const std::string& name, Tensor t) { return register_buffer(name, std::move(t)); }
};
}  // namespace

MmimTask::MmimTask(std::shared_ptr<models::Mmim> model, const MmimTaskOptions& options,
                   std::shared_ptr<Generator> dropout_gen)
    : model_(std::move(model)), opts_(options), dropout_gen_(std::move(dropout_gen)) {
  FG_CHECK(model_ != nullptr, "MmimTask: no model");
  FG_CHECK(opts_.alpha >= 0 && opts_.beta >= 0, "MmimTask: alpha and beta must be >= 0, got {} and {}", opts_.alpha,
           opts_.beta);
  FG_CHECK(opts_.lr_bert >= 0 && opts_.lr_lld > 0, "MmimTask: lr_bert must be >= 0 and lr_lld > 0, got {} and {}",
           opts_.lr_bert, opts_.lr_lld);
  FG_CHECK(opts_.batch_size >= 1 && opts_.stage1_batches >= 0, "MmimTask: bad batch_size {} or stage1_batches {}",
           opts_.batch_size, opts_.stage1_batches);
  auto c = std::make_shared<MmimContainer>(model_);
  steps_ = c->add_buffer("mmim_task_steps", zeros({}, TensorOptions{DType::i64, Device::cpu()}));
  const auto& mc = model_->config();
  if (mc.memory_batches > 0) {
    memory_cap_ = opts_.batch_size * (mc.single_gaussian ? 2 : 1);
    const std::int64_t rows = mc.memory_batches * memory_cap_;
    const TensorOptions like = model_->head->weight.options();
    for (const models::MmimPairMemory& m : model_->memory()) {
      MemoryBuffers b;
      b.pair = m.pair;
      const std::string prefix = "gmm_memory_" + m.pair;
      b.features = c->add_buffer(prefix + "_features",
                                 zeros({rows, model_->entropy_dim()}, TensorOptions{like.dtype, like.device}));
      b.labels = c->add_buffer(prefix + "_labels", zeros({rows}, TensorOptions{DType::f64, like.device}));
      b.rows = c->add_buffer(prefix + "_rows", full({mc.memory_batches}, -1.0, TensorOptions{DType::i64, Device::cpu()}));
      memory_.push_back(b);
    }
  }
  container_ = c;
  // no optimizer for an empty group (no BA pair: Table 4's "None"; the LSTM text encoder: no BERT)
  optim::AdamOptions q;
  q.lr = opts_.lr_lld;
  q.weight_decay = opts_.weight_decay;
  if (!model_->predictor_parameters().empty())
    opt_q_ = std::make_unique<optim::Adam>(model_->predictor_parameters(), q);
  optim::AdamOptions b;
  b.lr = opts_.lr_bert;
  b.weight_decay = opts_.weight_decay;
  if (!model_->bert_parameters().empty()) opt_bert_ = std::make_unique<optim::Adam>(model_->bert_parameters(), b);
  if (opts_.stage1_split) {
    data::BatchOptions bo;
    bo.batch_size = opts_.batch_size;
    steps_per_epoch_ = data::BatchLoader(*opts_.stage1_split, bo).num_batches();
  }
}

std::vector<std::pair<std::string, Generator*>> MmimTask::generators() {
  if (dropout_gen_) return {{"dropout", dropout_gen_.get()}};
  return {};
}

std::vector<std::pair<std::string, optim::Optimizer*>> MmimTask::extra_optimizers() {
  std::vector<std::pair<std::string, optim::Optimizer*>> out;
  if (opt_q_) out.emplace_back("predictors", opt_q_.get());
  if (opt_bert_) out.emplace_back("bert", opt_bert_.get());
  return out;
}

Tensor MmimTask::predict(const data::Batch& batch) { return model_->forward(batch).prediction; }

Loss MmimTask::loss(const data::Batch& batch) {
  last_out_ = model_->forward(batch);
  const models::MmimTerms t = model_->terms(batch, last_out_);
  const Tensor l1 = l1_loss(last_out_.prediction, batch.labels.to(last_out_.prediction.dtype()));
  const Tensor cpc = t.cpc(), ba = neg(t.bound());
  const Tensor total = l1 + cpc * opts_.alpha + ba * opts_.beta;
  Loss out{total, {{"l1", l1}, {"cpc", cpc}, {"ba", ba}}};
  // the BA terms in use (the CPC terms are summed in "cpc")
  const std::vector<std::pair<std::string, Tensor>> ba_terms = {{"lld_tv", t.lld_tv}, {"lld_ta", t.lld_ta},
                                                                {"lld_va", t.lld_va}, {"h_v", t.h_v},
                                                                {"h_a", t.h_a},       {"h_va", t.h_va}};
  for (const auto& [name, v] : ba_terms)
    if (std::find(t.present.begin(), t.present.end(), name) != t.present.end()) out.terms.emplace_back(name, v);
  out.terms.emplace_back("h_skipped", from_vector(std::vector<double>{double(t.h_skipped)}, {}, f64_opts()));
  return out;
}

void MmimTask::save_memory() {
  if (memory_.empty()) return;
  NoGradGuard ng;
  const std::vector<models::MmimPairMemory> mem = model_->memory();
  FG_CHECK(mem.size() == memory_.size(), "MmimTask: the model's memory has {} pairs, the task {}", mem.size(),
           memory_.size());
  for (std::size_t i = 0; i < mem.size(); ++i) {
    MemoryBuffers& b = memory_[i];
    std::vector<std::int64_t> rows(static_cast<std::size_t>(b.rows.numel()), -1);
    std::vector<Tensor> f, l;
    std::int64_t used = 0;
    for (std::size_t k = 0; k < mem[i].batches.size(); ++k) {
      const auto& [bf, bl] = mem[i].batches[k];
      FG_CHECK(bf.size(0) <= memory_cap_,
               "MmimTask: a remembered batch has {} rows, more than the checkpointed memory's {} per batch "
               "(MmimTaskOptions::batch_size must be the training batch size)",
               bf.size(0), memory_cap_);
      rows[k] = bf.size(0), used += bf.size(0);
      f.push_back(bf.to(b.features.dtype()).to(b.features.device()));
      l.push_back(bl.to(DType::f64).to(b.labels.device()));
    }
    const std::int64_t pad = b.features.size(0) - used;
    if (pad > 0) {
      f.push_back(zeros({pad, b.features.size(1)}, b.features.options()));
      l.push_back(zeros({pad}, b.labels.options()));
    }
    copy_(b.features, concat(f, 0));
    copy_(b.labels, concat(l, 0));
    copy_(b.rows, from_vector(rows, {b.rows.numel()}, b.rows.options()));
  }
}

void MmimTask::restore_memory() {
  if (memory_.empty()) return;
  std::vector<models::MmimPairMemory> mem;
  for (const MemoryBuffers& b : memory_) {
    models::MmimPairMemory m{b.pair, {}};
    std::int64_t off = 0;
    for (std::int64_t n : b.rows.to(Device::cpu()).to_vector<std::int64_t>()) {
      if (n < 0) break;
      FG_CHECK(off + n <= b.features.size(0), "--resume: the checkpointed GMM memory of pair '{}' is inconsistent",
               b.pair);
      m.batches.emplace_back(slice(b.features, 0, off, n).detach() * 1.0, slice(b.labels, 0, off, n).detach() * 1.0);
      off += n;
    }
    mem.push_back(std::move(m));
  }
  model_->set_memory(mem);
}

double MmimTask::stage1_step(const data::Batch& batch, double clip) {
  if (!opt_q_) return 0.0;  // no BA pair: nothing to fit
  std::vector<Tensor> h;
  {
    NoGradGuard ng;  // the encoders are only read
    h = model_->encode(batch);
  }
  opt_q_->zero_grad();
  const Tensor l = neg(model_->log_likelihood(h[0].detach(), h[1].detach(), h[2].detach()));
  const double v = l.item();
  FG_CHECK(std::isfinite(v), "MMIM stage 1: loss term 'lld' is {} (the predictors q diverged); lower --lr-lld", v);
  l.backward();
  if (clip > 0) optim::clip_grad_norm(model_->predictor_parameters(), clip);
  opt_q_->step();
  return v;
}

double MmimTask::stage1_pass(double clip) {
  FG_CHECK(opts_.stage1_split != nullptr, "MmimTask: stage1_pass needs a stage-1 split");
  data::BatchOptions bo;
  bo.batch_size = opts_.batch_size;
  bo.seed = opts_.seed + 7919;
  bo.device = opts_.device;
  data::BatchLoader loader(*opts_.stage1_split, bo);
  const std::int64_t epoch = steps_per_epoch_ > 0 ? static_cast<std::int64_t>(steps_.item()) / steps_per_epoch_ : 0;
  loader.set_epoch(epoch);
  std::int64_t n = loader.num_batches();
  if (opts_.stage1_batches > 0) n = std::min(n, opts_.stage1_batches);
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += stage1_step(loader.batch(i), clip);
  return n > 0 ? s / static_cast<double>(n) : 0.0;
}

StepOutput MmimTask::train_step(const data::Batch& batch, StepContext& ctx) {
  StepOutput out;
  const std::int64_t done = static_cast<std::int64_t>(steps_.item());
  if (done != synced_step_) restore_memory();  // a checkpoint was loaded (--resume)
  // ---- stage 1: at the start of each epoch, a pass over D_sub (or this batch without a split)
  double lld1 = NAN;
  if (opts_.stage1_split == nullptr) lld1 = stage1_step(batch, ctx.clip);
  else if (steps_per_epoch_ > 0 && done % steps_per_epoch_ == 0) lld1 = stage1_pass(ctx.clip);
  // ---- stage 2: everything but q on L_main
  ctx.optimizer.zero_grad();
  if (opt_bert_) opt_bert_->zero_grad();
  if (opt_q_) opt_q_->zero_grad();
  const Loss l = loss(batch);
  out.total = l.total.item();
  for (const auto& [name, t] : l.terms) {
    const double v = t.item();
    out.terms.emplace_back(name, v);
    if (name != "h_skipped") ctx.check(name, v);
  }
  if (!std::isnan(lld1)) out.terms.emplace_back("stage1_lld", lld1);
  ctx.check("total", out.total);
  l.total.backward();
  if (ctx.clip > 0) {
    std::vector<Tensor> ps = model_->main_parameters();
    for (const Tensor& p : model_->bert_parameters()) ps.push_back(p);
    out.grad_norm = optim::clip_grad_norm(ps, ctx.clip);
  }
  ctx.optimizer.step();
  if (opt_bert_) opt_bert_->step();
  if (opt_q_) opt_q_->zero_grad();  // q's stage-2 gradients are dropped: stage 2 never changes q
  model_->remember(batch, last_out_);
  save_memory();
  steps_.data<std::int64_t>()[0] = done + 1;
  synced_step_ = done + 1;
  last_out_ = {};
  last_ = out;
  return out;
}

}  // namespace fg::harness
