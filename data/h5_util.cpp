// data/h5_util.cpp: checked HDF5 helpers (data/h5_util.h).
#include "data/h5_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>

#include "engine/error.h"

namespace fg::data::h5 {

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_ != nullptr) close_(id_);
  id_ = -1;
}

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {

herr_t collect_error(unsigned, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (out->size() > 600) return 0;
  std::string line = err->desc != nullptr && err->desc[0] != '\0' ? err->desc : "";
  if (err->func_name != nullptr) line = std::string(err->func_name) + (line.empty() ? "" : ": " + line);
  if (!line.empty()) *out += (out->empty() ? "" : "; ") + line;
  return 0;
}

// Appends " (HDF5: ...)" when the library left something on its error stack, then clears it.
std::string hdf5_detail() {
  const std::string s = error_stack();
  H5Eclear2(H5E_DEFAULT);
  return s.empty() ? "" : " (HDF5: " + s + ")";
}

// ---- A guard against a libhdf5 1.10 hang (found by fuzz/fuzz_h5_dataset).
//
// Variable-length strings live in "global heap collections" (signature "GCOL"). libhdf5
// 1.10.8 parses a collection object by object, stepping by each object's declared size; a
// free-space object (index 0) that declares size 0 makes it loop forever, and an object that
// declares more bytes than its collection holds makes it step or read out of bounds. The
// library cannot be fixed from here, so every collection of a file is walked first, the way
// HDF5 walks it, and a file with such a collection is refused with a clear error.
//
//   superblock   "\211HDF\r\n\032\n" at offset 0, 512, 1024, ...; the size of lengths L is
//                the byte at +14 (superblock versions 0, 1) or +10 (versions 2, 3)
//   collection   "GCOL", version 1, 3 reserved bytes, collection size (L bytes); objects start
//                at align8(8 + L)
//   object       index (2), reference count (2), reserved (4), size (L), then the data,
//                padded to 8: it takes align8(8 + L) + align8(size) bytes; index 0 (free space)
//                takes `size` bytes, header included
constexpr std::uint64_t kMaxHeapScanBytes = std::uint64_t{4} << 30;  // larger files: not scanned

std::uint64_t align8(std::uint64_t v) { return (v + 7) & ~std::uint64_t{7}; }

std::uint64_t read_le(const unsigned char* p, unsigned n) {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// The size of lengths of the file's superblock, or 0 if none is found (HDF5 will refuse it).
unsigned length_size(const unsigned char* data, std::uint64_t size) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (std::uint64_t at = 0; at + 16 <= size; at = at == 0 ? 512 : at * 2) {
    if (std::memcmp(data + at, sig, 8) != 0) continue;
    const unsigned version = data[at + 8];
    const unsigned len = version <= 1 ? data[at + 14] : data[at + 10];
    return len == 2 || len == 4 || len == 8 ? len : 0;
  }
  return 0;
}

// "" when every global heap collection is sound, else what is wrong with the first bad one.
std::string check_global_heaps(const unsigned char* data, std::uint64_t size) {
  const unsigned len = length_size(data, size);
  if (len == 0) return "";
  const std::uint64_t hdr = align8(8 + len), obj_hdr = align8(8 + len);
  const unsigned char* p = data;
  const unsigned char* const end = data + size;
  while ((p = static_cast<const unsigned char*>(std::memchr(p, 'G', static_cast<std::size_t>(end - p)))) != nullptr) {
    const std::uint64_t at = static_cast<std::uint64_t>(p - data);
    ++p;
    if (at + 8 + len > size || std::memcmp(data + at, "GCOL", 4) != 0 || data[at + 4] != 1) continue;
    const std::uint64_t csize = read_le(data + at + 8, len);
    if (csize < hdr || csize > size - at) continue;  // HDF5 cannot load it at all: it fails cleanly
    std::uint64_t off = hdr;
    while (off < csize) {
      if (off + obj_hdr > csize) break;  // a tail too small for an object: free space
      const unsigned char* o = data + at + off;
      const std::uint64_t index = read_le(o, 2), obj_size = read_le(o + 8, len);
      const std::uint64_t left = csize - off;
      if (obj_size > left)
        return "a global heap collection (variable-length strings) at byte " + std::to_string(at) + " has object " +
               std::to_string(index) + " of " + std::to_string(obj_size) + " bytes where only " +
               std::to_string(left) + " remain";
      const std::uint64_t need = index > 0 ? obj_hdr + align8(obj_size) : obj_size;
      if (need == 0)
        return "a global heap collection (variable-length strings) at byte " + std::to_string(at) +
               " has a free-space object of size 0 (libhdf5 would loop forever on it)";
      if (need > left)
        return "a global heap collection (variable-length strings) at byte " + std::to_string(at) + " has object " +
               std::to_string(index) + " running past the collection's end";
      off += need;
    }
  }
  return "";
}

}  // namespace

