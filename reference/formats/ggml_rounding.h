#pragma once
// The two integer roundings of ggml's reference quantisers, reproduced
// exactly (../shared/spec/quant-formats.md section 1). Internal to the
// encoders in reference/formats/.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace rwkv::ggml {

// ggml's nearest_int: adds 1.5 * 2^23 in f32 and reads the low mantissa bits.
// The f32 add rounds half to even, so ties go to the even integer. Exact for
// |f| <= 2^22; beyond that (and for Inf or NaN) it returns what the bits say,
// as llama.cpp does with its assert compiled out. Reading bits through memcpy
// is defined for every float, so no input is undefined behaviour.
inline int nearest_int(float f) {
  const float biased = f + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Q8_0's conversion of roundf(v) to int8_t. roundf rounds half away from
// zero. A finite v here lies within [-127.5, 127.5], so the code is the
// rounded value; NaN (a block holding Inf or NaN) gives 0, which is also what
// llama.cpp's x86 build stores (cvttss2si returns 0x80000000, whose low byte
// is 0). Out-of-range values saturate; the C cast would be undefined there.
inline int8_t round_half_away_to_i8(float v) {
  if (!(v == v)) return 0;
  const float r = std::round(v);
  if (r >= 127.0f) return 127;
  if (r <= -128.0f) return -128;
  return static_cast<int8_t>(r);
}

}  // namespace rwkv::ggml
