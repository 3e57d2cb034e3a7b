// layer_norm, group_norm and l2_norm against their float64 oracles, on edge
// inputs, with bad arguments, and across SIMD levels and thread counts.
//
// Error bounds (eps = 2^-24, the unit roundoff of f32). For a row with exact
// mean m and sigma = sqrt(var + eps), let z_i = (x_i - m)/sigma, the size ratio
// S = max|x| / sigma (>= the condition number sqrt(1 + m^2/var) of the
// variance), and L = ceil(len / (4 BS)) + 7 + 4 the longest chain of dependent
// roundings (Welford steps per thread, 7 tree levels, 4 fold terms).
//  - Welford/Chan give |d mean| <= 2 L eps max|x| and |d var|/var <= 2 L eps S
//    (the updating/pairwise bounds of Chan, Golub & LeVeque, with kappa <= S),
//    so the normalised value (x - mean) * rstd is within
//      tol_z = 2 L eps S (1 + |z|) + 2 eps |z|
//    (the last term: the subtraction and the product with rstd).
//  - y = z*w + b adds |w| tol_z + eps (|z w| + |y|) (two more roundings).
//  - Storing rounds once more: near_oracle adds half the output type's spacing.
// l2_norm sums non-negative terms, so its relative error is at most
// (L + 4) eps with L = ceil(len / 512) + 7 + 3 (sum chain, sqrt, divide, product).
// The measured worst |err| / bound of each test is printed ("[ bound  ]").
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"

#include "reference/kernels/norm.h"
#include "reference/numeric/canon_math.h"
#include "reference/oracle/norm_oracle.h"
#include "reference/oracle/oracle_round.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"
#include "tests/support/oracle_check.h"

