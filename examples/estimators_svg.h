// examples/estimators_svg.h: the line plot of examples/estimators (MI estimates against rho),
// header-only so that tests/test_estimators_svg.cpp can check what it draws.
//
// What it guarantees (the test pins each):
//   - the x axis covers every rho of the sweep, negative ones included (--rhos accepts
//     (-1, 1)); points are drawn in order of rho, whatever the order of the sweep;
//   - tick values are "nice" (1, 2 or 5 times a power of ten) and each label prints its value
//     exactly, with as many decimals as the step needs, so no two labels read the same;
//   - series flagged `right_axis` (the Wasserstein dependency score, which is not an MI
//     value) get their own y axis on the right, titled with the series' unit; the left axis
//     is in nats;
//   - non-finite values are left out (the line breaks there) instead of drawn at 0.
// Tick labels carry class="xtick", "ytick" or "ytick2" so that a test can read them back.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace fg::examples {

// Ticks k * step for k in [first, last]; lo = first * step, hi = last * step cover the data.
struct NiceTicks {
  double step = 1;
  std::int64_t first = 0, last = 1;
  int decimals = 0;  // digits after the point that print every tick exactly
  double lo() const { return static_cast<double>(first) * step; }
  double hi() const { return static_cast<double>(last) * step; }
  std::vector<double> values() const {
    std::vector<double> v;
    for (std::int64_t k = first; k <= last; ++k) v.push_back(static_cast<double>(k) * step);
    return v;
  }
  std::string label(double v) const {
    std::string s = fmt::format("{:.{}f}", v, decimals);
    if (s.find_first_not_of("-0.") == std::string::npos) s = decimals > 0 ? fmt::format("{:.{}f}", 0.0, decimals) : "0";
    return s;  // "-0.0" never appears
  }
};

// Ticks over [lo, hi] with a step of 1, 2 or 5 x 10^e and about `target` intervals (at most
// 2 x target). An empty or degenerate range is widened around its value.
inline NiceTicks nice_ticks(double lo, double hi, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = std::abs(lo) > 1e-9 ? 0.5 * std::abs(lo) : 1.0;
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  int e = static_cast<int>(std::floor(std::log10(raw)));
  double best = 0;
  int best_e = e;
  for (int ee : {e, e + 1})
    for (double m : {1.0, 2.0, 5.0}) {
      const double s = m * std::pow(10.0, ee);
      if (s >= raw * (1 - 1e-9) && (best == 0 || s < best)) best = s, best_e = ee;
    }
  NiceTicks t;
  t.step = best;
  t.decimals = std::max(0, -best_e);
  // k * step with a tolerance, so that 0.3 / 0.1 = 2.9999999999999996 still gives k = 3
  t.first = static_cast<std::int64_t>(std::floor(lo / best + 1e-9));
  t.last = static_cast<std::int64_t>(std::ceil(hi / best - 1e-9));
  if (t.last == t.first) ++t.last;
  return t;
}

struct PlotSeries {
  std::string name;   // legend text
  std::string color;  // SVG colour
  std::vector<double> y;
  bool dashed = false;
  bool right_axis = false;  // drawn against the right-hand y axis
};

struct PlotLayout {
  std::string title;
  std::string x_title = "rho";
  std::string y_title = "nats";
  std::string y2_title;  // the right axis' title; the axis is drawn when a series uses it
  bool x_include_zero = true;
  bool y_include_zero = true;
};

