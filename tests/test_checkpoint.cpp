// tests/test_checkpoint.cpp: safetensors (round trip, a file laid out byte by byte from the
// format spec, corrupt files, atomic writes) and checkpoints (model + optimizer + metadata,
// exact resume, errors, and interchange with PyTorch by parameter name).
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/nn/nn.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "engine/serialize/checkpoint.h"
#include "engine/serialize/safetensors.h"
#include "support/test_util.h"

using namespace fg;
namespace fs = std::filesystem;

namespace {

using fg::test::vals;
using fg::test::error_of;
using fg::test::contains;

// A fresh, empty folder for one test, removed with the object.
struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("fg_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
  fs::path path;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// 8-byte little-endian length, written byte by byte.
std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}
// A one-tensor file image with the given header JSON and data section.
std::string file_image(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// The model of the PyTorch interchange test: Net in tests/reference/torch_checkpoint.py.
struct Net : nn::Module {
  Net(Generator& gen, TensorOptions opts = {}) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(10, 4, gen, 0, opts));
    nn::MLPOptions mo;
    mo.sizes = {4, 8, 6};
    mo.activations = {nn::Activation::ReLU, nn::Activation::Tanh};
    mo.dropout = {0.25, 0.0};
    mo.activate_last = true;
    mo.param_options = opts;
    encoder = register_module("encoder", std::make_shared<nn::MLP>(mo, gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(6, 1e-5, true, opts));
    head = register_module("head", std::make_shared<nn::Linear>(6, 3, gen, true, opts));
    steps = register_buffer("steps", zeros({1}, TensorOptions{DType::i64}));
  }
  Tensor forward(const Tensor& ids, const Tensor& feats) const {
    return head->forward(norm->forward(encoder->forward(embed->forward(ids) + feats)));
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::MLP> encoder;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
  Tensor steps;
};

Tensor ids_of(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return from_vector(v, {n}, TensorOptions{DType::i64});
}

// A few Adam steps on a regression loss, so weights and optimizer state are non-trivial.
void train(Net& net, optim::Optimizer& opt, int steps, std::uint64_t seed) {
  Generator gen(seed);
  manual_seed(seed);  // the dropout masks (default generator) repeat too
  for (int i = 0; i < steps; ++i) {
    const Tensor ids = ids_of({1, 2, 0, 7, 9});
    const Tensor feats = randn({5, 4}, gen, net.head->weight.options());
    const Tensor target = randn({5, 3}, gen, net.head->weight.options());
    opt.zero_grad();
    mse_loss(net.forward(ids, feats), target).backward();
    opt.step();
  }
}

}  // namespace

// ---------------------------------------------------------------- safetensors
TEST_CASE("safetensors: round trip of every dtype, odd shapes and metadata") {
  TempDir dir;
  Generator gen(1);
  std::map<std::string, Tensor> ts{
      {"f32", randn({3, 5}, gen)},
      {"f64", randn({2, 1, 3}, gen, f64_opts())},
      {"i64", from_vector(std::vector<std::int64_t>{-5, 0, 1LL << 40}, {3}, TensorOptions{DType::i64})},
      {"scalar", scalar_tensor(2.5, f64_opts())},
      {"empty", zeros({0, 3})},
  };
  const std::map<std::string, std::string> meta{{"epoch", "7"}, {"note", "ünïcode & \"quotes\""}};
  const std::string path = dir.file("a.safetensors");
  save_safetensors(path, ts, meta);
  const SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == ts.size());
  for (const auto& [name, t] : ts) {
    CAPTURE(name);
    const Tensor& back = f.tensors.at(name);
    CHECK(back.dtype() == t.dtype());
    CHECK(back.shape() == t.shape());
    CHECK(vals(back) == vals(t));
  }
  CHECK(f.tensors.at("i64").to_vector<std::int64_t>()[2] == (1LL << 40));
  // the data section starts 8-byte aligned (the writer pads the header with spaces)
  const std::string raw = read_bytes(path);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
  CHECK((8 + n) % 8 == 0);
  CHECK(dir.listing() == std::vector<std::string>{"a.safetensors"});
}

