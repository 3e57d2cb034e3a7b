#pragma once
// float32 <-> float16 over arrays, by the active SIMD variant (F16C where the
// variant has it). Same bits as f32_to_f16_bits / f16_bits_to_f32 element by
// element at every level (tests/numeric_f16_test.cpp checks all 65,536 halves
// and the rounding cases); kernels and tests use it to convert whole rows.
#include <cstdint>

#include "reference/numeric/f16.h"

namespace rwkv {

// out[i] = to_f16(in[i]) for i < n: round to nearest even.
void f32_to_f16_array(const float* in, f16* out, int64_t n);
// out[i] = to_f32(in[i]) for i < n: exact.
void f16_to_f32_array(const f16* in, float* out, int64_t n);

}  // namespace rwkv
