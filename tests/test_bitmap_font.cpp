// tests/test_bitmap_font.cpp: the 5 x 7 (+ descender row) label font (data/bitmap_font.h) that examples/digits
// writes into its PNG pictures: every printable ASCII character has its own non-empty glyph
// within 5 x 8; text is placed, scaled and clipped as documented.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "data/bitmap_font.h"
#include "engine/error.h"

namespace font = fg::data::font;

TEST_CASE("font: every printable ASCII character has a distinct glyph; space is blank; others a box") {
  std::set<std::array<std::uint8_t, font::kGlyphHeight>> seen;
  for (int c = 33; c <= 126; ++c) {
    CAPTURE(static_cast<char>(c));
    const auto g = font::glyph(static_cast<char>(c));
    int on = 0;
    for (auto row : g) {
      CHECK(row < 32);  // 5 columns
      on += __builtin_popcount(row);
    }
    CHECK(on > 0);
    CHECK(seen.insert(g).second);
  }
  for (auto row : font::glyph(' ')) CHECK(row == 0);
  const auto box = font::glyph('\n');
  CHECK(box[0] == 0x1f);
  CHECK(box[3] == 0x11);
  CHECK(font::glyph('\xe9') == box);
  // a few glyphs by eye: '1' and 'L'
  CHECK(font::glyph('1') == std::array<std::uint8_t, 8>{0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0});
  CHECK(font::glyph('L') == std::array<std::uint8_t, 8>{0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0});
  // descenders reach the eighth row
  for (char c : std::string("gjpqy,;")) CHECK(font::glyph(c)[7] != 0);
}

TEST_CASE("font: draw_text places scaled glyphs 6 px apart and clips at the edges") {
  const std::int64_t w = 40, h = 20;
  std::vector<std::uint8_t> img(static_cast<std::size_t>(w * h * 3), 255);
  const std::uint8_t red[3] = {200, 0, 0};
  font::draw_text(img, w, h, 3, 1, 2, "LI", 2, red);
  auto at = [&](std::int64_t x, std::int64_t y) { return img[static_cast<std::size_t>((y * w + x) * 3)]; };
  // 'L' at scale 2: its left column is x = 1..2, rows y = 2..15; its bottom row y = 14..15
  CHECK(at(1, 2) == 200);
  CHECK(at(2, 15) == 200);
  CHECK(at(3, 2) == 255);
  CHECK(at(9, 15) == 200);   // bottom row, fifth column (x = 1 + 8 .. 1 + 9)
  CHECK(at(11, 15) == 255);  // the spacing column
  // 'I' starts 12 px later: its top bar is columns 1..3 of the glyph
  CHECK(at(13 + 2, 2) == 200);
  CHECK(img[static_cast<std::size_t>((2 * w + 1) * 3 + 1)] == 0);  // green channel of a red pixel
  CHECK(font::text_width("LI", 2) == (2 * 6 - 1) * 2);
  CHECK(font::text_width("", 3) == 0);
  CHECK(font::text_height(2) == 16);
  // clipped, not written out of bounds
  font::draw_text(img, w, h, 3, -4, -3, "WWWWWWWWWW", 3, red);
  font::draw_text(img, w, h, 3, w - 2, h - 2, "8", 1, red);
  std::vector<std::uint8_t> gray(static_cast<std::size_t>(w * h), 0);
  const std::uint8_t white = 255;
  font::draw_text(gray, w, h, 1, 0, 0, "1", 1, &white);
  CHECK(gray[2] == 255);
  CHECK_THROWS_AS(font::draw_text(gray, w, h, 3, 0, 0, "1", 1, red), fg::Error);
}
