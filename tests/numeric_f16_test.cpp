// Exhaustive tests of the float16 conversion (reference/numeric/f16.h) and of
// its array form at every SIMD level (f16_array.h).
//
//  decode: all 65,536 halves against a value computed from the fields with
//          std::ldexp, and against the CPU's F16C instruction.
//  encode: every rounding case (each sign, exponent and top-10 mantissa
//          pattern with the dropped bits just below, at and above the
//          half-way point, plus random ones) against an oracle that finds the
//          two neighbouring halves by value; and all 2^32 floats against F16C.
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/numeric/f16.h"
#include "reference/numeric/f16_array.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

// ---- independent oracle ------------------------------------------------------

// The value of a finite half from its fields: (-1)^s * 2^(e-15) * 1.m, or
// 2^-14 * 0.m for e = 0.
double half_field_value(uint16_t h) {
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  const double mag = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(1024 + m), e - 25);
  return (h & 0x8000) ? -mag : mag;
}

// Values of the non-negative halves 0x0000..0x7bff in order, and at 0x7c00 the
// value 65536 that the next half would have with an unbounded exponent: IEEE
// rounds as if the exponent were unbounded and then overflows to Inf.
const std::vector<double>& half_ladder() {
  static const std::vector<double> ladder = [] {
    std::vector<double> v(0x7c01);
    for (uint32_t h = 0; h < 0x7c00; ++h) v[h] = half_field_value(uint16_t(h));
    v[0x7c00] = 65536.0;
    return v;
  }();
  return ladder;
}

// Round to nearest half, ties to the even pattern, by searching the ladder for
// the two halves around |f| and comparing |f| with their midpoint (exact in
// double: both ends have 11 significant bits).
uint16_t oracle_encode(float f) {
  const uint32_t u = f32_to_bits(f);
  const uint16_t sign = uint16_t((u >> 31) << 15);
  if (std::isnan(f)) return uint16_t(sign | 0x7e00 | ((u >> 13) & 0x3ff));  // quiet, top payload bits
  const double a = std::fabs(double(f));
  if (a >= 65536.0) return uint16_t(sign | 0x7c00);
  const std::vector<double>& ladder = half_ladder();
  const size_t below = size_t(std::upper_bound(ladder.begin(), ladder.end(), a) - ladder.begin()) - 1;
  const double mid = (ladder[below] + ladder[below + 1]) / 2;
  size_t pick = a < mid ? below : a > mid ? below + 1 : (below % 2 == 0 ? below : below + 1);
  return uint16_t(sign | pick);  // pick 0x7c00 is Inf
}

// ---- F16C, the hardware's conversion ------------------------------------------

// The 2^32 sweep rests on F16C: without it the exhaustive claim in f16.h is
// unproven, so its absence is a failure, not a skip.
// Asked of CPUID directly: Clang 14's __builtin_cpu_supports does not know "f16c".
// F16C's 256-bit form needs AVX and the OS saving YMM state (XCR0 bits 1 and 2).
bool have_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool f16c = c & bit_F16C, avx = c & bit_AVX, osxsave = c & bit_OSXSAVE;
  if (!(f16c && avx && osxsave)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return (xcr0_lo & 6u) == 6u;
}
const char* kNoF16c =
    "this CPU lacks AVX+F16C, so the exhaustive float32 -> float16 check cannot run here; "
    "run this test on an x86-64-v3 CPU";

