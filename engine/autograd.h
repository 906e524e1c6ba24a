// engine/autograd.h: define-by-run reverse-mode differentiation.
//
// Every op that may need a gradient calls autograd::record(...) after its forward
// kernel. record() builds a Node holding (a) the op's differentiable inputs, (b)
// the metadata of its outputs, and (c) a backward closure over whatever the op
// saved. Tensor::backward() then
//   1. collects the Nodes reachable from the root with an iterative depth-first
//      search (no recursion, so long unrolled sequences are fine),
//   2. visits them in reverse topological order, calling each closure with the
//      gradients of its outputs (zeros for outputs nobody used),
//   3. adds (+=) each returned input gradient into the producing Node's pending
//      gradient, or into the leaf's .grad,
//   4. frees each closure and its saved tensors once run (unless retain_graph).
// A tensor used twice therefore receives the sum of both contributions.
//
// Closures must not hold an output of their own Node as a Tensor with grad_fn
// (that would be a reference cycle): save `out.detach()` instead.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fg {

// grad_outputs[k]: dL/d(output k). needs_input_grad[i]: whether input i wants one.
// Returns one tensor per input (undefined where not needed).
using BackwardFn =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs, const std::vector<bool>& needs_input_grad)>;

struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

struct Node {
  std::string name;            // the op's name, used in error messages
  std::vector<Tensor> inputs;  // undefined where the input does not require grad
  std::vector<OutputMeta> outputs;
  BackwardFn backward;         // null once the graph has been freed
};

namespace autograd {

// Whether ops currently record graphs (thread-local; on by default).
bool grad_enabled();
void set_grad_enabled(bool on);

// True when grad mode is on and any of the tensors requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> tensors);
bool any_requires_grad(const std::vector<Tensor>& tensors);

// Attach a Node to `outputs` if grad mode is on and an input requires grad.
// Returns whether a Node was recorded.
bool record(const char* name, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, BackwardFn fn);

// Runs the reverse pass (Tensor::backward calls this).
void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

// Computes gradients of `root` w.r.t. `inputs` and returns them, without touching
// any .grad field (handy in tests and in gradient-interpretation code).
std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs, const Tensor& grad_root = Tensor(),
                         bool retain_graph = false);

}  // namespace autograd

// RAII: disables graph recording in a scope (restores the previous mode).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(autograd::grad_enabled()) { autograd::set_grad_enabled(false); }
  ~NoGradGuard() { autograd::set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace fg
