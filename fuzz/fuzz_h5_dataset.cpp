// fuzz/fuzz_h5_dataset.cpp: libFuzzer target for fusegrad's HDF5 dataset reader
// (data/h5_dataset.h). Each input is an HDF5 file image opened from memory (HDF5's core
// driver, no temporary file). The reader must either return a dataset that validates or throw
// fg::Error; anything else (a crash, a sanitizer report, another exception type escaping, a
// hang, a huge allocation) is a bug. Built and run by tools/fuzz.sh (clang only).
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/h5_dataset.h"
#include "engine/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > (std::size_t{1} << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fg::data::H5ReadOptions options;
  options.allow_empty_splits = (data[size - 1] & 1) != 0;  // both modes, chosen by the input
  options.max_dataset_bytes = std::int64_t{1} << 26;       // 64 MiB: a fuzz input may declare terabytes
  try {
    const fg::data::H5Dataset d = fg::data::read_h5_dataset_image(bytes, "<fuzz>", options);
    for (const fg::data::MultimodalSplit* s : {&d.data.train, &d.data.valid, &d.data.test}) s->validate();
    (void)d.report.summary();
  } catch (const fg::Error&) {
    // a clear error: the expected outcome for most inputs
  }
  return 0;
}
