// web-rwkv's load-time formats (Int8, NF4, SF4): layout, code rules, error
// bounds, idempotence, edge inputs, bad arguments; the SF4 table and the
// Student-t quantile behind it.
#include <gtest/gtest.h>

#include "tests/support/print.h"

#include "tests/support/expect_error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/formats/student_t.h"
#include "reference/formats/webrwkv_quant.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

using test::thrown_message;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();


// Seeded f16 values: N(0,1) times `scale`, or uniform in [-scale, scale).
std::vector<f16> seeded_f16(uint64_t seed, size_t n, float scale, bool uniform = false) {
  Rng rng(seed);
  std::vector<f16> x(n);
  for (f16& v : x) v = to_f16(uniform ? rng.uniform(-scale, scale) : rng.normal() * scale);
  return x;
}

// Families for the bound tests: scale, uniform?
struct Family {
  const char* name;
  float scale;
  bool uniform;
};
const Family kFamilies[] = {{"normal", 1.0f, false},   {"uniform", 1.0f, true},    {"small", 0.02f, false},
                            {"tiny", 1e-4f, false},    {"large", 60000.0f, true},  {"wide", 8.0f, false}};

// ---------------------------------------------------------------- SF4 table

TEST(Sf4Table, PinnedLevels) {
  // Student-t (nu = 5) quantiles / largest, rounded once to f32. Cross-checked
  // against a 200-bit mpmath evaluation at the same f64 probabilities: each
  // level is >= 2e-9 (relative) from an f32 rounding boundary.
  const float want[16] = {-0x1p+0f,       -0x1.416c74p-1f, -0x1.d1a65p-2f, -0x1.565accp-2f,
                          -0x1.e643fep-3f, -0x1.3922f6p-3f, -0x1.3320dp-4f, 0.0f,
                          0x1.0c577p-4f,  0x1.104fdp-3f,   0x1.a3255p-3f,  0x1.22a59p-2f,
                          0x1.80d2fcp-2f, 0x1.f6dc84p-2f,  0x1.50459ep-1f, 0x1p+0f};
  const float* t = blocks::sf4_table();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(f32_to_bits(t[i]), f32_to_bits(want[i])) << "level " << i << ": " << t[i];
  for (int i = 1; i < 16; ++i) EXPECT_LT(t[i - 1], t[i]);
  EXPECT_FALSE(std::signbit(t[7]));
}

TEST(StudentT, QuantilesMatchHighPrecisionValues) {
  struct Case {
    int nu;
    double p, t;  // t from a 200-bit evaluation (mpmath betainc + findroot)
  };
  const Case cases[] = {{5, 0.975, 2.5705818356363147828}, {3, 0.975, 3.1824463052837084359},
                        {1, 0.975, 12.706204736174693314}, {5, 0.9, 1.4758840488244812516},
                        {3, 0.9, 1.6377443536962103222},   {1, 0.9, 3.0776835371752541331},
                        {5, 0.75, 0.72668684380042265302}, {3, 0.75, 0.76489232840434528066},
                        {1, 0.75, 1.0},                    {5, 0.9677083333333334, 2.3620894623280893773}};
  for (const Case& c : cases) {
    EXPECT_NEAR(student_t_quantile(c.nu, c.p), c.t, 4e-15 * c.t) << "nu " << c.nu << " p " << c.p;
    EXPECT_EQ(student_t_quantile(c.nu, 1.0 - c.p), -student_t_quantile(c.nu, c.p)) << "symmetry, nu " << c.nu;
  }
  EXPECT_EQ(student_t_quantile(5, 0.5), 0.0);
  EXPECT_NE(thrown_message([] { student_t_quantile(4, 0.7); }), "(nothing thrown)");
  EXPECT_NE(thrown_message([] { student_t_quantile(5, 1.0); }), "(nothing thrown)");
  EXPECT_NE(thrown_message([] { student_t_quantile(5, kNaN); }), "(nothing thrown)");
}

// ---------------------------------------------------------------- Int8

