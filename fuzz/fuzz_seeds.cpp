// fuzz/fuzz_seeds.cpp: writes the seed corpora of the fuzzers (tools/fuzz.sh calls it):
//   <out>/h5_dataset/  valid fusegrad dataset files (aligned regression; unaligned multi-label
//                      with missing modalities and raw text), uncompressed and deflated
//   <out>/csd/         valid .csd files in the SDK's layout (numeric features, words, metadata)
// Valid files give the fuzzer a start deep inside the readers; it mutates from there.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/h5_dataset.h"
#include "data/h5_util.h"
#include "engine/error.h"
#include "support/data_fixtures.h"

namespace {

using namespace fg::data;

void write_csd(const std::string& path, bool words) {
  h5::Handle f = h5::create_file(path);
  const h5::Where w{path, "/"};
  const std::string root = words ? "words" : "COVAREP";
  h5::Handle r = h5::create_group(f.get(), root, w);
  h5::Handle d = h5::create_group(r.get(), "data", w);
  for (int v = 0; v < 2; ++v) {
    h5::Handle g = h5::create_group(d.get(), "vid" + std::to_string(v), w);
    const std::int64_t rows = 3 + v;
    std::vector<double> iv;
    for (std::int64_t k = 0; k < rows; ++k) iv.push_back(0.5 * k), iv.push_back(0.5 * k + 0.5);
    h5::write_doubles(g.get(), "intervals", {rows, 2}, iv.data(), w);
    if (words) {
      std::vector<std::string> ws;
      for (std::int64_t k = 0; k < rows; ++k) ws.push_back(k == 1 ? "sp" : "w" + std::to_string(k));
      h5::write_strings(g.get(), "features", ws, w);
    } else {
      std::vector<float> x;
      for (std::int64_t k = 0; k < rows * 2; ++k) x.push_back(static_cast<float>(k) - 1.5f);
      h5::write_floats(g.get(), "features", {rows, 2}, x.data(), 0, w);
    }
  }
  h5::Handle m = h5::create_group(r.get(), "metadata", w);
  h5::write_strings(m.get(), "root name", {"\"" + root + "\""}, w);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  try {
    std::filesystem::create_directories(out + "/h5_dataset");
    std::filesystem::create_directories(out + "/csd");
    const H5WriteOptions raw{.compression_level = 0, .source = "fuzz seed"};
    const H5WriteOptions deflated{.compression_level = 4, .source = "fuzz seed"};
    write_h5_dataset(out + "/h5_dataset/aligned.h5", fg::testing::toy_aligned_dataset(), raw);
    write_h5_dataset(out + "/h5_dataset/unaligned.h5", fg::testing::toy_unaligned_dataset(), raw);
    write_h5_dataset(out + "/h5_dataset/aligned_deflate.h5", fg::testing::toy_aligned_dataset(), deflated);
    write_csd(out + "/csd/features.csd", false);
    write_csd(out + "/csd/words.csd", true);
  } catch (const fg::Error& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
