// tests/test_digits_png.cpp: the minimal PNG writer (data/digits_png.h).
//
// The checksums against their published check values; the file layout byte by byte (chunk
// lengths, CRCs, the zlib stored blocks and the Adler-32); and a decode by Python's zlib
// (an independent inflater), which must give back every pixel, for gray and RGB images and
// for an image large enough to need several stored blocks.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "data/digits_png.h"
#include "engine/error.h"
#include "support/data_fixtures.h"

using namespace fg;
namespace png = fg::data::png;
using fg::testing::ScratchDir;

namespace {

std::uint32_t be32(const std::string& b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

std::vector<std::uint8_t> pattern(std::int64_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  std::uint32_t s = seed;
  for (auto& x : v) x = static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
  return v;
}

// Decodes `path` with Python's zlib (checking every chunk CRC and the IHDR) and returns the
// raw pixel bytes; "" when python3 fails.
std::string decode_with_python(const std::string& path, const std::string& out) {
  const std::string script = R"PY(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
at, idat, ihdr, types = 8, b'', None, []
while at < len(data):
    n, = struct.unpack('>I', data[at:at + 4]); t = data[at + 4:at + 8]; body = data[at + 8:at + 8 + n]
    crc, = struct.unpack('>I', data[at + 8 + n:at + 12 + n])
    assert zlib.crc32(t + body) == crc, 'CRC of ' + t.decode()
    types.append(t)
    if t == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    if t == b'IDAT': idat += body
    at += 12 + n
assert types[0] == b'IHDR' and types[-1] == b'IEND', types
w, h, depth, colour, comp, filt, interlace = ihdr
assert depth == 8 and colour in (0, 2) and comp == 0 and filt == 0 and interlace == 0
ch = 1 if colour == 0 else 3
raw = zlib.decompress(idat)
row = w * ch
assert len(raw) == h * (row + 1), 'size'
pixels = b''
for y in range(h):
    assert raw[y * (row + 1)] == 0, 'filter type'
    pixels += raw[y * (row + 1) + 1:(y + 1) * (row + 1)]
open(sys.argv[2], 'wb').write(pixels)
)PY";
  const std::string script_path = out + ".py";
  std::ofstream(script_path) << script;
  const std::string cmd = "/usr/bin/python3 " + script_path + " " + path + " " + out;
  if (std::system(cmd.c_str()) != 0) return "";
  return testing::read_bytes(out);
}

}  // namespace

TEST_CASE("CRC-32 and Adler-32 give their published check values") {
  const std::string s = "123456789";
  CHECK(png::crc32(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == 0xCBF43926u);
  const std::string w = "Wikipedia";
  CHECK(png::adler32(reinterpret_cast<const std::uint8_t*>(w.data()), w.size()) == 0x11E60398u);
  // Chaining equals one pass.
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  CHECK(png::crc32(p + 4, 5, png::crc32(p, 4)) == 0xCBF43926u);
  CHECK(png::crc32(p, 0) == 0u);
  CHECK(png::adler32(p, 0) == 1u);
}

TEST_CASE("PNG layout: signature, IHDR, one IDAT of stored blocks with Adler-32, IEND; CRCs right") {
  const std::vector<std::uint8_t> px = {0, 64, 128, 255, 1, 2};  // 3 x 2 gray
  const std::string f = png::encode(px, 3, 2, 1);
  CHECK(f.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(be32(f, 8) == 13);
  CHECK(f.substr(12, 4) == "IHDR");
  CHECK(be32(f, 16) == 3);  // width
  CHECK(be32(f, 20) == 2);  // height
  CHECK(f[24] == 8);        // bit depth
  CHECK(f[25] == 0);        // gray
  CHECK(be32(f, 29) == png::crc32(reinterpret_cast<const std::uint8_t*>(f.data() + 12), 17));
  const std::size_t idat = 33;
  const std::uint32_t n = be32(f, idat);
  CHECK(f.substr(idat + 4, 4) == "IDAT");
  // zlib header, one final stored block of 2 x (1 + 3) bytes, Adler-32
  const std::string z = f.substr(idat + 8, n);
  CHECK(z.size() == 2 + 5 + 8 + 4);
  CHECK(static_cast<unsigned char>(z[0]) == 0x78);
  CHECK((static_cast<unsigned char>(z[0]) * 256 + static_cast<unsigned char>(z[1])) % 31 == 0);  // FCHECK
  CHECK(z[2] == 1);  // BFINAL, stored
  CHECK(z[3] == 8);
  CHECK(z[4] == 0);
  CHECK(static_cast<unsigned char>(z[5]) == 0xF7);  // NLEN = ~LEN
  CHECK(static_cast<unsigned char>(z[6]) == 0xFF);
  const std::string raw("\x00\x00\x40\x80\x00\xff\x01\x02", 8);  // filter byte 0 + each row
  CHECK(z.substr(7, 8) == raw);
  CHECK(be32(z, 15) == png::adler32(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  CHECK(be32(f, idat + 8 + n) == png::crc32(reinterpret_cast<const std::uint8_t*>(f.data() + idat + 4), n + 4));
  CHECK(f.substr(f.size() - 12) == std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12));
}

TEST_CASE("PNG files decode with an independent inflater (python3 zlib) to the same pixels") {
  ScratchDir dir("png");
  struct Shape {
    std::int64_t w, h;
    int channels;
  };
  // 300 x 300 RGB: 270,300 bytes of scanlines, five stored blocks.
  for (const Shape& s : {Shape{28, 28, 1}, Shape{1, 1, 1}, Shape{7, 3, 3}, Shape{300, 300, 3}}) {
    CAPTURE(s.w);
    const auto px = pattern(s.w * s.h * s.channels, static_cast<std::uint32_t>(s.w));
    const std::string path = dir.file("x.png");
    png::write(path, px, s.w, s.h, s.channels);
    const std::string back = decode_with_python(path, dir.file("x.raw"));
    REQUIRE_MESSAGE(!back.empty(), "python3 could not decode " << path);
    CHECK(back == std::string(px.begin(), px.end()));
  }
}

TEST_CASE("PNG writer: bad sizes and unwritable paths give errors naming the field or the path") {
  CHECK_THROWS_WITH_AS(png::encode({1, 2, 3}, 2, 2, 1), doctest::Contains("pixels holds 3 bytes, expected width 2"),
                       Error);
  CHECK_THROWS_WITH_AS(png::encode({1, 2}, 1, 1, 2), doctest::Contains("channels must be 1 (gray) or 3 (RGB)"), Error);
  CHECK_THROWS_WITH_AS(png::encode({}, 0, 1, 1), doctest::Contains("width and height must be in [1, 2^24]"), Error);
  ScratchDir dir("png-bad");
  CHECK_THROWS_WITH_AS(png::write(dir.file("no/such/dir/x.png"), {0}, 1, 1, 1),
                       doctest::Contains("no/such/dir/x.png.tmp' for writing"), Error);
}