TEST(Int8, CodeIsFloorHalfPlus255TimesClampedRatio) {
  EXPECT_EQ(int8_code(-1.0f, -1.0f, 1.0f), 0);
  EXPECT_EQ(int8_code(1.0f, -1.0f, 1.0f), 255);
  EXPECT_EQ(int8_code(0.0f, -1.0f, 1.0f), 128);  // 255 * 0.5 + 0.5 = 128 exactly
  EXPECT_EQ(int8_code(-3.0f, -1.0f, 1.0f), 0);   // clamped
  EXPECT_EQ(int8_code(7.0f, -1.0f, 1.0f), 255);
  // 255 * (1/255) + 0.5 = 1.5 -> 1; a value a hair below the midpoint of
  // codes 0 and 1 (v = 0.5/255) stays 0.
  EXPECT_EQ(int8_code(1.0f, 0.0f, 255.0f), 1);
  EXPECT_EQ(int8_code(0.4999f, 0.0f, 255.0f), 0);
  EXPECT_EQ(int8_code(0.5f, 0.0f, 255.0f), 1);  // a tie rounds up (floor(x + 0.5))
  EXPECT_EQ(int8_code(kNaN, -1.0f, 1.0f), 0);
  EXPECT_EQ(int8_code(2.0f, 2.0f, 2.0f), 0);  // constant block: 0/0
}

TEST(Int8, BlocksRunInMemoryOrderAcrossRows) {
  const int64_t K = 100, M = 3;  // 300 values: blocks of 128, 128 and 44, crossing row ends
  std::vector<float> w(size_t(K * M));
  Rng rng(3);
  for (float& v : w) v = rng.normal();
  const Matrix mat = quantize_matrix(WeightFormat::int8, w.data(), K, M);
  ASSERT_EQ(mat.meta_count, 6u);
  ASSERT_EQ(mat.data_bytes, 300u);
  for (size_t b = 0; b < 3; ++b) {
    float mn = 65504.0f, mx = -65504.0f;
    for (size_t i = 128 * b; i < std::min<size_t>(128 * b + 128, 300); ++i) {
      mn = std::min(mn, round_to_f16(w[i]));
      mx = std::max(mx, round_to_f16(w[i]));
    }
    EXPECT_EQ(to_f32(mat.meta[2 * b]), mn) << "block " << b;
    EXPECT_EQ(to_f32(mat.meta[2 * b + 1]), mx) << "block " << b;
    for (size_t i = 128 * b; i < std::min<size_t>(128 * b + 128, 300); ++i)
      EXPECT_EQ(mat.data[i], int8_code(round_to_f16(w[i]), mn, mx)) << "element " << i;
  }
  std::vector<float> y(300);
  blocks::dequantize_matrix(mat, y.data());
  for (size_t i = 0; i < 300; ++i)
    EXPECT_EQ(f32_to_bits(y[i]), f32_to_bits(blocks::int8_value(mat.data[i], to_f32(mat.meta[2 * (i / 128)]),
                                                                to_f32(mat.meta[2 * (i / 128) + 1]))));
}

// |x - x^| <= (max - min)/510: the code is the nearest of 256 evenly spaced
// levels. Slack for f32 rounding in (x - min)/(max - min), q/255, the product
// and the sum: a few 2^-24 of |min| + |max| + (max - min).
TEST(Int8, ErrorWithinHalfALevel) {
  for (const Family& fam : kFamilies) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const size_t n = 1000;  // 7 full blocks and a partial one
      const std::vector<f16> x = seeded_f16(seed + 100, n, fam.scale, fam.uniform);
      std::vector<uint8_t> q(n);
      std::vector<f16> mm(2 * ((n + 127) / 128));
      quantize_int8(x.data(), int64_t(n), q.data(), mm.data());
      for (size_t i = 0; i < n; ++i) {
        const float mn = to_f32(mm[2 * (i / 128)]), mx = to_f32(mm[2 * (i / 128) + 1]);
        const double range = double(mx) - mn;
        const double bound = range / 510 + 1e-6 * (std::fabs(mn) + std::fabs(mx) + range);
        ASSERT_LE(std::fabs(double(to_f32(x[i])) - blocks::int8_value(q[i], mn, mx)), bound)
            << fam.name << " seed " << seed << " element " << i;
      }
    }
  }
}

