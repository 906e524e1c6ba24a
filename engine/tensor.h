// engine/tensor.h: the Tensor handle, its storage, and the factories.
//
// A Tensor is a shared handle to a TensorImpl: a dense row-major block of one
// dtype on one device, described by (storage, offset, shape). Every tensor is
// contiguous; reshape and leading-axis slices share the storage (free), while
// transpose, permute and other slices copy. That keeps every kernel a plain loop
// over dense memory.
//
// Autograd state lives on the impl: `requires_grad` marks a leaf that wants a
// gradient, `grad_fn` (with `output_nr`) points to the Node that produced a
// non-leaf result, and `grad` accumulates gradients with += (engine/autograd.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"
#include "kernels/types.h"

namespace fg {

using Shape = std::vector<std::int64_t>;

std::string shape_str(const Shape& s);
std::int64_t shape_numel(const Shape& s);

// A block of device memory, freed when the last tensor that views it goes away.
struct Storage {
  Storage(Device device, std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;
  std::size_t nbytes = 0;
  Device device;
};

struct Node;
struct TensorImpl;

struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  bool requires_grad = false;

  TensorOptions& with_dtype(DType d) { dtype = d; return *this; }
  TensorOptions& with_device(Device d) { device = d; return *this; }
  TensorOptions& with_requires_grad(bool r = true) { requires_grad = r; return *this; }
};

inline TensorOptions f32_opts(Device d = Device::cpu()) { return TensorOptions{DType::f32, d, false}; }
inline TensorOptions f64_opts(Device d = Device::cpu()) { return TensorOptions{DType::f64, d, false}; }

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- metadata ---
  const Shape& shape() const;
  std::int64_t dim() const;
  // Size along `axis`; negative axes count from the end.
  std::int64_t size(std::int64_t axis) const;
  std::int64_t numel() const;
  DType dtype() const;
  Device device() const;
  TensorOptions options() const;  // dtype and device (requires_grad = false)
  std::string str() const;         // e.g. "float32[4, 3] on cpu"; "an undefined tensor"

  // --- data ---
  // Pointer to the first element (device memory for CUDA tensors).
  void* data_ptr() const;
  // Typed host pointer; checks that the tensor is on the CPU with dtype T.
  template <class T>
  T* data() const;
  // Host copy of all elements converted to T (works for any device and dtype).
  template <class T>
  std::vector<T> to_vector() const;
  // The single element (numel must be 1) as a double.
  double item() const;

  // --- conversion (differentiable where it makes sense) ---
  Tensor to(Device d) const;
  Tensor to(DType d) const;
  Tensor clone() const;
  // Same storage, no graph: the result never requires grad.
  Tensor detach() const;

  // --- autograd ---
  bool requires_grad() const;  // a leaf that wants a gradient, or a result of such
  bool is_leaf() const;
  // Marks a leaf as wanting a gradient. Throws for non-leaves and integer tensors.
  Tensor& requires_grad_(bool on = true);
  // Accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops the gradient
  // Reverse-mode pass from this tensor. `grad` defaults to 1 for one-element tensors.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::f32;

  bool requires_grad = false;  // leaf flag
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  int output_nr = 0;              // which output of grad_fn this is
};

// --- factories (never part of a graph; use requires_grad in the options for leaves) ---
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor scalar_tensor(double value, TensorOptions opts = {});
// 0, 1, ..., n-1
Tensor arange(std::int64_t n, TensorOptions opts = {});
// Copies host values (converted to opts.dtype); values.size() must equal the shape's numel.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions opts = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape, TensorOptions opts = {});
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape, TensorOptions opts = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

// A tensor sharing t's storage with a new shape and element offset (no checks on
// autograd: this is the raw building block of reshape and leading-axis slices).
Tensor alias_with_shape(const Tensor& t, const Shape& shape, std::int64_t extra_offset = 0);

// Normalizes a possibly negative axis against rank `ndim`; throws naming `op`.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* op);

}  // namespace fg
