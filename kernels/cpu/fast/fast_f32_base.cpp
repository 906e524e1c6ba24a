// kernels/cpu/fast/fast_f32_base.cpp: the float32 row kernels (fast_f32_impl.inc) for
// SSE2 (any x86-64); root CMakeLists.txt sets this file's flags.
#define FG_FAST_NS isa_base
#define FG_W 4
#define FG_MVEC __m128
#define FG_SLEEF(f) Sleef_##f##4_u10sse2
#define FG_TABLE table_base
#define FG_ISA "base"
#include "kernels/cpu/fast/fast_f32_impl.inc"
