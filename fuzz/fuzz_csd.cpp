// fuzz/fuzz_csd.cpp: libFuzzer target for the CMU-MultimodalSDK .csd reader (data/csd.h).
// Each input is an HDF5 file image opened from memory; every entry (up to 16) is read, and
// each numeric entry's frames are averaged over a few of its own intervals with both
// weightings (the alignment arithmetic). Only fg::Error may come out. Built and run by
// tools/fuzz.sh (clang only).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/csd.h"
#include "engine/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > (std::size_t{1} << 20)) return 0;
  using namespace fg::data;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  CsdReadOptions options;
  options.max_dataset_bytes = std::int64_t{1} << 26;
  try {
    const CsdFile file = CsdFile::open_image(bytes, "<fuzz>", options);
    (void)file.metadata();
    LoadReport report;
    int entries = 0;
    for (const std::string& id : file.ids()) {
      if (++entries > 16) break;
      try {
        const CsdEntry e = file.read(id, report);
        if (e.is_text() || e.rows == 0) continue;
        std::vector<float> out(static_cast<std::size_t>(e.dim));
        for (std::int64_t r = 0; r < e.rows && r < 8; ++r)
          for (WordWeighting w : {WordWeighting::uniform, WordWeighting::overlap})
            average_over_word(e, e.intervals[2 * r], e.intervals[2 * r + 1] + 0.25, 1e-5, w, out.data());
      } catch (const fg::Error&) {
      }
    }
    (void)report.summary();
  } catch (const fg::Error&) {
  }
  return 0;
}
