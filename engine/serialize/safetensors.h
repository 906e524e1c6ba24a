// engine/serialize/safetensors.h: read and write the safetensors format, so weights move
// to and from PyTorch / Hugging Face by parameter name.
//
// Layout (https://github.com/huggingface/safetensors):
//   8 bytes   N, little-endian uint64: size of the JSON header
//   N bytes   JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]}, ...}; offsets are relative to the byte after the header
//   rest      the tensors' bytes, little-endian, row-major, packed without holes
// We write F32, F64 and I64 and read those plus F16, BF16 (to float32) and I32 (to int64).
// Files are written with fg::io::write_output (engine/io/output_file.h): atomically (a
// temporary file in the same folder, fsync'ed, renamed over the target, so a crash never
// leaves half a checkpoint), through symbolic links, and directly into devices and FIFOs.
#pragma once

#include <map>
#include <string>

#include "engine/tensor.h"

namespace fg {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;          // CPU tensors, by name
  std::map<std::string, std::string> metadata;    // the "__metadata__" entries
};

// Throws fg::Error naming the path (and the tensor or field) on any problem.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);

// Parses an in-memory file image (what load_safetensors does after reading the file);
// `source` names it in error messages. Used by the fuzzer and the tests.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source);

}  // namespace fg