// Decoding, rounding back to f16 and re-quantising gives the same codes and
// (min, max). Each input x is an f16 value within half a level (R/510) of its
// decoded x^, so the f16 nearest to x^ is no farther from x^ and lands on the
// same level (an exact midpoint would tie, and ties go up on both passes).
// Code 0 decodes to min exactly, and code 255 to max when max - min is exact
// in f32. That last condition fails when min and max are far apart in
// magnitude (below); then the pair, and so the codes, can change.
TEST(Int8, RequantisingTheDecodedBlockIsIdempotent) {
  for (const Family& fam : kFamilies) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const size_t n = 1024;
      const std::vector<f16> x = seeded_f16(seed + 200, n, fam.scale, fam.uniform);
      std::vector<uint8_t> q(n), q2(n);
      std::vector<f16> mm(16), mm2(16);
      quantize_int8(x.data(), int64_t(n), q.data(), mm.data());
      std::vector<f16> y(n);
      for (size_t i = 0; i < n; ++i)
        y[i] = to_f16(blocks::int8_value(q[i], to_f32(mm[2 * (i / 128)]), to_f32(mm[2 * (i / 128) + 1])));
      quantize_int8(y.data(), int64_t(n), q2.data(), mm2.data());
      EXPECT_EQ(q2, q) << fam.name << " seed " << seed;
      for (size_t i = 0; i < mm.size(); ++i) EXPECT_EQ(mm2[i].bits, mm[i].bits) << fam.name << " meta " << i;
    }
  }
  // The counter-example: max - min = 65504 + 2^-24 rounds to 65504 in f32, so
  // code 255 decodes to 0, not to the block's max 2^-24.
  std::vector<f16> far(128, to_f16(-65504.0f));
  far[7] = f16{0x0001};  // 2^-24, the smallest f16 subnormal
  std::vector<uint8_t> q(128), q2(128);
  std::vector<f16> mm(2), mm2(2);
  quantize_int8(far.data(), 128, q.data(), mm.data());
  EXPECT_EQ(q[7], 255);
  std::vector<f16> y(128);
  for (size_t i = 0; i < 128; ++i) y[i] = to_f16(blocks::int8_value(q[i], to_f32(mm[0]), to_f32(mm[1])));
  EXPECT_EQ(to_f32(y[7]), 0.0f);
  quantize_int8(y.data(), 128, q2.data(), mm2.data());
  EXPECT_NE(mm2[1].bits, mm[1].bits);
}

TEST(Int8, ConstantBlocksUseCodeZeroAndDecodeExactly) {
  for (float c : {0.0f, 0.3f, -1.25f, 65504.0f, -65504.0f, 6e-8f}) {
    const std::vector<f16> x(200, to_f16(c));  // a full block and a partial one
    std::vector<uint8_t> q(200, 0xff);
    std::vector<f16> mm(4);
    quantize_int8(x.data(), 200, q.data(), mm.data());
    for (size_t i = 0; i < 200; ++i) {
      EXPECT_EQ(q[i], 0) << c;
      EXPECT_EQ(blocks::int8_value(q[i], to_f32(mm[2 * (i / 128)]), to_f32(mm[2 * (i / 128) + 1])), round_to_f16(c))
          << c;
    }
    for (const f16& m : mm) EXPECT_EQ(m.bits, to_f16(c).bits);
  }
}

TEST(Int8, NanAndInfAreContainedAndGiveDocumentedCodes) {
  std::vector<f16> x = seeded_f16(9, 256, 1.0f);
  std::vector<f16> clean = x;
  x[3] = to_f16(kNaN);          // block 0: NaN ignored by min/max, its own code 0
  x[130] = to_f16(kInf);        // block 1: max = Inf, every code 0
  std::vector<uint8_t> q(256), qc(256);
  std::vector<f16> mm(4), mmc(4);
  quantize_int8(x.data(), 256, q.data(), mm.data());
  clean[3] = clean[4];  // the same block without the NaN: same min/max
  quantize_int8(clean.data(), 256, qc.data(), mmc.data());
  EXPECT_EQ(mm[0].bits, mmc[0].bits);
  EXPECT_EQ(mm[1].bits, mmc[1].bits);
  EXPECT_EQ(q[3], 0);
  for (size_t i = 0; i < 128; ++i) {
    if (i != 3) {
      EXPECT_EQ(q[i], qc[i]) << i;
    }
  }
  EXPECT_EQ(to_f32(mm[3]), kInf);
  for (size_t i = 128; i < 256; ++i) EXPECT_EQ(q[i], 0) << i;
  // An all-NaN block keeps the search's starting pair (65504, -65504).
  const std::vector<f16> nans(128, to_f16(kNaN));
  quantize_int8(nans.data(), 128, q.data(), mm.data());
  EXPECT_EQ(to_f32(mm[0]), 65504.0f);
  EXPECT_EQ(to_f32(mm[1]), -65504.0f);
  EXPECT_EQ(q[0], 0);
}

