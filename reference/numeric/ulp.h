#pragma once
// Distance between floats in units in the last place, counted on a monotone
// integer line: consecutive floats are 1 apart, across the sign too, and +0 and
// -0 are the same point. So the distance from the smallest positive subnormal
// to the smallest negative one is 2, and from FLT_MAX to +Inf is 1.
#include <cstdint>
#include <limits>

#include "reference/numeric/f16.h"

namespace rwkv {

// The float's place on the line: bits for positive floats, minus the magnitude
// bits for negative ones. Not meaningful for NaN.
inline int64_t ulp_ordinal(float f) {
  const uint32_t u = f32_to_bits(f);
  const int64_t mag = int64_t(u & 0x7fffffffu);
  return (u >> 31) ? -mag : mag;
}

// The float at a place on the line (0 gives +0).
inline float float_at_ulp_ordinal(int64_t o) {
  return o < 0 ? bits_to_f32(0x80000000u | uint32_t(-o)) : bits_to_f32(uint32_t(o));
}

// |ordinal(a) - ordinal(b)|. Two NaNs are 0 apart (any payloads); a NaN and a
// number are infinitely apart (UINT64_MAX).
inline uint64_t ulp_distance(float a, float b) {
  const bool na = a != a, nb = b != b;
  if (na || nb) return na && nb ? 0 : std::numeric_limits<uint64_t>::max();
  const int64_t d = ulp_ordinal(a) - ulp_ordinal(b);
  return uint64_t(d < 0 ? -d : d);
}

}  // namespace rwkv
