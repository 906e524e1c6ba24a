// tests/test_cuda_runtime.cpp: the CUDA runtime (engine/cuda/runtime.cu): the caching
// allocator (size classes, reuse without cudaMalloc, statistics, empty_cache), the
// per-step arena (same addresses every step; what happens when the sequence changes or
// a block is held across steps), host<->device copies through the staging buffers,
// the TF32 and deterministic switches, and clear errors (no device, out of memory,
// misuse of the arena).
// Every case but the first needs a GPU and prints "SKIPPED: no CUDA device" without one.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda/cuda_api.h"
#include "engine/ops.h"
#include "test_cuda_common.h"
#include "support/test_util.h"

using namespace fg;
using namespace fg::cuda_test;

namespace {

using fg::test::contains;
using fg::test::error_of;

const TensorOptions kCuda = f32_opts(Device::cuda());

}  // namespace

TEST_CASE("cuda runtime: an unavailable CUDA device is a clear error, and the switches are plain flags") {
  // runs everywhere: without CUDA it checks the error, with a GPU it asks for a device past the last
  if (!device::cuda_available()) {
    CHECK_FALSE(fg::cuda::available());
    const std::string msg = error_of([] { (void)empty({4}, f32_opts(Device::cuda())); });
    INFO(msg);
    CHECK((contains(msg, "built without CUDA") || contains(msg, "no CUDA device")));
  } else {
    const int count = device::cuda_device_count();
    const std::string msg = error_of([count] { (void)empty({4}, f32_opts(Device::cuda(count))); });
    INFO(msg);
    CHECK(contains(msg, "does not exist"));
  }
  const bool tf32 = fg::cuda::allow_tf32(), det = fg::cuda::deterministic();
  CHECK_FALSE(tf32);  // off by default: float32 GEMMs are float32
  CHECK_FALSE(det);
  fg::cuda::set_allow_tf32(true);
  fg::cuda::set_deterministic(true);
  CHECK(fg::cuda::allow_tf32());
  CHECK(fg::cuda::deterministic());
  fg::cuda::set_allow_tf32(tf32);
  fg::cuda::set_deterministic(det);
}

TEST_CASE("cuda runtime: freed blocks are reused without cudaMalloc, sizes rounded to their class") {
  FG_SKIP_WITHOUT_CUDA();
  // size classes: 1000 bytes -> 1024 (2^9 < 1000 <= 2^10, quarter steps of 128); 5000 -> 5120
  auto s0 = fg::cuda::allocator_stats();
  {
    const Tensor a = empty({250}, kCuda);   // 1000 bytes
    const Tensor b = empty({1250}, kCuda);  // 5000 bytes
    const auto s1 = fg::cuda::allocator_stats();
    CHECK(s1.requested_bytes - s0.requested_bytes == 6000);
    CHECK(s1.in_use_bytes - s0.in_use_bytes == 1024 + 5120);
    CHECK(s1.peak_in_use_bytes >= s1.in_use_bytes);
    CHECK(s1.allocations - s0.allocations == 2);
  }
  const auto s2 = fg::cuda::allocator_stats();
  CHECK(s2.in_use_bytes == s0.in_use_bytes);
  CHECK(s2.cached_bytes >= 1024 + 5120);
  CHECK(s2.reserved_bytes == s2.in_use_bytes + s2.cached_bytes);
  // the same class is served from the cache: same block, no cudaMalloc
  void* first = nullptr;
  {
    const Tensor t = empty({1000}, kCuda);  // 4000 bytes -> class 4096
    first = t.data_ptr();
  }
  const auto s3 = fg::cuda::allocator_stats();
  {
    const Tensor t = empty({1010}, kCuda);  // 4040 bytes -> class 4096 too
    CHECK(t.data_ptr() == first);
  }
  const auto s4 = fg::cuda::allocator_stats();
  CHECK(s4.device_mallocs == s3.device_mallocs);
  CHECK(s4.cache_hits == s3.cache_hits + 1);
  // a steady loop of allocations never calls cudaMalloc after its first iteration
  auto iteration = [] {
    Tensor x = rand({3, 1000}, default_generator(), kCuda);
    Tensor y = fg::exp(x);
    Tensor z = fg::sum(mul(y, x), 1);
    return fg::sum(z).item();
  };
  (void)iteration();
  const auto s5 = fg::cuda::allocator_stats();
  for (int i = 0; i < 20; ++i) (void)iteration();
  const auto s6 = fg::cuda::allocator_stats();
  CHECK(s6.device_mallocs == s5.device_mallocs);
  CHECK(s6.cache_hits > s5.cache_hits);
  CHECK(s6.in_use_bytes == s5.in_use_bytes);
  // empty_cache hands every free block back
  fg::cuda::empty_cache();
  const auto s7 = fg::cuda::allocator_stats();
  CHECK(s7.cached_bytes == 0);
  CHECK(s7.device_frees > s6.device_frees);
  CHECK(s7.reserved_bytes == s7.in_use_bytes);
  fg::cuda::reset_peak_stats();
  CHECK(fg::cuda::allocator_stats().peak_in_use_bytes == s7.in_use_bytes);
}

