// kernels/cpu/fast/fast_f32_avx2.cpp: the float32 row kernels (fast_f32_impl.inc) for
// AVX2 + FMA (compiled with -mavx2 -mfma); root CMakeLists.txt sets this file's flags.
#define FG_FAST_NS isa_avx2
#define FG_W 8
#define FG_MVEC __m256
#define FG_SLEEF(f) Sleef_##f##8_u10avx2
#define FG_TABLE table_avx2
#define FG_ISA "avx2"
#include "kernels/cpu/fast/fast_f32_impl.inc"
