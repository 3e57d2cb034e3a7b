#pragma once
// What time_mix.cpp hands to the per-SIMD-variant lane code (time_mix.simd.cpp,
// time_first.simd.cpp): plain pointers and integers only, so the lane files
// include no std containers. Arguments are validated before these are built.
#include <cstdint>

namespace rwkv {

struct TimeMixArgs {
  float* state = nullptr;       // one layer, web-rwkv layout f32 [C, N+2, B]
  int64_t C = 0, N = 0, T = 0;  // width, head size, stacked tokens
  bool f16 = false;             // activation dtype of r, z, n, x (else f32)
  const void* r = nullptr;      // [C, T]
  const void* z = nullptr;      // [C, T] raw decay pre-activation
  const void* n = nullptr;      // [C, T, 4] = k, v, a, kk planes
  void* x = nullptr;            // [C, T] xa in, y out
  const uint32_t* token_slot = nullptr;  // [T] state slot (cursor.batch) of each token
  const uint8_t* token_saves = nullptr;  // [T] 1 where the token ends its chunk (save xa to row 0)
  float neg_decay = 0.0f;       // -decay, so that w = exp(neg_decay * sigmoid(z))
};

struct TimeFirstArgs {
  const uint16_t* r_k = nullptr;  // f16 bits [C]
  int64_t C = 0, N = 0, T = 0;
  bool f16 = false;               // activation dtype of r, n, x
  const void* r = nullptr;        // [C, T]
  const void* n = nullptr;        // [C, T, 4] (k = plane 0, v = plane 1)
  void* x = nullptr;              // [C, T] in place
};

}  // namespace rwkv