TEST_CASE("safetensors: reads a file laid out byte by byte from the spec") {
  // data section (little-endian), offsets relative to its first byte:
  //   [0, 8)   a  F32  [2]    1.5 = 0x3FC00000, -2.0 = 0xC0000000
  //   [8, 16)  b  F64  [1]    3.25 = 0x400A000000000000
  //   [16, 32) c  I64  [2]    1, -2
  //   [32, 40) d  I32  [2]    7, -1          (read as int64)
  //   [40, 46) e  F16  [3]    1.0 = 0x3C00, -0.5 = 0xB800, 2^-24 = 0x0001 (subnormal)  (read as float32)
  //   [46, 50) f  BF16 [2, 1] 1.0 = 0x3F80, 3.0 = 0x4040                               (read as float32)
  //   [50, 50) g  F32  [0]    empty
  const std::string data = bytes({0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0}) +              // a
                           bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x40}) +              // b
                           bytes({0x01, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) +  // c
                           bytes({0x07, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}) +                       // d
                           bytes({0x00, 0x3C, 0x00, 0xB8, 0x01, 0x00}) +                          // e
                           bytes({0x80, 0x3F, 0x40, 0x40});                                       // f
  REQUIRE(data.size() == 50);
  const std::string header =
      R"({"__metadata__":{"format":"pt","who":"hand"},)"
      R"("c":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
      R"("d":{"dtype":"I32","shape":[2],"data_offsets":[32,40]},)"
      R"("e":{"dtype":"F16","shape":[3],"data_offsets":[40,46]},)"
      R"("f":{"dtype":"BF16","shape":[2,1],"data_offsets":[46,50]},)"
      R"("g":{"dtype":"F32","shape":[0],"data_offsets":[50,50]}})";
  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  write_bytes(path, le64(header.size()) + header + data);  // no padding: readers must not need it
  const SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"who", "hand"}});
  CHECK(f.tensors.size() == 7);
  CHECK(f.tensors.at("a").dtype() == DType::f32);
  CHECK(vals(f.tensors.at("a")) == std::vector<double>{1.5, -2.0});
  CHECK(f.tensors.at("b").dtype() == DType::f64);
  CHECK(vals(f.tensors.at("b")) == std::vector<double>{3.25});
  CHECK(f.tensors.at("c").to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2});
  CHECK(f.tensors.at("d").dtype() == DType::i64);
  CHECK(f.tensors.at("d").to_vector<std::int64_t>() == std::vector<std::int64_t>{7, -1});
  CHECK(f.tensors.at("e").dtype() == DType::f32);
  CHECK(vals(f.tensors.at("e")) == std::vector<double>{1.0, -0.5, std::ldexp(1.0, -24)});
  CHECK(f.tensors.at("f").shape() == Shape{2, 1});
  CHECK(vals(f.tensors.at("f")) == std::vector<double>{1.0, 3.0});
  CHECK(f.tensors.at("g").numel() == 0);
}

