// engine/optim/optimizer.cpp: see optimizer.h.
#include "engine/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace fg::optim {

using json = nlohmann::json;

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_wd, const char* type)
    : groups_(std::move(groups)) {
  FG_CHECK(std::isfinite(default_lr) && default_lr >= 0, "{}: lr must be a non-negative number, got {}", type,
           default_lr);
  FG_CHECK(std::isfinite(default_wd) && default_wd >= 0, "{}: weight_decay must be a non-negative number, got {}",
           type, default_wd);
  std::unordered_set<const TensorImpl*> seen;
  std::size_t total = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    const std::string label = group.name.empty() ? fmt::format("group {}", g) : fmt::format("group '{}'", group.name);
    if (!group.lr) group.lr = default_lr;
    if (!group.weight_decay) group.weight_decay = default_wd;
    FG_CHECK(std::isfinite(*group.lr) && *group.lr >= 0, "{}: {} has lr {}, expected a non-negative number", type,
             label, *group.lr);
    FG_CHECK(std::isfinite(*group.weight_decay) && *group.weight_decay >= 0,
             "{}: {} has weight_decay {}, expected a non-negative number", type, label, *group.weight_decay);
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      FG_CHECK(p.defined(), "{}: parameter {} of {} is undefined", type, i, label);
      FG_CHECK(p.dtype() != DType::i64 && p.is_leaf() && p.requires_grad(),
               "{}: parameter {} of {} ({}) must be a float leaf with requires_grad", type, i, label, p.str());
      FG_CHECK(seen.insert(p.impl()).second,
               "{}: parameter {} of {} ({}) appears more than once in the optimizer's parameters", type, i, label,
               p.str());
    }
    total += group.params.size();
  }
  FG_CHECK(total > 0, "{}: got an empty parameter list", type);
  state_.resize(total);
}

double Optimizer::lr(std::size_t group) const {
  FG_CHECK(group < groups_.size(), "{}::lr: group {} does not exist ({} groups)", type_name(), group, groups_.size());
  return *groups_[group].lr;
}

void Optimizer::set_lr(double lr) {
  FG_CHECK(std::isfinite(lr) && lr >= 0, "{}::set_lr: lr must be a non-negative number, got {}", type_name(), lr);
  for (ParamGroup& g : groups_) g.lr = lr;
}

std::size_t Optimizer::num_params() const { return state_.size(); }

