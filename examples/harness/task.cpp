// examples/harness/task.cpp: the default training step and SentimentTask (task.h).
#include "examples/harness/task.h"

#include "engine/ops.h"
#include "engine/optim/clip_grad.h"

namespace fg::harness {

StepOutput Task::train_step(const data::Batch& batch, StepContext& ctx) {
  ctx.optimizer.zero_grad();
  const Loss l = loss(batch);
  StepOutput out;
  out.total = l.total.item();
  for (const auto& [name, t] : l.terms) {
    const double v = t.item();
    out.terms.emplace_back(name, v);
    ctx.check(name, v);
  }
  if (l.terms.empty()) ctx.check("loss", out.total);
  else if (l.terms.size() > 1) ctx.check("total", out.total);
  l.total.backward();
  if (ctx.clip > 0) out.grad_norm = optim::clip_grad_norm(parameters(), ctx.clip);
  ctx.optimizer.step();
  return out;
}

SentimentTask::SentimentTask(std::shared_ptr<models::SentimentModel> model,
                             std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators)
    : model_(std::move(model)), generators_(std::move(generators)) {
  FG_CHECK(model_ != nullptr, "SentimentTask: no model");
}

Loss SentimentTask::loss(const data::Batch& batch) {
  const Tensor l1 = l1_loss(model_->forward(batch).prediction, batch.labels);
  return {l1, {{"l1", l1}}};
}

Tensor SentimentTask::predict(const data::Batch& batch) { return model_->forward(batch).prediction; }

std::vector<std::pair<std::string, Generator*>> SentimentTask::generators() {
  std::vector<std::pair<std::string, Generator*>> out;
  for (auto& [name, g] : generators_) out.emplace_back(name, g.get());
  return out;
}

}  // namespace fg::harness
