// engine/io/output_file.h: the one way fusegrad writes an output file (results JSON, SVG,
// PNG, WAV, checkpoints, HDF5 datasets). Every writer of the project goes through here.
//
// What a target path means:
//   "-"                      standard output (flushed; nothing is renamed)
//   a symbolic link          followed to the real path (the link is kept, the file it points
//                            to is written, through any chain of links)
//   a regular file, or a     written atomically: a temporary file in the same folder, written,
//   new name in an existing  fsync'ed, given the old file's permissions, renamed over the
//   folder                   target, the folder fsync'ed. Readers never see half a file; a
//                            failed write leaves the old file as it was and no temporary behind.
//   a character or block     opened and written directly (no temporary, no rename): a device
//   device, a FIFO           node or a pipe is never replaced by a file
//   a folder                 refused: "<what>: '<path>' is a folder; give a file name"
//   a missing folder         refused before anything is written
//
// `what` names the flag or function in messages ("--out", "write_wav"); every error is an
// fg::Error "<what>: <path>: <what went wrong / what was expected>".
//
// check_output() does the checks without writing, so a program can refuse a bad --out
// before it trains for minutes (examples/common/cli.h calls it for every output flag).
//
// Writers that need a file name (libhdf5 writes to a path, and seeks) use TempOutputFile:
// it hands out a temporary path next to the target and renames it over the target on
// commit(); it refuses "-", devices and FIFOs up front (HDF5 cannot be streamed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fg::io {

enum class OutputKind {
  standard_output,  // "-"
  regular,          // an existing regular file or a new name: temporary file + rename
  special,          // a character/block device or a FIFO: written directly
};

// What the writer may do with the target.
enum class OutputUse {
  stream,      // bytes in memory: "-", devices and FIFOs are fine
  named_file,  // a library writes to a file name (HDF5): only a regular file will do
};

struct OutputTarget {
  std::string path;  // as given
  std::string real;  // symbolic links followed ("-" for standard output)
  OutputKind kind = OutputKind::regular;
};

// Resolves and checks `path` for writing without touching it. Throws fg::Error naming
// `what` and the path: empty path, folder, missing or unwritable folder, a target that is
// neither a regular file nor a device/FIFO (a socket), a symbolic-link loop, and for
// OutputUse::named_file anything but a regular file.
OutputTarget check_output(const std::string& path, const std::string& what, OutputUse use = OutputUse::stream);

// One file to write: its path, its bytes and the flag or function naming it in messages.
struct Output {
  std::string path;
  std::string bytes;
  std::string what;
};

// check_output() for each of several outputs (each with its own `what`), and refuses two
// that resolve to the same file (through links too): "--svg: 'a' is the same file as --json".
std::vector<OutputTarget> check_outputs(const std::vector<Output>& outputs);

// Writes `bytes` to `path` as described above.
void write_output(const std::string& path, std::string_view bytes, const std::string& what);

// Writes several files all or nothing as far as the file system allows: every regular
// target is first written to its temporary file and fsync'ed; only when all of them
// succeeded are devices/FIFOs/standard output written and the temporaries renamed. A
// failure before the renames leaves every regular target as it was. Two outputs that
// resolve to the same file are refused.
void write_outputs(const std::vector<Output>& outputs);

// A temporary file name next to a regular target, for libraries that write to a path.
//
//   fg::io::TempOutputFile out(path, "write_h5_dataset");
//   write_with_hdf5(out.temp_path());
//   out.commit();  // fsync, permissions, rename over the real target, fsync the folder
//
// The destructor removes the temporary file unless commit() succeeded.
class TempOutputFile {
 public:
  TempOutputFile(const std::string& path, const std::string& what);
  ~TempOutputFile();
  TempOutputFile(const TempOutputFile&) = delete;
  TempOutputFile& operator=(const TempOutputFile&) = delete;

  const std::string& temp_path() const { return temp_; }
  const OutputTarget& target() const { return target_; }
  void commit();

 private:
  OutputTarget target_;
  std::string what_;
  std::string temp_;
  bool committed_ = false;
};

}  // namespace fg::io