const ParamState& Optimizer::state(std::size_t index) const {
  FG_CHECK(index < state_.size(), "{}::state: parameter {} does not exist ({} parameters)", type_name(), index,
           state_.size());
  return state_[index];
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::size_t index = 0;
  for (const ParamGroup& group : groups_) {
    for (Tensor param : group.params) {
      ParamState& st = state_[index++];
      const Tensor grad = param.grad();
      if (!grad.defined()) continue;
      FG_CHECK(grad.shape() == param.shape() && grad.device() == param.device() && grad.dtype() == param.dtype(),
               "{}::step: parameter {} is {} but its gradient is {}", type_name(), index - 1, param.str(), grad.str());
      // state made before the model moved (or loaded from a file) follows its parameter
      for (auto& [slot, t] : st.slots)
        if (t.device() != param.device() || t.dtype() != param.dtype()) t = t.to(param.dtype()).to(param.device());
      ++st.step;
      update(group, param, grad, st);
    }
  }
}

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_)
    for (const Tensor& p : group.params) p.zero_grad();
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  json groups = json::array();
  std::size_t index = 0;
  for (const ParamGroup& g : groups_) {
    json ids = json::array();
    for (std::size_t i = 0; i < g.params.size(); ++i) ids.push_back(index++);
    groups.push_back({{"name", g.name}, {"lr", *g.lr}, {"weight_decay", *g.weight_decay}, {"params", ids}});
  }
  out.config = json{{"type", type_name()}, {"hyper", json::parse(hyper_json())}, {"groups", groups}}.dump();
  for (std::size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].step == 0) continue;
    out.tensors[fmt::format("state/{}/step", i)] = scalar_tensor(static_cast<double>(state_[i].step),
                                                                 TensorOptions{DType::i64});
    for (const auto& [slot, t] : state_[i].slots) out.tensors[fmt::format("state/{}/{}", i, slot)] = t.detach();
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& in) {
  const std::string who = type_name() + "::load_state_dict";
  json config;
  try {
    config = json::parse(in.config);
  } catch (const json::exception& e) {
    FG_FAIL("{}: the optimizer config is not valid JSON: {}", who, e.what());
  }
  FG_CHECK(config.is_object() && config.contains("type") && config["type"].is_string() && config.contains("hyper") &&
               config["hyper"].is_object() && config.contains("groups") && config["groups"].is_array(),
           "{}: the optimizer config needs the fields type (string), hyper (object) and groups (array)", who);
  const std::string type = config["type"].get<std::string>();
  FG_CHECK(type == type_name(), "{}: the saved state belongs to a {} optimizer, not {}", who, type, type_name());
  const json& groups = config["groups"];
  FG_CHECK(groups.size() == groups_.size(), "{}: the saved state has {} parameter groups, this optimizer {}", who,
           groups.size(), groups_.size());
  std::vector<std::pair<double, double>> lr_wd;
  std::size_t index = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const json& sg = groups[g];
    FG_CHECK(sg.is_object() && sg.contains("lr") && sg["lr"].is_number() && sg.contains("weight_decay") &&
                 sg["weight_decay"].is_number() && sg.contains("params") && sg["params"].is_array(),
             "{}: saved group {} needs lr, weight_decay (numbers) and params (array)", who, g);
    FG_CHECK(sg["params"].size() == groups_[g].params.size(),
             "{}: saved group {} has {} parameters, this optimizer's group {} has {}", who, g, sg["params"].size(), g,
             groups_[g].params.size());
    for (const json& id : sg["params"])
      FG_CHECK(id.is_number_unsigned() && id.get<std::size_t>() == index++,
               "{}: saved group {} lists parameter {}; expected consecutive indices", who, g, id.dump());
    const double lr = sg["lr"].get<double>(), wd = sg["weight_decay"].get<double>();
    FG_CHECK(std::isfinite(lr) && lr >= 0 && std::isfinite(wd) && wd >= 0,
             "{}: saved group {} has lr {} and weight_decay {}, expected non-negative numbers", who, g, lr, wd);
    lr_wd.emplace_back(lr, wd);
  }

  // parameters in index order, to check the state tensors against
  std::vector<Tensor> params;
  for (const ParamGroup& g : groups_) params.insert(params.end(), g.params.begin(), g.params.end());
  const std::vector<std::string> slots = slot_names();
  std::vector<ParamState> new_state(state_.size());
  for (const auto& [key, t] : in.tensors) {
    // key = "state/<index>/<slot>"
    const auto a = key.find('/'), b = key.rfind('/');
    FG_CHECK(key.rfind("state/", 0) == 0 && b != a && b + 1 < key.size(),
             "{}: unexpected key '{}' (expected state/<index>/<slot>)", who, key);
    const std::string id = key.substr(a + 1, b - a - 1), slot = key.substr(b + 1);
    FG_CHECK(!id.empty() && id.size() < 12 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }),
             "{}: key '{}': '{}' is not a parameter index", who, key, id);
    const std::size_t i = std::stoul(id);
    FG_CHECK(i < params.size(), "{}: key '{}' names parameter {}, but the optimizer has {}", who, key, i,
             params.size());
    FG_CHECK(t.defined(), "{}: key '{}' holds an undefined tensor", who, key);
    if (slot == "step") {
      FG_CHECK(t.numel() == 1, "{}: key '{}' must hold one number, got {}", who, key, t.str());
      const double s = t.item();
      FG_CHECK(s >= 1 && s == std::floor(s), "{}: key '{}' holds step {}, expected a positive integer", who, key, s);
      new_state[i].step = static_cast<std::int64_t>(s);
      continue;
    }
    FG_CHECK(std::find(slots.begin(), slots.end(), slot) != slots.end(), "{}: key '{}': {} keeps no state '{}'", who,
             key, type_name(), slot);
    FG_CHECK(t.dtype() != DType::i64 && t.shape() == params[i].shape(),
             "{}: key '{}' is {} but parameter {} is {}", who, key, t.str(), i, params[i].str());
    new_state[i].slots[slot] = t.detach().to(params[i].dtype()).to(params[i].device()).clone();
  }
  for (std::size_t i = 0; i < new_state.size(); ++i)
    FG_CHECK(new_state[i].slots.empty() || new_state[i].step > 0, "{}: parameter {} has state but no 'state/{}/step'",
             who, i, i);

  load_hyper_json(config["hyper"].dump());  // checks all, then assigns
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = lr_wd[g].first;
    groups_[g].weight_decay = lr_wd[g].second;
  }
  state_ = std::move(new_state);
}

}  // namespace fg::optim
