// data/bitmap_font.h: a 5 x 7 pixel bitmap font (in a 5 x 8 cell: one more row for the
// descenders of g, j, p, q, y), embedded in the source, for writing labels into the pictures
// that examples/digits saves as PNG (libpng draws no text). It covers printable ASCII
// (32 .. 126): digits, upper- and lower-case letters, punctuation. Glyphs are drawn from
// the top-left corner of their cell, 6 px apart (one column of spacing), scaled by an
// integer factor; any other byte is drawn as a hollow box. The glyphs are ours, in the style
// of the classic HD44780 LCD character set; data/bitmap_font.cpp holds them as '#'/'.'
// rows, readable in the source.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fg::data::font {

constexpr int kGlyphWidth = 5, kGlyphHeight = 8, kAdvance = 6;  // height: 7 + a descender row

// Row r (0 = top) of character c: bit 4 is the leftmost pixel, bit 0 the rightmost.
std::array<std::uint8_t, kGlyphHeight> glyph(char c);

// Width and height in pixels of `text` drawn at `scale` (no trailing spacing column).
std::int64_t text_width(std::string_view text, int scale = 1);
inline std::int64_t text_height(int scale = 1) { return static_cast<std::int64_t>(kGlyphHeight) * scale; }

// Draws `text` with its top-left corner at (x, y) into an interleaved image of `channels`
// bytes per pixel (1 gray, 3 RGB; `color` has that many bytes), clipped to the image.
void draw_text(std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height, int channels,
               std::int64_t x, std::int64_t y, std::string_view text, int scale, const std::uint8_t* color);

}  // namespace fg::data::font