namespace rwkv {
namespace {

using testing::ErrorStats;
using testing::make_f16;
using testing::make_tensor;
using testing::near_oracle;

constexpr double kEps32 = 0x1p-24;

enum class Norm { layer, group };

// Per-row statistics the bound needs, from the exact (float64) row.
struct RowScale {
  double mean = 0, sigma = 0, max_abs = 0;
};
RowScale row_scale(const TensorView& x, int64_t base, int64_t len, double eps) {
  RowScale s;
  for (int64_t i = 0; i < len; ++i) {
    s.mean += x.get(base + i);
    s.max_abs = std::max(s.max_abs, std::fabs(double(x.get(base + i))));
  }
  s.mean /= double(len);
  double sq = 0;
  for (int64_t i = 0; i < len; ++i) sq += (x.get(base + i) - s.mean) * (x.get(base + i) - s.mean);
  s.sigma = std::sqrt(sq / double(len) + eps);
  return s;
}

// Checks a layer_norm or group_norm output against the oracle under the bound above.
void check_norm(Norm kind, const TensorView& x, const TensorView& out, const std::vector<f16>& w,
                const std::vector<f16>& b, int64_t len, float eps, ErrorStats& stats, const std::string& label) {
  const auto want = kind == Norm::layer ? oracle::layer_norm(x, w.data(), b.data(), eps)
                                        : oracle::group_norm(x, w.data(), b.data(), len, eps);
  const int bs = kind == Norm::layer ? 128 : 32;
  const double L = double((len + 4 * bs - 1) / (4 * bs) + 7 + 4);
  const int64_t wrows = x.shape[0] / len;
  for (int64_t r = 0; r < x.numel() / len; ++r) {
    const RowScale rs = row_scale(x, r * len, len, eps);
    const double S = rs.max_abs / rs.sigma;
    for (int64_t i = 0; i < len; ++i) {
      const int64_t k = r * len + i;
      const double z = (x.get(k) - rs.mean) / rs.sigma;
      const double wi = to_f32(w[size_t((r % wrows) * len + i)]);
      const double tol_z = 2 * L * kEps32 * S * (1 + std::fabs(z)) + 2 * kEps32 * std::fabs(z);
      const double tol = std::fabs(wi) * tol_z + kEps32 * (std::fabs(z * wi) + std::fabs(want[size_t(k)]));
      ASSERT_TRUE(near_oracle(out.get(k), want[size_t(k)], tol, out.dtype, &stats, label, k));
    }
  }
}

void check_l2(const TensorView& x, const TensorView& out, int64_t len, float eps, ErrorStats& stats,
              const std::string& label) {
  const auto want = oracle::l2_norm(x, len, eps);
  const double L = double((len + 511) / 512 + 7 + 3);
  for (int64_t k = 0; k < x.numel(); ++k)
    ASSERT_TRUE(near_oracle(out.get(k), want[size_t(k)], (L + 4) * kEps32 * std::fabs(want[size_t(k)]),
                            out.dtype, &stats, label, k));
}

struct NormCase {
  int64_t C, T, B;
  DType in, out;
  bool in_place;
};

std::string case_label(const NormCase& c) {
  return fmt::format("C={} T={} B={} {}->{}{}", c.C, c.T, c.B, dtype_name(c.in), dtype_name(c.out),
                     c.in_place ? " in place" : "");
}

// Inputs with a per-row offset (so the variance is not trivially conditioned)
// and random-sign weights of mixed sizes.
struct NormInputs {
  Tensor x, out;
  std::vector<f16> w, b;
};
NormInputs make_inputs(const NormCase& c, uint64_t seed) {
  Rng rng(seed);
  NormInputs in;
  const float offset = rng.uniform(-4, 4);
  const float scale = std::exp2(rng.uniform(-3, 3));
  in.x = make_tensor(c.in, Shape(c.C, c.T, c.B), [&] { return offset + scale * rng.normal(); });
  in.w = make_f16(c.C, [&] { return rng.uniform(-2, 2); });
  in.b = make_f16(c.C, [&] { return 0.5f * rng.normal(); });
  if (!c.in_place) in.out = Tensor(c.out, Shape(c.C, c.T, c.B));
  return in;
}

std::vector<NormCase> shape_cases() {
  std::vector<NormCase> cases;
  // 516 and 100 are not multiples of 512 (or of 16): partial threads and lane tails.
  for (int64_t C : {256, 768, 2048, 4096, 516, 100})
    for (int64_t T : {1, 7, 32, 33})
      for (auto [in, out] : {std::pair{DType::f16, DType::f16}, {DType::f32, DType::f32}, {DType::f16, DType::f32},
                             {DType::f32, DType::f16}})
        cases.push_back({C, T, 1, in, out, false});
  cases.push_back({768, 5, 3, DType::f16, DType::f16, true});
  cases.push_back({2048, 4, 2, DType::f32, DType::f32, true});
  return cases;
}

TEST(LayerNorm, MatchesOracle) {
  ErrorStats stats;
  uint64_t seed = 100;
  for (const NormCase& c : shape_cases()) {
    NormInputs in = make_inputs(c, ++seed);
    Tensor x0 = in.x;  // oracle input (the kernel may overwrite x)
    Tensor& dst = c.in_place ? in.x : in.out;
    layer_norm(in.x.view(), dst.view(), in.w.data(), in.b.data(), kLayerNormEps);
    check_norm(Norm::layer, x0.view(), dst.view(), in.w, in.b, c.C, kLayerNormEps, stats, case_label(c));
  }
  stats.print("layer_norm");
}

TEST(GroupNorm, MatchesOracle) {
  ErrorStats stats;
  uint64_t seed = 200;
  for (const NormCase& c : shape_cases()) {
    for (int64_t N : {64, 128, 32, 4}) {
      if (c.C % N != 0) continue;
      NormInputs in = make_inputs(c, ++seed);
      Tensor x0 = in.x;
      Tensor& dst = c.in_place ? in.x : in.out;
      group_norm(in.x.view(), dst.view(), in.w.data(), in.b.data(), N, kGroupNormEps);
      check_norm(Norm::group, x0.view(), dst.view(), in.w, in.b, N, kGroupNormEps, stats,
                 case_label(c) + fmt::format(" N={}", N));
    }
  }
  stats.print("group_norm");
}

TEST(L2Norm, MatchesOracle) {
  ErrorStats stats;
  uint64_t seed = 300;
  for (const NormCase& c : shape_cases()) {
    for (int64_t N : {int64_t{64}, int64_t{128}, int64_t{4}, c.C}) {
      if (c.C % N != 0) continue;
      NormInputs in = make_inputs(c, ++seed);
      Tensor x0 = in.x;
      Tensor& dst = c.in_place ? in.x : in.out;
      l2_norm(in.x.view(), dst.view(), N, kL2NormEps);
      check_l2(x0.view(), dst.view(), N, kL2NormEps, stats, case_label(c) + fmt::format(" N={}", N));
    }
  }
  stats.print("l2_norm");
}

// In place and out of place compute the same bits.
TEST(LayerNorm, InPlaceMatchesOutOfPlace) {
  for (DType t : {DType::f16, DType::f32}) {
    NormInputs in = make_inputs({1028, 9, 1, t, t, false}, 7);
    layer_norm(in.x.view(), in.out.view(), in.w.data(), in.b.data());
    layer_norm(in.x.view(), in.x.view(), in.w.data(), in.b.data());
    EXPECT_EQ(in.x.bytes, in.out.bytes) << dtype_name(t);
  }
}

// A zero row: every Welford state is (n, 0, 0), every merge gives mean 0 and
// M2 0 exactly, so z = (0 - 0) * rstd = 0 and y = 0*w + b = b exactly (as a
// value: with b = -0 and w > 0 the sum is +0). The same holds for a constant
// row c whose products c*n are exact in f32 (c with few significant bits): the
// merges return c exactly. A general constant (0.1) can come back one ulp off
// the mean after a merge, (c*n1 + c*n2)/n != c, so y = b + w*tiny*rstd, within
// the bound (S = |c|/sqrt(eps) is large there).
TEST(LayerNorm, ConstantRows) {
  Rng rng(11);
  for (DType t : {DType::f16, DType::f32}) {
    for (int64_t C : {256, 516, 4096}) {
      const auto w = make_f16(C, [&] { return rng.uniform(-2, 2); });
      const auto b = make_f16(C, [&] { return rng.normal(); });
      for (float c : {0.0f, 0.375f, -3.0f, 1024.0f}) {
        Tensor x = make_tensor(t, Shape(C, 3), [&] { return c; });
        layer_norm(x.view(), x.view(), w.data(), b.data());
        for (int64_t k = 0; k < x.numel(); ++k)
          ASSERT_EQ(x.view().get(k), to_f32(b[size_t(k % C)])) << "c=" << c << " C=" << C << " k=" << k;
      }
      ErrorStats stats;
      Tensor x = make_tensor(t, Shape(C, 2), [&] { return 0.1f; });
      Tensor x0 = x;
      layer_norm(x.view(), x.view(), w.data(), b.data());
      check_norm(Norm::layer, x0.view(), x.view(), w, b, C, kLayerNormEps, stats, "constant 0.1");
    }
  }
}

// Inputs near the f16 maximum: the f32 arithmetic is fine (squares ~4e9), and
// outputs whose exact value rounds past 65504 must be Inf in an f16 output.
TEST(LayerNorm, NearF16Maximum) {
  Rng rng(12);
  ErrorStats stats;
  for (DType out_t : {DType::f16, DType::f32}) {
    const int64_t C = 768;
    Tensor x = make_tensor(DType::f16, Shape(C, 4), [&] { return rng.uniform(-65504, 65504); });
    const auto w = make_f16(C, [&] { return rng.uniform(-40000, 40000); });
    const auto b = make_f16(C, [&] { return rng.uniform(-30000, 30000); });
    Tensor out(out_t, x.shape);
    layer_norm(x.view(), out.view(), w.data(), b.data());
    check_norm(Norm::layer, x.view(), out.view(), w, b, C, kLayerNormEps, stats, "near max");
    // The case must really overflow somewhere in f16.
    if (out_t == DType::f16) {
      int inf = 0;
      for (int64_t k = 0; k < out.numel(); ++k) inf += std::isinf(out.view().get(k));
      EXPECT_GT(inf, 0);
    }
    Tensor g(out_t, x.shape);
    group_norm(x.view(), g.view(), w.data(), b.data(), 64);
    check_norm(Norm::group, x.view(), g.view(), w, b, 64, kGroupNormEps, stats, "near max (group)");
    Tensor l(out_t, x.shape);
    l2_norm(x.view(), l.view(), 64);
    check_l2(x.view(), l.view(), 64, kL2NormEps, stats, "near max (l2)");
  }
  stats.print("near f16 max");
}

// Subnormal inputs: eps dominates the variance, y ~ b; for l2_norm eps
// dominates the sum, y ~ x * 1e6.
TEST(LayerNorm, Subnormals) {
  Rng rng(13);
  ErrorStats stats;
  const int64_t C = 256;
  const auto w = make_f16(C, [&] { return rng.uniform(-2, 2); });
  const auto b = make_f16(C, [&] { return rng.normal(); });
  for (DType t : {DType::f16, DType::f32}) {
    const float unit = t == DType::f16 ? 0x1p-24f : 0x1p-149f;
    Tensor x = make_tensor(t, Shape(C, 3), [&] { return unit * float(int(rng.next_u32() % 2001) - 1000); });
    for (DType out_t : {DType::f16, DType::f32}) {
      Tensor out(out_t, x.shape);
      layer_norm(x.view(), out.view(), w.data(), b.data());
      check_norm(Norm::layer, x.view(), out.view(), w, b, C, kLayerNormEps, stats, "subnormal");
      group_norm(x.view(), out.view(), w.data(), b.data(), 64);
      check_norm(Norm::group, x.view(), out.view(), w, b, 64, kGroupNormEps, stats, "subnormal (group)");
      l2_norm(x.view(), out.view(), 64);
      check_l2(x.view(), out.view(), 64, kL2NormEps, stats, "subnormal (l2)");
    }
  }
  stats.print("subnormals");
}

// One NaN or Inf in a row. layer_norm / group_norm: the thread that meets it
// gets a NaN M2 (Inf: delta * (v - mean) = Inf * (Inf - Inf)), so var, rstd and
// the whole row (for group_norm: that head of that token) are NaN; other rows
// are untouched. l2_norm: NaN makes its head row NaN; +-Inf makes the sum Inf,
// scale 0, so the Inf element gives Inf*0 = NaN and the others 0 -- exactly what
// the float64 oracle computes too. Nothing throws or crashes.
TEST(Norms, NanAndInfPropagate) {
  Rng rng(14);
  const int64_t C = 256, N = 64;
  const auto w = make_f16(C, [&] { return rng.uniform(-2, 2); });
  const auto b = make_f16(C, [&] { return rng.normal(); });
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    for (DType t : {DType::f16, DType::f32}) {
      Tensor x = make_tensor(t, Shape(C, 3), [&] { return rng.normal(); });
      x.view().set(C + 70, bad);  // token 1, head 1
      ErrorStats stats;
      Tensor ln(t, x.shape), gn(t, x.shape), l2(t, x.shape);
      layer_norm(x.view(), ln.view(), w.data(), b.data());
      group_norm(x.view(), gn.view(), w.data(), b.data(), N);
      l2_norm(x.view(), l2.view(), N);
      check_norm(Norm::layer, x.view(), ln.view(), w, b, C, kLayerNormEps, stats, "bad value");
      check_norm(Norm::group, x.view(), gn.view(), w, b, N, kGroupNormEps, stats, "bad value (group)");
      check_l2(x.view(), l2.view(), N, kL2NormEps, stats, "bad value (l2)");
      for (int64_t i = 0; i < C; ++i) {
        EXPECT_TRUE(std::isnan(ln.view().get(C + i)));
        EXPECT_FALSE(std::isnan(ln.view().get(i)));
        EXPECT_EQ(std::isnan(gn.view().get(C + i)), i / N == 1);
      }
    }
  }
}

// Documented divergences from the oracle, all from f32 overflow of the
// intermediate squares (only reachable with f32 activations beyond ~1.8e19;
// see norm.h).
TEST(Norms, F32OverflowOfSquares) {
  const int64_t C = 64;
  Tensor x = make_tensor(DType::f32, Shape(C), [] { return 3e19f; });
  x.view().set(0, -3e19f);
  Tensor out(DType::f32, x.shape);
  l2_norm(x.view(), out.view(), C);  // sum of squares = Inf: scale 0, y = 0
  for (int64_t i = 0; i < C; ++i) EXPECT_EQ(out.view().get(i), 0.0f);
  // layer_norm with every one of the 128 threads holding data (C = 512): M2 =
  // Inf, rstd = 0, (x - mean) * 0 = 0, y = 0*w + b = b.
  const int64_t C2 = 512;
  std::vector<f16> w(static_cast<size_t>(C2), to_f16(1.5f)), b(static_cast<size_t>(C2));
  for (int64_t i = 0; i < C2; ++i) b[size_t(i)] = to_f16(float(i) / 8);
  Tensor x2 = make_tensor(DType::f32, Shape(C2), [&, i = 0]() mutable { return (i++ % 3 ? 3e19f : -3e19f); });
  Tensor out2(DType::f32, x2.shape);
  layer_norm(x2.view(), out2.view(), w.data(), b.data());
  for (int64_t i = 0; i < C2; ++i) EXPECT_EQ(out2.view().get(i), to_f32(b[size_t(i)]));
  // With C = 64 threads 16..127 are empty: merging one of them gives
  // delta^2 = Inf times n1*n2 = 0, NaN, and the row is NaN.
  layer_norm(x.view(), out.view(), w.data(), b.data());
  for (int64_t i = 0; i < C; ++i) EXPECT_TRUE(std::isnan(out.view().get(i)));
}

TEST(Norms, BadArguments) {
  using test::expect_error;
  std::vector<f16> w(4096), b(4096);
  Tensor x(DType::f32, Shape(256, 2)), y(DType::f16, Shape(256, 3)), odd(DType::f32, Shape(254, 2));
  expect_error([&] { layer_norm(x.view(), y.view(), w.data(), b.data()); }, "layer_norm: out has shape");
  expect_error([&] { layer_norm(odd.view(), odd.view(), w.data(), b.data()); }, "multiple of 4");
  expect_error([&] { layer_norm(x.view(), x.view(), nullptr, b.data()); }, "weight w is null");
  expect_error([&] { layer_norm(x.view(), x.view(), w.data(), b.data(), -1.0f); }, "eps");
  expect_error([&] { group_norm(x.view(), x.view(), w.data(), b.data(), 48); }, "head_size 48 does not divide");
  expect_error([&] { group_norm(x.view(), x.view(), w.data(), b.data(), 0); }, "head_size 0");
  expect_error([&] { l2_norm(x.view(), x.view(), 2); }, "multiple of 4");
  expect_error([&] { l2_norm(x.view(), x.view(), 100); }, "does not divide");
  Tensor big(DType::f16, Shape(40000));
  expect_error([&] { l2_norm(big.view(), big.view(), 40000); }, "longer than");
  // out shifted by one token within x's buffer: a partial overlap.
  Tensor buf(DType::f32, Shape(256, 3));
  TensorView a(buf.view().f32(), Shape(256, 2)), shifted(buf.view().f32() + 256, Shape(256, 2));
  expect_error([&] { layer_norm(a, shifted, w.data(), b.data()); }, "overlaps");
  TensorView none(static_cast<float*>(nullptr), Shape(256, 2));
  expect_error([&] { layer_norm(none, none, w.data(), b.data()); }, "no data");
}

// ---- a literal transliteration of the shaders ------------------------------------
// Written from layer_norm.wgsl (Welford version, GROUP_NORM via bs = 32) and
// normalize.wgsl l2_norm thread by thread, with vec4 structs and per-thread
// loops, independent of the flat-lane restructuring in norm.simd.cpp. The
// kernels must reproduce it bit for bit. Out-of-range shared-memory reads (GN
// strides 64 and 32) return an empty state, the model documented in norm.simd.cpp;
// a dot is summed x, y, z, w left to right.
struct Vec4 {
  float v[4] = {0, 0, 0, 0};
};
float dot4(const Vec4& a, const Vec4& b) {
  float s = a.v[0] * b.v[0] + a.v[1] * b.v[1];
  s = s + a.v[2] * b.v[2];
  return s + a.v[3] * b.v[3];
}

// One workgroup: layer_norm of a row of `len` floats.
std::vector<float> shader_layer_norm(const std::vector<float>& row, const f16* w, const f16* b, int bs, float eps) {
  const int stride = int(row.size()) / 4;
  std::vector<Vec4> mu(static_cast<size_t>(bs)), m2(static_cast<size_t>(bs));
  std::vector<std::array<uint32_t, 4>> count(size_t(bs), {0, 0, 0, 0});
  for (int index = 0; index < bs; ++index) {
    Vec4 m, q;
    uint32_t n = 0;
    for (int i = index; i < stride; i += bs) {
      ++n;
      for (int c = 0; c < 4; ++c) {
        const float value = row[size_t(4 * i + c)];
        const float delta = value - m.v[c];
        m.v[c] = m.v[c] + delta / float(n);
        q.v[c] = q.v[c] + delta * (value - m.v[c]);
      }
    }
    mu[size_t(index)] = m;
    m2[size_t(index)] = q;
    count[size_t(index)] = {n, n, n, n};
  }
  for (int s = 64; s >= 1; s /= 2) {
    for (int index = 0; index < s && index < bs; ++index) {  // threads index < s; none beyond bs
      const bool in_range = index + s < bs;
      for (int c = 0; c < 4; ++c) {
        const float mu_1 = mu[size_t(index)].v[c], mu_2 = in_range ? mu[size_t(index + s)].v[c] : 0.0f;
        const uint32_t count_1 = count[size_t(index)][size_t(c)],
                       count_2 = in_range ? count[size_t(index + s)][size_t(c)] : 0u;
        const float m2_2 = in_range ? m2[size_t(index + s)].v[c] : 0.0f;
        const float delta = mu_2 - mu_1;
        const uint32_t total = count_1 + count_2;
        count[size_t(index)][size_t(c)] = total;
        mu[size_t(index)].v[c] = total > 0 ? (mu_1 * float(count_1) + mu_2 * float(count_2)) / float(total) : 0.0f;
        m2[size_t(index)].v[c] =
            total > 0 ? m2[size_t(index)].v[c] + m2_2 + delta * delta * float(count_1 * count_2) / float(total) : 0.0f;
      }
    }
  }
  Vec4 cnt, q, delta2, ones;
  for (int c = 0; c < 4; ++c) {
    cnt.v[c] = float(count[0][size_t(c)]);
    q.v[c] = cnt.v[c] / float(row.size());
    ones.v[c] = 1.0f;
  }
  const float mean = dot4(mu[0], q);
  for (int c = 0; c < 4; ++c) delta2.v[c] = (mu[0].v[c] - mean) * (mu[0].v[c] - mean);
  const float var = (dot4(m2[0], ones) + dot4(delta2, cnt)) / float(row.size()) + eps;
  const float dev = canon::rsqrt(var);
  std::vector<float> y(row.size());
  for (size_t i = 0; i < row.size(); ++i) y[i] = ((row[i] - mean) * dev) * to_f32(w[i]) + to_f32(b[i]);
  return y;
}

std::vector<float> shader_l2_norm(const std::vector<float>& row, float eps) {
  const int bs = 128, stride = int(row.size()) / 4;
  std::vector<Vec4> sketch(static_cast<size_t>(bs));
  for (int index = 0; index < bs; ++index)
    for (int i = index; i < stride; i += bs)
      for (int c = 0; c < 4; ++c) {
        const float v = row[size_t(4 * i + c)];
        sketch[size_t(index)].v[c] = sketch[size_t(index)].v[c] + v * v;
      }
  for (int s = 64; s >= 1; s /= 2)
    for (int index = 0; index < s; ++index)
      for (int c = 0; c < 4; ++c)
        sketch[size_t(index)].v[c] = sketch[size_t(index)].v[c] + sketch[size_t(index + s)].v[c];
  const float norm = canon::rsqrt(dot4(sketch[0], Vec4{{1, 1, 1, 1}}) + eps);
  std::vector<float> y(row.size());
  for (size_t i = 0; i < row.size(); ++i) y[i] = row[i] * norm;
  return y;
}

TEST(Norms, MatchLiteralShaderTransliteration) {
  Rng rng(31);
  for (int64_t C : {4, 36, 100, 256, 516, 768, 1540, 2048, 4096, 5120}) {
    const auto w = make_f16(C, [&] { return rng.uniform(-2, 2); });
    const auto b = make_f16(C, [&] { return rng.normal(); });
    const float offset = rng.uniform(-8, 8);
    Tensor x = make_tensor(DType::f32, Shape(C, 3), [&] { return offset + rng.normal(); });
    Tensor ln(DType::f32, x.shape);
    layer_norm(x.view(), ln.view(), w.data(), b.data());
    for (int64_t N : {int64_t{4}, int64_t{64}, int64_t{128}, int64_t{256}, C}) {
      if (C % N != 0 || (N == 4 && C > 516)) continue;  // (tiny heads of wide rows only cost time)
      Tensor gn(DType::f32, x.shape), l2(DType::f32, x.shape);
      group_norm(x.view(), gn.view(), w.data(), b.data(), N);
      l2_norm(x.view(), l2.view(), N);
      for (int64_t r = 0; r < x.numel() / N; ++r) {
        const std::vector<float> row(x.view().f32() + r * N, x.view().f32() + (r + 1) * N);
        const int64_t h = r % (C / N);
        const auto want_gn = shader_layer_norm(row, w.data() + h * N, b.data() + h * N, 32, kGroupNormEps);
        const auto want_l2 = shader_l2_norm(row, kL2NormEps);
        ASSERT_EQ(0, std::memcmp(want_gn.data(), gn.view().f32() + r * N, size_t(N) * 4)) << "group_norm C=" << C
                                                                                          << " N=" << N << " row " << r;
        ASSERT_EQ(0, std::memcmp(want_l2.data(), l2.view().f32() + r * N, size_t(N) * 4)) << "l2_norm C=" << C
                                                                                          << " N=" << N << " row " << r;
      }
    }
    for (int64_t t = 0; t < 3; ++t) {
      const std::vector<float> row(x.view().f32() + t * C, x.view().f32() + (t + 1) * C);
      const auto want = shader_layer_norm(row, w.data(), b.data(), 128, kLayerNormEps);
      ASSERT_EQ(0, std::memcmp(want.data(), ln.view().f32() + t * C, size_t(C) * 4)) << "layer_norm C=" << C;
    }
  }
}

// Identical bits at every SIMD level and 1, 2 and 8 threads.
TEST(LayerNorm, SameBitsAtEverySimdLevelAndThreadCount) {
  std::vector<std::vector<uint8_t>> results;
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    for (int threads : {1, 2, 8}) {
      omp_set_num_threads(threads);
      std::vector<uint8_t> bytes;
      for (DType t : {DType::f16, DType::f32}) {
        NormInputs in = make_inputs({1540, 11, 1, t, t, false}, 21);
        layer_norm(in.x.view(), in.out.view(), in.w.data(), in.b.data());
        bytes.insert(bytes.end(), in.out.bytes.begin(), in.out.bytes.end());
        group_norm(in.x.view(), in.out.view(), in.w.data(), in.b.data(), 44);
        bytes.insert(bytes.end(), in.out.bytes.begin(), in.out.bytes.end());
      }
      results.push_back(bytes);
      EXPECT_EQ(results.front(), bytes) << simd::name(level) << " with " << threads << " threads";
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}

}  // namespace
}  // namespace rwkv
