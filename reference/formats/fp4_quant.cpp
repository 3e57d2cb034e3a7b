// web-rwkv NF4/SF4 encoder (quant_mat_nf4.wgsl: compute_absmax, then quantize).
//
// Confirmed from web-rwkv's shader: absmax over |x| in f32; each value is
// scaled by the block's absmax and matched to the nearest of 16 levels with a
// scan j = 0..15 that keeps j when |level_j - r| <= the best so far, so ties
// go to the higher index. Versions differ in how they scale: some shaders
// divide (x / absmax, as the spec states and as we do), others multiply by
// 1/absmax; the two can differ by one ulp of r and so, rarely, in the index
// chosen at a midpoint.
#include <cmath>
#include <limits>

#include "reference/formats/blocks.h"
#include "reference/formats/quant_args.h"
#include "reference/formats/webrwkv_quant.h"

namespace rwkv {

uint8_t fp4_code(const float* table, float r) {
  if (!(r == r)) return 7;  // a zero block's 0/0, Inf/Inf or NaN: the level 0.0
  float best = std::numeric_limits<float>::infinity();
  uint8_t index = 0;
  for (uint8_t j = 0; j < 16; ++j) {
    const float dist = std::fabs(table[j] - r);
    if (dist <= best) {
      best = dist;
      index = j;
    }
  }
  return index;
}

void quantize_fp4(const float* table, const f16* x, int64_t n, uint8_t* q, f16* absmax) {
  if (n < 0 || n % 2 != 0)
    throw std::invalid_argument(fmt::format("quantize_fp4: n = {} must be even and non-negative (two codes per byte)", n));
  for (int64_t start = 0, b = 0; start < n; start += blocks::kNf4Block, ++b) {
    const int64_t end = start + blocks::kNf4Block < n ? start + blocks::kNf4Block : n;
    float amax = 0.0f;
    for (int64_t i = start; i < end; ++i) {
      const float a = std::fabs(to_f32(x[i]));
      if (a > amax) amax = a;  // NaN never compares greater
    }
    absmax[b] = to_f16(amax);  // exact: the largest |x| of f16 values
    // The quantiser divides by the f32 absmax; the decoder multiplies by the
    // stored f16 one. For f16 input they are the same value.
    for (int64_t i = start; i < end; ++i) {
      const uint8_t code = fp4_code(table, to_f32(x[i]) / amax);
      if (i % 2 == 0) q[i / 2] = code;
      else q[i / 2] = uint8_t(q[i / 2] | (code << 4));
    }
  }
}

}  // namespace rwkv
