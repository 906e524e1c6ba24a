// kernels/cpu/optim.cpp: CPU reference for the fused optimizer kernels of kernels/optim.h
// (Adam/AdamW step, global gradient norm, clipping). Plain loops; every intermediate is
// a double, whatever the tensors' dtype.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/optim.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

void adam_step(DType dt, bool decoupled_weight_decay, bool amsgrad, const AdamParamRef* params, std::int64_t count) {
  for (std::int64_t t = 0; t < count; ++t) {
    const AdamParamRef& r = params[t];
    if (r.step < 1) throw std::invalid_argument("adam_step: step must be >= 1");
    if (amsgrad && r.max_exp_avg_sq == nullptr && r.numel > 0)
      throw std::invalid_argument("adam_step: amsgrad needs max_exp_avg_sq");
  }
  // float32: the same arithmetic, vectorised and threaded (kernels/cpu/fast/)
  if (dt == DType::f32 && fast::adam_step(decoupled_weight_decay, amsgrad, params, count)) return;
  dispatch_float(dt, "adam_step", [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t t = 0; t < count; ++t) {
      const AdamParamRef& r = params[t];
      T* p = static_cast<T*>(r.param);
      const T* g = static_cast<const T*>(r.grad);
      T* m = static_cast<T*>(r.exp_avg);
      T* v = static_cast<T*>(r.exp_avg_sq);
      T* vmax = static_cast<T*>(r.max_exp_avg_sq);
      const double bias1 = 1.0 - std::pow(r.beta1, static_cast<double>(r.step));
      const double bias2_sqrt = std::sqrt(1.0 - std::pow(r.beta2, static_cast<double>(r.step)));
      const double step_size = r.lr / bias1;
      for (std::int64_t i = 0; i < r.numel; ++i) {
        double grad = g[i], param = p[i];
        if (decoupled_weight_decay) {
          param *= 1.0 - r.lr * r.weight_decay;
        } else if (r.weight_decay != 0.0) {
          grad += r.weight_decay * param;
        }
        const double mi = static_cast<double>(m[i]) + (1.0 - r.beta1) * (grad - static_cast<double>(m[i]));
        const double vi = r.beta2 * static_cast<double>(v[i]) + (1.0 - r.beta2) * grad * grad;
        double v_used = vi;
        if (amsgrad) {
          v_used = std::max(static_cast<double>(vmax[i]), vi);
          vmax[i] = static_cast<T>(v_used);
        }
        const double denom = std::sqrt(v_used) / bias2_sqrt + r.eps;
        m[i] = static_cast<T>(mi);
        v[i] = static_cast<T>(vi);
        p[i] = static_cast<T>(param - step_size * mi / denom);
      }
    }
  });
}

void grad_total_norm(DType dt, const GradRef* grads, std::int64_t count, double norm_type, void* total_norm) {
  if (!(norm_type > 0.0)) throw std::invalid_argument("grad_total_norm: norm_type must be positive (or infinity)");
  dispatch_float(dt, "grad_total_norm", [&](auto tag) {
    using T = decltype(tag);
    const bool inf_norm = std::isinf(norm_type);
    double acc = 0.0;
    bool saw_nan = false;
    for (std::int64_t t = 0; t < count; ++t) {
      const T* g = static_cast<const T*>(grads[t].grad);
      for (std::int64_t i = 0; i < grads[t].numel; ++i) {
        const double a = std::abs(static_cast<double>(g[i]));
        if (std::isnan(a)) saw_nan = true;
        if (inf_norm) {
          acc = std::max(acc, a);
        } else {
          acc += norm_type == 2.0 ? a * a : std::pow(a, norm_type);
        }
      }
    }
    double total = inf_norm ? acc : (norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type));
    if (saw_nan) total = std::numeric_limits<double>::quiet_NaN();
    *static_cast<T*>(total_norm) = static_cast<T>(total);
  });
}

void clip_grads_by_norm(DType dt, const GradRef* grads, std::int64_t count, double max_norm, const void* total_norm) {
  dispatch_float(dt, "clip_grads_by_norm", [&](auto tag) {
    using T = decltype(tag);
    double coef = max_norm / (static_cast<double>(*static_cast<const T*>(total_norm)) + 1e-6);
    if (coef > 1.0) coef = 1.0;  // a NaN coefficient stays NaN (torch.clamp keeps NaN)
    for (std::int64_t t = 0; t < count; ++t) {
      T* g = static_cast<T*>(grads[t].grad);
      for (std::int64_t i = 0; i < grads[t].numel; ++i) g[i] = static_cast<T>(static_cast<double>(g[i]) * coef);
    }
  });
}

}  // namespace fg::kernels::cpu