TEST(Int8, BadArgumentsNameWhatWasExpected) {
  std::vector<float> w(300, 1.0f);
  Matrix mat = quantize_matrix(WeightFormat::int8, w.data(), 100, 3);
  Matrix short_meta = mat;
  short_meta.meta_count = 5;
  EXPECT_EQ(thrown_message([&] { blocks::validate_matrix(short_meta, "w"); }),
            "w (int8, K = 100, M = 3): meta holds 5 f16 values, expected 6");
  Matrix no_meta = mat;
  no_meta.meta = nullptr;
  EXPECT_EQ(thrown_message([&] { blocks::validate_matrix(no_meta, "w"); }),
            "w (int8, K = 100, M = 3): meta holds 0 f16 values, expected 6");
  Matrix long_data = mat;
  long_data.data_bytes = 301;
  EXPECT_EQ(thrown_message([&] { blocks::validate_matrix(long_data, "w"); }),
            "w (int8, K = 100, M = 3): data holds 301 bytes, expected 300");
  EXPECT_EQ(thrown_message([&] { quantize_int8(nullptr, -1, nullptr, nullptr); }), "quantize_int8: n = -1 is negative");
  EXPECT_EQ(thrown_message([&] { quantize_matrix(WeightFormat::int8, w.data(), 100, 0); }),
            "quantize_matrix (int8): K = 100 and M = 0 must be positive");
}

// ---------------------------------------------------------------- NF4 / SF4

class Fp4 : public ::testing::TestWithParam<WeightFormat> {
 protected:
  const float* table() const { return GetParam() == WeightFormat::nf4 ? blocks::nf4_table() : blocks::sf4_table(); }
  const char* name() const { return GetParam() == WeightFormat::nf4 ? "nf4" : "sf4"; }
  double max_gap() const {
    double g = 0;
    for (int i = 1; i < 16; ++i) g = std::max(g, double(table()[i]) - table()[i - 1]);
    return g;
  }
};

TEST_P(Fp4, LevelsMapToTheirOwnIndex) {
  for (uint8_t j = 0; j < 16; ++j) EXPECT_EQ(fp4_code(table(), table()[j]), j);
  EXPECT_EQ(fp4_code(table(), -0.0f), 7);
  EXPECT_EQ(fp4_code(table(), kNaN), 7);
  EXPECT_EQ(fp4_code(table(), 2.0f), 15);
  EXPECT_EQ(fp4_code(table(), -2.0f), 0);
}

// Between two adjacent levels, find every f32 r (around the midpoint) whose
// f32 distances to both are equal: the scan keeps the later index on <=, so
// such ties go to the higher one.
TEST_P(Fp4, TiesGoToTheHigherIndex) {
  int ties = 0;
  for (int i = 0; i < 15; ++i) {
    const float lo = table()[i], hi = table()[i + 1];
    float r = lo + (hi - lo) * 0.5f;
    for (int step = 0; step < 64; ++step) r = std::nextafter(r, lo);
    for (int step = 0; step < 128; ++step, r = std::nextafter(r, hi)) {
      const float dlo = std::fabs(lo - r), dhi = std::fabs(hi - r);
      const uint8_t code = fp4_code(table(), r);
      if (dlo == dhi) {
        ++ties;
        EXPECT_EQ(code, i + 1) << "tie between levels " << i << " and " << i + 1 << " at r = " << r;
      } else {
        EXPECT_EQ(code, dlo < dhi ? i : i + 1) << "r = " << r;
      }
    }
  }
  std::printf("[ ties     ] %s: %d exact f32 ties checked\n", name(), ties);
  EXPECT_GT(ties, 0);
}

