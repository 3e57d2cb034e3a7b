#pragma once
// What norm.cpp hands to the per-variant row loops in norm.simd.cpp: raw
// pointers and sizes only (the lane code uses no std types).
#include <cstdint>

#include "reference/numeric/f16.h"

namespace rwkv {

struct NormRows {
  const void* x = nullptr;  // f16 or f32, rows of `len` contiguous channels
  bool x_f16 = false;
  void* out = nullptr;      // same layout; may be x itself
  bool out_f16 = false;
  int64_t len = 0;          // channels per row (C, or N for per-head norms)
  int64_t rows = 0;         // row r starts at element r * len
  const f16* w = nullptr;   // row r uses w + (r % weight_rows) * len (layer/group norm only)
  const f16* b = nullptr;
  int64_t weight_rows = 1;  // 1 for layer_norm, H for group_norm
  int bs = 128;             // threads of the emulated workgroup
  float eps = 0;
};

}  // namespace rwkv
