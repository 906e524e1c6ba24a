// data/h5_util.h: the small part of the HDF5 C API that fusegrad's readers and writers use
// (data/h5_dataset.*, data/csd.*), wrapped so that every failure is an fg::Error naming
// the file, the HDF5 path and what was expected, and every handle is closed by RAII.
//
// Internal to data/ (and its tests): not a general HDF5 binding.
//
// Rules that matter for untrusted files (the fuzzers feed these functions garbage):
//   - HDF5's own error printing is switched off; its error stack is folded into our message.
//   - Every read checks the rank and the type class first and refuses a dataset whose
//     element count times element size exceeds a caller-given byte limit (a ten-byte
//     file can declare a [2^40] dataset filled with its fill value).
//   - Variable-length strings are reclaimed; a NULL string reads as "".
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fg::data::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Turns HDF5's automatic error printing off for the whole process (idempotent).
void silence_hdf5_errors();
// The descriptions on HDF5's current error stack, innermost first ("" when empty).
std::string error_stack();

// Opening files. `what` names the file in messages (a path, or "<memory:fuzz>").
Handle open_file_readonly(const std::string& path);
Handle open_file_image(const std::string& bytes, const std::string& what);
Handle create_file(const std::string& path);  // truncates

enum class Kind { missing, group, dataset, other };
// What `path` (relative to `loc`, components separated by '/') is. Each component is
// checked in turn, so a missing parent gives `missing`, not an HDF5 error.
Kind kind_of(hid_t loc, const std::string& path);

// Context for error messages: "file 'x.h5': <path>".
struct Where {
  std::string file;
  std::string path;  // absolute HDF5 path of the object the message is about
  std::string str() const;
  Where child(const std::string& name) const;
};

Handle open_group(hid_t loc, const std::string& name, const Where& where);      // throws if not a group
Handle open_dataset(hid_t loc, const std::string& name, const Where& where);    // throws if not a dataset
// Names of a group's links, in name order.
std::vector<std::string> child_names(hid_t group, const Where& where);

// Shape of a dataset (a scalar dataspace has rank 0). Throws on a null dataspace.
std::vector<std::int64_t> shape_of(hid_t dataset, const Where& where);
// Element count of `shape`, checked against `max_bytes` / `elem_size`; throws on overflow.
std::int64_t checked_numel(const std::vector<std::int64_t>& shape, std::size_t elem_size, std::int64_t max_bytes,
                           const Where& where);
H5T_class_t type_class(hid_t dataset, const Where& where);

// Reads a whole numeric (integer or float class) dataset converted to the given type.
std::vector<float> read_floats(hid_t dataset, const Where& where, std::int64_t max_bytes);
std::vector<double> read_doubles(hid_t dataset, const Where& where, std::int64_t max_bytes);
std::vector<std::int64_t> read_int64s(hid_t dataset, const Where& where, std::int64_t max_bytes);
// Reads a whole numeric dataset as float32 into `out`, which holds exactly `numel` values
// (the caller checked the shape).
void read_floats_into(hid_t dataset, float* out, std::int64_t numel, const Where& where);
// Reads rows [row, row + count) of a numeric dataset of rank >= 1 (a hyperslab) as floats.
std::vector<float> read_float_rows(hid_t dataset, std::int64_t row, std::int64_t count, const Where& where,
                                   std::int64_t max_bytes);
// Reads a string dataset (fixed or variable length, any rank: flattened).
std::vector<std::string> read_strings(hid_t dataset, const Where& where, std::int64_t max_bytes);

// Attributes (on a file, group or dataset).
bool has_attribute(hid_t obj, const std::string& name);
std::string read_string_attribute(hid_t obj, const std::string& name, const Where& where);
std::vector<std::string> read_string_array_attribute(hid_t obj, const std::string& name, const Where& where);
std::int64_t read_int_attribute(hid_t obj, const std::string& name, const Where& where);

// Writing (our own files only; errors name the path).
Handle create_group(hid_t loc, const std::string& name, const Where& where);
void write_string_attribute(hid_t obj, const std::string& name, const std::string& value, const Where& where);
void write_string_array_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values,
                                  const Where& where);
void write_int_attribute(hid_t obj, const std::string& name, std::int64_t value, const Where& where);
// Writes a float32 dataset; compression_level 1..9 chunks it (about 1 MiB per chunk along
// the first axis) and deflates it, 0 stores it contiguous.
void write_floats(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape, const float* data,
                  int compression_level, const Where& where);
void write_doubles(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape, const double* data,
                   const Where& where);
void write_int64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape,
                  const std::int64_t* data, const Where& where);
// Variable-length UTF-8 strings, 1-D.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, const Where& where);

}  // namespace fg::data::h5
