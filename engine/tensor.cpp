// engine/tensor.cpp: Tensor metadata, host access, conversions and factories.
#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/error.h"
#include "kernels/fill.h"

namespace fg {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* op) {
  const std::int64_t a = axis < 0 ? axis + ndim : axis;
  FG_CHECK(a >= 0 && a < ndim, "{}: axis {} is out of range for a tensor of rank {}", op, axis, ndim);
  return a;
}

Storage::Storage(Device d, std::size_t n) : nbytes(n), device(d) { data = device::allocate(d, n); }
Storage::~Storage() {
  try {
    device::release(device, data, nbytes);
  } catch (...) {
    // destructors must not throw; a failed release leaks rather than aborts
  }
}

// ---------------------------------------------------------------- metadata
const Shape& Tensor::shape() const {
  FG_CHECK(impl_, "shape() of an undefined tensor");
  return impl_->shape;
}
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(shape().size()); }
std::int64_t Tensor::size(std::int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }
std::int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const {
  FG_CHECK(impl_, "dtype() of an undefined tensor");
  return impl_->dtype;
}
Device Tensor::device() const {
  FG_CHECK(impl_, "device() of an undefined tensor");
  return impl_->storage->device;
}
TensorOptions Tensor::options() const { return TensorOptions{dtype(), device(), false}; }
std::string Tensor::str() const {
  if (!impl_) return "an undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype()), shape_str(shape()), device().str());
}

void* Tensor::data_ptr() const {
  FG_CHECK(impl_, "data_ptr() of an undefined tensor");
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<std::int64_t>(dtype_size(dtype()));
}

template <class T>
static constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else return DType::i64;
}

template <class T>
T* Tensor::data() const {
  FG_CHECK(device().is_cpu(), "data<T>() needs a CPU tensor, got {} (use to_vector or .to(cpu))", str());
  FG_CHECK(dtype() == dtype_of<T>(), "data<{}>() called on a {}", dtype_name(dtype_of<T>()), str());
  return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  Tensor conv = host.dtype() == dtype_of<T>() ? host : host.detach().to(dtype_of<T>());
  const T* p = conv.data<T>();
  return std::vector<T>(p, p + conv.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

double Tensor::item() const {
  FG_CHECK(numel() == 1, "item() needs a one-element tensor, got {}", str());
  return to_vector<double>()[0];
}

// ---------------------------------------------------------------- conversions
Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = empty(shape(), TensorOptions{dtype(), d, false});
  device::copy(d, out.data_ptr(), device(), data_ptr(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
  const Device src = device();
  autograd::record("to_device", {out}, {*this}, [src](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g[0].to(src)};
  });
  return out;
}

Tensor Tensor::to(DType d) const {
  if (d == dtype()) return *this;
  Tensor out = empty(shape(), TensorOptions{d, device(), false});
  FG_DISPATCH(device(), cast, dtype(), data_ptr(), d, out.data_ptr(), numel());
  const DType src = dtype();
  if (d != DType::i64 && src != DType::i64) {
    autograd::record("to_dtype", {out}, {*this}, [src](const std::vector<Tensor>& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g[0].to(src)};
    });
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), options());
  device::copy(device(), out.data_ptr(), device(), data_ptr(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
  autograd::record("clone", {out}, {*this}, [](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g[0]};
  });
  return out;
}

Tensor Tensor::detach() const {
  FG_CHECK(impl_, "detach() of an undefined tensor");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

// ---------------------------------------------------------------- autograd accessors
bool Tensor::requires_grad() const { return impl_ && (impl_->requires_grad || impl_->grad_fn != nullptr); }
bool Tensor::is_leaf() const { return impl_ && impl_->grad_fn == nullptr; }

Tensor& Tensor::requires_grad_(bool on) {
  FG_CHECK(impl_, "requires_grad_() on an undefined tensor");
  FG_CHECK(is_leaf(), "requires_grad_() can only be set on leaf tensors (this one was produced by {})",
           impl_->grad_fn->name);
  FG_CHECK(!on || dtype() != DType::i64, "requires_grad_(): integer tensors cannot require gradients ({})", str());
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  FG_CHECK(impl_, "grad() of an undefined tensor");
  return impl_->grad;
}
void Tensor::set_grad(const Tensor& g) const {
  FG_CHECK(impl_, "set_grad() on an undefined tensor");
  FG_CHECK(!g.defined() || g.shape() == shape(), "set_grad(): gradient {} does not match tensor {}", g.str(), str());
  impl_->grad = g;
}
void Tensor::zero_grad() const {
  if (impl_) impl_->grad = Tensor();
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { autograd::backward(*this, grad, retain_graph); }

// ---------------------------------------------------------------- factories
Tensor empty(const Shape& shape, TensorOptions opts) {
  for (auto d : shape) FG_CHECK(d >= 0, "cannot create a tensor of shape {}: negative size", shape_str(shape));
  FG_CHECK(!opts.requires_grad || opts.dtype != DType::i64, "integer tensors cannot require gradients");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(opts.device, static_cast<std::size_t>(shape_numel(shape)) * dtype_size(opts.dtype));
  impl->shape = shape;
  impl->dtype = opts.dtype;
  impl->requires_grad = opts.requires_grad;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  Tensor t = empty(shape, opts);
  if (value == 0.0) {
    device::zero(opts.device, t.data_ptr(), static_cast<std::size_t>(t.numel()) * dtype_size(opts.dtype));
  } else {
    FG_DISPATCH(opts.device, fill_value, opts.dtype, t.numel(), value, t.data_ptr());
  }
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(std::int64_t n, TensorOptions opts) {
  FG_CHECK(n >= 0, "arange: n must be non-negative, got {}", n);
  Tensor t = empty({n}, opts);
  FG_DISPATCH(opts.device, fill_arange, opts.dtype, n, t.data_ptr());
  return t;
}

template <class T>
static Tensor from_host(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  FG_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
           "from_vector: {} values do not fill shape {} ({} elements)", values.size(), shape_str(shape),
           shape_numel(shape));
  TensorOptions host{dtype_of<T>(), Device::cpu(), false};
  Tensor t = empty(shape, host);
  if (!values.empty()) std::memcpy(t.data_ptr(), values.data(), values.size() * sizeof(T));
  Tensor out = t.to(opts.dtype).to(opts.device);  // a fresh leaf: t needs no grad
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

Tensor from_vector(const std::vector<double>& v, const Shape& s, TensorOptions o) { return from_host(v, s, o); }
Tensor from_vector(const std::vector<float>& v, const Shape& s, TensorOptions o) { return from_host(v, s, o); }
Tensor from_vector(const std::vector<std::int64_t>& v, const Shape& s, TensorOptions o) { return from_host(v, s, o); }

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.options()); }

Tensor alias_with_shape(const Tensor& t, const Shape& shape, std::int64_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->offset = t.impl()->offset + extra_offset;
  impl->shape = shape;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

}  // namespace fg