std::string error_stack() {
  std::string out;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &out);
  return out;
}

std::string Where::str() const { return "file '" + file + "': " + (path.empty() ? "/" : path); }

Where Where::child(const std::string& name) const {
  return {file, (path.empty() || path == "/" ? "" : path) + "/" + name};
}

Handle open_file_readonly(const std::string& path) {
  silence_hdf5_errors();
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  FG_CHECK(is_h5 >= 0, "file '{}': cannot be opened (missing or unreadable){}", path, hdf5_detail());
  FG_CHECK(is_h5 > 0, "file '{}': is not an HDF5 file (no HDF5 signature found)", path);
  {  // the global-heap guard (above), on a read-only mapping of the file
    const int fd = ::open(path.c_str(), O_RDONLY);
    FG_CHECK(fd >= 0, "file '{}': cannot be opened for reading", path);
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) == 0 && st.st_size > 0 && static_cast<std::uint64_t>(st.st_size) <= kMaxHeapScanBytes) {
      const auto n = static_cast<std::size_t>(st.st_size);
      void* map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map != MAP_FAILED) {
        problem = check_global_heaps(static_cast<const unsigned char*>(map), n);
        ::munmap(map, n);
      }
    }
    ::close(fd);
    FG_CHECK(problem.empty(), "file '{}': damaged HDF5 file: {}", path, problem);
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  FG_CHECK(f >= 0, "file '{}': HDF5 could not open it{}", path, hdf5_detail());
  return Handle(f, H5Fclose);
}

Handle open_file_image(const std::string& bytes, const std::string& what) {
  silence_hdf5_errors();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  FG_CHECK(fapl.valid(), "file '{}': cannot create an HDF5 property list{}", what, hdf5_detail());
  FG_CHECK(H5Pset_fapl_core(fapl.get(), 1 << 16, 0) >= 0, "file '{}': cannot select the HDF5 core driver{}", what,
           hdf5_detail());
  FG_CHECK(!bytes.empty(), "file '{}': empty file image", what);
  const std::string problem =
      check_global_heaps(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  FG_CHECK(problem.empty(), "file '{}': damaged HDF5 file: {}", what, problem);
  // HDF5 copies the image (no H5LT flags), so `bytes` may go away after the open.
  FG_CHECK(H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) >= 0,
           "file '{}': cannot set the HDF5 file image{}", what, hdf5_detail());
  const hid_t f = H5Fopen(what.c_str(), H5F_ACC_RDONLY, fapl.get());
  FG_CHECK(f >= 0, "file '{}': HDF5 could not open the image{}", what, hdf5_detail());
  return Handle(f, H5Fclose);
}

Handle create_file(const std::string& path) {
  silence_hdf5_errors();
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  FG_CHECK(f >= 0, "file '{}': cannot create it for writing{}", path, hdf5_detail());
  return Handle(f, H5Fclose);
}

Kind kind_of(hid_t loc, const std::string& path) {
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      const htri_t e = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
      if (e <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return Kind::missing;
      }
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (prefix.empty()) return Kind::missing;
  const hid_t obj = H5Oopen(loc, prefix.c_str(), H5P_DEFAULT);
  if (obj < 0) {  // a dangling soft or external link
    H5Eclear2(H5E_DEFAULT);
    return Kind::missing;
  }
  const H5I_type_t t = H5Iget_type(obj);
  H5Oclose(obj);
  return t == H5I_GROUP ? Kind::group : t == H5I_DATASET ? Kind::dataset : Kind::other;
}

