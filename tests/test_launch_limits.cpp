// tests/test_launch_limits.cpp: the host-side launch arithmetic of the CUDA kernels
// (kernels/cuda/launch_limits.h), checked without a GPU: the dynamic shared-memory budget
// beside a kernel's static shared memory, the 32-bit index choice of grid-stride loops,
// the split of column reductions, and the persistent LSTM's plan chooser with its
// fallback. Each case pins a defect found in review (issue 10, part A): with the old
// rules, the marked CHECKs fail.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/launch_limits.h"

using namespace fg::kernels::launch;

namespace {
constexpr std::size_t kOptinSm90 = 232448;  // H100/H200: 227 KiB per block with opt-in
constexpr int kSmsH100 = 132;
}  // namespace

TEST_CASE("dynamic shared memory: the limit leaves room for the kernel's static shared memory") {
  // the old rule asked for the whole opt-in size: static + dynamic > limit, refused by CUDA
  CHECK(dynamic_smem_limit(kOptinSm90, 16) == kOptinSm90 - 16);
  CHECK(dynamic_smem_limit(kOptinSm90, 16) + 16 <= kOptinSm90);
  // saved attention (256 static bytes) and layer-norm backward (272) under the default 48 KiB
  CHECK(dynamic_smem_limit(kDefaultSmemPerBlock, 256) == 48 * 1024 - 256);
  CHECK(dynamic_smem_limit(kDefaultSmemPerBlock, 272) == 48 * 1024 - 272);
  CHECK(dynamic_smem_limit(kDefaultSmemPerBlock, 0) == 48 * 1024);
  // a kernel whose static memory already fills the block has no dynamic budget (no wrap)
  CHECK(dynamic_smem_limit(kDefaultSmemPerBlock, 48 * 1024) == 0);
  CHECK(dynamic_smem_limit(kDefaultSmemPerBlock, 64 * 1024) == 0);
}

TEST_CASE("grid-stride loops: 32-bit indices only when the last step still fits") {
  const std::int64_t kMax = 0x7fffffff;
  const std::int64_t grid = 132 * 32, threads = 256, stride = grid * threads;
  CHECK(grid_stride_fits_int32(0, grid, threads));
  CHECK(grid_stride_fits_int32(1025, grid, threads));
  // the largest index formed is (numel - 1) + stride
  CHECK(grid_stride_fits_int32(kMax - stride + 1, grid, threads));
  // numel <= INT32_MAX was the old test: these pass it, but i += stride would pass INT32_MAX
  CHECK_FALSE(grid_stride_fits_int32(kMax - stride + 2, grid, threads));
  CHECK_FALSE(grid_stride_fits_int32(kMax, grid, threads));
  CHECK(grid_stride_fits_int32(kMax, 1, 1));  // one thread: the last i is exactly INT32_MAX
  CHECK_FALSE(grid_stride_fits_int32(kMax, 1, 2));
  // sizes past 2^31 and absurd launch shapes take the 64-bit path
  CHECK_FALSE(grid_stride_fits_int32(std::int64_t{1} << 31, 1, 1));
  CHECK_FALSE(grid_stride_fits_int32(100, std::int64_t{1} << 31, 1024));
  CHECK_FALSE(grid_stride_fits_int32(-1, 1, 1));
}

