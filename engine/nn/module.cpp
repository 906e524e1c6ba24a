// engine/nn/module.cpp: see module.h.
#include "engine/nn/module.h"

#include <fmt/format.h>

#include <unordered_set>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace fg::nn {

namespace {

bool is_floating(DType d) { return d == DType::f32 || d == DType::f64; }

// Replaces t's data in place by `moved` (same shape): every handle to t's impl sees it.
void rebind_storage(const Tensor& t, const Tensor& moved) {
  TensorImpl* impl = t.impl();
  impl->storage = moved.impl()->storage;
  impl->offset = moved.impl()->offset;
  impl->dtype = moved.impl()->dtype;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + ("'" + n + "'");
  return out;
}

}  // namespace

void Module::check_new_name(const std::string& name, const char* what) const {
  FG_CHECK(!name.empty(), "{}::register_{}: the name must not be empty", type_name(), what);
  FG_CHECK(name.find('.') == std::string::npos && name.find('/') == std::string::npos,
           "{}::register_{}('{}'): names may not contain '.' or '/' (dots separate the levels of state_dict names)",
           type_name(), what, name);
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  FG_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_),
           "{}::register_{}('{}'): the name is already registered in this module", type_name(), what, name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name, "parameter");
  FG_CHECK(value.defined(), "{}::register_parameter('{}'): the tensor is undefined", type_name(), name);
  FG_CHECK(is_floating(value.dtype()), "{}::register_parameter('{}'): parameters must be float32 or float64, got {}",
           type_name(), name, value.str());
  if (!value.is_leaf()) value = value.detach();
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "buffer");
  FG_CHECK(value.defined(), "{}::register_buffer('{}'): the tensor is undefined", type_name(), name);
  if (value.requires_grad()) value = value.detach();
  buffers_.emplace_back(name, value);
  return value;
}

void Module::register_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  FG_CHECK(module != nullptr, "{}::register_module('{}'): the module is null", type_name(), name);
  // a module may not contain itself (traversals would never end)
  std::vector<const Module*> todo{module.get()};
  while (!todo.empty()) {
    const Module* m = todo.back();
    todo.pop_back();
    FG_CHECK(m != this, "{}::register_module('{}'): the module would contain itself", type_name(), name);
    for (const auto& [n, c] : m->children_) todo.push_back(c.get());
  }
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors all, unique;
  collect("", false, all);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors all, unique;
  collect("", true, all);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

std::map<std::string, Tensor> Module::state_dict() const {
  NamedTensors all;
  collect("", false, all);
  collect("", true, all);
  return std::map<std::string, Tensor>(all.begin(), all.end());
}

LoadResult Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const std::map<std::string, Tensor> own = state_dict();
  LoadResult result;
  std::vector<std::string> problems;
  for (const auto& [name, t] : own)
    if (!state.count(name)) result.missing_keys.push_back(name);
  for (const auto& [name, src] : state) {
    auto it = own.find(name);
    if (it == own.end()) {
      result.unexpected_keys.push_back(name);
      continue;
    }
    const Tensor& dst = it->second;
    if (!src.defined()) {
      problems.push_back(fmt::format("'{}' is undefined in the given state", name));
    } else if (src.shape() != dst.shape()) {
      problems.push_back(fmt::format("'{}' has shape {} in the given state but {} in the module", name,
                                     shape_str(src.shape()), shape_str(dst.shape())));
    } else if (is_floating(src.dtype()) != is_floating(dst.dtype())) {
      problems.push_back(fmt::format("'{}' is {} in the given state but {} in the module", name,
                                     dtype_name(src.dtype()), dtype_name(dst.dtype())));
    }
  }
  if (strict && !result.missing_keys.empty())
    problems.push_back(fmt::format("missing keys (in the module, not in the given state): {}",
                                   join(result.missing_keys)));
  if (strict && !result.unexpected_keys.empty())
    problems.push_back(fmt::format("unexpected keys (in the given state, not in the module): {}",
                                   join(result.unexpected_keys)));
  if (!problems.empty()) {
    std::string msg = fmt::format("{}::load_state_dict: nothing was loaded:", type_name());
    for (const auto& p : problems) msg += "\n  " + p;
    FG_FAIL("{}", msg);
  }
  NoGradGuard no_grad;
  for (const auto& [name, src] : state) {
    auto it = own.find(name);
    if (it == own.end()) continue;
    Tensor dst = it->second;
    copy_(dst, src);
  }
  return result;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

namespace {

// Every distinct parameter and buffer tensor of the subtree.
std::vector<Tensor> unique_tensors(const Module& m) {
  std::vector<Tensor> out;
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& list : {m.named_parameters(), m.named_buffers()})
    for (const auto& [name, t] : list)
      if (seen.insert(t.impl()).second) out.push_back(t);
  return out;
}

}  // namespace

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (const Tensor& t : unique_tensors(*this)) {
    if (t.device() != device) rebind_storage(t, t.detach().to(device));
    if (t.impl()->grad.defined() && t.impl()->grad.device() != device)
      t.impl()->grad = t.impl()->grad.detach().to(device);
  }
}

void Module::to(DType dtype) {
  FG_CHECK(is_floating(dtype), "{}::to({}): modules convert to float32 or float64 only", type_name(),
           dtype_name(dtype));
  NoGradGuard no_grad;
  for (const Tensor& t : unique_tensors(*this)) {
    if (!is_floating(t.dtype())) continue;
    if (t.dtype() != dtype) rebind_storage(t, t.detach().to(dtype));
    if (t.impl()->grad.defined() && t.impl()->grad.dtype() != dtype)
      t.impl()->grad = t.impl()->grad.detach().to(dtype);
  }
}

void Module::zero_grad() {
  for (const auto& [name, t] : named_parameters()) t.zero_grad();
}

}  // namespace fg::nn