Handle open_group(hid_t loc, const std::string& name, const Where& where) {
  const Kind k = kind_of(loc, name);
  FG_CHECK(k != Kind::missing, "{}: missing group (expected a group here)", where.str());
  FG_CHECK(k == Kind::group, "{}: expected a group, found a {}", where.str(), k == Kind::dataset ? "dataset" : "non-group object");
  const hid_t g = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  FG_CHECK(g >= 0, "{}: cannot open the group{}", where.str(), hdf5_detail());
  return Handle(g, H5Gclose);
}

Handle open_dataset(hid_t loc, const std::string& name, const Where& where) {
  const Kind k = kind_of(loc, name);
  FG_CHECK(k != Kind::missing, "{}: missing dataset", where.str());
  FG_CHECK(k == Kind::dataset, "{}: expected a dataset, found a {}", where.str(), k == Kind::group ? "group" : "non-dataset object");
  const hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  FG_CHECK(d >= 0, "{}: cannot open the dataset{}", where.str(), hdf5_detail());
  return Handle(d, H5Dclose);
}

std::vector<std::string> child_names(hid_t group, const Where& where) {
  H5G_info_t info;
  FG_CHECK(H5Gget_info(group, &info) >= 0, "{}: cannot list the group{}", where.str(), hdf5_detail());
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    FG_CHECK(len >= 0, "{}: cannot read the name of link {}{}", where.str(), i, hdf5_detail());
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    FG_CHECK(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) >= 0,
             "{}: cannot read the name of link {}{}", where.str(), i, hdf5_detail());
    name.resize(static_cast<std::size_t>(len));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::int64_t> shape_of(hid_t dataset, const Where& where) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  FG_CHECK(space.valid(), "{}: cannot read the dataspace{}", where.str(), hdf5_detail());
  const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
  FG_CHECK(cls == H5S_SIMPLE || cls == H5S_SCALAR, "{}: has a null or unknown dataspace (no data)", where.str());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  FG_CHECK(rank >= 0 && rank <= 32, "{}: bad rank {}{}", where.str(), rank, hdf5_detail());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  FG_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) >= 0, "{}: cannot read the dimensions{}",
           where.str(), hdf5_detail());
  std::vector<std::int64_t> out;
  for (hsize_t d : dims) {
    FG_CHECK(d <= static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max() / 2), "{}: dimension {} is too large",
             where.str(), d);
    out.push_back(static_cast<std::int64_t>(d));
  }
  return out;
}

std::int64_t checked_numel(const std::vector<std::int64_t>& shape, std::size_t elem_size, std::int64_t max_bytes,
                           const Where& where) {
  std::int64_t n = 1;
  const std::int64_t limit = max_bytes / static_cast<std::int64_t>(std::max<std::size_t>(elem_size, 1));
  for (std::int64_t d : shape) {
    if (d == 0) return 0;
    FG_CHECK(n <= limit / d, "{}: declares more data than the reader's limit of {} bytes (shape rank {}, first dims {})",
             where.str(), max_bytes, shape.size(), shape.empty() ? 0 : shape[0]);
    n *= d;
  }
  return n;
}

H5T_class_t type_class(hid_t dataset, const Where& where) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  FG_CHECK(type.valid(), "{}: cannot read the datatype{}", where.str(), hdf5_detail());
  return H5Tget_class(type.get());
}

namespace {

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    default: return "unknown";
  }
}

// Checks that a dataset holds plain numbers (integer or float class, 1 to 8 bytes each) and
// returns the size of one stored element. HDF5 sizes its conversion buffers by the STORED
// element size, which a damaged file can set to gigabytes: refused here, before any read.
std::size_t checked_numeric_type(hid_t dataset, const Where& where) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  FG_CHECK(type.valid(), "{}: cannot read the datatype{}", where.str(), hdf5_detail());
  const H5T_class_t c = H5Tget_class(type.get());
  FG_CHECK(c == H5T_INTEGER || c == H5T_FLOAT, "{}: expected a numeric dataset, found type class '{}'", where.str(),
           class_name(c));
  const std::size_t size = H5Tget_size(type.get());
  FG_CHECK(size >= 1 && size <= 8, "{}: numbers of {} bytes each are not supported (expected 1 to 8 bytes)",
           where.str(), size);
  return size;
}