// One x vector, series over it; returns the whole SVG document.
inline std::string svg_line_plot(const std::vector<double>& xs, const std::vector<PlotSeries>& series,
                                 const PlotLayout& layout) {
  const double w = 790, h = 440, left = 64, right = 320, top = 34, bottom = 52;  // plot area 406 x 354
  const double plot_w = w - left - right, plot_h = h - top - bottom;
  auto range_of = [&](bool right_side, bool x_axis, bool include_zero) {
    double lo = include_zero ? 0.0 : INFINITY, hi = include_zero ? 0.0 : -INFINITY;
    auto take = [&](double v) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    };
    if (x_axis) {
      for (double x : xs) take(x);
    } else {
      for (const auto& s : series)
        if (s.right_axis == right_side)
          for (std::size_t i = 0; i < s.y.size() && i < xs.size(); ++i)
            if (std::isfinite(xs[i])) take(s.y[i]);
    }
    return nice_ticks(lo, hi, x_axis ? 8 : 5);
  };
  const bool has_right =
      std::any_of(series.begin(), series.end(), [](const PlotSeries& s) { return s.right_axis; });
  const NiceTicks tx = range_of(false, true, layout.x_include_zero);
  const NiceTicks ty = range_of(false, false, layout.y_include_zero);
  const NiceTicks ty2 = range_of(true, false, layout.y_include_zero);
  auto px = [&](double x) { return left + (x - tx.lo()) / (tx.hi() - tx.lo()) * plot_w; };
  auto py_of = [&](const NiceTicks& t) {
    return [&, t](double y) { return top + plot_h - (y - t.lo()) / (t.hi() - t.lo()) * plot_h; };
  };
  const auto py = py_of(ty), py2 = py_of(ty2);

  std::ostringstream s;
  s << fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" )"
                   R"(font-size="12">)",
                   w, h)
    << "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << fmt::format(R"(<text x="{}" y="20" font-size="14">{}</text>)", left, layout.title) << "\n";
  // grid (left axis), then axes
  for (double y : ty.values())
    s << fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" stroke="#ddd"/>)", left, py(y), left + plot_w)
      << "\n";
  for (double x : tx.values())
    s << fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#eee"/>)", px(x), top, top + plot_h)
      << "\n";
  s << fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>)", left, top, plot_w,
                   plot_h)
    << "\n";
  if (tx.lo() < 0 && tx.hi() > 0)  // rho = 0
    s << fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#999"/>)", px(0), top, top + plot_h)
      << "\n";
  for (double x : tx.values())
    s << fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="black"/>)", px(x), top + plot_h,
                     top + plot_h + 4)
      << fmt::format(R"(<text class="xtick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", px(x),
                     top + plot_h + 18, tx.label(x))
      << "\n";
  for (double y : ty.values())
    s << fmt::format(R"(<text class="ytick" x="{}" y="{:.1f}" text-anchor="end">{}</text>)", left - 6, py(y) + 4,
                     ty.label(y))
      << "\n";
  s << fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", left + plot_w / 2, h - 12, layout.x_title)
    << "\n";
  s << fmt::format(R"svg(<text x="16" y="{0}" transform="rotate(-90 16 {0})" text-anchor="middle">{1}</text>)svg",
                   top + plot_h / 2, layout.y_title)
    << "\n";
  const std::string right_color = [&] {
    for (const auto& se : series)
      if (se.right_axis) return se.color;
    return std::string("black");
  }();
  if (has_right) {
    const double ax = left + plot_w;
    for (double y : ty2.values())
      s << fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" stroke="{3}"/>)", ax, py2(y), ax + 4,
                       right_color)
        << fmt::format(R"(<text class="ytick2" x="{}" y="{:.1f}" fill="{}">{}</text>)", ax + 7, py2(y) + 4,
                       right_color, ty2.label(y))
        << "\n";
    const double tx2 = ax + 46;
    s << fmt::format(R"svg(<text x="{0}" y="{1}" transform="rotate(90 {0} {1})" text-anchor="middle" fill="{2}">{3}</text>)svg",
                     tx2, top + plot_h / 2, right_color, layout.y2_title)
      << "\n";
  }
  // the series, in order of x; a non-finite value breaks the line
  std::vector<std::size_t> order(xs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return xs[a] < xs[b]; });
  for (const auto& se : series) {
    const auto& yf = se.right_axis ? py2 : py;
    std::vector<std::string> runs(1);
    for (std::size_t i : order) {
      if (i >= se.y.size() || !std::isfinite(se.y[i]) || !std::isfinite(xs[i])) {
        if (!runs.back().empty()) runs.emplace_back();
        continue;
      }
      runs.back() += fmt::format("{:.1f},{:.1f} ", px(xs[i]), yf(se.y[i]));
      s << fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", px(xs[i]), yf(se.y[i]), se.color)
        << "\n";
    }
    for (const auto& r : runs)
      if (!r.empty())
        s << fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>)", se.color,
                         se.dashed ? R"( stroke-dasharray="6,4")" : "", r)
          << "\n";
  }
  // legend, right of the right axis
  const double lx = left + plot_w + 70;
  for (std::size_t e = 0; e < series.size(); ++e) {
    const double ly = top + 10 + 20 * static_cast<double>(e);
    s << fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>)", lx, ly, lx + 20, ly,
                     series[e].color, series[e].dashed ? R"( stroke-dasharray="6,4")" : "")
      << fmt::format(R"(<text x="{}" y="{}">{}{}</text>)", lx + 26, ly + 4, series[e].name,
                     series[e].right_axis ? " (right axis)" : "")
      << "\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace fg::examples
