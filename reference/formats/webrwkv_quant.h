#pragma once
// Encoders of web-rwkv's load-time weight formats (../shared/spec/quant-formats.md
// section 4). web-rwkv quantises a layer's f16 weights on the GPU; these take
// the same f16 values, as a flat array in memory order (K fastest, row after
// row), because blocks run over that order and may cross a row end.
//
// Int8: blocks of 128 values; per block (min, max) over the f16 values, stored
//   as f16 in minmax[2b], minmax[2b+1]; q = floor(0.5 + 255*clamp((x - min)/(max - min), 0, 1))
//   in f32 with the stored min and max (pack4x8unorm as WGSL defines it).
// NF4/SF4: blocks of 64 values; absmax = max |x| in f32, stored f16 (exact for
//   f16 input); q = the table index nearest to x/absmax (f32 division),
//   ties to the higher index; two codes per byte, element e in bits 4(e%2)
//   of byte e/2 (8 per little-endian u32, element e in bits 4e).
//
// Our choices where web-rwkv's GPU result is not defined (WGSL leaves NaN to
// the implementation) or its shader reads past the end:
//   - Int8 constant block (max == min, so 0/0): code 0, which decodes to min
//     exactly. Any other NaN ratio (an Inf or NaN in the block) also gives 0.
//   - Int8 min/max ignore NaN elements (NaN comparisons are false); the
//     search starts from +65504 / -65504 as the shader does, so an all-NaN
//     block stores (65504, -65504).
//   - NF4/SF4 absmax ignores NaN elements; a NaN ratio (a zero block's 0/0,
//     Inf/Inf, a NaN element) gives code 7, the table's 0.0. Under IEEE NaN
//     rules the shader's scan would pick index 0 instead; both decode a zero
//     block to zero (ours to +0.0, theirs to -0.0).
//   - A last block shorter than the block size (n not a multiple of it) is
//     quantised over its real elements only.
#include <cstdint>

#include "reference/numeric/f16.h"

namespace rwkv {

// n >= 0 values; q receives n bytes, minmax 2*ceil(n/128) f16.
void quantize_int8(const f16* x, int64_t n, uint8_t* q, f16* minmax);
// One Int8 code from f32 operands (min and max as stored).
uint8_t int8_code(float x, float mn, float mx);

// table: 16 ascending f32 levels (blocks::nf4_table() or blocks::sf4_table()).
// n >= 0 and even; q receives n/2 bytes, absmax ceil(n/64) f16.
void quantize_fp4(const float* table, const f16* x, int64_t n, uint8_t* q, f16* absmax);
// The index of the level nearest to r (f32 distances, ties to the higher
// index); 7 for NaN.
uint8_t fp4_code(const float* table, float r);

}  // namespace rwkv
