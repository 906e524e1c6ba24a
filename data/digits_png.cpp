// data/digits_png.cpp: the minimal PNG writer (format notes in data/digits_png.h).
#include "data/digits_png.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace fg::data::png {

namespace {

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[n] = c;
  }
  return t;
}

void put_be32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_be32(out, crc32(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
}

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t adler32(const std::uint8_t* data, std::size_t n, std::uint32_t adler) {
  std::uint32_t a = adler & 0xffff, b = adler >> 16;
  for (std::size_t i = 0; i < n; ++i) {
    a = (a + data[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

std::string encode(const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height, int channels) {
  FG_CHECK(channels == 1 || channels == 3, "png::encode: channels must be 1 (gray) or 3 (RGB), got {}", channels);
  FG_CHECK(width >= 1 && height >= 1 && width <= (1 << 24) && height <= (1 << 24),
           "png::encode: width and height must be in [1, 2^24], got {} x {}", width, height);
  FG_CHECK(static_cast<std::int64_t>(pixels.size()) == width * height * channels,
           "png::encode: pixels holds {} bytes, expected width {} x height {} x channels {} = {}", pixels.size(), width,
           height, channels, width * height * channels);
  // Raw scanlines, each with filter byte 0.
  const std::int64_t row = width * channels;
  std::string raw;
  raw.reserve(static_cast<std::size_t>(height * (row + 1)));
  for (std::int64_t y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(pixels.data() + y * row), static_cast<std::size_t>(row));
  }
  // zlib stream of stored deflate blocks.
  std::string z = {'\x78', '\x01'};
  std::size_t at = 0;
  do {
    const std::size_t len = std::min<std::size_t>(65535, raw.size() - at);
    const bool last = at + len == raw.size();
    z.push_back(last ? '\x01' : '\x00');
    z.push_back(static_cast<char>(len & 0xff));
    z.push_back(static_cast<char>(len >> 8));
    z.push_back(static_cast<char>(~len & 0xff));
    z.push_back(static_cast<char>((~len >> 8) & 0xff));
    z.append(raw, at, len);
    at += len;
  } while (at < raw.size());
  put_be32(z, adler32(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));

  std::string ihdr;
  put_be32(ihdr, static_cast<std::uint32_t>(width));
  put_be32(ihdr, static_cast<std::uint32_t>(height));
  ihdr += {'\x08', channels == 1 ? '\x00' : '\x02', '\x00', '\x00', '\x00'};
  std::string out = "\x89PNG\r\n\x1a\n";
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

void write(const std::string& path, const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height,
           int channels) {
  const std::string bytes = encode(pixels, width, height, channels);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    FG_CHECK(out.good(), "png::write: cannot open '{}' for writing", tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      FG_FAIL("png::write: writing '{}' failed", tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    FG_FAIL("png::write: cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  }
}

}  // namespace fg::data::png
