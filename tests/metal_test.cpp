// Tests of the Metal emulation (reference/metal/): the 8x8 simdgroup MMA, the
// dequantize_q4_K chunk decoder, and the tiled Q4_K kernel_mul_mm, against the
// float64 oracles of reference/oracle/metal_oracle.h.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/kernel_catalog.h"
#include "reference/metal/dequantize_q4k.h"
#include "reference/metal/q4k_mul_mm.h"
#include "reference/metal/q4k_random.h"
#include "reference/metal/simdgroup.h"
#include "reference/oracle/metal_oracle.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"

namespace rwkv::metal {
namespace {

constexpr double kU32 = 0x1p-24;  // unit roundoff of f32
const float kInf = bits_to_f32(0x7f800000u);
const float kNaN = bits_to_f32(0x7fc00000u);

bool is_finite_half(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

// ---------------------------------------------------------------------------
// The 8x8 MMA

// Every product of two finite halves is exact in f32: all finite a against
// every 7th finite b (all exponents, a spread of significands), compared with
// the double product (exact: 22 significant bits).
TEST(MetalMma, HalfProductsAreExactInF32) {
  std::vector<float> halves;
  for (uint32_t h = 0; h < 0x10000u; ++h)
    if (is_finite_half(uint16_t(h))) halves.push_back(f16_bits_to_f32(uint16_t(h)));
  ASSERT_EQ(halves.size(), 63488u);
  int64_t checked = 0, inexact = 0;
  for (size_t j = 0; j < halves.size(); j += 7) {
    const float b = halves[j];
    for (float a : halves) {
      const float p = a * b;
      inexact += double(p) != double(a) * double(b);
      ++checked;
    }
  }
  EXPECT_EQ(inexact, 0);
  EXPECT_GT(checked, int64_t(500) * 1000 * 1000);
  // The extremes: smallest subnormal squared is 2^-48, a normal f32; the largest product is below 2^32.
  EXPECT_EQ(f16_bits_to_f32(1) * f16_bits_to_f32(1), 0x1p-48f);
  EXPECT_EQ(65504.0f * 65504.0f, 4290774016.0f);
}

// The order policies, written out independently per element.
float expected_element(const float* a, const float* b, float c, MmaOrder order) {
  float p[8];
  for (int k = 0; k < 8; ++k) p[k] = a[k] * b[k];
  switch (order) {
    case MmaOrder::sequential_f32: {
      float s = p[0];
      for (int k = 1; k < 8; ++k) s += p[k];
      return c + s;
    }
    case MmaOrder::pairwise_f32: return c + (((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])));
    case MmaOrder::exact_then_round: {
      // Only used on data whose double sum is exact (see caller).
      double s = 0;
      for (int k = 0; k < 8; ++k) s += double(p[k]);
      return c + float(s);
    }
    case MmaOrder::chain_f32: {
      float d = c;
      for (int k = 0; k < 8; ++k) d += p[k];
      return d;
    }
  }
  return 0;
}

// Random A, B, C with |A|, |B| in [2^-4, 2^4): products span 16 binades, so
// the double sum of 8 of them is exact and rounding it to f32 is the exact
// policy's answer.
TEST(MetalMma, EveryOrderMatchesItsDefinition) {
  Rng rng(11);
  for (int rep = 0; rep < 200; ++rep) {
    float a[64], b[64], c[64];
    auto draw = [&] {
      const float mag = std::ldexp(1.0f + rng.unit(), int(rng.next_u32() % 8) - 4);
      return (rng.next_u32() & 1) ? -mag : mag;
    };
    for (int i = 0; i < 64; ++i) a[i] = round_to_f16(draw()), b[i] = round_to_f16(draw()), c[i] = rng.normal();
    Half8x8 A, B;
    Float8x8 C;
    load(A, a, 8);
    load(B, b, 8);
    load(C, c, 8);
    for (MmaOrder order : kAllMmaOrders) {
      Float8x8 D;
      mma(D, A, B, C, order);
      for (int r = 0; r < 8; ++r)
        for (int col = 0; col < 8; ++col) {
          float bc[8];
          for (int k = 0; k < 8; ++k) bc[k] = b[8 * k + col];
          ASSERT_EQ(f32_to_bits(D.v[8 * r + col]), f32_to_bits(expected_element(a + 8 * r, bc, c[8 * r + col], order)))
              << mma_order_name(order) << " r=" << r << " c=" << col;
        }
    }
  }
}

// Where a double sum is not exact, exact_then_round still is: 2^24 + 1 + 2^-48
// rounds up to 2^24 + 2 (just above the tie), while summing in double first
// (2^24 + 1, a tie) and then in f32 gives 2^24.
TEST(MetalMma, ExactThenRoundIsExactBeyondDouble) {
  const float a[8] = {4096.0f, 1.0f, 0x1p-24f, 0, 0, 0, 0, 0};
  const float b[8] = {4096.0f, 1.0f, 0x1p-24f, 0, 0, 0, 0, 0};
  EXPECT_EQ(exact_dot8_f32(a, b), 16777218.0f);
  EXPECT_EQ(mma_accumulate(0.0f, a, b, MmaOrder::exact_then_round), 16777218.0f);
  EXPECT_EQ(mma_accumulate(0.0f, a, b, MmaOrder::sequential_f32), 16777216.0f);
  double s = 0;
  for (int k = 0; k < 8; ++k) s += double(a[k]) * double(b[k]);
  EXPECT_EQ(float(s), 16777216.0f);
  // Cancellation to zero, signed zeros, the smallest product.
  const float c[8] = {1.0f, -1.0f, 0, 0, 0, 0, 0, 0};
  const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(f32_to_bits(exact_dot8_f32(c, ones)), 0u);
  const float nz[8] = {-0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f};
  EXPECT_EQ(f32_to_bits(exact_dot8_f32(nz, ones)), 0x80000000u);
  const float tiny[8] = {0x1p-24f, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(exact_dot8_f32(tiny, tiny), 0x1p-48f);
  const float big[8] = {65504.0f, 65504.0f, 65504.0f, 65504.0f, 65504.0f, 65504.0f, 65504.0f, 65504.0f};
  EXPECT_EQ(exact_dot8_f32(big, big), 8.0f * 4290774016.0f);
}

// Products spanning 27..37 binades take the 128-bit integer path; their
// long double (64-bit significand) sum is still exact, so converting it to
// float is the correctly rounded answer to compare with.
TEST(MetalMma, ExactThenRoundMatchesAnExactLongDoubleSumOnWideRanges) {
  static_assert(sizeof(long double) >= 10, "x87 extended precision expected");
  Rng rng(13);
  int checked = 0;
  for (int rep = 0; rep < 20000; ++rep) {
    float a[8], b[8];
    const int span = 27 + int(rng.next_u32() % 11);  // binades between the largest and smallest product
    for (int k = 0; k < 8; ++k) {
      const int e = k == 0 ? 8 : k == 1 ? 8 - span : 8 - int(rng.next_u32() % uint32_t(span + 1));
      const float mag = round_to_f16(std::ldexp(1.0f + rng.unit(), e / 2));
      a[k] = (rng.next_u32() & 1) ? -mag : mag;
      b[k] = round_to_f16(std::ldexp(1.0f + rng.unit(), e - e / 2));
    }
    long double s = 0;
    int e_lo = 1000, e_hi = -1000;
    for (int k = 0; k < 8; ++k) {
      const float p = a[k] * b[k];
      s += (long double)p;
      e_lo = std::min(e_lo, std::ilogb(p));
      e_hi = std::max(e_hi, std::ilogb(p));
    }
    if (e_hi - e_lo <= 26 || e_hi - e_lo > 37) continue;  // keep the wide, long-double-exact cases
    ++checked;
    ASSERT_EQ(f32_to_bits(exact_dot8_f32(a, b)), f32_to_bits(float(s))) << "rep " << rep;
  }
  EXPECT_GT(checked, 5000);
}

// The policies differ only by rounding: on random data of mixed sign and
// magnitude each is within n*u*(|C| + sum|p|) of the exact result, n its
// number of roundings (7 + 1, 3 + 1, 1 + 1, 8). Also shows that they do differ.
TEST(MetalMma, OrdersAgreeWithinRoundingBound) {
  Rng rng(12);
  int differing = 0;
  for (int rep = 0; rep < 2000; ++rep) {
    float a[8], b[8];
    for (int k = 0; k < 8; ++k)
      a[k] = round_to_f16(rng.normal() * std::ldexp(1.0f, int(rng.next_u32() % 12) - 6)),
      b[k] = round_to_f16(rng.normal());
    const float c = rng.normal() * 4.0f;
    double exact = c, mag = std::fabs(c);
    for (int k = 0; k < 8; ++k) exact += double(a[k]) * b[k], mag += std::fabs(double(a[k]) * b[k]);
    const int roundings[] = {8, 4, 2, 8};
    float got[4];
    for (int o = 0; o < 4; ++o) {
      got[o] = mma_accumulate(c, a, b, kAllMmaOrders[o]);
      EXPECT_LE(std::fabs(got[o] - exact), roundings[o] * kU32 * mag * 1.0001) << mma_order_name(kAllMmaOrders[o]);
    }
    differing += got[0] != got[1] || got[0] != got[2] || got[0] != got[3];
  }
  EXPECT_GT(differing, 0);
}

TEST(MetalMma, LoadStoreUseRowStrideAndRoundToHalf) {
  std::vector<float> src(8 * 11);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(i) + 0.1f;
  src[3 * 11 + 4] = 65520.0f;  // rounds to Inf in half
  Half8x8 h;
  load(h, src.data(), 11);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) EXPECT_EQ(f32_to_bits(h.at(r, c)), f32_to_bits(round_to_f16(src[size_t(r * 11 + c)])));
  EXPECT_EQ(h.at(3, 4), kInf);
  std::vector<f16> back(8 * 9);
  store(h, back.data(), 9);
  Half8x8 h2;
  load(h2, back.data(), 9);
  EXPECT_EQ(0, std::memcmp(h.v, h2.v, sizeof h.v));
  Float8x8 f;
  load(f, src.data(), 11);
  std::vector<float> fb(8 * 8);
  store(f, fb.data(), 8);
  EXPECT_EQ(fb[3 * 8 + 4], 65520.0f);
  EXPECT_EQ(Float8x8::filled(2.5f).v[63], 2.5f);
}

// D = A*B + C with A [8 x k] and B [k x 8]: a non-square check of indices.
TEST(MetalMma, ComputesRowTimesColumnPlusC) {
  float a[64], b[64], c[64];
  for (int i = 0; i < 64; ++i) a[i] = float(i % 8 + 1), b[i] = float(i / 8 == i % 8), c[i] = float(100 * i);
  Half8x8 A, B;  // B = identity
  Float8x8 C, D;
  load(A, a, 8);
  load(B, b, 8);
  load(C, c, 8);
  for (MmaOrder order : kAllMmaOrders) {
    mma(D, A, B, C, order);
    for (int i = 0; i < 64; ++i) EXPECT_EQ(D.v[i], a[i] + c[i]);
    mma(D, B, A, C, order);  // I * A
    for (int i = 0; i < 64; ++i) EXPECT_EQ(D.v[i], a[i] + c[i]);
  }
  EXPECT_THROW(parse_mma_order("tree"), std::invalid_argument);
  for (MmaOrder order : kAllMmaOrders) EXPECT_EQ(parse_mma_order(mma_order_name(order)), order);
}

TEST(MetalMma, SpecialValuesFollowIeeeAndNaNIsCanonical) {
  for (MmaOrder order : kAllMmaOrders) {
    SCOPED_TRACE(std::string(mma_order_name(order)));
    float a[64] = {}, b[64] = {}, c[64] = {};
    for (int i = 0; i < 64; ++i) a[i] = 1.0f, b[i] = 0.5f;
    a[8 * 2 + 5] = bits_to_f32(0x7fc12345u);  // NaN in row 2 of A
    a[8 * 4 + 0] = kInf;                      // Inf in row 4: finite products elsewhere -> Inf
    a[8 * 6 + 1] = kInf;
    a[8 * 6 + 2] = -kInf;                     // Inf - Inf in row 6 -> NaN
    b[8 * 3 + 7] = 0.0f;                      // B[3][7] = 0: row 4 col 7 still Inf (k=0), row 5 unaffected
    Half8x8 A, B;
    Float8x8 C, D;
    load(A, a, 8);
    load(B, b, 8);
    load(C, c, 8);
    mma(D, A, B, C, order);
    for (int col = 0; col < 8; ++col) {
      EXPECT_EQ(f32_to_bits(D.v[8 * 2 + col]), 0x7fc00000u);
      EXPECT_EQ(D.v[8 * 4 + col], kInf);
      EXPECT_EQ(f32_to_bits(D.v[8 * 6 + col]), 0x7fc00000u);
      EXPECT_EQ(D.v[8 * 5 + col], col == 7 ? 3.5f : 4.0f);
    }
    // Inf * 0 -> NaN: A[0][3] = Inf meets B[3][7] = 0 in D[0][7] only.
    float z[64] = {};
    z[3] = kInf;
    load(A, z, 8);
    mma(D, A, B, C, order);
    EXPECT_EQ(f32_to_bits(D.v[7]), 0x7fc00000u);
    EXPECT_EQ(D.v[0], kInf);
    // Signed zeros: -0 products with C = -0 give -0; with C = +0 give +0.
    float nz[64], one[64], cz[64];
    for (int i = 0; i < 64; ++i) nz[i] = -0.0f, one[i] = 1.0f, cz[i] = -0.0f;
    load(A, nz, 8);
    load(B, one, 8);
    load(C, cz, 8);
    mma(D, A, B, C, order);
    EXPECT_EQ(f32_to_bits(D.v[9]), 0x80000000u);
    mma(D, A, B, Float8x8::filled(0.0f), order);
    EXPECT_EQ(f32_to_bits(D.v[9]), 0u);
  }
}

// ---------------------------------------------------------------------------
// dequantize_q4_K

// Metal's high-nibble trick, (half(d/16)*sc)*(q & 0xF0), against the plain
// (d*sc)*q, for every finite d, sc and q: equal whenever d/16 is exact in half
// (|d| >= 2^-10 or d a multiple of 2^-20), different otherwise. Both products
// are exact in f32 (so an FMA with the -M_j term changes nothing).
TEST(MetalDequant, HighNibbleTrickIsExactOnlyWhileDOver16IsNormal) {
  int64_t mismatching_d = 0, mismatches_large_d = 0;
  double worst_rel = 0;
  for (uint32_t hb = 0; hb < 0x7c00u; ++hb) {  // non-negative finite d
    const float d = f16_bits_to_f32(uint16_t(hb));
    const float d16 = round_to_f16(d / 16.0f);
    bool differs = false;
    for (int sc = 0; sc < 64; ++sc) {
      const float dl_metal = d16 * float(sc), dl_plain = d * float(sc);
      ASSERT_EQ(double(dl_metal), double(d16) * sc);
      for (int q = 0; q < 16; ++q) {
        const float metal = dl_metal * float(q << 4), plain = dl_plain * float(q);
        ASSERT_EQ(double(metal), double(dl_metal) * (q << 4));  // exact: FMA-proof
        ASSERT_EQ(double(plain), double(dl_plain) * q);
        if (metal != plain) differs = true;
      }
    }
    // Relative change of the scale term, for normal d whose d/16 is subnormal
    // (the range real files use): at most 2^-25 / 2^-18 = 2^-7.
    if (d >= 0x1p-14f && d < 0x1p-10f) worst_rel = std::max(worst_rel, std::fabs(double(d16) * 16.0 - d) / d);
    mismatching_d += differs;
    if (differs && d >= 0x1p-10f) ++mismatches_large_d;
    EXPECT_EQ(differs, double(d16) * 16.0 != double(d)) << d;
  }
  EXPECT_EQ(mismatches_large_d, 0);
  EXPECT_GT(mismatching_d, 0);
  EXPECT_LE(worst_rel, 0x1p-7);
  // A typical real-file d: 1e-4 rounds to half, then d/16 = 6.1e-6 is subnormal.
  const float d = round_to_f16(1e-4f);
  EXPECT_NE(round_to_f16(d / 16.0f) * 16.0f, d);
  std::printf("[metal] high-nibble d/16 in half: %lld of 31744 non-negative finite d values differ "
              "from the plain formula; for d in [2^-14, 2^-10) the scale term changes by up to %.3g "
              "(relative); d = 1e-4: %.3g\n",
              (long long)mismatching_d, worst_rel, std::fabs(double(round_to_f16(d / 16.0f)) * 16.0 - d) / d);
}

// The chunk decoder against the plain decoders, element by element.
TEST(MetalDequant, ChunksMatchThePlainDecoderAndTheOracle) {
  const int64_t K = 512, M = 9;
  for (float d_max : {3e-4f, 0.05f}) {
    const Matrix w = random_q4k_matrix(K, M, 21, d_max, d_max);
    std::vector<f16> ex(size_t(K * M)), hd(size_t(K * M));
    metal_q4k_weight_operands(w, HighNibbleScale::exact, ex.data());
    metal_q4k_weight_operands(w, HighNibbleScale::half_divide, hd.data());
    std::vector<float> row(static_cast<size_t>(K));
    int64_t differ = 0;
    for (int64_t m = 0; m < M; ++m) {
      blocks::dequantize_row(w, m, row.data());
      for (int64_t k = 0; k < K; ++k) {
        const size_t i = size_t(m * K + k);
        // exact: llama.cpp's f32 weight rounded to half, bit for bit.
        ASSERT_EQ(ex[i].bits, f32_to_f16_bits(row[size_t(k)])) << m << "," << k;
        // Both modes: the oracle's independent per-element derivation.
        ASSERT_EQ(ex[i].bits, to_f16(oracle::metal_q4k_weight_operand(w, m, k, HighNibbleScale::exact)).bits);
        ASSERT_EQ(hd[i].bits, to_f16(oracle::metal_q4k_weight_operand(w, m, k, HighNibbleScale::half_divide)).bits);
        const bool high = (k % 64) >= 32;
        if (!high) {
          ASSERT_EQ(hd[i].bits, ex[i].bits);
        }
        differ += hd[i].bits != ex[i].bits;
      }
    }
    if (d_max > 0.01f) {
      // d around 0.025: d/16 mostly normal, the few blocks with d < 2^-10 aside.
      EXPECT_LT(differ, K * M / 50);
    } else {
      EXPECT_GT(differ, K * M / 8);  // real-file d: many high-nibble weights change
    }
    std::printf("[metal] d_max %g: %lld of %lld weight operands differ between half_divide and exact\n",
                double(d_max), (long long)differ, (long long)(K * M));
  }
}

// ---------------------------------------------------------------------------
// kernel_mul_mm

std::vector<float> random_x(int64_t K, int64_t T, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> x(size_t(K * T));
  for (float& v : x) v = rng.normal() * scale;
  return x;
}

// The per-output definition, written without tiles.
std::vector<float> untiled_mul_mm(const Matrix& w, const std::vector<float>& x, int64_t T, MmaOrder order,
                                  HighNibbleScale hn) {
  std::vector<f16> wh(size_t(w.K * w.M));
  metal_q4k_weight_operands(w, hn, wh.data());
  std::vector<float> y(size_t(w.M * T));
  float a[8], b[8];
  for (int64_t t = 0; t < T; ++t)
    for (int64_t m = 0; m < w.M; ++m) {
      float acc = 0.0f;
      for (int64_t k0 = 0; k0 < w.K; k0 += 8) {
        for (int k = 0; k < 8; ++k)
          a[k] = round_to_f16(x[size_t(t * w.K + k0 + k)]), b[k] = to_f32(wh[size_t(m * w.K + k0 + k)]);
        acc = mma_accumulate(acc, a, b, order);
      }
      y[size_t(t * w.M + m)] = acc;
    }
  return y;
}

struct Shape3 {
  int64_t K, M, T;
};
const Shape3 kShapes[] = {{256, 64, 32}, {512, 130, 45}, {256, 7, 3}, {768, 65, 33}, {256, 1, 1}};

std::vector<float> run_mm(const Matrix& w, const std::vector<float>& x, int64_t T, MmaOrder order,
                          HighNibbleScale hn = kDefaultHighNibbleScale) {
  std::vector<float> y(size_t(w.M * T), -7.0f);
  metal_q4k_mul_mm(w, x.data(), T, y.data(), order, hn);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(MetalMulMm, TilesComputeThePerOutputDefinitionIncludingEdges) {
  uint64_t seed = 100;
  for (const Shape3& s : kShapes) {
    const Matrix w = random_q4k_matrix(s.K, s.M, seed++);
    const std::vector<float> x = random_x(s.K, s.T, seed++);
    for (MmaOrder order : kAllMmaOrders)
      for (HighNibbleScale hn : {HighNibbleScale::half_divide, HighNibbleScale::exact})
        EXPECT_TRUE(same_bits(run_mm(w, x, s.T, order, hn), untiled_mul_mm(w, x, s.T, order, hn)))
            << "K=" << s.K << " M=" << s.M << " T=" << s.T << " " << mma_order_name(order) << " "
            << high_nibble_scale_name(hn);
  }
}

// Roundings in one output's sum: the accumulator's K/8 adds plus the order's
// own inside a slice (chain_f32 adds every product to the accumulator).
double roundings(MmaOrder order, int64_t K) {
  switch (order) {
    case MmaOrder::sequential_f32: return double(K / 8 + 7);
    case MmaOrder::pairwise_f32: return double(K / 8 + 3);
    case MmaOrder::exact_then_round: return double(K / 8 + 1);
    case MmaOrder::chain_f32: return double(K);
  }
  return 0;
}

struct Oracles {
  std::vector<double> y1, abs1;  // fp16 operands (Metal's), double sum
  std::vector<double> y2, abs2;  // f32 operands (llama.cpp CPU dequant), double sum
};
Oracles oracles(const Matrix& w, const std::vector<float>& x, int64_t T, HighNibbleScale hn) {
  Oracles o;
  const size_t n = size_t(w.M * T);
  o.y1.resize(n), o.abs1.resize(n), o.y2.resize(n), o.abs2.resize(n);
  oracle::metal_q4k_mul_mm_f64(w, x.data(), T, hn, o.y1.data(), o.abs1.data());
  oracle::q4k_mul_f64(w, x.data(), T, o.y2.data(), o.abs2.data());
  return o;
}

// Against the same-operand oracle: |y - y1| <= n*u*sum|wh*xh|, n = roundings(order).
TEST(MetalMulMm, WithinSummationBoundOfTheOperandOracle) {
  uint64_t seed = 200;
  for (const Shape3& s : kShapes) {
    const Matrix w = random_q4k_matrix(s.K, s.M, seed++);
    const std::vector<float> x = random_x(s.K, s.T, seed++);
    const Oracles o = oracles(w, x, s.T, kDefaultHighNibbleScale);
    for (MmaOrder order : kAllMmaOrders) {
      const std::vector<float> y = run_mm(w, x, s.T, order);
      double worst = 0;  // |y - y1| in units of u*sum|wh*xh|
      for (size_t i = 0; i < y.size(); ++i) {
        const double err = std::fabs(double(y[i]) - o.y1[i]);
        ASSERT_LE(err, roundings(order, s.K) * kU32 * o.abs1[i] * 1.001 + 1e-30) << mma_order_name(order) << " i=" << i;
        if (o.abs1[i] > 0) worst = std::max(worst, err / (kU32 * o.abs1[i]));
      }
      if (s.K == 768)
        std::printf("[metal] K=%lld %-16s max |y - oracle_fp16| = %.3f u*sum|wx| (bound %.0f)\n", (long long)s.K,
                    std::string(mma_order_name(order)).c_str(), worst, roundings(order, s.K));
    }
  }
}

// Activations in half's subnormal range (|x| < 2^-14) are rounded to subnormal
// halves as the Metal kernel loads them; the products stay exact in f32, so the
// same summation bound holds against the oracle on the same half operands.
TEST(MetalMulMm, SubnormalHalfActivationsWithinTheOperandOracleBound) {
  const int64_t K = 512, M = 70, T = 9;
  const Matrix w = random_q4k_matrix(K, M, 250);
  std::vector<float> x = random_x(K, T, 251);
  int64_t subnormal_halves = 0;
  for (float& v : x) {
    v *= 0x1p-20f;
    const uint16_t h = f32_to_f16_bits(v);
    subnormal_halves += (h & 0x7c00) == 0 && (h & 0x03ff) != 0;
  }
  ASSERT_GT(subnormal_halves, K * T * 9 / 10) << "the inputs must really be f16 subnormals";
  const Oracles o = oracles(w, x, T, kDefaultHighNibbleScale);
  for (MmaOrder order : kAllMmaOrders) {
    const std::vector<float> y = run_mm(w, x, T, order);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_LE(std::fabs(double(y[i]) - o.y1[i]), roundings(order, K) * kU32 * o.abs1[i] * 1.001 + 1e-30)
          << mma_order_name(order) << " i=" << i;
  }
}

// Any two orders are within the sum of their bounds of each other.
TEST(MetalMulMm, OrderPoliciesAgreeTightly) {
  const Matrix w = random_q4k_matrix(1024, 70, 300);
  const std::vector<float> x = random_x(1024, 40, 301);
  const Oracles o = oracles(w, x, 40, kDefaultHighNibbleScale);
  std::vector<std::vector<float>> ys;
  for (MmaOrder order : kAllMmaOrders) ys.push_back(run_mm(w, x, 40, order));
  for (size_t p = 0; p < ys.size(); ++p)
    for (size_t q = p + 1; q < ys.size(); ++q) {
      double worst = 0;
      int64_t differ = 0;
      const double n = roundings(kAllMmaOrders[p], 1024) + roundings(kAllMmaOrders[q], 1024);
      for (size_t i = 0; i < ys[p].size(); ++i) {
        const double d = std::fabs(double(ys[p][i]) - ys[q][i]);
        ASSERT_LE(d, n * kU32 * o.abs1[i] * 1.001);
        worst = std::max(worst, d / (kU32 * o.abs1[i]));
        differ += ys[p][i] != ys[q][i];
      }
      std::printf("[metal] %s vs %s: %lld of %zu outputs differ, max %.3f u*sum|wx|\n",
                  std::string(mma_order_name(kAllMmaOrders[p])).c_str(),
                  std::string(mma_order_name(kAllMmaOrders[q])).c_str(), (long long)differ, ys[p].size(), worst);
    }
}

// Against llama.cpp's f32 weights and the f32 activations: the fp16 operand
// rounding dominates. Per output, |y - y2| <= sum_k(|wh - w|*|xh| + |w|*|xh - x|)
// + the summation bound; per operand, |xh - x| <= 2^-11|x| + 2^-25 always, and
// |wh - w| <= 2^-11|w| + 2^-25 for HighNibbleScale::exact (half_divide adds the
// d/16 rounding on high nibbles, measured here).
TEST(MetalMulMm, Fp16OperandErrorAgainstTheF32Oracle) {
  const int64_t K = 2048, M = 96, T = 33;
  const Matrix w = random_q4k_matrix(K, M, 400);
  const std::vector<float> x = random_x(K, T, 401);
  std::vector<float> wf(size_t(K * M));
  blocks::dequantize_matrix(w, wf.data());
  for (HighNibbleScale hn : {HighNibbleScale::half_divide, HighNibbleScale::exact}) {
    std::vector<f16> wh(size_t(K * M));
    metal_q4k_weight_operands(w, hn, wh.data());
    double worst_w_rel = 0;
    for (size_t i = 0; i < wf.size(); ++i) {
      const double dw = std::fabs(double(to_f32(wh[i])) - wf[i]);
      if (hn == HighNibbleScale::exact) {
        ASSERT_LE(dw, 0x1p-11 * std::fabs(wf[i]) + 0x1p-25);
      }
      if (wf[i] != 0) worst_w_rel = std::max(worst_w_rel, dw / std::fabs(wf[i]));
    }
    for (float v : x) ASSERT_LE(std::fabs(double(round_to_f16(v)) - v), 0x1p-11 * std::fabs(v) + 0x1p-25);
    const Oracles o = oracles(w, x, T, hn);
    const std::vector<float> y = run_mm(w, x, T, kDefaultMmaOrder, hn);
    double max_rel_abs = 0, sq_err = 0, sq_y = 0, max_oracle_gap = 0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t m = 0; m < M; ++m) {
        double operand_bound = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double xv = x[size_t(t * K + k)], xh = round_to_f16(float(xv));
          const double wv = wf[size_t(m * K + k)], whv = to_f32(wh[size_t(m * K + k)]);
          operand_bound += std::fabs(whv - wv) * std::fabs(xh) + std::fabs(wv) * std::fabs(xh - xv);
        }
        const size_t i = size_t(t * M + m);
        const double err = std::fabs(double(y[i]) - o.y2[i]);
        ASSERT_LE(err, operand_bound * 1.0001 + roundings(kDefaultMmaOrder, K) * kU32 * o.abs1[i] * 1.001);
        max_rel_abs = std::max(max_rel_abs, err / o.abs2[i]);
        max_oracle_gap = std::max(max_oracle_gap, std::fabs(o.y1[i] - o.y2[i]) / o.abs2[i]);
        sq_err += err * err;
        sq_y += o.y2[i] * o.y2[i];
      }
    std::printf("[metal] vs f32 oracle, K=%lld, %s: max |y - y_f32|/sum|wx| = %.3g (oracles alone %.3g), "
                "rms(y - y_f32)/rms(y_f32) = %.3g, worst |wh - w|/|w| %.3g\n",
                (long long)K, std::string(high_nibble_scale_name(hn)).c_str(), max_rel_abs, max_oracle_gap,
                std::sqrt(sq_err / sq_y), worst_w_rel);
    // Documented tolerance for engineers: 2^-10 * sum|w x| covers exact-scale
    // operands with room; half_divide stays within 2^-8 at real-file d.
    EXPECT_LE(max_rel_abs, hn == HighNibbleScale::exact ? 0x1p-10 : 0x1p-8);
  }
}

TEST(MetalMulMm, ZerosGivePositiveZero) {
  const int64_t K = 256, M = 70, T = 35;
  Matrix w = random_q4k_matrix(K, M, 500);
  std::vector<float> x(size_t(K * T), 0.0f);
  for (size_t i = 0; i < x.size(); i += 2) x[i] = -0.0f;
  for (MmaOrder order : kAllMmaOrders)
    for (float v : run_mm(w, x, T, order)) ASSERT_EQ(f32_to_bits(v), 0u);
  // Zero weights (d = dmin = 0) against real activations: +0 too (acc starts at +0).
  for (int64_t m = 0; m < M; ++m) set_q4k_block_scales(w, m, 0, 0.0f, 0.0f);
  const std::vector<float> xr = random_x(K, T, 501);
  for (MmaOrder order : kAllMmaOrders)
    for (float v : run_mm(w, xr, T, order)) ASSERT_EQ(f32_to_bits(v), 0u);
}

// Class of a value: 0 finite, 1 +Inf, 2 -Inf, 3 NaN.
int value_class(double v) { return std::isnan(v) ? 3 : std::isinf(v) ? (v > 0 ? 1 : 2) : 0; }

// Near the f16 maximum: operands that round to 65504 stay finite (products
// up to 2^32 and their sums fit f32 easily); operands past 65519.99 become
// Inf in half, and the output is Inf or NaN exactly where the operand oracle
// (IEEE double arithmetic on the same half operands) says.
TEST(MetalMulMm, NearF16MaxOverflowsWhereTheModelPredicts) {
  const int64_t K = 256, M = 66, T = 34;
  Matrix w = random_q4k_matrix(K, M, 600);
  // Weights near the maximum: d = 4096 gives d*sc*q up to 4096*63*15, mostly Inf
  // in half; d = 64 keeps them below 60480 (finite) for every sc, q.
  set_q4k_block_scales(w, 3, 0, 64.0f, 0.0f);
  set_q4k_block_scales(w, 5, 0, 4096.0f, 0.0f);
  Rng rng(601);
  std::vector<float> x(size_t(K * T));
  for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  for (int64_t k = 0; k < K; ++k) x[size_t(2 * K + k)] = (k % 2 ? -1.0f : 1.0f) * 65519.0f;  // -> +-65504
  x[size_t(7 * K + 9)] = 65520.0f;                                                       // -> +Inf
  x[size_t(8 * K + 9)] = 65520.0f, x[size_t(8 * K + 10)] = -65520.0f;                   // Inf - Inf
  for (int64_t k = 0; k < K; ++k) x[size_t(9 * K + k)] = 0.0f;                           // 0 * Inf weights
  for (HighNibbleScale hn : {HighNibbleScale::half_divide, HighNibbleScale::exact}) {
    std::vector<double> y1(size_t(M * T)), a1(size_t(M * T));
    oracle::metal_q4k_mul_mm_f64(w, x.data(), T, hn, y1.data(), a1.data());
    int64_t nonfinite = 0;
    for (MmaOrder order : kAllMmaOrders) {
      const std::vector<float> y = run_mm(w, x, T, order, hn);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(value_class(y[i]), value_class(y1[i])) << "i=" << i << " " << mma_order_name(order);
        if (value_class(y1[i]) == 0)
          ASSERT_LE(std::fabs(double(y[i]) - y1[i]), roundings(order, K) * kU32 * a1[i] * 1.001);
        else
          ++nonfinite;
        if (std::isnan(y[i])) {
          ASSERT_EQ(f32_to_bits(y[i]), 0x7fc00000u);
        }
      }
    }
    // Token 7 and 8 columns, weight row 5: all non-finite; token 2 stays finite where weights are.
    EXPECT_GT(nonfinite, 0);
    EXPECT_TRUE(std::isfinite(y1[size_t(2 * M + 3)]));
    for (int64_t m = 0; m < M; ++m) {
      EXPECT_FALSE(std::isfinite(y1[size_t(7 * M + m)]));  // +Inf * w, or NaN where w = 0
      EXPECT_FALSE(std::isfinite(y1[size_t(8 * M + m)]));  // +-Inf, or NaN (Inf - Inf, Inf * 0)
    }
    EXPECT_TRUE(std::isnan(y1[size_t(9 * M + 5)]));  // 0 * Inf
  }
}

