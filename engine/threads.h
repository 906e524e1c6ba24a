// engine/threads.h: the one thread setting of the CPU backend.
//
// fusegrad's CPU kernels use two thread pools: OpenBLAS's (GEMMs) and OpenMP's (the float32
// fast kernels of kernels/cpu/fast/). set_num_threads(n) sets both to n, so they never
// oversubscribe the cores between them; the examples' --threads flag calls it. Without a
// call both follow the environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS). Calls are for
// the main thread, between ops. Defined in engine/device.cpp, next to the allocator's
// first-use setup that applies the environment's count.
#pragma once

namespace fg {

// n >= 1; throws fg::Error otherwise.
void set_num_threads(int n);
// OpenMP's current maximum (what the fast kernels use).
int num_threads();

}  // namespace fg
