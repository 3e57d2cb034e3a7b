#pragma once
// IEEE 754 binary16 <-> binary32 conversion, written here so that every
// platform and compiler gives the same bits.
//
//  f16 -> f32 is exact. A signalling NaN comes back quiet (bit 22 set, payload
//  kept), which is what IEEE convertFormat and x86 F16C (vcvtph2ps) do, so the
//  SIMD variants may use F16C and still agree bit for bit.
//  f32 -> f16 rounds to nearest, ties to even; overflow gives +-Inf; NaN stays
//  NaN, made quiet, with the top 9 payload bits kept (as vcvtps2ph does).
//
// Both are tested exhaustively (tests/numeric_f16_test.cpp): all 65,536 halves
// and all 2^32 floats against an independent oracle.
#include <cstdint>
#include <cstring>

namespace rwkv {

// A float16 value held as its bit pattern. Weights and f16 activations are
// arrays of these.
struct f16 {
  uint16_t bits = 0;
};
static_assert(sizeof(f16) == 2);

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7fffu;
  uint32_t out;
  if (mag >= 0x7c00u) {                       // Inf or NaN
    out = 0x7f800000u | (mag & 0x3ffu) << 13;
    if (mag & 0x3ffu) out |= 0x00400000u;     // quiet the NaN
  } else {
    // Shift the half's exponent and mantissa into float position and scale by
    // 2^112: exact for normals and for subnormals (which become normal floats).
    out = f32_to_bits(bits_to_f32(mag << 13) * 0x1p112f);
  }
  return bits_to_f32(out | sign);
}

inline uint16_t f32_to_f16_bits(float f) {
  const uint32_t u = f32_to_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u)                                        // NaN
    return uint16_t(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));
  if (mag >= 0x477ff000u)                                       // >= 65520: rounds to Inf
    return uint16_t(sign | 0x7c00u);
  if (mag >= 0x38800000u) {                                     // normal half (>= 2^-14)
    // Re-bias the exponent, then round the 13 dropped bits to nearest even.
    const uint32_t v = mag - 0x38000000u;                       // (127-15) << 23
    const uint32_t round = 0xfffu + ((v >> 13) & 1u);
    return uint16_t(sign | ((v + round) >> 13));
  }
  if (mag < 0x33000000u)                                        // < 2^-25: rounds to 0
    return uint16_t(sign);
  // Subnormal half: value = m * 2^-24 with m = mantissa(with implicit 1) >> shift.
  const uint32_t exp = mag >> 23;                               // 102..112
  const uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exp;                            // 14..24
  const uint32_t m = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  const uint32_t up = (rem > half || (rem == half && (m & 1u))) ? 1u : 0u;
  return uint16_t(sign | (m + up));
}

inline float to_f32(f16 h) { return f16_bits_to_f32(h.bits); }
inline f16 to_f16(float f) { return f16{f32_to_f16_bits(f)}; }
// Round a float to the nearest float16 and back (what storing to f16 does).
inline float round_to_f16(float f) { return f16_bits_to_f32(f32_to_f16_bits(f)); }

}  // namespace rwkv