TEST(MetalMulMm, NaNInXPropagatesToItsColumnOnly) {
  const int64_t K = 512, M = 100, T = 40;
  const Matrix w = random_q4k_matrix(K, M, 700);
  std::vector<float> x = random_x(K, T, 701);
  const std::vector<float> clean = run_mm(w, x, T, kDefaultMmaOrder);
  for (int64_t t : {int64_t(0), int64_t(31), int64_t(39)}) x[size_t(t * K + 300)] = bits_to_f32(0xffc0beefu);
  for (MmaOrder order : kAllMmaOrders) {
    const std::vector<float> y = run_mm(w, x, T, order);
    const std::vector<float> y_clean = order == kDefaultMmaOrder ? clean : run_mm(w, random_x(K, T, 701), T, order);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t m = 0; m < M; ++m) {
        const size_t i = size_t(t * M + m);
        if (t == 0 || t == 31 || t == 39)
          ASSERT_EQ(f32_to_bits(y[i]), 0x7fc00000u);
        else
          ASSERT_EQ(f32_to_bits(y[i]), f32_to_bits(y_clean[i]));
      }
  }
}

TEST(MetalMulMm, DeterministicAcrossSimdLevelsAndThreadCounts) {
  const Matrix w = random_q4k_matrix(512, 130, 800);
  const std::vector<float> x = random_x(512, 45, 801);
  const int saved_threads = omp_get_max_threads();
  std::vector<float> first;
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    for (int threads : {1, 2, 8}) {
      omp_set_num_threads(threads);
      const std::vector<float> y = run_mm(w, x, 45, kDefaultMmaOrder);
      if (first.empty()) first = y;
      EXPECT_TRUE(same_bits(y, first)) << simd::name(level) << " threads=" << threads;
    }
  }
  omp_set_num_threads(saved_threads);
}