TEST_CASE("safetensors: corrupt files are rejected with a message naming the file and the problem") {
  const std::string ok_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string ok_data(8, '\0');
  REQUIRE(error_of([&] { parse_safetensors(file_image(ok_header, ok_data), "ok.safetensors"); }).empty());
  auto err = [](const std::string& image) { return error_of([&] { parse_safetensors(image, "bad.safetensors"); }); };

  // truncated: not even the length; a length past the end; data cut short
  CHECK(contains(err("abc"), "'bad.safetensors' is not a safetensors file: 3 bytes, shorter than the 8-byte header"));
  CHECK(contains(err(le64(1000) + ok_header), "'bad.safetensors': header size 1000 exceeds the file size"));
  const std::string full = file_image(ok_header, ok_data);
  CHECK(contains(err(full.substr(0, full.size() - 3)), "tensor 'w': data_offsets [0, 8] outside the 5 data bytes"));
  // bad JSON, or JSON that is not an object
  CHECK(contains(err(file_image(R"({"w": {"dtype": "F32",)", ok_data)), "'bad.safetensors': the header is not valid JSON"));
  CHECK(contains(err(file_image("[1, 2]", ok_data)), "the header must be a JSON object"));
  // offsets out of range / reversed
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", ok_data)),
                 "tensor 'w': data_offsets [4, 12] outside the 8 data bytes"));
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", ok_data)),
                 "data_offsets [8, 0] outside"));
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", ok_data)),
                 "data_offsets must be two non-negative integers"));
  // byte count that does not match shape x dtype
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok_data)),
                 "tensor 'w': 8 bytes for shape [3] of F32 (12 expected)"));
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", ok_data)),
                 "8 bytes for shape [2] of F64 (16 expected)"));
  // unknown dtype
  CHECK(contains(err(file_image(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", ok_data)),
                 "tensor 'w' has dtype Q4: supported are F32, F64, I64, I32, F16, BF16"));
  // missing fields, bad shapes, overlapping tensors, bad metadata
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[2]}})", ok_data)),
                 "tensor 'w' needs the fields dtype, shape and data_offsets"));
  CHECK(contains(err(file_image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok_data)),
                 "shape entries must be non-negative integers"));
  CHECK(contains(err(file_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                ok_data)),
                 "two tensors overlap"));
  CHECK(contains(err(file_image(R"({"__metadata__":{"k":1}})", "")), "__metadata__ entry 'k' is not a string"));
  // through the file API, the path is named
  TempDir dir;
  write_bytes(dir.file("cut.safetensors"), full.substr(0, 5));
  CHECK(contains(error_of([&] { load_safetensors(dir.file("cut.safetensors")); }), "cut.safetensors"));
  CHECK(contains(error_of([&] { load_safetensors(dir.file("missing.safetensors")); }),
                 "cannot open safetensors file"));
}

TEST_CASE("safetensors: writes are atomic: no temp file left, the old file survives a failed write") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"x", ones({4})}});
  const std::string old_bytes = read_bytes(path);
  save_safetensors(path, {{"x", full({4}, 2.0)}});  // overwrite: replaced whole
  CHECK(vals(load_safetensors(path).tensors.at("x")) == std::vector<double>(4, 2.0));
  CHECK(dir.listing() == std::vector<std::string>{"w.safetensors"});
  save_safetensors(path, {{"x", ones({4})}});
  REQUIRE(read_bytes(path) == old_bytes);

  // 1. the folder does not exist: a clear error, nothing created
  const std::string nowhere = dir.file("no/such/dir/w.safetensors");
  CHECK(contains(error_of([&] { save_safetensors(nowhere, {{"x", ones({4})}}); }), "does not exist"));
  CHECK(dir.listing() == std::vector<std::string>{"w.safetensors"});

  // 2. a write that fails halfway (the file-size limit makes write() fail with EFBIG):
  //    the old file is untouched and the partial temp file is removed
  {
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string msg = error_of([&] { save_safetensors(path, {{"big", zeros({10000})}}); });
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    CHECK(contains(msg, "failed after"));
    CHECK(read_bytes(path) == old_bytes);
    CHECK(dir.listing() == std::vector<std::string>{"w.safetensors"});
  }

  // 3. an unwritable folder (only meaningful when not root: root writes anyway)
  if (::geteuid() != 0) {
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
    CHECK(contains(error_of([&] { save_safetensors(path, {{"x", zeros({4})}}); }), "is not writable"));
    fs::permissions(dir.path, fs::perms::owner_all);
    CHECK(read_bytes(path) == old_bytes);
    CHECK(dir.listing() == std::vector<std::string>{"w.safetensors"});
  } else {
    MESSAGE("running as root: the read-only-folder case is covered by the file-size-limit case above");
  }
}

