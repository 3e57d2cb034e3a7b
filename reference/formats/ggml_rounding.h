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

// Q8_0's roundf(v) stored to int8_t, as llama.cpp's x86-64 build does it:
// roundf rounds half away from zero, then cvttss2si converts to int32 and the
// low byte is kept. Normally |v| <= 127.5 and that is the rounded value.
// Larger finite v arise only when a NaN element has reset Q8_0's running amax
// (see q8_0_quant.cpp); they wrap modulo 256 as on x86. NaN and +-Inf (a block
// holding Inf or NaN, or one so small that 1/d overflows) give cvttss2si's
// 0x80000000, low byte 0; we return 0 there explicitly, since the C
// conversion would be undefined.
inline int8_t roundf_to_i8(float v) {
  const float r = std::round(v);
  if (!(std::fabs(r) < 2147483648.0f)) return 0;
  return static_cast<int8_t>(static_cast<int32_t>(r));  // int32 -> int8 keeps the low byte (C++20)
}

}  // namespace rwkv::ggml
