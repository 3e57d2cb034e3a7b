#pragma once
// Reads the first and last byte of every weight a loader handed out, so an
// out-of-range view is caught by AddressSanitizer.
#include <cstdint>

#include "reference/model/rwkv7_weights.h"

namespace rwkv::fuzz {

inline void touch(const Rwkv7Weights& w) {
  volatile uint8_t sink = 0;
  for (const auto& [name, v] : w.vectors) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data);
    const int64_t n = v.shape.numel() * 2;
    if (n > 0) sink = sink ^ p[0] ^ p[n - 1];
  }
  for (const auto& [name, m] : w.matrices)
    if (m.data_bytes > 0) sink = sink ^ m.data[0] ^ m.data[m.data_bytes - 1];
  (void)sink;
}

}  // namespace rwkv::fuzz