// out[i] = F16C's encoding of the float with bits first + i, for i < n (n a
// multiple of 8). The bit patterns are counted up in integer lanes (SSE2) so
// that the hardware side costs little next to the scalar function under test.
__attribute__((target("avx,f16c"))) void f16c_encode_range(uint32_t first, uint16_t* out, int n) {
  __m128i lo = _mm_add_epi32(_mm_set1_epi32(int(first)), _mm_setr_epi32(0, 1, 2, 3));
  __m128i hi = _mm_add_epi32(lo, _mm_set1_epi32(4));
  const __m128i step = _mm_set1_epi32(8);
  for (int i = 0; i < n; i += 8) {
    const __m256 v = _mm256_castsi256_ps(_mm256_setr_m128i(lo, hi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    lo = _mm_add_epi32(lo, step);
    hi = _mm_add_epi32(hi, step);
  }
}

__attribute__((target("avx,f16c"))) float f16c_decode(uint16_t h) { return _cvtsh_ss(h); }

// ---- the rounding-case sample -------------------------------------------------

// Floats whose dropped bits sit just below, at and just above each rounding
// boundary, for every sign, exponent and kept-mantissa pattern:
//  * normal-half range (and everywhere else): the top 10 mantissa bits take
//    all 1024 values and the low 13 bits each of {0, 1, 0xfff, 0x1000, 0x1001,
//    0x1fff} and two random values;
//  * subnormal-half range (float exponents 101..113, |x| in [2^-26, 2^-13)):
//    the rounding point is bit d = 126 - exponent instead of 13, so the bits
//    below d take {0, 1, half-1, half, half+1, all ones} for every pattern of
//    the kept bits.
std::vector<float> rounding_case_sample() {
  std::vector<float> out;
  out.reserve(5'000'000);
  Rng rng(0xf16f16);
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t e = 0; e < 256; ++e)
      for (uint32_t top = 0; top < 1024; ++top) {
        const uint32_t high = sign << 31 | e << 23 | top << 13;
        for (uint32_t low : {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x1fffu}) out.push_back(bits_to_f32(high | low));
        for (int k = 0; k < 2; ++k) out.push_back(bits_to_f32(high | (rng.next_u32() & 0x1fffu)));
      }
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t e = 101; e <= 113; ++e) {
      const uint32_t d = std::min(126u - std::min(e, 126u), 23u);  // dropped explicit mantissa bits
      const uint32_t mask = (1u << d) - 1u, half = 1u << (d - 1u);
      for (uint32_t kept = 0; kept < (1u << (23 - d)); ++kept)
        for (uint32_t low : {0u, 1u, half - 1u, half, half + 1u, mask})
          out.push_back(bits_to_f32(sign << 31 | e << 23 | kept << d | low));
    }
  return out;
}

const std::vector<float>& sample() {
  static const std::vector<float> s = rounding_case_sample();
  return s;
}

