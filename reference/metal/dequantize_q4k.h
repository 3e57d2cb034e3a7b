#pragma once
// Metal's dequantize_q4_K (ggml-metal.metal, spec section 7): 16 weights of
// one Q4_K block per call, as kernel_mul_mm's half operands.
//
// Chunk il = 0..15 covers elements 16*il .. 16*il+15 of the block: group
// g = il/4 reads qs[32g + 16*(il & 1) ...], the low nibble when (il & 3) < 2,
// else the high nibble, with the scale/min pair of sub-block 2g + (il & 3)/2.
// Each weight is (f32(d_eff)*sc)*(q & mask) - f32(dmin)*m in float, stored to
// half (RNE, overflow to Inf).
//
// High nibbles are masked in place (q & 0xF0 = 16*q) rather than shifted, and
// d is divided by 16 *in half precision* (`xb->d / 16.h`) to compensate. That
// is exact for d >= 2^-10 (d/16 a normal half); below, d/16 is a half
// subnormal and is exact only if d is a multiple of 2^-20, otherwise it loses
// up to 4 low bits (4096 of the 31744 finite non-negative halves; up to 2^-7
// relative for normal d). Real Q4_K files have d around 1e-4 (below
// 2^-10 = 9.8e-4), so this matters in practice.
// HighNibbleScale picks the model.
//
// Whatever the scale, (f32(d_eff)*sc)*(q & mask) is exact in f32 (11 + 6 + 4
// significant bits), so a compiler fusing the multiply and subtract into an
// FMA (Metal compiles with fast math) gives the same bits.
#include <cstdint>
#include <string_view>

#include "reference/numeric/f16.h"

namespace rwkv::metal {

enum class HighNibbleScale : uint8_t {
  // d_eff = half(d / 16), nearest even, half subnormals kept: the source as
  // written, assuming the GPU computes half arithmetic in half. The default.
  half_divide,
  // d_eff = d / 16 exactly (as if the division ran in float): every weight
  // then equals the plain formula D_j*q - M_j of dequantize_row_q4_K, rounded to half.
  exact,
};
inline constexpr HighNibbleScale kDefaultHighNibbleScale = HighNibbleScale::half_divide;

std::string_view high_nibble_scale_name(HighNibbleScale hn);

// The 16 half weights of chunk il (0..15) of one 144-byte Q4_K block.
void dequantize_q4k_chunk(const uint8_t* block, int il, HighNibbleScale hn, f16* out16);

}  // namespace rwkv::metal