TEST_P(Fp4, PackingPutsElementEInNibbleOfByteEOver2) {
  std::vector<f16> x(64);
  for (size_t e = 0; e < 64; ++e) x[e] = to_f16(table()[e % 16]);  // absmax 1 (level 15)
  std::vector<uint8_t> q(32);
  std::vector<f16> absmax(1);
  quantize_fp4(table(), x.data(), 64, q.data(), absmax.data());
  EXPECT_EQ(to_f32(absmax[0]), 1.0f);
  for (size_t e = 0; e < 64; ++e) EXPECT_EQ((q[e / 2] >> (4 * (e % 2))) & 15, int(e % 16)) << "element " << e;
  // The same through a Matrix and the reference decoder.
  std::vector<float> w(64);
  for (size_t e = 0; e < 64; ++e) w[e] = to_f32(x[e]);
  const Matrix mat = quantize_matrix(GetParam(), w.data(), 16, 4);
  EXPECT_EQ(std::memcmp(mat.data, q.data(), 32), 0);
  std::vector<float> y(64);
  blocks::dequantize_matrix(mat, y.data());
  for (size_t e = 0; e < 64; ++e) EXPECT_EQ(y[e], table()[e % 16] * 1.0f);
}

TEST_P(Fp4, ZeroBlocksAreCodeSevenAndDecodeToPositiveZero) {
  std::vector<f16> x(128, to_f16(0.0f));
  for (size_t i = 64; i < 128; i += 2) x[i] = to_f16(-0.0f);
  std::vector<uint8_t> q(64);
  std::vector<f16> absmax(2);
  quantize_fp4(table(), x.data(), 128, q.data(), absmax.data());
  for (uint8_t b : q) EXPECT_EQ(b, 0x77);
  for (const f16& a : absmax) EXPECT_EQ(a.bits, 0);
  const float v = blocks::fp4_value(table(), 7, 0.0f);
  EXPECT_EQ(f32_to_bits(v), 0u);
}

// |x - x^| <= (largest gap between levels)/2 * absmax: r = x/absmax lies in
// [-1, 1], both ends are levels, and the nearest level is at most half a gap
// away. Slack: the f32 division and the f32 product table*absmax (2^-24
// each, relative to absmax).
TEST_P(Fp4, ErrorWithinHalfTheLargestGap) {
  const double half_gap = max_gap() / 2;
  for (const Family& fam : kFamilies) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const size_t n = 1000;  // 15 full blocks and a partial one of 40
      const std::vector<f16> x = seeded_f16(seed + 300, n, fam.scale, fam.uniform);
      std::vector<uint8_t> q(n / 2);
      std::vector<f16> absmax((n + 63) / 64);
      quantize_fp4(table(), x.data(), int64_t(n), q.data(), absmax.data());
      for (size_t i = 0; i < n; ++i) {
        const float a = to_f32(absmax[i / 64]);
        const uint8_t code = uint8_t((q[i / 2] >> (4 * (i % 2))) & 15);
        const double err = std::fabs(double(to_f32(x[i])) - blocks::fp4_value(table(), code, a));
        ASSERT_LE(err, (half_gap + 4 * 0x1p-24) * a) << name() << " " << fam.name << " seed " << seed << " element " << i;
      }
    }
  }
}

// Decoding, rounding to f16 and re-quantising is idempotent: the absmax
// element has r = +-1 exactly, codes to level 0 or 15 and decodes to
// +-absmax exactly, so absmax is found again; every other input x is an f16
// value within half a gap (times absmax) of its decoded x^, so the f16
// nearest to x^ is no farther and maps to the same level, subnormal or not.
// Only an exact tie could move (it goes to the higher index both times).
TEST_P(Fp4, RequantisingTheDecodedBlockIsIdempotent) {
  for (const Family& fam : kFamilies) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const size_t n = 1024;
      const std::vector<f16> x = seeded_f16(seed + 400, n, fam.scale, fam.uniform);
      std::vector<uint8_t> q(n / 2), q2(n / 2);
      std::vector<f16> absmax(n / 64), absmax2(n / 64);
      quantize_fp4(table(), x.data(), int64_t(n), q.data(), absmax.data());
      std::vector<f16> y(n);
      for (size_t i = 0; i < n; ++i)
        y[i] = to_f16(blocks::fp4_value(table(), uint8_t((q[i / 2] >> (4 * (i % 2))) & 15), to_f32(absmax[i / 64])));
      quantize_fp4(table(), y.data(), int64_t(n), q2.data(), absmax2.data());
      EXPECT_EQ(q2, q) << name() << " " << fam.name << " seed " << seed;
      for (size_t b = 0; b < absmax.size(); ++b) EXPECT_EQ(absmax2[b].bits, absmax[b].bits);
    }
  }
}

