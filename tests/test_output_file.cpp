// tests/test_output_file.cpp: the one output writer (engine/io/output_file.h).
//
// Regular files are replaced atomically (old permissions kept, no temporary left, a failed
// write leaves the old file); symbolic links are written through; FIFOs, /dev/null and a
// device node made with mknod are written directly and stay what they were (the bug of
// issue 10: `--out /dev/full` run as root replaced the device with a JSON file); folders,
// missing folders and sockets are refused with the path in the message; "-" is standard
// output; TempOutputFile (the HDF5 writers) refuses anything but a regular file.
//
// The device-node case needs mknod (root, and a file system without nodev); where it is
// not permitted it prints "SKIPPED: mknod not permitted" and ctest lists it as skipped.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "engine/error.h"
#include "engine/io/output_file.h"
#include "support/data_fixtures.h"
#include "support/test_util.h"

namespace fs = std::filesystem;
using fg::Error;
using fg::testing::read_bytes;
using fg::testing::ScratchDir;
using fg::test::contains;
using fg::test::error_of;

namespace {

mode_t file_type(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & S_IFMT;
}

void put(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// Lowers RLIMIT_FSIZE for the scope (writes past it fail with EFBIG; SIGXFSZ is ignored).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_{};
};

}  // namespace

TEST_CASE("output file: a regular file is replaced atomically, keeping its permissions") {
  ScratchDir dir("out");
  const std::string path = dir.file("r.json");
  fg::io::write_output(path, "first\n", "--out");
  CHECK(read_bytes(path) == "first\n");
  ::chmod(path.c_str(), 0640);
  fg::io::write_output(path, "second\n", "--out");
  CHECK(read_bytes(path) == "second\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(file_type(path) == S_IFREG);
  CHECK(dir.entries() == std::vector<std::string>{"r.json"});  // no temporary left behind
  CHECK(fg::io::check_output(path, "--out").kind == fg::io::OutputKind::regular);
}

TEST_CASE("output file: a failed write leaves the old file intact and no temporary file") {
  ScratchDir dir("out");
  const std::string path = dir.file("r.json");
  put(path, "old contents\n");
  {
    const FileSizeLimit limit(64);  // the next write of 1 MB fails with EFBIG after 64 bytes
    const std::string err = error_of([&] { fg::io::write_output(path, std::string(1 << 20, 'x'), "--out"); });
    CHECK(contains(err, "--out: writing '" + path + "' failed after 64 of 1048576 bytes"));
  }
  CHECK(read_bytes(path) == "old contents\n");
  CHECK(dir.entries() == std::vector<std::string>{"r.json"});
  // the same for a file written by name (TempOutputFile): nothing committed, temp removed
  {
    fg::io::TempOutputFile out(path, "write_h5_dataset");
    put(out.temp_path(), "half");
    CHECK(dir.entries().size() == 2);
  }  // no commit()
  CHECK(read_bytes(path) == "old contents\n");
  CHECK(dir.entries() == std::vector<std::string>{"r.json"});
}

TEST_CASE("output file: a symbolic link is written through and kept") {
  ScratchDir dir("out");
  fs::create_directories(dir.file("real"));
  put(dir.file("real/target.json"), "old");
  fs::create_symlink("real/target.json", dir.file("link.json"));   // relative
  fs::create_symlink(dir.file("link.json"), dir.file("link2.json"));  // a chain, absolute
  fg::io::write_output(dir.file("link2.json"), "through\n", "--out");
  CHECK(file_type(dir.file("link.json")) == S_IFLNK);
  CHECK(file_type(dir.file("link2.json")) == S_IFLNK);
  CHECK(file_type(dir.file("real/target.json")) == S_IFREG);
  CHECK(read_bytes(dir.file("real/target.json")) == "through\n");
  // the temporary file went next to the real file and is gone
  CHECK(dir.entries().size() == 3);
  CHECK(fs::directory_iterator(dir.file("real"))->path().filename() == "target.json");
  // a dangling link creates its target
  fs::create_symlink("real/new.json", dir.file("dangling.json"));
  fg::io::write_output(dir.file("dangling.json"), "new\n", "--out");
  CHECK(file_type(dir.file("dangling.json")) == S_IFLNK);
  CHECK(read_bytes(dir.file("real/new.json")) == "new\n");
  // a loop is refused
  fs::create_symlink("loop_b", dir.file("loop_a"));
  fs::create_symlink("loop_a", dir.file("loop_b"));
  CHECK(contains(error_of([&] { fg::io::write_output(dir.file("loop_a"), "x", "--out"); }),
                 "too many levels of symbolic links"));
}

TEST_CASE("output file: a FIFO is written directly, never replaced") {
  ScratchDir dir("out");
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(fg::io::check_output(fifo, "--out").kind == fg::io::OutputKind::special);
  std::string got;
  std::thread reader([&] {
    std::FILE* f = std::fopen(fifo.c_str(), "rb");
    if (f == nullptr) return;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) got.append(buf, n);
    std::fclose(f);
  });
  const std::string payload(100000, 'p');  // more than a pipe buffer holds
  fg::io::write_output(fifo, payload, "--out");
  reader.join();
  CHECK(got == payload);
  CHECK(file_type(fifo) == S_IFIFO);
  CHECK(dir.entries() == std::vector<std::string>{"pipe"});
  // an HDF5 writer cannot stream into it: refused up front, naming the flag and the reason
  const std::string err = error_of([&] { fg::io::TempOutputFile out(fifo, "--out"); });
  CHECK(contains(err, "--out: '" + fifo + "' is a FIFO (named pipe)"));
  CHECK(contains(err, "HDF5"));
  CHECK(file_type(fifo) == S_IFIFO);
}