TEST_CASE("cuda runtime: the per-step arena gives every step the addresses of the previous one") {
  FG_SKIP_WITHOUT_CUDA();
  // one "training step": a long-lived tensor, temporaries of several classes, a changed tail
  auto step = [](bool changed, Tensor* hold = nullptr) {
    std::vector<void*> addrs;
    fg::cuda::StepScope scope;
    const Tensor keep = empty({100}, kCuda);
    addrs.push_back(keep.data_ptr());
    for (int i = 0; i < 6; ++i) {
      const Tensor tmp = empty({1000 + 7 * i}, kCuda);
      addrs.push_back(tmp.data_ptr());
    }
    const Tensor a = empty({5000}, kCuda), b = empty({5000}, kCuda);
    addrs.push_back(a.data_ptr());
    addrs.push_back(b.data_ptr());
    if (changed) {
      const Tensor c = empty({77777}, kCuda);
      addrs.push_back(c.data_ptr());
    }
    const Tensor d = empty({33}, kCuda);
    addrs.push_back(d.data_ptr());
    if (hold) *hold = a;  // kept past the end of the step
    return addrs;
  };
  const auto s0 = fg::cuda::allocator_stats();
  const auto a1 = step(false);
  const auto a2 = step(false);
  const auto a3 = step(false);
  CHECK(a2 == a1);
  CHECK(a3 == a1);
  const auto s1 = fg::cuda::allocator_stats();
  CHECK(s1.arena_steps - s0.arena_steps == 3);
  CHECK(s1.arena_replayed - s0.arena_replayed == 2 * a1.size());
  CHECK(s1.arena_missed == s0.arena_missed);
  CHECK(s1.arena_rerecorded == s0.arena_rerecorded);
  CHECK(s1.arena_trace_length == a1.size());
  CHECK_FALSE(fg::cuda::in_step());
  // the sequence changes: the prefix keeps its addresses, the rest is recorded anew and
  // replayed by the next step that repeats it
  const auto a4 = step(true);
  CHECK(std::vector<void*>(a4.begin(), a4.begin() + 9) == std::vector<void*>(a1.begin(), a1.begin() + 9));
  const auto s2 = fg::cuda::allocator_stats();
  CHECK(s2.arena_rerecorded == s1.arena_rerecorded + 1);
  const auto a5 = step(true);
  CHECK(a5 == a4);
  CHECK(fg::cuda::allocator_stats().arena_rerecorded == s2.arena_rerecorded);
  // back to the original sequence: one more re-recording, then stable again
  const auto a6 = step(false);
  const auto a7 = step(false);
  CHECK(a7 == a6);
  CHECK(fg::cuda::allocator_stats().arena_rerecorded == s2.arena_rerecorded + 1);
  // a block held across the step boundary cannot be handed out again: that entry gets
  // another block (counted as missed), every other entry keeps its address
  Tensor held;
  const auto a8 = step(false, &held);
  const auto s3 = fg::cuda::allocator_stats();
  const auto a9 = step(false);
  const auto s4 = fg::cuda::allocator_stats();
  CHECK(s4.arena_missed == s3.arena_missed + 1);
  REQUIRE(a9.size() == a8.size());
  for (std::size_t i = 0; i < a8.size(); ++i) {
    if (i == 7) {
      CHECK(a9[i] != a8[i]);  // entry 7 is `a`, still held
    } else {
      CHECK(a9[i] == a8[i]);
    }
  }
  held = Tensor();
  // misuse is a clear error
  const std::string twice = error_of([] {
    fg::cuda::begin_step();
    fg::cuda::begin_step();
  });
  CHECK(contains(twice, "already open"));
  fg::cuda::end_step();
  const std::string unopened = error_of([] { fg::cuda::end_step(); });
  CHECK(contains(unopened, "no step is open"));
  CHECK(contains(unopened, "runtime.cu:"));
}

