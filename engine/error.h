// engine/error.h: the one exception type of fusegrad and the checks that throw it.
//
// FG_CHECK(cond, "format {}", args...) throws fg::Error whose what() starts with the
// source file and line, then the formatted text; message() is the text alone. User-facing
// messages name the op, flag, file or field and say what was expected. The example
// programs print message() (examples/common/cli.h) and what(), with the source location,
// only under --debug.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace fg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg), message_(msg) {}
  explicit Error(const char* msg) : Error(std::string(msg)) {}
  // what() is "<location>: <msg>", message() is msg.
  Error(const std::string& location, const std::string& msg)
      : std::runtime_error(location + ": " + msg), message_(msg) {}
  // The message without the source location (what the example programs show a user).
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(fmt::format("{}:{}", file, line), msg);
}

}  // namespace fg

#define FG_CHECK(cond, ...)                                                       \
  do {                                                                            \
    if (!(cond)) ::fg::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define FG_FAIL(...) ::fg::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
