// engine/autograd.cpp: graph recording and the reverse pass (see engine/autograd.h).
#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::autograd {

namespace {
thread_local bool g_grad_enabled = true;

// Sum into a slot with += semantics: the first contribution is stored as is.
void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
  } else {
    slot = add(slot, g);
  }
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

bool any_requires_grad(std::initializer_list<const Tensor*> tensors) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : tensors)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& tensors) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : tensors)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool record(const char* name, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return false;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) node->inputs.push_back(t.defined() && t.requires_grad() ? t : Tensor());
  node->outputs.reserve(outputs.size());
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& out = outputs[k];
    node->outputs.push_back(OutputMeta{out.shape(), out.dtype(), out.device()});
    FG_CHECK(out.is_leaf(), "autograd::record({}): output {} already belongs to a graph", name, k);
    out.impl()->grad_fn = node;
    out.impl()->output_nr = static_cast<int>(k);
  }
  node->backward = std::move(fn);
  return true;
}

namespace {

// Nodes reachable from `root` in reverse topological order (each node before the
// nodes that produced its inputs). Iterative post-order DFS, then reversed. The list
// owns the nodes: freeing one node's inputs must not destroy a node still to run.
std::vector<std::shared_ptr<Node>> reverse_topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> postorder;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack;  // (node, next input to visit)
  stack.emplace_back(root, 0);
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.impl()->grad_fn) {
        const std::shared_ptr<Node>& child = in.impl()->grad_fn;
        if (visited.insert(child.get()).second) stack.emplace_back(child, 0);
      }
    } else {
      postorder.push_back(node);
      stack.pop_back();
    }
  }
  return {postorder.rbegin(), postorder.rend()};
}

// Where gradients end up: into leaves' .grad (backward) or into a capture map (grad()).
struct Sink {
  // impl -> slot index in `captured` for tensors whose gradient grad() returns
  std::unordered_map<const TensorImpl*, std::size_t> targets;
  std::vector<Tensor> captured;
  bool write_leaf_grads = true;
};

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph, Sink& sink) {
  FG_CHECK(root.defined(), "backward() on an undefined tensor");
  FG_CHECK(root.requires_grad(), "backward(): the tensor {} does not require grad (no input was marked requires_grad, "
                                 "or it was computed under NoGradGuard)", root.str());
  Tensor seed = grad_root;
  if (!seed.defined()) {
    FG_CHECK(root.numel() == 1, "backward(): a gradient must be given for the non-scalar tensor {}", root.str());
    seed = ones_like(root);
  }
  FG_CHECK(seed.shape() == root.shape(), "backward(): gradient {} does not match tensor {}", seed.str(), root.str());

  NoGradGuard no_grad;  // backward closures never record graphs

  auto deliver_to_leaf = [&](const Tensor& leaf, const Tensor& g) {
    auto it = sink.targets.find(leaf.impl());
    if (it != sink.targets.end()) accumulate(sink.captured[it->second], g);
    if (sink.write_leaf_grads) {
      Tensor acc = leaf.impl()->grad;
      if (acc.defined()) {
        add_(acc, g);  // += into the existing gradient buffer
      } else {
        leaf.impl()->grad = g.clone();  // own buffer: later += must not alias a graph tensor
      }
    }
  };

  if (root.is_leaf()) {
    deliver_to_leaf(root, seed);
    return;
  }

  Node* root_node = root.impl()->grad_fn.get();
  std::vector<std::shared_ptr<Node>> order = reverse_topological_order(root.impl()->grad_fn);
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  pending[root_node].resize(root_node->outputs.size());
  pending[root_node][root.impl()->output_nr] = seed;

  // non-leaf capture targets: (node, output_nr) -> slot
  std::unordered_map<Node*, std::vector<std::pair<int, std::size_t>>> node_targets;
  for (const auto& [impl, slot] : sink.targets)
    if (impl->grad_fn) node_targets[impl->grad_fn.get()].emplace_back(impl->output_nr, slot);

  for (std::shared_ptr<Node>& owned : order) {
    Node* node = owned.get();
    FG_CHECK(node->backward, "backward() through '{}' a second time: its graph was freed by the first backward "
                             "(pass retain_graph = true to keep it)", node->name);
    std::vector<Tensor> grads = std::move(pending[node]);
    pending.erase(node);
    grads.resize(node->outputs.size());
    for (std::size_t k = 0; k < grads.size(); ++k) {
      if (!grads[k].defined()) {
        const OutputMeta& m = node->outputs[k];
        grads[k] = zeros(m.shape, TensorOptions{m.dtype, m.device, false});
      }
    }
    if (auto it = node_targets.find(node); it != node_targets.end())
      for (auto [out_nr, slot] : it->second) accumulate(sink.captured[slot], grads[out_nr]);

    std::vector<bool> needs(node->inputs.size());
    for (std::size_t i = 0; i < needs.size(); ++i) needs[i] = node->inputs[i].defined();
    std::vector<Tensor> input_grads = node->backward(grads, needs);
    FG_CHECK(input_grads.size() == node->inputs.size(), "backward of '{}' returned {} gradients for {} inputs",
             node->name, input_grads.size(), node->inputs.size());

    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined()) continue;
      const Tensor& g = input_grads[i];
      FG_CHECK(g.defined(), "backward of '{}' gave no gradient for input {}", node->name, i);
      FG_CHECK(g.shape() == in.shape() && g.dtype() == in.dtype(),
               "backward of '{}' gave gradient {} for input {} of {}", node->name, g.str(), i, in.str());
      if (in.impl()->grad_fn) {
        auto& slots = pending[in.impl()->grad_fn.get()];
        slots.resize(in.impl()->grad_fn->outputs.size());
        accumulate(slots[in.impl()->output_nr], g);
      } else {
        deliver_to_leaf(in, g);
      }
    }
    if (!retain_graph) {
      node->backward = nullptr;  // frees the closure and what it saved
      node->inputs.clear();
    }
    owned.reset();  // the node itself goes once nothing else holds it
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  Sink sink;
  run_backward(root, grad_root, retain_graph, sink);
}

std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs, const Tensor& grad_root,
                         bool retain_graph) {
  Sink sink;
  sink.write_leaf_grads = false;
  sink.captured.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    FG_CHECK(inputs[i].requires_grad(), "autograd::grad: input {} ({}) does not require grad", i, inputs[i].str());
    sink.targets.emplace(inputs[i].impl(), i);
  }
  run_backward(root, grad_root, retain_graph, sink);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!sink.captured[i].defined()) sink.captured[i] = zeros_like(inputs[i]);
  return sink.captured;
}

}  // namespace fg::autograd