TEST(MetalMulMm, RejectsBadArguments) {
  const Matrix w = random_q4k_matrix(256, 4, 900);
  std::vector<float> x(256 * 2), y(4 * 2);
  Matrix fp16 = w;
  fp16.format = WeightFormat::fp16;
  EXPECT_THROW(metal_q4k_mul_mm(fp16, x.data(), 2, y.data()), std::invalid_argument);
  EXPECT_THROW(metal_q4k_mul_mm(w, x.data(), -1, y.data()), std::invalid_argument);
  EXPECT_THROW(metal_q4k_mul_mm(w, nullptr, 2, y.data()), std::invalid_argument);
  EXPECT_THROW(metal_q4k_mul_mm(w, x.data(), 2, nullptr), std::invalid_argument);
  Matrix short_data = w;
  short_data.data_bytes -= 1;
  EXPECT_THROW(metal_q4k_mul_mm(short_data, x.data(), 2, y.data()), std::invalid_argument);
  EXPECT_NO_THROW(metal_q4k_mul_mm(w, nullptr, 0, nullptr));
  try {
    metal_q4k_mul_mm(fp16, x.data(), 2, y.data());
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("metal_q4k_mul_mm"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("q4_k"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Catalog

TEST(MetalCatalog, EveryOrderIsListedWithAFastDeterministicSample) {
  int mma = 0, mm = 0;
  for (const KernelVariant& v : kernel_catalog()) {
    if (v.name != "metal_simdgroup_mma" && v.name != "metal_q4k_mul_mm") continue;
    (v.name == "metal_simdgroup_mma" ? mma : mm)++;
    if (v.name == "metal_q4k_mul_mm") {
      EXPECT_EQ(v.format, "q4_k");
    }
    EXPECT_FALSE(v.order.empty());
    // The fastest of 3 runs: the machine may be shared, and the work is fixed.
    std::vector<uint8_t> a;
    double ms = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      const auto start = std::chrono::steady_clock::now();
      a = v.sample(42);
      ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    EXPECT_EQ(a, v.sample(42)) << v.name << " " << v.order;
    EXPECT_NE(a, v.sample(43));
    EXPECT_LT(ms, 30.0) << v.name << " " << v.order;
    std::printf("[metal] sample %s (%s): %zu bytes, %.1f ms\n", v.name.c_str(), v.order.substr(0, 16).c_str(),
                a.size(), ms);
  }
  EXPECT_EQ(mma, 4);
  EXPECT_EQ(mm, 4);
}

}  // namespace
}  // namespace rwkv::metal
