// The canonical math functions (reference/numeric/canon_math.inc):
//  * every SIMD level gives the scalar bits, on seeded and special inputs and
//    on every 4099th float32 pattern;
//  * the error against float64 stays within the bounds written in
//    reference/numeric/README.md (measured there over every float by
//    `rwkv-oracle ulp`; here on strided subsets and dense windows);
//  * special values: infinities, NaN, signed zeros, the clamps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/print.h"

#include "reference/numeric/canon_math.h"
#include "reference/numeric/canon_math_array.h"
#include "reference/numeric/f16.h"
#include "reference/numeric/ulp.h"
#include "reference/numeric/ulp_sweep.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

using canon::Func;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMax = std::numeric_limits<float>::max();
constexpr float kMinNormal = std::numeric_limits<float>::min();
constexpr float kMinSub = std::numeric_limits<float>::denorm_min();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

const Func kAllFuncs[] = {Func::exp, Func::tanh, Func::sigmoid, Func::sqrt, Func::rsqrt, Func::squared_relu};

float scalar_entry(Func f, float x) {
  switch (f) {
    case Func::exp: return canon::exp(x);
    case Func::tanh: return canon::tanh(x);
    case Func::sigmoid: return canon::sigmoid(x);
    case Func::sqrt: return canon::sqrt(x);
    case Func::rsqrt: return canon::rsqrt(x);
    case Func::squared_relu: return canon::squared_relu(x);
  }
  return x;
}

std::string hex(float f) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%a (0x%08x)", double(f), f32_to_bits(f));
  return buf;
}

// ---- inputs -------------------------------------------------------------------

// Values where some branch, clamp or range of some function changes.
std::vector<float> special_values() {
  std::vector<float> base = {
      0.0f, kMinSub, 0x1.fffffcp-127f, kMinNormal, 1e-20f, 0x1p-12f, 0.5f, 0.625f, 1.0f, 2.0f, 9.0f, 9.1f,
      20.0f, 42.0f, 43.0f, 44.5f, 50.0f, 87.33654f, 88.0f, 88.72283f, 88.72284f, 89.0f, 90.0f, 103.27893f,
      103.97208f, 104.0f, 105.0f, 65504.0f, 65520.0f, 1e19f, 1e20f, 1e30f, kMax, kInf};
  std::vector<float> out;
  for (float v : base)
    for (float s : {1.0f, -1.0f})
      for (int step = -3; step <= 3; ++step) {  // the value and its float neighbours
        float x = v * s;
        for (int k = 0; k < (step < 0 ? -step : step); ++k) x = std::nextafter(x, step < 0 ? -kInf : kInf);
        out.push_back(x);
      }
  for (uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7fa00001u, 0xffc12345u, 0x7fffffffu})
    out.push_back(bits_to_f32(nan));
  return out;
}

