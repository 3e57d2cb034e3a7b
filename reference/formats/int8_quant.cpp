// web-rwkv Int8 encoder (quant_mat_int8.wgsl: compute_minmax, then quantize).
#include <cmath>

#include "reference/formats/blocks.h"
#include "reference/formats/quant_args.h"
#include "reference/formats/webrwkv_quant.h"

namespace rwkv {

uint8_t int8_code(float x, float mn, float mx) {
  const float v = (x - mn) / (mx - mn);
  // A constant block divides 0 by 0; Inf or NaN in the block also lands here.
  // Code 0 decodes to min exactly, and converting NaN to an integer would be
  // undefined behaviour.
  if (!(v == v)) return 0;
  const float c = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  // pack4x8unorm as WGSL defines it: floor(0.5 + 255*c), in [0.5, 255.5] here.
  return static_cast<uint8_t>(std::floor(0.5f + 255.0f * c));
}

void quantize_int8(const f16* x, int64_t n, uint8_t* q, f16* minmax) {
  if (n < 0) throw std::invalid_argument(fmt::format("quantize_int8: n = {} is negative", n));
  for (int64_t start = 0, b = 0; start < n; start += blocks::kInt8Block, ++b) {
    const int64_t end = start + blocks::kInt8Block < n ? start + blocks::kInt8Block : n;
    // Exact min and max of f16 values, so lane grouping does not matter; NaN
    // never compares below or above. Among +0 and -0 the first seen stays.
    float mn = 65504.0f, mx = -65504.0f;
    for (int64_t i = start; i < end; ++i) {
      const float v = to_f32(x[i]);
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    minmax[2 * b] = to_f16(mn);  // exact: f16 values or the initial +-65504
    minmax[2 * b + 1] = to_f16(mx);
    // The quantiser reads the stored pair back, as the shader does.
    const float smn = to_f32(minmax[2 * b]), smx = to_f32(minmax[2 * b + 1]);
    for (int64_t i = start; i < end; ++i) q[i] = int8_code(to_f32(x[i]), smn, smx);
  }
}

}  // namespace rwkv
