// tests/support/gradcheck.cpp: see gradcheck.h.
#include "support/gradcheck.h"

#include <fmt/format.h>

#include <cmath>

#include "engine/autograd.h"

namespace fg::testing {

Tensor rand_input(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  Generator gen(seed);
  Tensor t = rand(shape, gen, f64_opts(), lo, hi);
  t.requires_grad_(true);
  return t;
}

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  GradcheckResult res;
  for (const Tensor& t : inputs) {
    if (!t.defined() || !t.requires_grad()) continue;
    if (t.dtype() != DType::f64 || !t.device().is_cpu()) {
      res.ok = false;
      res.report = "gradcheck needs CPU float64 inputs, got " + t.str();
      return res;
    }
  }
  // analytic: d/dx sum(out * R)
  for (const Tensor& t : inputs)
    if (t.defined()) t.zero_grad();
  const Tensor out = f(inputs);
  Generator gen(opts.seed);
  const Tensor R = randn(out.shape(), gen, f64_opts());
  const Tensor loss = sum(mul(out, R));
  if (!loss.requires_grad()) {
    res.ok = false;
    res.report = "the function's output does not depend on any input that requires grad";
    return res;
  }
  loss.backward();

  auto eval = [&]() {
    NoGradGuard ng;
    return sum(mul(f(inputs), R)).item();
  };

  double worst_excess = -INFINITY;
  std::string worst;
  int failures = 0;
  std::string fail_lines;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    const Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* xs = x.data<double>();
    for (std::int64_t j = 0; j < x.numel(); ++j) {
      const double orig = xs[j];
      xs[j] = orig + opts.eps;
      const double lp = eval();
      xs[j] = orig - opts.eps;
      const double lm = eval();
      xs[j] = orig;
      const double numeric = (lp - lm) / (2 * opts.eps);
      const double a = analytic[static_cast<std::size_t>(j)];
      const double err = std::abs(a - numeric);
      const double tol = opts.atol + opts.rtol * std::abs(numeric);
      ++res.checked;
      const std::string line =
          fmt::format("input {} element {}: analytic {:.10g} numeric {:.10g} |diff| {:.3g} (tolerance {:.3g})", k, j,
                      a, numeric, err, tol);
      if (!(err <= tol)) {  // NaN fails too
        res.ok = false;
        if (failures++ < 8) fail_lines += "  FAIL " + line + "\n";
      }
      if (err - tol > worst_excess || std::isnan(err)) {
        worst_excess = std::isnan(err) ? INFINITY : err - tol;
        worst = line;
        res.worst_error = err;
      }
    }
  }
  res.report = fmt::format("gradcheck: {} elements, {} failures; worst: {}\n{}", res.checked, failures, worst,
                           fail_lines);
  return res;
}

}  // namespace fg::testing
