// engine/io/output_file.cpp: see output_file.h.
#include "engine/io/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "engine/error.h"

namespace fg::io {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string name_of(const std::string& what) { return what.empty() ? std::string("output") : what; }

// Follows `path` through symbolic links (a chain, relative or absolute) to the path that is
// finally written. A dangling link resolves to its (missing) target, which is then created.
fs::path follow_links(const std::string& path, const std::string& what) {
  fs::path p(path);
  for (int hops = 0;; ++hops) {
    struct stat lst {};
    if (::lstat(p.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode)) return p;
    FG_CHECK(hops < 40, "{}: '{}': too many levels of symbolic links (a loop?)", what, path);
    std::error_code ec;
    const fs::path to = fs::read_symlink(p, ec);
    FG_CHECK(!ec, "{}: '{}': cannot read the symbolic link '{}': {}", what, path, p.string(), ec.message());
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
}

void write_all(int fd, std::string_view bytes, const std::string& what, const std::string& shown) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      FG_FAIL("{}: writing '{}' failed after {} of {} bytes: {}", what, shown, done, bytes.size(), errno_text(err));
    }
    done += static_cast<std::size_t>(w);
  }
}

void fsync_folder(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself has happened
  ::fsync(fd);
  ::close(fd);
}

std::string temp_name_for(const fs::path& real) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = real;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  return tmp.string();
}

