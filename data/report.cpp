// data/report.cpp: counted warnings of the data readers (data/report.h).
#include "data/report.h"

#include <fmt/format.h>

namespace fg::data {

void LoadReport::add(const std::string& kind, const std::string& location, std::int64_t count,
                     const std::string& detail) {
  if (count <= 0) return;
  warnings_.push_back({kind, location, count, detail});
}

void LoadReport::merge(const LoadReport& other) {
  warnings_.insert(warnings_.end(), other.warnings_.begin(), other.warnings_.end());
}

std::int64_t LoadReport::count(const std::string& kind) const {
  std::int64_t total = 0;
  for (const LoadWarning& w : warnings_)
    if (w.kind == kind) total += w.count;
  return total;
}

std::string LoadReport::summary() const {
  std::string out;
  for (const LoadWarning& w : warnings_)
    out += fmt::format("warning [{}] {}: {} (count {})\n", w.kind, w.location, w.detail, w.count);
  return out;
}

}  // namespace fg::data