template <class T>
std::vector<T> read_numeric(hid_t dataset, hid_t mem_type, const Where& where, std::int64_t max_bytes) {
  const std::size_t stored = checked_numeric_type(dataset, where);
  const auto shape = shape_of(dataset, where);
  const std::int64_t n = checked_numel(shape, std::max(sizeof(T), stored), max_bytes, where);
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n == 0) return out;
  FG_CHECK(H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0, "{}: cannot read the data{}",
           where.str(), hdf5_detail());
  return out;
}

}  // namespace

std::vector<float> read_floats(hid_t dataset, const Where& where, std::int64_t max_bytes) {
  return read_numeric<float>(dataset, H5T_NATIVE_FLOAT, where, max_bytes);
}
std::vector<double> read_doubles(hid_t dataset, const Where& where, std::int64_t max_bytes) {
  return read_numeric<double>(dataset, H5T_NATIVE_DOUBLE, where, max_bytes);
}
std::vector<std::int64_t> read_int64s(hid_t dataset, const Where& where, std::int64_t max_bytes) {
  const H5T_class_t c = type_class(dataset, where);
  FG_CHECK(c == H5T_INTEGER, "{}: expected an integer dataset, found type class '{}'", where.str(), class_name(c));
  return read_numeric<std::int64_t>(dataset, H5T_NATIVE_INT64, where, max_bytes);
}

void read_floats_into(hid_t dataset, float* out, std::int64_t numel, const Where& where) {
  checked_numeric_type(dataset, where);
  std::int64_t have = 1;
  for (std::int64_t d : shape_of(dataset, where)) have *= d;
  FG_CHECK(have == numel, "{}: holds {} values, expected {}", where.str(), have, numel);
  if (numel == 0) return;
  FG_CHECK(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0, "{}: cannot read the data{}",
           where.str(), hdf5_detail());
}

std::vector<float> read_float_rows(hid_t dataset, std::int64_t row, std::int64_t count, const Where& where,
                                   std::int64_t max_bytes) {
  const std::size_t stored = checked_numeric_type(dataset, where);
  auto shape = shape_of(dataset, where);
  FG_CHECK(!shape.empty(), "{}: expected a dataset of rank >= 1, found a scalar", where.str());
  FG_CHECK(row >= 0 && count >= 0 && row <= shape[0] - count, "{}: rows [{}, {}) are outside its {} rows", where.str(),
           row, row + count, shape[0]);
  shape[0] = count;
  const std::int64_t n = checked_numel(shape, std::max(sizeof(float), stored), max_bytes, where);
  std::vector<float> out(static_cast<std::size_t>(n));
  if (n == 0) return out;
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  std::vector<hsize_t> start(shape.size(), 0), cnt(shape.begin(), shape.end());
  start[0] = static_cast<hsize_t>(row);
  FG_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr) >= 0,
           "{}: cannot select rows{}", where.str(), hdf5_detail());
  Handle mem_space(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), H5Sclose);
  FG_CHECK(H5Dread(dataset, H5T_NATIVE_FLOAT, mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()) >= 0,
           "{}: cannot read rows [{}, {}){}", where.str(), row, row + count, hdf5_detail());
  return out;
}

