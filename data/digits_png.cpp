// data/digits_png.cpp: PNG encoding and decoding through libpng (notes in data/digits_png.h).
#include "data/digits_png.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/io/output_file.h"

namespace fg::data::png {

namespace {

// libpng reports errors through a callback that must not return: it keeps the message and
// longjmps back to the setjmp in encode_raw(). Nothing with a destructor lives between the
// setjmp and a libpng call, so the jump skips no C++ clean-up.
struct Sink {
  std::string* out;
  char message[256];
};

void on_error(png_structp png_ptr, png_const_charp msg) {
  auto* sink = static_cast<Sink*>(png_get_error_ptr(png_ptr));
  std::snprintf(sink->message, sizeof sink->message, "%s", msg ? msg : "unknown error");
  png_longjmp(png_ptr, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_write(png_structp png_ptr, png_bytep data, png_size_t n) {
  auto* sink = static_cast<Sink*>(png_get_io_ptr(png_ptr));
  sink->out->append(reinterpret_cast<const char*>(data), n);
}

void on_flush(png_structp) {}

// Returns true on success; on failure sink.message holds libpng's reason.
bool encode_raw(Sink& sink, png_bytep* rows, png_uint_32 width, png_uint_32 height, int color_type) {
  png_structp png_ptr = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
  if (!png_ptr) {
    std::snprintf(sink.message, sizeof sink.message, "png_create_write_struct failed");
    return false;
  }
  png_infop info = png_create_info_struct(png_ptr);
  if (!info) {
    png_destroy_write_struct(&png_ptr, nullptr);
    std::snprintf(sink.message, sizeof sink.message, "png_create_info_struct failed");
    return false;
  }
  if (setjmp(png_jmpbuf(png_ptr))) {
    png_destroy_write_struct(&png_ptr, &info);
    return false;
  }
  png_set_write_fn(png_ptr, &sink, on_write, on_flush);
  png_set_IHDR(png_ptr, info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png_ptr, 9);
  png_set_filter(png_ptr, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);  // adaptive: the best filter per row
  png_set_rows(png_ptr, info, rows);
  png_write_png(png_ptr, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png_ptr, &info);
  return true;
}

}  // namespace

std::string encode(const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height, int channels) {
  FG_CHECK(channels == 1 || channels == 3, "png::encode: channels must be 1 (gray) or 3 (RGB), got {}", channels);
  FG_CHECK(width >= 1 && height >= 1 && width <= (1 << 24) && height <= (1 << 24),
           "png::encode: width and height must be in [1, 2^24], got {} x {}", width, height);
  FG_CHECK(static_cast<std::int64_t>(pixels.size()) == width * height * channels,
           "png::encode: pixels holds {} bytes, expected width {} x height {} x channels {} = {}", pixels.size(), width,
           height, channels, width * height * channels);
  std::vector<png_bytep> rows(static_cast<std::size_t>(height));
  for (std::int64_t y = 0; y < height; ++y)
    rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(pixels.data() + y * width * channels);
  std::string out;
  Sink sink{&out, {}};
  const bool ok = encode_raw(sink, rows.data(), static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
                             channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB);
  FG_CHECK(ok, "png::encode: libpng failed on a {} x {} image: {}", width, height, sink.message);
  return out;
}

void write(const std::string& path, const std::vector<std::uint8_t>& pixels, std::int64_t width, std::int64_t height,
           int channels) {
  fg::io::write_output(path, encode(pixels, width, height, channels), "png::write");
}

Image decode(const std::string& bytes, const std::string& what) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  FG_CHECK(png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()) != 0, "png::decode: {} is not a PNG: {}",
           what, img.message);
  const bool gray = (img.format & PNG_FORMAT_FLAG_COLOR) == 0;
  img.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  Image out;
  out.width = img.width;
  out.height = img.height;
  out.channels = gray ? 1 : 3;
  out.pixels.resize(PNG_IMAGE_SIZE(img));
  if (png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr) == 0) {
    const std::string msg = img.message;
    png_image_free(&img);
    FG_FAIL("png::decode: cannot read {}: {}", what, msg);
  }
  return out;
}

}  // namespace fg::data::png
