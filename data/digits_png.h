// data/digits_png.h: a minimal PNG writer for the digit pictures (examples/digits), with no
// library: 8-bit grayscale or RGB, no filtering, zlib "stored" (uncompressed) blocks.
//
// A PNG file is the 8-byte signature, then chunks: length (4 bytes, big endian), type
// (4 ASCII letters), data, CRC-32 of type + data. We write IHDR (width, height, bit depth 8,
// colour type 0 gray / 2 RGB, compression 0, filter 0, interlace 0), one IDAT and IEND.
// IDAT is a zlib stream (RFC 1950): header 0x78 0x01, then deflate (RFC 1951) stored blocks
// of at most 65,535 bytes (byte BFINAL|BTYPE=00, LEN, NLEN = ~LEN, little endian, raw
// bytes), then the Adler-32 of the uncompressed data (big endian). The uncompressed data
// is each row prefixed by its filter type byte 0 (None). Files are a little larger than
// compressed PNGs (28 x 28 digits: no matter) and every viewer reads them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fg::data::png {

// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320, as PNG and zlib); chain with `crc`.
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0);
// Adler-32 (zlib); chain with `adler` (start value 1).
std::uint32_t adler32(const std::uint8_t* data, std::size_t n, std::uint32_t adler = 1);

// channels: 1 (gray) or 3 (RGB, interleaved). pixels.size() == width * height * channels.
// Throws naming the field on bad sizes.
std::string encode(const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height, int channels);
// encode() then write to `path` (temporary file, then rename). Throws naming the path.
void write(const std::string& path, const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height,
           int channels);

}  // namespace fg::data::png
