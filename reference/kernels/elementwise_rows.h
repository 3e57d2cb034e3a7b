#pragma once
// What elementwise.cpp hands to the per-variant loops in elementwise.simd.cpp:
// raw pointers and sizes only (the lane code uses no std types).
#include <cstdint>

#include "reference/kernels/activation.h"
#include "reference/numeric/f16.h"

namespace rwkv {

// An activation operand seen as rows of C contiguous channels: row (t, b)
// starts at element t * t_step + b * b_step. A step of 0 broadcasts.
struct ActRows {
  const void* data = nullptr;
  bool f16 = false;
  int64_t t_step = 0;
  int64_t b_step = 0;
};

// A written activation [C, T, B], contiguous.
struct ActOut {
  void* data = nullptr;
  bool f16 = false;
};

// Per-token sources and destinations decided by the cursors (elementwise.cpp).
struct TokenShiftRows {
  const void* x = nullptr;  // [C, T]
  bool x_f16 = false;
  ActRows mu;               // t_step 0 or C
  ActOut out;               // [C, T]
  const float* const* state_prev = nullptr;  // [T]: the state row for a chunk's first token, else null
  int64_t C = 0, T = 0;
};

struct ChannelMixRows {
  ActOut x;                 // [C, T], read (stored to the state) then overwritten with v
  const void* v = nullptr;  // [C, T]
  bool v_f16 = false;
  float* const* state_dst = nullptr;  // [T]: the FFN state row for a chunk's last token, else null
  int64_t C = 0, T = 0;
};

}  // namespace rwkv