// Seeded values over the ranges the kernels feed these functions, plus random
// bit patterns.
std::vector<float> seeded_inputs() {
  Rng rng(0xca11ab1e);
  std::vector<float> out;
  for (int i = 0; i < 300'000; ++i) out.push_back(bits_to_f32(rng.next_u32()));
  for (int i = 0; i < 500'000; ++i) out.push_back(rng.uniform(-110.0f, 110.0f));
  for (int i = 0; i < 200'000; ++i) out.push_back(rng.uniform(-1.0f, 1.0f));
  for (int i = 0; i < 200'000; ++i) out.push_back(4.0f * rng.normal());
  return out;
}

// Every 4099th float32 bit pattern.
std::vector<float> strided_patterns() {
  std::vector<float> out;
  for (uint64_t u = 0; u < (uint64_t(1) << 32); u += 4099) out.push_back(bits_to_f32(uint32_t(u)));
  return out;
}

// ---- every SIMD level gives the scalar bits ------------------------------------

class CanonMathLevels : public ::testing::TestWithParam<Func> {};

void expect_levels_match_scalar(Func f, const std::vector<float>& in) {
  std::vector<float> want(in.size()), got(in.size());
  for (size_t i = 0; i < in.size(); ++i) want[i] = scalar_entry(f, in[i]);
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    std::fill(got.begin(), got.end(), 0.0f);
    canon::apply(f, in.data(), got.data(), int64_t(in.size()));
    size_t bad = 0;
    for (size_t i = 0; i < in.size(); ++i)
      if (f32_to_bits(got[i]) != f32_to_bits(want[i]) && bad++ < 5)
        ADD_FAILURE() << canon::func_name(f) << " at " << simd::name(level) << ": input " << hex(in[i])
                      << " gives " << hex(got[i]) << ", scalar " << hex(want[i]);
    EXPECT_EQ(bad, 0u) << canon::func_name(f) << " at " << simd::name(level);
  }
}

TEST_P(CanonMathLevels, SpecialAndSeededInputs) {
  std::vector<float> in = special_values();
  const std::vector<float> seeded = seeded_inputs();
  in.insert(in.end(), seeded.begin(), seeded.end());
  in.push_back(1.0f);  // an odd length: the lane tail is used too
  expect_levels_match_scalar(GetParam(), in);
}

TEST_P(CanonMathLevels, EveryFloatPatternStride4099) { expect_levels_match_scalar(GetParam(), strided_patterns()); }

std::string func_param_name(const ::testing::TestParamInfo<Func>& info) { return canon::func_name(info.param); }
INSTANTIATE_TEST_SUITE_P(AllFuncs, CanonMathLevels, ::testing::ValuesIn(kAllFuncs), func_param_name);

// ---- accuracy against float64 ---------------------------------------------------

// The bounds documented in reference/numeric/README.md: the maximum ulp
// distance from float64 rounded to float, measured over every float of each
// range by `rwkv-oracle ulp`.
struct Bound {
  Func func;
  float lo, hi;
  int64_t stride;
  uint64_t max_ulp;
};

const Bound kBounds[] = {
    // Kernel ranges, strided (an odd stride reaches every exponent and varied mantissas).
    {Func::exp, -104.0f, 89.0f, 61, 1},
    {Func::tanh, -50.0f, 50.0f, 61, 1},
    {Func::sigmoid, -104.0f, 104.0f, 61, 2},
    {Func::sqrt, 0.0f, kMax, 61, 0},
    {Func::rsqrt, 0.0f, kMax, 61, 1},
    {Func::squared_relu, -65504.0f, 65504.0f, 61, 0},
    // Dense windows where the formulas are at their weakest.
    {Func::exp, -88.0f, -86.0f, 1, 1},     // results cross into subnormals
    {Func::exp, 88.0f, 89.0f, 1, 1},       // results cross FLT_MAX
    {Func::exp, -1.0f, 1.0f, 257, 1},      // n = -1, 0, 1: the polynomial nearly alone
    {Func::exp, 0.25f, 0.5f, 1, 1},        // around the reduction's edge ln2/2
    {Func::tanh, 0.5f, 0.75f, 1, 1},       // both sides of the 0.625 switch
    {Func::tanh, -0.75f, -0.5f, 1, 1},
    {Func::tanh, 8.0f, 10.0f, 1, 1},       // where 1 - 2/(e+1) reaches 1
    {Func::sigmoid, -16.0f, -15.0f, 1, 2},  // e/(1+e), where the worst case lies
    {Func::sigmoid, -1.0f, 1.0f, 257, 2},
};

TEST(CanonMathAccuracy, WithinDocumentedBoundsOnStridedRanges) {
  for (const Bound& b : kBounds) {
    const canon::UlpStats s = canon::ulp_sweep(b.func, b.lo, b.hi, b.stride);
    EXPECT_GT(s.checked, 100'000u);
    EXPECT_LE(s.max_ulp, b.max_ulp) << canon::func_name(b.func) << " on [" << b.lo << ", " << b.hi
                                    << "] every " << b.stride << ": worst input " << hex(s.worst_input) << " gives "
                                    << hex(s.worst_result) << ", float64 " << s.worst_reference;
  }
}

TEST(CanonMathAccuracy, SweepIsIndependentOfThreadsAndLevel) {
  // The figures `rwkv-oracle ulp` prints do not depend on how it is run.
  const canon::UlpStats a = canon::ulp_sweep(Func::sigmoid, -20.0f, 20.0f, 1001);
  simd::ScopedLevel scalar(simd::Level::scalar);
  const canon::UlpStats b = canon::ulp_sweep(Func::sigmoid, -20.0f, 20.0f, 1001);
  EXPECT_EQ(a.checked, b.checked);
  EXPECT_EQ(a.sum_ulp, b.sum_ulp);
  EXPECT_EQ(a.max_ulp, b.max_ulp);
  EXPECT_EQ(f32_to_bits(a.worst_input), f32_to_bits(b.worst_input));
}

// ---- special values -------------------------------------------------------------

bool same_bits(float a, float b) { return f32_to_bits(a) == f32_to_bits(b); }

TEST(CanonMathSpecial, Exp) {
  EXPECT_TRUE(same_bits(canon::exp(-kInf), 0.0f));
  EXPECT_EQ(canon::exp(kInf), kInf);
  EXPECT_EQ(canon::exp(0.0f), 1.0f);
  EXPECT_EQ(canon::exp(-0.0f), 1.0f);
  EXPECT_EQ(canon::exp(89.5f), kInf);       // beyond the clamp
  EXPECT_EQ(canon::exp(88.72284f), kInf);   // just past ln(FLT_MAX)
  EXPECT_LE(ulp_distance(canon::exp(88.72283f), float(std::exp(double(88.72283f)))), 1u);  // just below: finite
  EXPECT_LT(canon::exp(88.72283f), kInf);
  EXPECT_TRUE(same_bits(canon::exp(-104.0f), 0.0f));
  EXPECT_TRUE(same_bits(canon::exp(-1e30f), 0.0f));
  EXPECT_EQ(canon::exp(-103.9f), kMinSub);  // e^-103.9 = 7.6e-46 rounds up to 2^-149
  EXPECT_EQ(canon::exp(-103.98f), 0.0f);    // 7.0e-46 is below half of 2^-149
  for (uint32_t nan : {0x7fc00000u, 0xffc12345u})
    EXPECT_TRUE(same_bits(canon::exp(bits_to_f32(nan)), bits_to_f32(nan)));  // the same NaN
}

TEST(CanonMathSpecial, Tanh) {
  EXPECT_EQ(canon::tanh(43.0f), 1.0f);  // web-rwkv's clamp
  EXPECT_EQ(canon::tanh(std::nextafter(42.0f, kInf)), 1.0f);
  EXPECT_EQ(canon::tanh(kMax), 1.0f);
  EXPECT_EQ(canon::tanh(kInf), 1.0f);
  EXPECT_EQ(canon::tanh(-kInf), -1.0f);
  EXPECT_EQ(canon::tanh(-43.0f), -1.0f);
  EXPECT_EQ(canon::tanh(-kMax), -1.0f);
  EXPECT_EQ(canon::tanh(10.0f), 1.0f);  // rounds to 1 well before the clamp
  EXPECT_TRUE(same_bits(canon::tanh(0.0f), 0.0f));
  EXPECT_TRUE(same_bits(canon::tanh(-0.0f), -0.0f));
  EXPECT_TRUE(same_bits(canon::tanh(kMinSub), kMinSub));  // tanh(x) = x for tiny x
  EXPECT_TRUE(same_bits(canon::tanh(-kMinSub), -kMinSub));
  EXPECT_TRUE(same_bits(canon::tanh(bits_to_f32(0xffc12345u)), bits_to_f32(0xffc12345u)));
  // Exactly odd, on both sides of the 0.625 switch.
  for (float x : {0.1f, 0.624f, 0.625f, 0.626f, 1.0f, 5.0f, 9.5f})
    EXPECT_TRUE(same_bits(canon::tanh(-x), -canon::tanh(x))) << x;
}

TEST(CanonMathSpecial, Sigmoid) {
  EXPECT_EQ(canon::sigmoid(kInf), 1.0f);
  EXPECT_TRUE(same_bits(canon::sigmoid(-kInf), 0.0f));
  EXPECT_EQ(canon::sigmoid(0.0f), 0.5f);
  EXPECT_EQ(canon::sigmoid(-0.0f), 0.5f);
  EXPECT_EQ(canon::sigmoid(20.0f), 1.0f);
  EXPECT_TRUE(std::isnan(canon::sigmoid(kNaN)));
  // The two-sided form keeps tiny results where 1/(1 + e^-x) would give 0.
  EXPECT_GT(canon::sigmoid(-100.0f), 0.0f);
  EXPECT_LE(ulp_distance(canon::sigmoid(-100.0f), float(std::exp(-100.0))), 1u);
  EXPECT_TRUE(same_bits(canon::sigmoid(-105.0f), 0.0f));
}

TEST(CanonMathSpecial, SqrtAndRsqrt) {
  EXPECT_EQ(canon::sqrt(4.0f), 2.0f);
  EXPECT_EQ(canon::sqrt(kInf), kInf);
  EXPECT_TRUE(same_bits(canon::sqrt(-0.0f), -0.0f));
  EXPECT_TRUE(std::isnan(canon::sqrt(-1.0f)));
  EXPECT_TRUE(std::isnan(canon::sqrt(kNaN)));
  EXPECT_EQ(canon::rsqrt(4.0f), 0.5f);
  EXPECT_EQ(canon::rsqrt(0.0f), kInf);
  EXPECT_EQ(canon::rsqrt(-0.0f), -kInf);
  EXPECT_TRUE(same_bits(canon::rsqrt(kInf), 0.0f));
  EXPECT_TRUE(std::isnan(canon::rsqrt(-1.0f)));
  EXPECT_EQ(canon::rsqrt(kMinSub), 1.0f / std::sqrt(kMinSub));  // two correctly rounded operations
}

TEST(CanonMathSpecial, SquaredRelu) {
  EXPECT_EQ(canon::squared_relu(3.0f), 9.0f);
  EXPECT_TRUE(same_bits(canon::squared_relu(-3.0f), 0.0f));
  EXPECT_TRUE(same_bits(canon::squared_relu(-0.0f), 0.0f));
  EXPECT_TRUE(same_bits(canon::squared_relu(0.0f), 0.0f));
  EXPECT_TRUE(same_bits(canon::squared_relu(-kInf), 0.0f));
  EXPECT_EQ(canon::squared_relu(kInf), kInf);
  EXPECT_EQ(canon::squared_relu(1e20f), kInf);  // overflow
  EXPECT_TRUE(same_bits(canon::squared_relu(kMinSub), 0.0f));  // underflow
  EXPECT_TRUE(same_bits(canon::squared_relu(bits_to_f32(0xffc12345u)), bits_to_f32(0xffc12345u)));
}

// ---- the ulp line itself ----------------------------------------------------------

TEST(UlpDistance, CountsAcrossZeroAndToInfinity) {
  EXPECT_EQ(ulp_distance(1.0f, 1.0f), 0u);
  EXPECT_EQ(ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)), 1u);
  EXPECT_EQ(ulp_distance(0.0f, -0.0f), 0u);
  EXPECT_EQ(ulp_distance(kMinSub, -kMinSub), 2u);
  EXPECT_EQ(ulp_distance(kMax, kInf), 1u);
  EXPECT_EQ(ulp_distance(-1.0f, 1.0f), 2 * uint64_t(0x3f800000));
  EXPECT_EQ(ulp_distance(kNaN, kNaN), 0u);
  EXPECT_EQ(ulp_distance(kNaN, 1.0f), std::numeric_limits<uint64_t>::max());
  for (float f : {-kInf, -1.5f, -kMinSub, 0.0f, kMinSub, 3.0f, kInf})
    EXPECT_TRUE(same_bits(float_at_ulp_ordinal(ulp_ordinal(f)), f)) << f;
}

}  // namespace
}  // namespace rwkv