namespace {

// Reads n strings of the file type `ftype` through `reader(mem_type, buffer)` (a dataset or
// an attribute read), fixed or variable length.
template <class ReadFn>
std::vector<std::string> read_string_values(hid_t ftype, std::int64_t n, const Where& where, std::int64_t max_bytes,
                                            ReadFn reader) {
  std::vector<std::string> out;
  if (n == 0) return out;
  const htri_t variable = H5Tis_variable_str(ftype);
  FG_CHECK(variable >= 0, "{}: cannot inspect the string type{}", where.str(), hdf5_detail());
  if (variable > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(ftype) == H5T_CSET_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    if (reader(mem.get(), ptrs.data()) < 0) {
      // HDF5 may have converted some strings before it failed: they are ours to free
      for (char* p : ptrs) H5free_memory(p);
      FG_FAIL("{}: cannot read the strings{}", where.str(), hdf5_detail());
    }
    for (char* p : ptrs) {
      out.emplace_back(p != nullptr ? p : "");
      H5free_memory(p);
    }
    return out;
  }
  const std::size_t size = H5Tget_size(ftype);
  FG_CHECK(size > 0 && size <= (1u << 20), "{}: fixed-length strings of {} bytes are not supported", where.str(), size);
  FG_CHECK(static_cast<std::uint64_t>(n) <= static_cast<std::uint64_t>(max_bytes) / size,
           "{}: {} fixed-length strings of {} bytes exceed the reader's limit of {} bytes", where.str(), n, size,
           max_bytes);
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  std::vector<char> buf(static_cast<std::size_t>(n) * size, '\0');
  FG_CHECK(reader(mem.get(), buf.data()) >= 0, "{}: cannot read the strings{}", where.str(), hdf5_detail());
  for (std::int64_t i = 0; i < n; ++i) {
    const char* b = buf.data() + static_cast<std::size_t>(i) * size;
    std::size_t len = 0;
    while (len < size && b[len] != '\0') ++len;
    while (len > 0 && b[len - 1] == ' ') --len;  // space-padded strings (H5T_STR_SPACEPAD)
    out.emplace_back(b, len);
  }
  return out;
}

}  // namespace

