#include "data/reviews.h"

#include <cstdlib>
#include <filesystem>

namespace fg::data {

namespace {
std::string cache_subdir(const char* name) {
  if (const char* env = std::getenv("FUSEGRAD_DATA"); env != nullptr && env[0] != '\0')
    return (std::filesystem::path(env) / name).string();
  // This file is data/reviews.cpp in the source tree (CMake compiles it by absolute path).
  const std::filesystem::path here(__FILE__);
  if (here.is_absolute()) return (here.parent_path().parent_path() / "data" / "cache" / name).string();
  return std::string("data/cache/") + name;
}
}  // namespace

std::string reviews_cache_dir() { return cache_subdir("reviews"); }
std::string text_sources_dir() { return cache_subdir("text-sources"); }
std::string reviews_corpus_file(bool unaligned) {
  return (std::filesystem::path(reviews_cache_dir()) / (unaligned ? "reviews_unaligned.h5" : "reviews.h5")).string();
}

}  // namespace fg::data