TEST_CASE("output file: /dev/null and /dev/full stay devices") {
  fg::io::write_output("/dev/null", "discarded\n", "--out");
  CHECK(file_type("/dev/null") == S_IFCHR);
  if (::access("/dev/full", W_OK) == 0) {
    // the bug of issue 10: as root, `--out /dev/full` replaced the device node with a file
    CHECK(contains(error_of([] { fg::io::write_output("/dev/full", "x", "--out"); }),
                   "--out: writing '/dev/full' failed after 0 of 1 bytes: No space left on device"));
    CHECK(file_type("/dev/full") == S_IFCHR);
  }
}

TEST_CASE("output file: a device node made with mknod is written directly") {
  ScratchDir dir("out");
  const std::string node = dir.file("null");
  if (::mknod(node.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {  // a /dev/null twin
    std::cout << "SKIPPED: mknod not permitted (" << std::strerror(errno) << ")" << std::endl;
    return;
  }
  const int probe = ::open(node.c_str(), O_WRONLY);
  if (probe < 0) {  // a nodev mount: device nodes exist but cannot be opened
    std::cout << "SKIPPED: mknod not permitted (device nodes cannot be opened here: " << std::strerror(errno) << ")"
              << std::endl;
    return;
  }
  ::close(probe);
  CHECK(fg::io::check_output(node, "--json").kind == fg::io::OutputKind::special);
  fg::io::write_output(node, "into the device\n", "--json");
  CHECK(file_type(node) == S_IFCHR);
  CHECK(dir.entries() == std::vector<std::string>{"null"});
  // through a symbolic link too
  fs::create_symlink("null", dir.file("link"));
  fg::io::write_output(dir.file("link"), "again\n", "--json");
  CHECK(file_type(node) == S_IFCHR);
  CHECK(file_type(dir.file("link")) == S_IFLNK);
}

TEST_CASE("output file: folders, missing folders and sockets are refused, naming flag and path") {
  ScratchDir dir("out");
  fs::create_directories(dir.file("sub"));
  std::string err = error_of([&] { fg::io::write_output(dir.file("sub"), "x", "--out"); });
  CHECK(contains(err, "--out: '" + dir.file("sub") + "' is a folder; give a file name"));
  CHECK(fs::is_directory(dir.file("sub")));
  err = error_of([&] { fg::io::write_output(dir.file("no/such/folder/r.json"), "x", "--json"); });
  CHECK(contains(err, "--json: the folder '" + dir.file("no/such/folder") + "' of '" + dir.file("no/such/folder/r.json") +
                          "' does not exist"));
  CHECK(!fs::exists(dir.file("no")));
  err = error_of([&] { fg::io::check_output("", "--svg"); });
  CHECK(contains(err, "--svg: empty path"));
  // a socket is neither a file, a device nor a FIFO
  const std::string sock = dir.file("sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  if (sock.size() < sizeof addr.sun_path && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    CHECK(contains(error_of([&] { fg::io::write_output(sock, "x", "--out"); }), "is a socket; expected a regular file"));
  ::close(fd);
  // a folder refused by the HDF5 variant too
  CHECK(contains(error_of([&] { fg::io::TempOutputFile out(dir.file("sub"), "--file"); }), "is a folder"));
}

TEST_CASE("output file: - is standard output") {
  ScratchDir dir("out");
  const std::string captured = dir.file("stdout.txt");
  std::cout.flush();
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  std::string err;
  try {
    fg::io::write_output("-", "{\"to\": \"stdout\"}\n", "--out");
  } catch (const Error& e) {
    err = e.what();
  }
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  CHECK(err.empty());
  CHECK(read_bytes(captured) == "{\"to\": \"stdout\"}\n");
  CHECK(!fs::exists("-"));
  CHECK(fg::io::check_output("-", "--out").kind == fg::io::OutputKind::standard_output);
  // an HDF5 file cannot go to standard output
  CHECK(contains(error_of([] { fg::io::TempOutputFile out("-", "--out"); }), "--out: '-' (standard output) cannot"));
}

TEST_CASE("output file: several outputs are written all or none") {
  ScratchDir dir("out");
  put(dir.file("a.json"), "old a");
  // the second target's folder is missing: the first is not written either
  CHECK(contains(error_of([&] {
                   fg::io::write_outputs({{dir.file("a.json"), "new a", "--json"},
                                          {dir.file("missing/b.svg"), "new b", "--svg"}});
                 }),
                 "--svg: the folder"));
  CHECK(read_bytes(dir.file("a.json")) == "old a");
  // the second fails while being written: the first stays old, no temporaries are left
  {
    const FileSizeLimit limit(64);
    CHECK(contains(error_of([&] {
                     fg::io::write_outputs({{dir.file("a.json"), "new a", "--json"},
                                            {dir.file("b.svg"), std::string(4096, 'b'), "--svg"}});
                   }),
                   "--svg: writing"));
  }
  CHECK(read_bytes(dir.file("a.json")) == "old a");
  CHECK(dir.entries() == std::vector<std::string>{"a.json"});
  // the same file twice (here through a link) is refused
  fs::create_symlink("a.json", dir.file("alias.json"));
  CHECK(contains(error_of([&] {
                   fg::io::write_outputs({{dir.file("a.json"), "1", "--json"}, {dir.file("alias.json"), "2", "--svg"}});
                 }),
                 "is the same file as --json"));
  fg::io::write_outputs({{dir.file("a.json"), "new a", "--json"}, {dir.file("b.svg"), "new b", "--svg"}});
  CHECK(read_bytes(dir.file("a.json")) == "new a");
  CHECK(read_bytes(dir.file("b.svg")) == "new b");
}

TEST_CASE("output file: TempOutputFile commits by rename over the real target") {
  ScratchDir dir("out");
  put(dir.file("data.h5"), "old");
  fs::create_symlink("data.h5", dir.file("link.h5"));
  {
    fg::io::TempOutputFile out(dir.file("link.h5"), "write_h5_dataset");
    CHECK(out.temp_path().rfind(dir.file("data.h5.tmp-"), 0) == 0);  // next to the real file
    put(out.temp_path(), "new");
    out.commit();
  }
  CHECK(read_bytes(dir.file("data.h5")) == "new");
  CHECK(file_type(dir.file("link.h5")) == S_IFLNK);
  auto entries = dir.entries();
  std::sort(entries.begin(), entries.end());
  CHECK(entries == std::vector<std::string>{"data.h5", "link.h5"});
}
