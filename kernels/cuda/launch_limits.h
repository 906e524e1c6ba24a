// kernels/cuda/launch_limits.h: the host-side arithmetic that decides whether and how a
// CUDA kernel may be launched: shared-memory budgets, the 32-bit index choice of
// grid-stride loops, the split of column reductions and the persistent LSTM's plan.
// Plain C++ (no CUDA header): the kernels' .cu files use it, and tests/test_launch_limits.cpp
// checks every rule on a machine without a GPU. The numbers of one device (opt-in limit,
// a kernel's static shared memory, resident blocks per SM) come from the CUDA runtime at
// the call sites; here they are arguments.
//
// Limits on sm_90 (H100/H200), for orientation: 48 KiB of shared memory per block without
// opting in, 227 KiB (232448 bytes) with cudaFuncAttributeMaxDynamicSharedMemorySize,
// 65536 registers per SM (255 per thread), grid.y and grid.z at most 65535.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fg::kernels::launch {

// Shared memory every block may use without opting in.
inline constexpr std::size_t kDefaultSmemPerBlock = 48 * 1024;

// The most DYNAMIC shared memory a launch of a kernel may request when the block's
// limit is `block_limit` bytes (48 KiB, or the device's opt-in maximum after
// cudaFuncSetAttribute) and the kernel declares `static_bytes` of __shared__ arrays
// itself (cudaFuncGetAttributes(...).sharedSizeBytes). CUDA checks static + dynamic
// against the limit: a dynamic request of the whole limit fails at launch (or at
// cudaFuncSetAttribute) as soon as the kernel has one static byte.
constexpr std::size_t dynamic_smem_limit(std::size_t block_limit, std::size_t static_bytes) {
  return static_bytes >= block_limit ? 0 : block_limit - static_bytes;
}

// True when a grid-stride loop `for (I i = first; i < numel; i += grid * threads)` may use
// a signed 32-bit index I: the loop forms indices up to (numel - 1) + grid * threads (the
// step that ends it), and that value must not pass INT32_MAX, or i wraps negative and the
// loop never ends (or writes out of bounds).
constexpr bool grid_stride_fits_int32(std::int64_t numel, std::int64_t grid, std::int64_t threads) {
  constexpr std::int64_t kMax = 0x7fffffff;
  if (numel < 0 || grid < 0 || threads < 0) return false;
  if (grid > kMax || threads > kMax || (threads > 0 && grid > kMax / threads)) return false;
  const std::int64_t stride = grid * threads;
  return numel == 0 || numel - 1 <= kMax - stride;
}

// ---------------------------------------------------------------- column reductions
// out[c] = sum over rows r of term(r, c), in two stages (kernels/cuda/column_reduce.cuh):
// stage 1 gives each block 32 columns x `rows_per_block` rows and writes one partial sum
// per (row block, column); stage 2 adds a column's partials in row-block order. The split
// depends on the shape only, never on the device, so the bits are the same on every run
// and every GPU. One thread per column over all rows would launch ceil(cols / 256) blocks
// (3 blocks on a 132-SM H100 at cols = 768) and leave the device idle.
struct ColumnSplit {
  std::int64_t col_blocks = 0;      // ceil(cols / kColumnTile)
  std::int64_t row_blocks = 0;      // blocks along the rows (grid.y, at most 65535)
  std::int64_t rows_per_block = 0;  // rows each block sums
};

inline constexpr std::int64_t kColumnTile = 32;           // columns per block (one warp wide)
inline constexpr std::int64_t kColumnMinRowsPerBlock = 64;  // below this a block is mostly launch cost
inline constexpr std::int64_t kColumnTargetBlocks = 1024;   // ~8 blocks per SM on a 132-SM device