TEST_CASE("column reductions: enough blocks to fill the device, a split that depends on the shape alone") {
  SUBCASE("BERT-base bias gradient: 768 columns over 4096 rows") {
    const ColumnSplit s = column_split(4096, 768);
    CHECK(s.col_blocks == 24);
    // the old kernel launched ceil(768 / 256) = 3 blocks on a 132-SM device
    CHECK(s.col_blocks * s.row_blocks >= kSmsH100);
    CHECK(s.rows_per_block >= kColumnMinRowsPerBlock);
    CHECK(s.row_blocks * s.rows_per_block >= 4096);
    CHECK((s.row_blocks - 1) * s.rows_per_block < 4096);  // no empty block
  }
  SUBCASE("awkward sizes: every row covered once, no empty block") {
    for (std::int64_t rows : {1, 7, 33, 64, 65, 1025, 100000, 5000000})
      for (std::int64_t cols : {1, 7, 33, 1025, 3072}) {
        const ColumnSplit s = column_split(rows, cols);
        CAPTURE(rows);
        CAPTURE(cols);
        CHECK(s.col_blocks * kColumnTile >= cols);
        CHECK(s.row_blocks >= 1);
        CHECK(s.row_blocks <= 65535);
        CHECK(s.row_blocks * s.rows_per_block >= rows);
        CHECK((s.row_blocks - 1) * s.rows_per_block < rows);
      }
  }
  SUBCASE("short columns stay one block: no second stage work to speak of") {
    CHECK(column_split(20, 512).row_blocks == 1);
    CHECK(column_split(0, 512).row_blocks == 0);
  }
}

namespace {
// The persistent LSTM at H = 128 on sm_90: forward dynamic bytes per rows (as
// forward_smem_bytes computes them), 16 or 32 static bytes, one block per SM.
std::vector<PersistentOption> h128_options(std::size_t static_bytes, int per_sm) {
  std::vector<PersistentOption> o;
  const std::size_t bytes[] = {152576, 155648, 161792, 206848};
  const int rows[] = {1, 2, 4, 8};
  for (int i = 0; i < 4; ++i) o.push_back({rows[i], bytes[i], static_bytes, per_sm, false});
  return o;
}
}  // namespace

TEST_CASE("persistent LSTM plan: static shared memory counts against the opt-in limit") {
  // dynamic exactly the opt-in limit: fits only if the kernel had no static bytes
  std::vector<PersistentOption> o = {{1, kOptinSm90, 16, 1, false}};
  const PersistentChoice c = choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 0);
  CHECK(c.rows == 0);
  CHECK(c.why.find("shared memory") != std::string::npos);
  o[0].dynamic_bytes = kOptinSm90 - 16;
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 0).rows == 1);
}

TEST_CASE("persistent LSTM plan: fewest rows that give one wave, else the most rows that fit") {
  const auto o = h128_options(16, 1);
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 0).rows == 1);     // 32 blocks
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 132, 0).rows == 1);    // exactly one wave
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 133, 0).rows == 2);
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 528, 0).rows == 4);
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 529, 0).rows == 8);
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 100000, 0).rows == 8);  // several waves of 8
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 100000, 2).rows == 2);  // forced
}

TEST_CASE("persistent LSTM plan: a configuration that spills is never chosen automatically") {
  auto o = h128_options(16, 1);
  o[3].spills = true;  // 8 rows spilled registers before issue 10
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 100000, 0).rows == 4);
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 100000, 8).rows == 8);  // FG_CUDA_LSTM_ROWS=8 reaches it
}

TEST_CASE("persistent LSTM plan: a failed probe or nothing that fits means the general path, with a reason") {
  auto o = h128_options(16, -1);  // every occupancy probe failed
  PersistentChoice c = choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 0);
  CHECK(c.rows == 0);
  CHECK(c.why.find("probe failed") != std::string::npos);
  // a device with the 99 KiB opt-in of sm_86: H = 128 fits nowhere
  c = choose_persistent_rows(h128_options(16, 1), 101376, 84, 32, 0);
  CHECK(c.rows == 0);
  CHECK(c.why.find("101376") != std::string::npos);
  // forced rows that do not fit: no silent substitute
  o = h128_options(16, 1);
  o[3].dynamic_bytes = kOptinSm90;
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 8).rows == 0);
  // only a middle option works: it is taken
  o = h128_options(16, -1);
  o[1].blocks_per_sm = 1;
  CHECK(choose_persistent_rows(o, kOptinSm90, kSmsH100, 32, 0).rows == 2);
}