std::vector<std::string> read_strings(hid_t dataset, const Where& where, std::int64_t max_bytes) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  FG_CHECK(type.valid(), "{}: cannot read the datatype{}", where.str(), hdf5_detail());
  const H5T_class_t c = H5Tget_class(type.get());
  FG_CHECK(c == H5T_STRING, "{}: expected a string dataset, found type class '{}'", where.str(), class_name(c));
  const auto shape = shape_of(dataset, where);
  const std::int64_t n = checked_numel(shape, 64, max_bytes, where);
  return read_string_values(type.get(), n, where, max_bytes, [&](hid_t mem, void* buf) {
    return H5Dread(dataset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
}

bool has_attribute(hid_t obj, const std::string& name) {
  const htri_t e = H5Aexists(obj, name.c_str());
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}

namespace {

struct AttrInfo {
  Handle attr, type;
  std::int64_t n = 0;
  H5T_class_t cls = H5T_NO_CLASS;
};

AttrInfo open_attribute(hid_t obj, const std::string& name, const Where& where) {
  FG_CHECK(has_attribute(obj, name), "{}: missing attribute '{}'", where.str(), name);
  AttrInfo a;
  a.attr = Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  FG_CHECK(a.attr.valid(), "{}: cannot open attribute '{}'{}", where.str(), name, hdf5_detail());
  a.type = Handle(H5Aget_type(a.attr.get()), H5Tclose);
  FG_CHECK(a.type.valid(), "{}: cannot read the type of attribute '{}'{}", where.str(), name, hdf5_detail());
  a.cls = H5Tget_class(a.type.get());
  Handle space(H5Aget_space(a.attr.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  FG_CHECK(n >= 0 && n <= (1 << 20), "{}: attribute '{}' has a bad size{}", where.str(), name, hdf5_detail());
  a.n = static_cast<std::int64_t>(n);
  return a;
}

}  // namespace

std::vector<std::string> read_string_array_attribute(hid_t obj, const std::string& name, const Where& where) {
  AttrInfo a = open_attribute(obj, name, where);
  FG_CHECK(a.cls == H5T_STRING, "{}: attribute '{}' must be a string (array), found type class '{}'", where.str(), name,
           class_name(a.cls));
  const hid_t attr = a.attr.get();
  return read_string_values(a.type.get(), a.n, where, std::int64_t{1} << 24,
                            [&](hid_t mem, void* buf) { return H5Aread(attr, mem, buf); });
}

std::string read_string_attribute(hid_t obj, const std::string& name, const Where& where) {
  const auto v = read_string_array_attribute(obj, name, where);
  FG_CHECK(v.size() == 1, "{}: attribute '{}' must hold one string, holds {}", where.str(), name, v.size());
  return v[0];
}

std::int64_t read_int_attribute(hid_t obj, const std::string& name, const Where& where) {
  AttrInfo a = open_attribute(obj, name, where);
  FG_CHECK(a.cls == H5T_INTEGER, "{}: attribute '{}' must be an integer, found type class '{}'", where.str(), name,
           class_name(a.cls));
  FG_CHECK(a.n == 1, "{}: attribute '{}' must hold one integer, holds {}", where.str(), name, a.n);
  std::int64_t v = 0;
  FG_CHECK(H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v) >= 0, "{}: cannot read attribute '{}'{}", where.str(), name,
           hdf5_detail());
  return v;
}

Handle create_group(hid_t loc, const std::string& name, const Where& where) {
  const hid_t g = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  FG_CHECK(g >= 0, "{}: cannot create the group{}", where.str(), hdf5_detail());
  return Handle(g, H5Gclose);
}

namespace {

Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

void write_attribute(hid_t obj, const std::string& name, hid_t type, hid_t space, const void* data,
                     const Where& where) {
  if (has_attribute(obj, name)) H5Adelete(obj, name.c_str());
  Handle attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  FG_CHECK(attr.valid(), "{}: cannot create attribute '{}'{}", where.str(), name, hdf5_detail());
  FG_CHECK(H5Awrite(attr.get(), type, data) >= 0, "{}: cannot write attribute '{}'{}", where.str(), name,
           hdf5_detail());
}

Handle simple_space(const std::vector<std::int64_t>& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
}

}  // namespace

void write_string_attribute(hid_t obj, const std::string& name, const std::string& value, const Where& where) {
  Handle type = vlen_string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attribute(obj, name, type.get(), space.get(), &p, where);
}

void write_string_array_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values,
                                  const Where& where) {
  Handle type = vlen_string_type();
  Handle space = simple_space({static_cast<std::int64_t>(values.size())});
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_attribute(obj, name, type.get(), space.get(), ptrs.data(), where);
}

void write_int_attribute(hid_t obj, const std::string& name, std::int64_t value, const Where& where) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attribute(obj, name, H5T_NATIVE_INT64, space.get(), &value, where);
}

namespace {

void write_numeric(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape, hid_t file_type,
                   hid_t mem_type, std::size_t elem, const void* data, int compression_level, const Where& where) {
  Handle space = simple_space(shape);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  std::int64_t numel = 1;
  for (std::int64_t d : shape) numel *= d;
  if (compression_level > 0 && !shape.empty() && numel > 0) {
    std::int64_t row = static_cast<std::int64_t>(elem);
    for (std::size_t i = 1; i < shape.size(); ++i) row *= shape[i];
    const std::int64_t rows = std::clamp<std::int64_t>((std::int64_t{1} << 20) / std::max<std::int64_t>(row, 1), 1,
                                                       shape[0]);
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    chunk[0] = static_cast<hsize_t>(rows);
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(std::min(compression_level, 9)));
  }
  Handle d(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  FG_CHECK(d.valid(), "{}: cannot create the dataset{}", where.str(), hdf5_detail());
  if (numel > 0)
    FG_CHECK(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, "{}: cannot write the data{}",
             where.str(), hdf5_detail());
}

}  // namespace

void write_floats(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape, const float* data,
                  int compression_level, const Where& where) {
  write_numeric(loc, name, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), data, compression_level, where);
}

void write_doubles(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape, const double* data,
                   const Where& where) {
  write_numeric(loc, name, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), data, 0, where);
}

void write_int64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape,
                  const std::int64_t* data, const Where& where) {
  write_numeric(loc, name, shape, H5T_STD_I64LE, H5T_NATIVE_INT64, sizeof(std::int64_t), data, 0, where);
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, const Where& where) {
  Handle type = vlen_string_type();
  Handle space = simple_space({static_cast<std::int64_t>(values.size())});
  Handle d(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  FG_CHECK(d.valid(), "{}: cannot create the dataset{}", where.str(), hdf5_detail());
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!values.empty())
    FG_CHECK(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0,
             "{}: cannot write the strings{}", where.str(), hdf5_detail());
}

}  // namespace fg::data::h5