constexpr ColumnSplit column_split(std::int64_t rows, std::int64_t cols) {
  ColumnSplit s;
  if (rows <= 0 || cols <= 0) return s;
  s.col_blocks = (cols + kColumnTile - 1) / kColumnTile;
  const std::int64_t by_rows = (rows + kColumnMinRowsPerBlock - 1) / kColumnMinRowsPerBlock;
  const std::int64_t by_target = std::max<std::int64_t>(1, kColumnTargetBlocks / s.col_blocks);
  std::int64_t blocks = std::min<std::int64_t>({by_rows, by_target, 65535});
  s.rows_per_block = (rows + blocks - 1) / blocks;
  s.row_blocks = (rows + s.rows_per_block - 1) / s.rows_per_block;  // no empty block
  return s;
}

// ---------------------------------------------------------------- persistent LSTM plan
// One candidate configuration of a persistent LSTM kernel (kernels/cuda/lstm_persistent.cu):
// `rows` sequences per block, its dynamic and static shared memory, and the resident blocks
// per SM that the occupancy calculator gave (-1: a CUDA call of the probe failed; the
// configuration is then never used).
struct PersistentOption {
  int rows = 0;
  std::size_t dynamic_bytes = 0;
  std::size_t static_bytes = 0;
  int blocks_per_sm = 0;
  bool spills = false;  // uses local memory (registers spilled): not chosen automatically
};

struct PersistentChoice {
  int rows = 0;     // 0: no configuration fits; the caller takes the general path
  std::string why;  // when rows == 0: the reason, for the one logged line
};

// Whether option `o` can launch on a device whose opt-in limit is `optin_bytes`.
constexpr bool persistent_option_fits(const PersistentOption& o, std::size_t optin_bytes) {
  return o.rows > 0 && o.blocks_per_sm > 0 && o.dynamic_bytes <= dynamic_smem_limit(optin_bytes, o.static_bytes);
}

// The fewest rows per block whose blocks all fit on the device at once (one wave: every
// block runs every step concurrently); if none gives one wave, the most rows that fit.
// `forced_rows` (FG_CUDA_LSTM_ROWS; 0 = unset) takes that configuration if it fits, even
// one that spills (tests reach every configuration so). Options must be sorted by rows.
inline PersistentChoice choose_persistent_rows(const std::vector<PersistentOption>& options, std::size_t optin_bytes,
                                               int sm_count, std::int64_t batch, int forced_rows) {
  PersistentChoice best;
  std::string last_reason = "no configuration was offered";
  for (const PersistentOption& o : options) {
    if (forced_rows > 0 && o.rows != forced_rows) continue;
    if (forced_rows == 0 && o.spills) {
      last_reason = std::to_string(o.rows) + " rows per block spill registers";
      continue;
    }
    if (!persistent_option_fits(o, optin_bytes)) {
      last_reason = o.blocks_per_sm < 0
                        ? "the CUDA occupancy probe failed for " + std::to_string(o.rows) + " rows per block"
                        : std::to_string(o.rows) + " rows per block need " +
                              std::to_string(o.dynamic_bytes + o.static_bytes) +
                              " bytes of shared memory, the device grants " + std::to_string(optin_bytes);
      continue;
    }
    best.rows = o.rows;
    best.why.clear();
    const std::int64_t blocks = (batch + o.rows - 1) / o.rows;
    if (blocks <= static_cast<std::int64_t>(o.blocks_per_sm) * sm_count) break;
  }
  if (best.rows == 0) best.why = last_reason;
  return best;
}

// ---------------------------------------------------------------- resource report
// One kernel at one launch shape, for the per-kernel resource report that
// tools/gpu-check.sh prints first (bench/cuda_kernel_report.cpp adds registers, local
// memory, static shared memory and resident blocks per SM from the CUDA runtime).
struct KernelLaunchShape {
  std::string name;              // kernel and configuration, e.g. "flash_forward D=64"
  const void* function = nullptr;  // the __global__ function
  int threads = 0;
  std::size_t dynamic_bytes = 0;
};

}  // namespace fg::kernels::launch