// The permission bits of an existing regular target, so the replacement keeps them; -1 when
// the target does not exist yet (the new file gets 0666 less the umask).
int existing_mode(const std::string& real) {
  struct stat st {};
  if (::stat(real.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return static_cast<int>(st.st_mode & 07777);
  return -1;
}

// A regular target's bytes, written and fsync'ed to a temporary file, not yet renamed.
struct Staged {
  std::string temp, real, shown, what;
};

Staged stage(const OutputTarget& t, std::string_view bytes, const std::string& what) {
  Staged s{temp_name_for(t.real), t.real, t.path, what};
  const int fd = ::open(s.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  FG_CHECK(fd >= 0, "{}: cannot create the temporary file '{}' next to '{}': {}", what, s.temp, t.path,
           errno_text(errno));
  try {
    const int mode = existing_mode(t.real);
    if (mode >= 0) ::fchmod(fd, static_cast<mode_t>(mode));
    write_all(fd, bytes, what, t.path);
    if (::fsync(fd) != 0) FG_FAIL("{}: flushing '{}' to disk failed: {}", what, t.path, errno_text(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(s.temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(s.temp.c_str());
    FG_FAIL("{}: closing '{}' failed: {}", what, t.path, errno_text(err));
  }
  return s;
}

void commit_staged(const Staged& s) {
  if (std::rename(s.temp.c_str(), s.real.c_str()) != 0) {
    const int err = errno;
    ::unlink(s.temp.c_str());
    FG_FAIL("{}: cannot rename the temporary file '{}' to '{}': {}", s.what, s.temp, s.real, errno_text(err));
  }
  fsync_folder(fs::path(s.real).parent_path());
}

void write_direct(const OutputTarget& t, std::string_view bytes, const std::string& what) {
  if (t.kind == OutputKind::standard_output) {
    std::cout.flush();
    std::fflush(stdout);
    write_all(STDOUT_FILENO, bytes, what, "standard output");
    return;
  }
  // A device or FIFO: opened as it is (no O_CREAT, no O_TRUNC); a FIFO waits for a reader.
  const int fd = ::open(t.real.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  FG_CHECK(fd >= 0, "{}: cannot open '{}' for writing: {}", what, t.path, errno_text(errno));
  try {
    write_all(fd, bytes, what, t.path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  FG_CHECK(::close(fd) == 0, "{}: closing '{}' failed: {}", what, t.path, errno_text(errno));
}

// Identity of a target for the duplicate check: device and inode when it exists, else the
// absolute normalized path.
std::string identity(const OutputTarget& t) {
  if (t.kind == OutputKind::standard_output) return "-";
  struct stat st {};
  if (::stat(t.real.c_str(), &st) == 0) return fmt::format("inode {}:{}", st.st_dev, st.st_ino);
  std::error_code ec;
  const fs::path abs = fs::absolute(t.real, ec);
  return (ec ? fs::path(t.real) : abs).lexically_normal().string();
}

}  // namespace

OutputTarget check_output(const std::string& path, const std::string& what_in, OutputUse use) {
  const std::string what = name_of(what_in);
  FG_CHECK(!path.empty(), "{}: empty path: expected a file name{}", what,
           use == OutputUse::stream ? " or - for standard output" : "");
  if (path == "-") {
    FG_CHECK(use == OutputUse::stream,
             "{}: '-' (standard output) cannot be used here: this file is written by a library that needs a "
             "regular file (HDF5 seeks while writing); give a file name",
             what);
    return {path, "-", OutputKind::standard_output};
  }
  const fs::path real = follow_links(path, what);
  const std::string shown = real.string() == path ? fmt::format("'{}'", path)
                                                  : fmt::format("'{}' (a link to '{}')", path, real.string());
  const std::string leaf = real.filename().string();
  struct stat st {};
  const bool exists = ::stat(real.c_str(), &st) == 0;
  const int stat_err = exists ? 0 : errno;
  if (exists && S_ISDIR(st.st_mode))
    FG_FAIL("{}: {} is a folder; give a file name (e.g. {}/results.json)", what, shown,
            path.back() == '/' ? path.substr(0, path.size() - 1) : path);
  FG_CHECK(!leaf.empty() && leaf != "." && leaf != "..", "{}: {} names a folder; give a file name", what, shown);
  const fs::path dir = real.parent_path().empty() ? fs::path(".") : real.parent_path();
  struct stat dst {};
  FG_CHECK(::stat(dir.c_str(), &dst) == 0, "{}: the folder '{}' of {} does not exist (create it first)", what,
           dir.string(), shown);
  FG_CHECK(S_ISDIR(dst.st_mode), "{}: '{}' in {} is not a folder", what, dir.string(), shown);
  if (!exists) {
    FG_CHECK(stat_err == ENOENT, "{}: cannot look at {}: {}", what, shown, errno_text(stat_err));
    FG_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, "{}: cannot create {}: the folder '{}' is not writable", what,
             shown, dir.string());
    return {path, real.string(), OutputKind::regular};
  }
  if (S_ISREG(st.st_mode)) {
    FG_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0,
             "{}: cannot replace {}: the folder '{}' is not writable (the file is replaced by a rename)", what, shown,
             dir.string());
    return {path, real.string(), OutputKind::regular};
  }
  const bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
  const char* kind = device ? "a device" : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)" : S_ISSOCK(st.st_mode) ? "a socket" : "a special file";
  FG_CHECK(device || S_ISFIFO(st.st_mode), "{}: {} is {}; expected a regular file, a device or a FIFO", what, shown,
           kind);
  FG_CHECK(use == OutputUse::stream,
           "{}: {} is {}; this file is written by a library that needs a regular file (HDF5 seeks while writing "
           "and cannot stream into a device or pipe); give a file name",
           what, shown, kind);
  FG_CHECK(::access(real.c_str(), W_OK) == 0, "{}: {} ({}) is not writable", what, shown, kind);
  return {path, real.string(), OutputKind::special};
}

void write_output(const std::string& path, std::string_view bytes, const std::string& what) {
  write_outputs({Output{path, std::string(bytes), what}});
}

std::vector<OutputTarget> check_outputs(const std::vector<Output>& outputs) {
  std::vector<OutputTarget> targets;
  std::vector<std::string> ids;
  for (const Output& o : outputs) {
    targets.push_back(check_output(o.path, o.what));
    ids.push_back(identity(targets.back()));
    for (std::size_t i = 0; i + 1 < ids.size(); ++i)
      FG_CHECK(ids[i] != ids.back(), "{}: '{}' is the same file as {} ('{}'); give each output its own file",
               name_of(o.what), o.path, name_of(outputs[i].what), outputs[i].path);
  }
  return targets;
}

void write_outputs(const std::vector<Output>& outputs) {
  const std::vector<OutputTarget> targets = check_outputs(outputs);
  std::vector<Staged> staged;
  try {
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (targets[i].kind == OutputKind::regular)
        staged.push_back(stage(targets[i], outputs[i].bytes, name_of(outputs[i].what)));
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (targets[i].kind != OutputKind::regular) write_direct(targets[i], outputs[i].bytes, name_of(outputs[i].what));
  } catch (...) {
    for (const Staged& s : staged) ::unlink(s.temp.c_str());
    throw;
  }
  for (std::size_t i = 0; i < staged.size(); ++i) {
    try {
      commit_staged(staged[i]);
    } catch (...) {
      for (std::size_t j = i + 1; j < staged.size(); ++j) ::unlink(staged[j].temp.c_str());
      throw;
    }
  }
}

TempOutputFile::TempOutputFile(const std::string& path, const std::string& what)
    : target_(check_output(path, what, OutputUse::named_file)), what_(name_of(what)), temp_(temp_name_for(target_.real)) {}

TempOutputFile::~TempOutputFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

void TempOutputFile::commit() {
  FG_CHECK(!committed_, "{}: '{}' was already committed", what_, target_.path);
  const int fd = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  FG_CHECK(fd >= 0, "{}: the temporary file '{}' for '{}' is gone: {}", what_, temp_, target_.path, errno_text(errno));
  const int mode = existing_mode(target_.real);
  if (mode >= 0) ::fchmod(fd, static_cast<mode_t>(mode));
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  FG_CHECK(synced, "{}: flushing '{}' to disk failed: {}", what_, target_.path, errno_text(err));
  commit_staged(Staged{temp_, target_.real, target_.path, what_});
  committed_ = true;
}

}  // namespace fg::io
