// tests/test_digits_png.cpp: the PNG writer (data/digits_png.h, through libpng).
//
// Round trips through two decoders: libpng's own (png::decode) and an independent one in
// Python (zlib + the five PNG row filters written out, checking every chunk CRC), for gray
// and RGB images of several shapes; the files are compressed (a typical digit grid is a
// small fraction of its raw size); bad sizes, bad files and unwritable paths give errors
// naming the field, the source or the path.
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

std::vector<std::uint8_t> pattern(std::int64_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  std::uint32_t s = seed;
  for (auto& x : v) x = static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
  return v;
}

// A picture like examples/digits' grids: white background, dark blobs (strokes) in tiles.
std::vector<std::uint8_t> digit_grid(std::int64_t w, std::int64_t h, int channels) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(w * h * channels), 255);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t tx = x % 88, ty = y % 88;
      const double dx = tx - 44.0, dy = ty - 44.0, r = dx * dx / 400 + dy * dy / 900;
      if (r > 0.5 && r < 1.0)
        for (int c = 0; c < channels; ++c)
          v[static_cast<std::size_t>((y * w + x) * channels + c)] = static_cast<std::uint8_t>(255 * (r - 0.5));
    }
  return v;
}

// Decodes `path` independently of libpng: Python's zlib inflates the IDAT stream and the
// script undoes the row filters (None, Sub, Up, Average, Paeth) itself; it checks the
// signature, every chunk CRC and the IHDR. Returns the pixel bytes, "" when it fails.
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
bpp = 1 if colour == 0 else 3
raw = zlib.decompress(idat)
row = w * bpp
assert len(raw) == h * (row + 1), 'size'
out, prev = bytearray(), bytearray(row)
for y in range(h):
    f = raw[y * (row + 1)]
    cur = bytearray(raw[y * (row + 1) + 1:(y + 1) * (row + 1)])
    for i in range(row):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 0: p = 0
        elif f == 1: p = a
        elif f == 2: p = b
        elif f == 3: p = (a + b) // 2
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else: raise SystemExit('filter type %d' % f)
        cur[i] = (cur[i] + p) & 0xff
    out += cur
    prev = cur
open(sys.argv[2], 'wb').write(bytes(out))
)PY";
  const std::string script_path = out + ".py";
  std::ofstream(script_path) << script;
  const std::string cmd = std::string("'") + FG_PYTHON + "' " + script_path + " " + path + " " + out;
  if (std::system(cmd.c_str()) != 0) return "";
  return testing::read_bytes(out);
}

struct Size {
  std::int64_t w, h;
  int channels;
};

}  // namespace

TEST_CASE("PNG round trip: libpng's decoder gives back every pixel, gray and RGB, any shape") {
  for (const Size& s : {Size{28, 28, 1}, Size{1, 1, 1}, Size{1, 1, 3}, Size{7, 3, 3}, Size{3, 7, 1},
                         Size{300, 300, 3}}) {
    CAPTURE(s.w);
    CAPTURE(s.h);
    CAPTURE(s.channels);
    const auto px = pattern(s.w * s.h * s.channels, static_cast<std::uint32_t>(s.w * 31 + s.h));
    const png::Image back = png::decode(png::encode(px, s.w, s.h, s.channels));
    CHECK(back.width == s.w);
    CHECK(back.height == s.h);
    CHECK(back.channels == s.channels);
    CHECK(back.pixels == px);
  }
}

TEST_CASE("PNG files decode with an independent decoder (python3 zlib + row filters) to the same pixels") {
  ScratchDir dir("png");
  // random pixels (filters rarely help) and a digit grid (libpng picks Sub/Up/Paeth rows)
  for (const Size& s : {Size{28, 28, 1}, Size{1, 1, 1}, Size{7, 3, 3}, Size{120, 90, 3}}) {
    for (bool grid : {false, true}) {
      CAPTURE(s.w);
      CAPTURE(grid);
      const auto px =
          grid ? digit_grid(s.w, s.h, s.channels) : pattern(s.w * s.h * s.channels, static_cast<std::uint32_t>(s.w));
      const std::string path = dir.file("x.png");
      png::write(path, px, s.w, s.h, s.channels);
      const std::string back = decode_with_python(path, dir.file("x.raw"));
      REQUIRE_MESSAGE(!back.empty(), "python3 (" << FG_PYTHON << ") could not decode " << path);
      CHECK(back == std::string(px.begin(), px.end()));
    }
  }
}

TEST_CASE("PNG files are compressed: a digit grid takes a small fraction of its raw size") {
  // the size of examples/digits' image grid (10 x 4 tiles of 84 px, RGB)
  const std::int64_t w = 884, h = 380;
  const auto px = digit_grid(w, h, 3);
  const std::string f = png::encode(px, w, h, 3);
  MESSAGE("digit grid " << w << " x " << h << " RGB: " << px.size() << " bytes raw, " << f.size() << " as PNG");
  CHECK(f.size() * 10 < px.size());
  CHECK(png::decode(f).pixels == px);
  // random bytes do not compress, but stay within deflate's stored-block overhead
  const auto noise = pattern(100 * 100, 7);
  CHECK(png::encode(noise, 100, 100, 1).size() < noise.size() + 100 + 200);
}

TEST_CASE("PNG writer: bad sizes, bad files and unwritable paths give errors naming the field, source or path") {
  CHECK_THROWS_WITH_AS(png::encode({1, 2, 3}, 2, 2, 1), doctest::Contains("pixels holds 3 bytes, expected width 2"),
                       Error);
  CHECK_THROWS_WITH_AS(png::encode({1, 2}, 1, 1, 2), doctest::Contains("channels must be 1 (gray) or 3 (RGB)"), Error);
  CHECK_THROWS_WITH_AS(png::encode({}, 0, 1, 1), doctest::Contains("width and height must be in [1, 2^24]"), Error);
  CHECK_THROWS_WITH_AS(png::decode("not a png", "notes.txt"), doctest::Contains("png::decode: notes.txt is not a PNG"),
                       Error);
  std::string cut = png::encode(pattern(64 * 64, 3), 64, 64, 1);
  cut.resize(cut.size() / 2);
  CHECK_THROWS_WITH_AS(png::decode(cut, "cut.png"), doctest::Contains("cut.png"), Error);
  ScratchDir dir("png-bad");
  CHECK_THROWS_WITH_AS(png::write(dir.file("no/such/dir/x.png"), {0}, 1, 1, 1),
                       doctest::Contains("png::write: the folder"), Error);
}