TEST_CASE("cuda runtime: host<->device copies through the staging buffers are exact") {
  FG_SKIP_WITHOUT_CUDA();
  // sizes around the 4 MiB staging chunk: one byte, one chunk, several chunks plus a tail
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{1} << 20, (std::int64_t{10} << 20) / 4 + 12345}) {
    std::vector<float> host(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 9973) * 0.5f - 17.0f;
    const Tensor cpu = from_vector(host, {n});
    const Tensor dev = cpu.to(Device::cuda());
    const Tensor copy = dev.clone();  // device to device
    CHECK(bits_of(copy.to(Device::cpu()).to_vector<float>()) == bits_of(host));
    // queued work is ordered before the copy back
    const Tensor doubled = mul_scalar(dev, 2.0);
    const auto back = doubled.to_vector<float>();
    bool all = true;
    for (std::int64_t i = 0; i < n; ++i) all = all && back[i] == host[i] * 2.0f;
    CHECK(all);
  }
  const Tensor empty_dev = empty({0}, kCuda);
  CHECK(empty_dev.to(Device::cpu()).numel() == 0);
  // a host pointer passed as device memory is refused, not copied
  std::vector<float> a(4, 1.0f), b(4, 2.0f);
  const std::string msg = error_of([&] { device::copy(Device::cuda(), a.data(), Device::cpu(), b.data(), 16); });
  INFO(msg);
  CHECK(contains(msg, "not"));
}

TEST_CASE("cuda runtime: out of memory is a clear error and the device keeps working") {
  FG_SKIP_WITHOUT_CUDA();
  const std::string msg = error_of([] { (void)empty({std::int64_t{1} << 42}, kCuda); });  // 16 TiB
  INFO(msg);
  CHECK(contains(msg, "CUDA out of memory"));
  CHECK(contains(msg, "allocating"));
  const Tensor x = full({1000}, 3.0, kCuda);
  CHECK(fg::sum(x).item() == 3000.0);
}

TEST_CASE("cuda runtime: TF32 is off by default and only loosens GEMMs when switched on") {
  FG_SKIP_WITHOUT_CUDA();
  REQUIRE_FALSE(fg::cuda::allow_tf32());
  const Tensor a = f32_input({256, 512}, 1), b = f32_input({512, 128}, 2);
  const auto ref = matmul(a.to(DType::f64), b.to(DType::f64)).to_vector<double>();
  const auto fp32 = matmul(a.to(Device::cuda()), b.to(Device::cuda())).to_vector<double>();
  FG_CHECK_MATCH(fp32, ref, (Tol{1e-10, 0, 0, "float32 FMA accumulation over k = 512"}), "matmul, TF32 off");
  fg::cuda::set_allow_tf32(true);
  const auto tf32 = matmul(a.to(Device::cuda()), b.to(Device::cuda())).to_vector<double>();
  fg::cuda::set_allow_tf32(false);
  // TF32 rounds the inputs to 10 mantissa bits (relative 5e-4 each): nmse ~1e-7
  FG_CHECK_MATCH(tf32, ref, (Tol{1e-5, 0, 0, "TF32 inputs, float32 accumulation"}), "matmul, TF32 on");
  const auto again = matmul(a.to(Device::cuda()), b.to(Device::cuda())).to_vector<double>();
  FG_CHECK_MATCH(again, ref, (Tol{1e-10, 0, 0, "float32 again after switching TF32 off"}), "matmul, TF32 off again");
}

TEST_CASE("cuda runtime: deterministic mode makes index_select's backward bitwise repeatable") {
  FG_SKIP_WITHOUT_CUDA();
  const bool was = fg::cuda::deterministic();
  fg::cuda::set_deterministic(true);
  // 100000 rows gathered from 10: the backward adds 10000 gradients into each row
  std::vector<std::int64_t> idx(100000);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7919) % 10);
  const Tensor index = from_vector(idx, {100000}, TensorOptions{DType::i64, Device::cuda(), false});
  const Tensor r = f32_input({100000, 3}, 3).to(Device::cuda());
  std::vector<std::vector<std::uint32_t>> grads;
  for (int run = 0; run < 3; ++run) {
    Tensor x = f32_input({10, 3}, 4).to(Device::cuda()).detach();
    x.requires_grad_();
    fg::sum(mul(index_select(x, 0, index), r)).backward();
    grads.push_back(bits_of(x.grad().to_vector<float>()));
  }
  CHECK(grads[1] == grads[0]);
  CHECK(grads[2] == grads[0]);
  fg::cuda::set_deterministic(was);
}
