// engine/optim/adam.cpp: see adam.h.
#include "engine/optim/adam.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/dispatch.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/optim.h"

namespace fg::optim {

namespace {

void check_options(const AdamOptions& o, const char* who) {
  FG_CHECK(std::isfinite(o.eps) && o.eps >= 0, "{}: eps must be non-negative, got {}", who, o.eps);
  FG_CHECK(o.beta1 >= 0 && o.beta1 < 1, "{}: beta1 must be in [0, 1), got {}", who, o.beta1);
  FG_CHECK(o.beta2 >= 0 && o.beta2 < 1, "{}: beta2 must be in [0, 1), got {}", who, o.beta2);
}

AdamOptions from_adamw(const AdamWOptions& w) {
  return AdamOptions{w.lr, w.beta1, w.beta2, w.eps, w.weight_decay, w.amsgrad};
}

// The slot `name` of `state`, created as zeros like `param` on first use.
Tensor& slot(ParamState& state, const char* name, const Tensor& param) {
  auto it = state.slots.find(name);
  if (it == state.slots.end()) it = state.slots.emplace(name, zeros_like(param)).first;
  return it->second;
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam(single_group(std::move(params)), o) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam(std::move(groups), o, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(groups), o.lr, o.weight_decay, decoupled ? "AdamW" : "Adam"), opts_(o),
      decoupled_(decoupled) {
  check_options(o, decoupled ? "AdamW" : "Adam");
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o)
    : AdamW(single_group(std::move(params)), o) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o) : Adam(std::move(groups), from_adamw(o), true) {}

void Adam::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = *group.lr, wd = *group.weight_decay;
  const double beta1 = opts_.beta1, beta2 = opts_.beta2;
  // The fused step (kernels/optim.h: one pass, no temporaries) on the CPU, and on CUDA for
  // float32 (its only dtype there); float64 on CUDA keeps the op-by-op form below.
  if (param.device().is_cpu() || param.dtype() == DType::f32) {
    Tensor& m = slot(state, "exp_avg", param);
    Tensor& v = slot(state, "exp_avg_sq", param);
    Tensor* v_max = opts_.amsgrad ? &slot(state, "max_exp_avg_sq", param) : nullptr;
    kernels::AdamParamRef r;
    r.param = param.data_ptr();
    r.grad = grad.data_ptr();
    r.exp_avg = m.data_ptr();
    r.exp_avg_sq = v.data_ptr();
    r.max_exp_avg_sq = v_max ? v_max->data_ptr() : nullptr;
    r.numel = param.numel();
    r.step = state.step;
    r.lr = lr;
    r.beta1 = beta1;
    r.beta2 = beta2;
    r.eps = opts_.eps;
    r.weight_decay = wd;
    FG_DISPATCH(param.device(), adam_step, param.dtype(), decoupled_, opts_.amsgrad, &r, 1);
    return;
  }
  Tensor g = grad;
  if (wd != 0) {
    if (decoupled_) copy_(param, param * (1.0 - lr * wd));
    else g = g + param * wd;
  }
  Tensor& m = slot(state, "exp_avg", param);
  Tensor& v = slot(state, "exp_avg_sq", param);
  copy_(m, m * beta1 + g * (1.0 - beta1));
  copy_(v, v * beta2 + g * g * (1.0 - beta2));
  Tensor v_used = v;
  if (opts_.amsgrad) {
    Tensor& v_max = slot(state, "max_exp_avg_sq", param);
    copy_(v_max, maximum(v_max, v));
    v_used = v_max;
  }
  const double t = static_cast<double>(state.step);
  const double bias_correction1 = 1.0 - std::pow(beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
  const Tensor denom = sqrt(v_used) / bias_correction2_sqrt + opts_.eps;
  add_(param, m / denom * (-lr / bias_correction1));
}

std::string Adam::hyper_json() const {
  return nlohmann::json{{"beta1", opts_.beta1}, {"beta2", opts_.beta2}, {"eps", opts_.eps}, {"amsgrad", opts_.amsgrad}}
      .dump();
}

void Adam::load_hyper_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  FG_CHECK(j.contains("beta1") && j["beta1"].is_number() && j.contains("beta2") && j["beta2"].is_number() &&
               j.contains("eps") && j["eps"].is_number() && j.contains("amsgrad") && j["amsgrad"].is_boolean(),
           "{}::load_state_dict: hyper needs beta1, beta2, eps (numbers) and amsgrad (boolean), got {}", type_name(),
           text);
  AdamOptions o = opts_;
  o.beta1 = j["beta1"].get<double>();
  o.beta2 = j["beta2"].get<double>();
  o.eps = j["eps"].get<double>();
  o.amsgrad = j["amsgrad"].get<bool>();
  check_options(o, decoupled_ ? "AdamW" : "Adam");
  opts_ = o;
}

}  // namespace fg::optim
