// kernels/cpu/fast/fast_f32_avx512.cpp: the float32 row kernels (fast_f32_impl.inc) for
// AVX-512 (compiled with -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma); root CMakeLists.txt sets this file's flags.
#define FG_FAST_NS isa_avx512
#define FG_W 16
#define FG_MVEC __m512
#define FG_SLEEF(f) Sleef_##f##16_u10avx512f
#define FG_TABLE table_avx512
#define FG_ISA "avx512"
#include "kernels/cpu/fast/fast_f32_impl.inc"