std::string hex(uint32_t v) {  // a float's bits
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
std::string hex16(uint32_t v) {  // a half's bits
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

// ---- decode -------------------------------------------------------------------

TEST(F16Decode, AllHalvesMatchFieldOracle) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float got = f16_bits_to_f32(uint16_t(h));
    const uint32_t gb = f32_to_bits(got);
    const bool neg = h & 0x8000;
    const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 31 && m != 0) {
      // NaN: sign kept, payload kept in the top mantissa bits, quiet bit set.
      ASSERT_TRUE(std::isnan(got)) << hex16(h);
      ASSERT_EQ(gb, (neg ? 0x80000000u : 0u) | 0x7fc00000u | m << 13) << hex16(h);
    } else if (e == 31) {
      ASSERT_EQ(got, neg ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity());
    } else {
      ASSERT_EQ(double(got), half_field_value(uint16_t(h))) << hex16(h);
      ASSERT_EQ(std::signbit(got), neg) << hex16(h);  // -0 stays -0
    }
  }
  EXPECT_EQ(f32_to_bits(f16_bits_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(f16_bits_to_f32(0x0001), 0x1p-24f);   // smallest subnormal
  EXPECT_EQ(f16_bits_to_f32(0x03ff), 0x3ffp-24f);  // largest subnormal
  EXPECT_EQ(f16_bits_to_f32(0x0400), 0x1p-14f);   // smallest normal
  EXPECT_EQ(f16_bits_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(to_f32(f16{0x3c00}), 1.0f);
}

TEST(F16Decode, AllHalvesMatchF16C) {
  ASSERT_TRUE(have_f16c()) << kNoF16c;
  for (uint32_t h = 0; h < 0x10000; ++h)
    ASSERT_EQ(f32_to_bits(f16_bits_to_f32(uint16_t(h))), f32_to_bits(f16c_decode(uint16_t(h)))) << hex16(h);
}

// ---- encode -------------------------------------------------------------------

TEST(F16Encode, OracleAgreesWithEveryHalfValue) {
  // The oracle itself: each finite half's own value encodes to that half.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // Inf and NaN: NamedCases
    ASSERT_EQ(oracle_encode(float(half_field_value(uint16_t(h)))), h) << hex16(h);
  }
}

TEST(F16Encode, RoundingCasesMatchNeighbourOracle) {
  const std::vector<float>& s = sample();
  ASSERT_GT(s.size(), 4'000'000u);
  for (float f : s) ASSERT_EQ(f32_to_f16_bits(f), oracle_encode(f)) << hex(f32_to_bits(f));
}

TEST(F16Encode, NamedCases) {
  EXPECT_EQ(f32_to_f16_bits(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(std::nextafter(65520.0f, 0.0f)), 0x7bff);  // just below the overflow tie
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);                      // tie goes to even: Inf
  EXPECT_EQ(f32_to_f16_bits(-65520.0f), 0xfc00);
  EXPECT_EQ(f32_to_f16_bits(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16_bits(0x1p-24f), 0x0001);                      // smallest subnormal half
  EXPECT_EQ(f32_to_f16_bits(0x1p-25f), 0x0000);                      // tie to even: 0
  EXPECT_EQ(f32_to_f16_bits(-0x1p-25f), 0x8000);
  EXPECT_EQ(f32_to_f16_bits(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(f32_to_f16_bits(0x3p-25f), 0x0002);                      // 1.5 ulp: tie to even
  EXPECT_EQ(f32_to_f16_bits(0x5p-25f), 0x0002);                      // 2.5 ulp: tie to even
  EXPECT_EQ(f32_to_f16_bits(0x1p-149f), 0x0000);                     // smallest float subnormal
  EXPECT_EQ(f32_to_f16_bits(0x7ffp-25f), 0x0400);                    // largest subnormal + half ulp: up to normal
  EXPECT_EQ(f32_to_f16_bits(1.0f + 0x1p-11f), 0x3c00);               // tie, even stays
  EXPECT_EQ(f32_to_f16_bits(1.0f + 0x3p-11f), 0x3c02);               // tie, odd goes up
  EXPECT_EQ(f32_to_f16_bits(bits_to_f32(0x7f800001u)), 0x7e00);      // signalling NaN: quiet, not Inf
  EXPECT_EQ(f32_to_f16_bits(bits_to_f32(0x7fc00000u)), 0x7e00);
  EXPECT_EQ(f32_to_f16_bits(bits_to_f32(0xffffffffu)), 0xffff);
  EXPECT_EQ(f32_to_f16_bits(bits_to_f32(0x7fa02000u)), 0x7f01);      // payload's top bits kept
  EXPECT_EQ(to_f16(2.0f).bits, 0x4000);
}

TEST(F16Encode, AllFloatsMatchF16C) {
  ASSERT_TRUE(have_f16c()) << kNoF16c;
  // Blocks of the 2^32 patterns, split over OpenMP threads; each block records
  // its mismatch count and first mismatch, merged in order afterwards.
  constexpr int kBlock = 1 << 16;
  constexpr int64_t kBlocks = (int64_t(1) << 32) / kBlock;
  std::vector<uint32_t> mismatches(kBlocks, 0), first_bad(kBlocks, 0);
#pragma omp parallel
  {
    std::vector<uint16_t> hw(kBlock);
#pragma omp for schedule(dynamic, 64)
    for (int64_t b = 0; b < kBlocks; ++b) {
      const uint32_t first = uint32_t(b) * kBlock;
      f16c_encode_range(first, hw.data(), kBlock);
      uint32_t bad = 0;
      for (int i = 0; i < kBlock; ++i) {
        const uint32_t u = first + uint32_t(i);
        if (f32_to_f16_bits(bits_to_f32(u)) != hw[size_t(i)] && bad++ == 0) first_bad[size_t(b)] = u;
      }
      mismatches[size_t(b)] = bad;
    }
  }
  uint64_t total = 0;
  for (int64_t b = 0; b < kBlocks; ++b) {
    if (mismatches[size_t(b)] && total == 0) {
      const uint32_t u = first_bad[size_t(b)];
      alignas(16) uint16_t eight[8];
      f16c_encode_range(u & ~7u, eight, 8);
      ADD_FAILURE() << "first mismatch: float " << hex(u) << " gives " << hex16(f32_to_f16_bits(bits_to_f32(u)))
                    << ", F16C " << hex16(eight[u & 7u]);
    }
    total += mismatches[size_t(b)];
  }
  EXPECT_EQ(total, 0u) << "floats whose f32_to_f16_bits differs from F16C";
}

// ---- round trips --------------------------------------------------------------

TEST(F16RoundTrip, EveryHalfSurvivesDecodeEncode) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    // A NaN comes back quiet, payload kept; everything else comes back unchanged.
    ASSERT_EQ(f32_to_f16_bits(f16_bits_to_f32(uint16_t(h))), nan ? (h | 0x200) : h) << hex16(h);
  }
}

TEST(F16RoundTrip, RoundToF16IsIdempotent) {
  auto check = [](float f) {
    const float once = round_to_f16(f);
    ASSERT_EQ(f32_to_bits(round_to_f16(once)), f32_to_bits(once)) << hex(f32_to_bits(f));
    ASSERT_EQ(f32_to_bits(once), f32_to_bits(f16_bits_to_f32(f32_to_f16_bits(f))));
  };
  for (uint32_t h = 0; h < 0x10000; ++h) check(f16_bits_to_f32(uint16_t(h)));
  for (float f : sample()) check(f);
}

// ---- the array form at every SIMD level ----------------------------------------

std::vector<f16> all_halves() {
  std::vector<f16> v(0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) v[h].bits = uint16_t(h);
  return v;
}

TEST(F16Array, EveryLevelDecodesAllHalvesLikeScalar) {
  const std::vector<f16> in = all_halves();
  std::vector<float> out(in.size());
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    // Offsets 0 and 3 put the lane tails and the unaligned loads in different places.
    for (size_t off : {size_t(0), size_t(3)}) {
      std::fill(out.begin(), out.end(), 0.0f);
      f16_to_f32_array(in.data() + off, out.data(), int64_t(in.size() - off));
      for (size_t i = 0; i + off < in.size(); ++i)
        ASSERT_EQ(f32_to_bits(out[i]), f32_to_bits(f16_bits_to_f32(in[i + off].bits)))
            << simd::name(level) << " half " << hex16(in[i + off].bits);
    }
  }
}

TEST(F16Array, EveryLevelEncodesLikeScalar) {
  std::vector<float> in = sample();
  Rng rng(20260411);
  for (int i = 0; i < 1'000'000; ++i) in.push_back(bits_to_f32(rng.next_u32()));
  for (uint32_t h = 0; h < 0x10000; ++h) in.push_back(f16_bits_to_f32(uint16_t(h)));
  std::vector<f16> out(in.size());
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    for (size_t off : {size_t(0), size_t(5)}) {
      f32_to_f16_array(in.data() + off, out.data(), int64_t(in.size() - off));
      for (size_t i = 0; i + off < in.size(); ++i)
        ASSERT_EQ(out[i].bits, f32_to_f16_bits(in[i + off]))
            << simd::name(level) << " float " << hex(f32_to_bits(in[i + off]));
    }
  }
}

}  // namespace
}  // namespace rwkv
