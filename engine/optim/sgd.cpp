// engine/optim/sgd.cpp: see sgd.h.
#include "engine/optim/sgd.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::optim {

namespace {

void check_options(const SGDOptions& o) {
  FG_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "SGD: momentum must be non-negative, got {}", o.momentum);
  FG_CHECK(std::isfinite(o.dampening), "SGD: dampening must be a number, got {}", o.dampening);
  FG_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: nesterov momentum needs momentum > 0 and dampening == 0 (got momentum {}, dampening {})", o.momentum,
           o.dampening);
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& o) : SGD(single_group(std::move(params)), o) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& o)
    : Optimizer(std::move(groups), o.lr, o.weight_decay, "SGD"), opts_(o) {
  check_options(o);
}

void SGD::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = *group.lr, wd = *group.weight_decay;
  Tensor d = grad;
  if (wd != 0) d = d + param * wd;
  if (opts_.momentum != 0) {
    auto it = state.slots.find("momentum_buffer");
    if (it == state.slots.end()) {
      it = state.slots.emplace("momentum_buffer", d.clone()).first;
    } else {
      copy_(it->second, it->second * opts_.momentum + d * (1.0 - opts_.dampening));
    }
    const Tensor& buf = it->second;
    d = opts_.nesterov ? d + buf * opts_.momentum : buf;
  }
  add_(param, d * -lr);
}

std::string SGD::hyper_json() const {
  return nlohmann::json{{"momentum", opts_.momentum}, {"dampening", opts_.dampening}, {"nesterov", opts_.nesterov}}
      .dump();
}

void SGD::load_hyper_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  FG_CHECK(j.contains("momentum") && j["momentum"].is_number() && j.contains("dampening") &&
               j["dampening"].is_number() && j.contains("nesterov") && j["nesterov"].is_boolean(),
           "SGD::load_state_dict: hyper needs momentum, dampening (numbers) and nesterov (boolean), got {}", text);
  SGDOptions o = opts_;
  o.momentum = j["momentum"].get<double>();
  o.dampening = j["dampening"].get<double>();
  o.nesterov = j["nesterov"].get<bool>();
  check_options(o);
  opts_ = o;
}

}  // namespace fg::optim
