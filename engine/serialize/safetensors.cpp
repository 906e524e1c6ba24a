// engine/serialize/safetensors.cpp: see safetensors.h for the format.
#include "engine/serialize/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "engine/io/output_file.h"

namespace fg {

namespace {

using json = nlohmann::json;

const char* st_dtype(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
  }
  return "?";
}

// IEEE half -> float
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FFu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(std::uint16_t h) {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, deterministic files
    FG_CHECK(name != "__metadata__", "save_safetensors('{}'): a tensor may not be named __metadata__", path);
    FG_CHECK(t.defined(), "save_safetensors('{}'): tensor '{}' is undefined", path, name);
    const Tensor host = t.detach().to(Device::cpu());
    const std::size_t nbytes = static_cast<std::size_t>(host.numel()) * dtype_size(host.dtype());
    header[name] = {{"dtype", st_dtype(host.dtype())},
                    {"shape", host.shape()},
                    {"data_offsets", {data.size(), data.size() + nbytes}}};
    data.append(static_cast<const char*>(host.data_ptr()), nbytes);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data to 8 bytes
  std::string bytes(8, '\0');
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  bytes += h;
  bytes += data;
  fg::io::write_output(path, bytes, "save_safetensors");
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  FG_CHECK(bytes.size() >= 8, "'{}' is not a safetensors file: {} bytes, shorter than the 8-byte header size", source,
           bytes.size());
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  FG_CHECK(n <= bytes.size() - 8, "'{}': header size {} exceeds the file size {}", source, n, bytes.size());
  FG_CHECK(n <= 100'000'000, "'{}': header size {} is implausibly large (limit 100 MB)", source, n);
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    FG_FAIL("'{}': the header is not valid JSON: {}", source, e.what());
  }
  FG_CHECK(header.is_object(), "'{}': the header must be a JSON object", source);
  const std::size_t data_start = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = bytes.size() - data_start;

  SafetensorsFile out;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      FG_CHECK(entry.is_object(), "'{}': __metadata__ must be an object of strings", source);
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        FG_CHECK(m.value().is_string(), "'{}': __metadata__ entry '{}' is not a string", source, m.key());
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    FG_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
             "'{}': tensor '{}' needs the fields dtype, shape and data_offsets", source, name);
    FG_CHECK(entry["dtype"].is_string(), "'{}': tensor '{}': dtype must be a string", source, name);
    const std::string dt = entry["dtype"].get<std::string>();
    FG_CHECK(entry["shape"].is_array(), "'{}': tensor '{}': shape must be an array", source, name);
    Shape shape;
    std::uint64_t numel = 1;
    for (const json& d : entry["shape"]) {
      FG_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<std::int64_t>() >= 0),
               "'{}': tensor '{}': shape entries must be non-negative integers", source, name);
      const auto v = d.get<std::uint64_t>();
      FG_CHECK(v < (1ull << 40) && (v == 0 || numel <= (1ull << 40) / v), "'{}': tensor '{}': shape too large", source,
               name);
      shape.push_back(static_cast<std::int64_t>(v));
      numel *= v;
    }
    const json& offs = entry["data_offsets"];
    FG_CHECK(offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned(),
             "'{}': tensor '{}': data_offsets must be two non-negative integers", source, name);
    const auto begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
    FG_CHECK(begin <= end && end <= data_size, "'{}': tensor '{}': data_offsets [{}, {}] outside the {} data bytes",
             source, name, begin, end, data_size);
    std::size_t elem = 0;
    if (dt == "F32" || dt == "I32") elem = 4;
    else if (dt == "F64" || dt == "I64") elem = 8;
    else if (dt == "F16" || dt == "BF16") elem = 2;
    else FG_FAIL("'{}': tensor '{}' has dtype {}: supported are F32, F64, I64, I32, F16, BF16", source, name, dt);
    FG_CHECK(end - begin == numel * elem, "'{}': tensor '{}': {} bytes for shape {} of {} ({} expected)", source, name,
             end - begin, shape_str(shape), dt, numel * elem);
    ranges.emplace_back(begin, end);

    const char* src = bytes.data() + data_start + begin;
    Tensor t;
    if (dt == "F32" || dt == "F64" || dt == "I64") {
      t = empty(shape, TensorOptions{dt == "F32" ? DType::f32 : (dt == "F64" ? DType::f64 : DType::i64)});
      if (numel) std::memcpy(t.data_ptr(), src, end - begin);
    } else if (dt == "I32") {
      t = empty(shape, TensorOptions{DType::i64});
      auto* o = t.data<std::int64_t>();
      for (std::uint64_t i = 0; i < numel; ++i) {
        std::int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        o[i] = v;
      }
    } else {
      t = empty(shape, TensorOptions{DType::f32});
      auto* o = t.data<float>();
      for (std::uint64_t i = 0; i < numel; ++i) {
        std::uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        o[i] = dt == "F16" ? half_to_float(v) : bf16_to_float(v);
      }
    }
    out.tensors.emplace(name, t);
  }
  // the spec requires the tensors to tile the data without overlaps
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    FG_CHECK(ranges[i].first >= ranges[i - 1].second, "'{}': two tensors overlap in the data section", source);
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FG_CHECK(in.good(), "cannot open safetensors file '{}'", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_safetensors(ss.str(), path);
}

}  // namespace fg
