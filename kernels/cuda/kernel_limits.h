// kernels/cuda/kernel_limits.h: what the current CUDA device lets a few size-limited
// kernels take, asked of the runtime (static shared memory of the compiled kernel, the
// device's limits), so that tests can build cases exactly at each edge; and the launch
// shapes behind the per-kernel resource report (bench/cuda_kernel_report.cpp, the first
// step of tools/gpu-check.sh). Declared for CUDA builds only (FUSEGRAD_WITH_CUDA).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/launch_limits.h"

namespace fg::kernels::cuda {

// The largest kv_len the saved-attention row kernels (kernels/cuda/attention.cu) take at
// head_dim D: head_dim + kv_len floats of dynamic shared memory beside the kernel's static
// bytes within the default 48 KiB. `backward` picks the backward row kernel.
std::int64_t attention_rows_max_kv_len(std::int64_t head_dim, bool backward);

// The largest row length n for which the layer-norm backward (kernels/cuda/nn.cu) keeps
// its per-block partial sums (2 n floats) in shared memory; longer rows use global memory.
std::int64_t layer_norm_backward_max_smem_n();

// Launch shapes of the kernels whose shared memory or occupancy depends on the shape:
// saved and flash attention, layer-norm backward, the persistent LSTM, the MFN kernels,
// the column reductions. One entry per (kernel, representative shape).
std::vector<launch::KernelLaunchShape> attention_launch_shapes();        // kernels/cuda/attention.cu
std::vector<launch::KernelLaunchShape> flash_attention_launch_shapes();  // kernels/cuda/attention_flash.cu
std::vector<launch::KernelLaunchShape> nn_launch_shapes();               // kernels/cuda/nn.cu
std::vector<launch::KernelLaunchShape> lstm_launch_shapes();             // kernels/cuda/lstm.cu
std::vector<launch::KernelLaunchShape> mfn_launch_shapes();              // kernels/cuda/mfn.cu

}  // namespace fg::kernels::cuda
