#pragma once
// A portable, seeded random source for test inputs and synthetic data. The
// standard library's distributions are not the same across implementations,
// so inputs are derived here from a SplitMix64 stream with explicit
// arithmetic: the same seed gives the same values on every platform.
#include <cstdint>

namespace rwkv {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t next_u32() { return uint32_t(next_u64() >> 32); }
  // Uniform in [0, 1), 24 random bits, exact in float.
  float unit() { return float(next_u64() >> 40) * 0x1p-24f; }
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * unit(); }
  // Approximately N(0, 1): Irwin-Hall sum of 12 uniforms minus 6 (range +-6).
  float normal() {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += double(next_u64() >> 11) * 0x1p-53;
    return float(s - 6.0);
  }

 private:
  uint64_t state_;
};

}  // namespace rwkv
