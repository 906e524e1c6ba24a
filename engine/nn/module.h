// engine/nn/module.h: the base class of every layer and model: a registry of named
// parameters, buffers and child modules, with PyTorch's naming.
//
// A module registers its tensors and children by name in its constructor:
//
//   struct Block : fg::nn::Module {
//     Block(fg::Generator& gen) {
//       fc = register_module("fc", std::make_shared<fg::nn::Linear>(4, 8, gen));
//       scale = register_parameter("scale", fg::ones({8}));
//     }
//     fg::Tensor forward(const fg::Tensor& x) { return fc->forward(x) * scale; }
//     std::shared_ptr<fg::nn::Linear> fc;
//     fg::Tensor scale;
//   };
//
// Names are dotted paths from the root, exactly as torch.nn.Module.state_dict() spells
// them ("fc.weight", "encoder.0.bias"), so a checkpoint moves between fusegrad and PyTorch
// by name (engine/serialize/checkpoint.h). A Tensor is a handle: the member (`scale`) and
// the registry hold the same TensorImpl, so to(), load_state_dict() and the optimizers,
// which all work in place, are seen through both.
//
// Modules live in std::shared_ptr. There is no virtual forward: each module has a
// forward(...) with the signature it needs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace fg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict skipped (PyTorch's _IncompatibleKeys).
struct LoadResult {
  std::vector<std::string> missing_keys;     // in the module, not in the given state
  std::vector<std::string> unexpected_keys;  // in the given state, not in the module
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A short name of the module's kind for messages ("Linear", "MLP", ...).
  virtual std::string type_name() const { return "Module"; }

  // ---- registration (names: non-empty, without '.' or '/', unique within this module)
  // Registers a trainable tensor. It becomes a float leaf with requires_grad = true (a
  // tensor with a graph is detached first). Returns the registered handle.
  Tensor register_parameter(const std::string& name, Tensor value);
  // Registers non-trainable state (saved in state_dict, moved by to(), never optimized).
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    register_child(name, module);
    return module;
  }

  // ---- traversal (registration order: own entries first, then each child's subtree)
  // Parameters by dotted name. A tensor registered under two names appears once (first name).
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // Total number of parameter elements (shared tensors counted once).
  std::int64_t num_parameters() const;

  // ---- state
  // Every parameter and buffer by dotted name (what a checkpoint stores). The tensors
  // are the module's own (no copy): detach() or clone() before changing them.
  std::map<std::string, Tensor> state_dict() const;
  // Copies `state` into the module's tensors in place (converting dtype and device).
  // Everything is checked before anything is copied, and the error names every problem:
  // shape or dtype-kind mismatches always throw; missing and unexpected keys throw when
  // `strict`, else they are returned.
  LoadResult load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // ---- mode and placement
  // Training mode (dropout active) for this module and all descendants.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer (and existing gradients) to `device` in place: the
  // handles held by layers and optimizers see the new storage; parameters stay leaves
  // with requires_grad. Create optimizers after moving, or their state stays behind.
  void to(Device device);
  // Converts every floating parameter and buffer (and gradients) to `dtype` in place,
  // e.g. to float64 for a gradient check. Integer buffers are left alone.
  void to(DType dtype);
  // Drops the gradient of every parameter.
  void zero_grad();

 private:
  void register_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  // Visits (dotted name, tensor) for all params (or buffers) of the subtree, duplicates included.
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;

  bool training_ = true;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace fg::nn