// ---------------------------------------------------------------- checkpoints
TEST_CASE("checkpoint: model, optimizer and metadata round trip; training resumes exactly") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Generator g1(1);
  Net net(g1);
  optim::Adam opt(net.parameters(), {.lr = 0.01, .weight_decay = 0.01});
  train(net, opt, 3, 100);
  copy_(net.steps, ids_of({3}));
  save_checkpoint(path, net, &opt, {{"epoch", "3"}, {"val_loss", "0.25"}});

  // the file: state_dict names for the model, optimizer/ for the optimizer, fusegrad/ metadata
  const SafetensorsFile raw = load_safetensors(path);
  CHECK(raw.tensors.count("encoder.3.weight") == 1);
  CHECK(raw.tensors.count("steps") == 1);
  CHECK(raw.tensors.count("optimizer/state/0/exp_avg") == 1);
  CHECK(raw.tensors.count("optimizer/state/0/step") == 1);
  CHECK(raw.metadata.at("fusegrad/format") == kCheckpointFormat);
  CHECK(contains(raw.metadata.at("fusegrad/optimizer"), "\"type\":\"Adam\""));

  // a fresh model and optimizer, loaded, continue exactly like the original
  Generator g2(2);
  Net resumed(g2);
  optim::Adam opt2(resumed.parameters(), {.lr = 0.5});
  const auto meta = load_checkpoint(path, resumed, &opt2);
  CHECK(meta == std::map<std::string, std::string>{{"epoch", "3"}, {"val_loss", "0.25"}});
  CHECK(opt2.lr() == 0.01);
  CHECK(resumed.steps.to_vector<std::int64_t>() == std::vector<std::int64_t>{3});
  for (const auto& [name, t] : net.state_dict()) CHECK(vals(resumed.state_dict().at(name)) == vals(t));
  train(net, opt, 2, 200);
  train(resumed, opt2, 2, 200);
  for (const auto& [name, t] : net.state_dict()) CHECK(vals(resumed.state_dict().at(name)) == vals(t));

  // the model alone loads too (the optimizer keys are not "unexpected")
  Generator g3(3);
  Net weights_only(g3);
  CHECK(load_checkpoint(path, weights_only).size() == 2);
}

TEST_CASE("checkpoint: errors name the file and the problem, and leave model and optimizer as they were") {
  TempDir dir;
  Generator gen(4);
  Net net(gen);
  const std::string with_opt = dir.file("with_opt.safetensors"), without = dir.file("plain.safetensors");
  optim::SGD sgd(net.parameters(), {.lr = 0.1, .momentum = 0.9});
  train(net, sgd, 1, 1);
  save_checkpoint(with_opt, net, &sgd);
  save_checkpoint(without, net);

  CHECK(contains(error_of([&] { save_checkpoint(dir.file("x.safetensors"), net, nullptr, {{"fusegrad/format", "x"}}); }),
                 "metadata key 'fusegrad/format' is reserved"));
  optim::SGD other(net.parameters(), {.lr = 0.1});
  CHECK(contains(error_of([&] { load_checkpoint(without, net, &other); }),
                 "plain.safetensors'): the file holds no optimizer state"));
  optim::Adam adam(net.parameters(), {});
  CHECK(contains(error_of([&] { load_checkpoint(with_opt, net, &adam); }), "belongs to a SGD optimizer, not Adam"));

  // a model with one more buffer: the optimizer would load, the module does not -> both untouched
  struct Bigger : Net {
    explicit Bigger(Generator& g) : Net(g) { register_buffer("extra", zeros({2})); }
  };
  Generator g2(5);
  Bigger bigger(g2);
  optim::SGD fresh(bigger.parameters(), {.lr = 0.7, .momentum = 0.9});
  const auto before = vals(bigger.head->weight);
  const std::string msg = error_of([&] { load_checkpoint(with_opt, bigger, &fresh); });
  CHECK(contains(msg, "with_opt.safetensors"));
  CHECK(contains(msg, "missing keys (in the module, not in the given state): 'extra'"));
  CHECK(vals(bigger.head->weight) == before);
  CHECK(fresh.lr() == 0.7);
  CHECK(fresh.state(0).step == 0);
  // non-strict: loads what matches
  CHECK(error_of([&] { load_checkpoint(with_opt, bigger, &fresh, /*strict=*/false); }).empty());
  CHECK(vals(bigger.head->weight) == vals(net.head->weight));
  CHECK(fresh.lr() == 0.1);
  CHECK(fresh.state(0).step == 1);

  CHECK(contains(error_of([&] { load_checkpoint(dir.file("none.safetensors"), net); }), "cannot open"));
  CHECK(contains(error_of([&] { save_checkpoint(dir.file("no/dir/c.safetensors"), net); }), "does not exist"));
}

