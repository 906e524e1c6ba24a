// tests/support/test_util.h: small helpers shared by the doctest files.
//   vals(t)           a tensor's values as doubles (any dtype, any device)
//   error_of(f)       the message of the fg::Error that f throws, "" when it throws none
//   contains(s, part) whether the text s holds part (for CHECKs on error messages)
//   max_abs_diff(a, b) max_i |a_i - b_i| over two tensors of the same element count
//                      (REQUIREs that the counts agree)
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"

namespace fg::test {

inline std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto av = vals(a), bv = vals(b);
  REQUIRE(av.size() == bv.size());
  double m = 0;
  for (std::size_t i = 0; i < av.size(); ++i) m = std::max(m, std::abs(av[i] - bv[i]));
  return m;
}

}  // namespace fg::test