TEST_P(Fp4, PartialLastBlockUsesOnlyItsElements) {
  std::vector<float> w(72);  // K = 8, M = 9: one block of 64 and one of 8
  for (size_t i = 0; i < 72; ++i) w[i] = i < 64 ? 100.0f : float(i) - 70.0f;  // last block: -6..1
  const Matrix mat = quantize_matrix(GetParam(), w.data(), 8, 9);
  ASSERT_EQ(mat.meta_count, 2u);
  EXPECT_EQ(to_f32(mat.meta[0]), 100.0f);
  EXPECT_EQ(to_f32(mat.meta[1]), 6.0f);
  EXPECT_EQ(mat.data[32] & 15, 0);  // -6 / 6 = -1: level 0
}

TEST_P(Fp4, NanAndInfAreContained) {
  std::vector<f16> x = seeded_f16(12, 192, 1.0f);
  std::vector<f16> clean = x;
  x[5] = to_f16(kNaN);      // block 0: ignored by absmax, code 7
  x[70] = to_f16(kInf);     // block 1: absmax Inf; finite values give r = +-0 -> 7; Inf/Inf -> 7
  clean[5] = to_f16(0.0f);
  std::vector<uint8_t> q(96), qc(96);
  std::vector<f16> a(3), ac(3);
  quantize_fp4(table(), x.data(), 192, q.data(), a.data());
  quantize_fp4(table(), clean.data(), 192, qc.data(), ac.data());
  EXPECT_EQ(a[0].bits, ac[0].bits);
  EXPECT_TRUE(std::equal(q.begin(), q.begin() + 32, qc.begin()));  // block 0: the NaN codes like a 0
  EXPECT_EQ(to_f32(a[1]), kInf);
  for (size_t i = 32; i < 64; ++i) EXPECT_EQ(q[i], 0x77);
  EXPECT_EQ(a[2].bits, ac[2].bits);
  EXPECT_TRUE(std::equal(q.begin() + 64, q.end(), qc.begin() + 64));
}

TEST_P(Fp4, BadArgumentsNameWhatWasExpected) {
  std::vector<float> w(96, 1.0f);
  const std::string fmt_name = name();
  EXPECT_EQ(thrown_message([&] { quantize_matrix(GetParam(), w.data(), 12, 8); }),
            "quantize_matrix (" + fmt_name + "): K = 12 is not a multiple of 8");
  EXPECT_EQ(thrown_message([&] { quantize_fp4(table(), nullptr, 7, nullptr, nullptr); }),
            "quantize_fp4: n = 7 must be even and non-negative (two codes per byte)");
  Matrix mat = quantize_matrix(GetParam(), w.data(), 16, 6);
  Matrix bad = mat;
  bad.meta_count = 1;
  EXPECT_EQ(thrown_message([&] { blocks::validate_matrix(bad, "w"); }),
            "w (" + fmt_name + ", K = 16, M = 6): meta holds 1 f16 values, expected 2");
  bad = mat;
  bad.data_bytes = 96;
  EXPECT_EQ(thrown_message([&] { blocks::validate_matrix(bad, "w"); }),
            "w (" + fmt_name + ", K = 16, M = 6): data holds 96 bytes, expected 48");
}

INSTANTIATE_TEST_SUITE_P(Tables, Fp4, ::testing::Values(WeightFormat::nf4, WeightFormat::sf4),
                         [](const auto& info) { return std::string(format_name(info.param)); });

}  // namespace
}  // namespace rwkv
