// data/digits_png.h: PNG files for the digit pictures (examples/digits), through libpng
// (Debian libpng-dev): 8-bit grayscale or RGB, non-interlaced, deflate level 9 with libpng's
// adaptive row filters, so a mostly-white grid of digits compresses to a small fraction of
// its raw size. decode() reads any 8-bit gray or RGB PNG back (libpng's simplified API), for
// tests and tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fg::data::png {

struct Image {
  std::int64_t width = 0, height = 0;
  int channels = 0;                  // 1 (gray) or 3 (RGB)
  std::vector<std::uint8_t> pixels;  // row-major, interleaved; width * height * channels bytes
};

// channels: 1 (gray) or 3 (RGB, interleaved). pixels.size() == width * height * channels.
// Throws naming the field on bad sizes, and with libpng's message if libpng fails.
std::string encode(const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height, int channels);
// encode() then write to `path` with fg::io::write_output (engine/io/output_file.h: a
// temporary file beside it renamed over it; links followed, devices and FIFOs written). Throws
// naming the path.
void write(const std::string& path, const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height,
           int channels);
// The PNG file's bytes back to pixels: gray (and gray + alpha, alpha dropped) as 1 channel,
// anything else as 3 (RGB). Throws with libpng's message on a damaged or non-PNG file; `what`
// names the source in the message.
Image decode(const std::string& bytes, const std::string& what = "PNG data");

}  // namespace fg::data::png
