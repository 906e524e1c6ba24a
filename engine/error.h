// engine/error.h: the one exception type of fusegrad and the checks that throw it.
//
// FG_CHECK(cond, "format {}", args...) throws fg::Error whose message starts with
// the source file and line, then the formatted text. User-facing messages name the
// op, flag, file or field and say what was expected.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace fg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(fmt::format("{}:{}: {}", file, line, msg));
}

}  // namespace fg

#define FG_CHECK(cond, ...)                                                       \
  do {                                                                            \
    if (!(cond)) ::fg::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define FG_FAIL(...) ::fg::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