TEST_CASE("checkpoint: PyTorch loads our weights by name, and we load PyTorch's") {
#if !FG_HAVE_TORCH
  FAIL("PyTorch is missing: " FG_PYTHON " could not import torch when this build was configured. Install "
       "python3-torch and python3-numpy (tools/setup.sh) and re-run cmake.");
#endif
  TempDir dir;
  // ours -> PyTorch: a trained float32 model, its checkpoint (with optimizer state), and our output
  Generator gen(11);
  Net net(gen);
  optim::AdamW opt(net.parameters(), {.lr = 0.02});
  train(net, opt, 3, 7);
  copy_(net.steps, ids_of({3}));
  net.eval();
  const Tensor ids = ids_of({4, 0, 9, 2, 2});
  const Tensor feats = randn({5, 4}, gen);
  save_checkpoint(dir.file("ours.safetensors"), net, &opt, {{"epoch", "3"}});
  save_safetensors(dir.file("ours_io.safetensors"), {{"ids", ids}, {"feats", feats}, {"out", net.forward(ids, feats)}});

  const std::string cmd = "'" FG_PYTHON "' " + std::string(FG_SOURCE_DIR) + "/tests/reference/torch_checkpoint.py" +
                          " --ours " + dir.file("ours.safetensors") + " --ours-io " + dir.file("ours_io.safetensors") +
                          " --write " + dir.file("torch.safetensors");
  MESSAGE(cmd);
  const int rc = std::system(cmd.c_str());
  REQUIRE_MESSAGE(rc == 0, "the PyTorch side failed (exit status " << rc << "); its output is above");

  // PyTorch -> ours: a plain state_dict file written by PyTorch, loaded by name into a float64 Net
  SafetensorsFile theirs = load_safetensors(dir.file("torch.safetensors"));
  const Tensor t_ids = theirs.tensors.at("io.ids"), t_feats = theirs.tensors.at("io.feats");
  const Tensor t_out = theirs.tensors.at("io.out");
  Generator g2(12);
  Net mine(g2, f64_opts());
  mine.eval();
  const nn::LoadResult r = mine.load_state_dict(theirs.tensors, /*strict=*/false);
  CHECK(r.missing_keys.empty());
  CHECK(r.unexpected_keys == std::vector<std::string>{"io.feats", "io.ids", "io.out"});
  CHECK(mine.steps.to_vector<std::int64_t>() == std::vector<std::int64_t>{42});
  const auto ours = vals(mine.forward(t_ids, t_feats)), ref = vals(t_out);
  REQUIRE(ours.size() == ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) CHECK(ours[i] == doctest::Approx(ref[i]).epsilon(1e-12));
  // and through load_checkpoint, minus the io tensors (strict)
  theirs.tensors.erase("io.ids");
  theirs.tensors.erase("io.feats");
  theirs.tensors.erase("io.out");
  save_safetensors(dir.file("torch_only.safetensors"), theirs.tensors);
  Generator g3(13);
  Net again(g3, f64_opts());
  load_checkpoint(dir.file("torch_only.safetensors"), again);
  again.eval();
  CHECK(vals(again.forward(t_ids, t_feats)) == ours);
}
