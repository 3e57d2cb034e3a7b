// softmax against its float64 oracle, on NaN/Inf and extreme logits, with bad
// arguments, and across SIMD levels and thread counts.
//
// Error bound (eps = 2^-24). With m the column max and D = max_j |x_j - m|:
//  - x_i - m rounds once: exp's argument is off by <= eps/2 |x_i - m|, i.e. a
//    relative error of eps/2 |x_i - m| in exp(x_i - m);
//  - canon_exp itself: <= 3 eps relative (Cephes-style polynomial, measured by
//    `rwkv-oracle ulp` at ~1 ulp);
//  - the sum of positive terms: each term's error (<= eps (D/2 + 3)) plus
//    L = ceil(V/512) + 7 + 3 dependent additions;
//  - the division: eps/2.
// So |out_i - want_i| <= eps (|x_i - m| + D + L + 8) want_i, plus 2^-147
// absolute for exp results in f32's subnormal range (sum >= 1, so that bounds
// the output's error there).
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"

#include "reference/kernels/softmax.h"
#include "reference/numeric/canon_math.h"
#include "reference/oracle/softmax_oracle.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"
#include "tests/support/oracle_check.h"

namespace rwkv {
namespace {

using testing::ErrorStats;
using testing::make_tensor;
using testing::near_oracle;

constexpr double kEps32 = 0x1p-24;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

void check_softmax(const TensorView& x, const TensorView& out, ErrorStats& stats, const std::string& label) {
  const auto want = oracle::softmax(x);
  const int64_t V = x.shape[0];
  const double L = double((V + 511) / 512 + 7 + 3);
  for (int64_t base = 0; base < x.numel(); base += V) {
    double m = -INFINITY;
    for (int64_t i = 0; i < V; ++i) m = std::max(m, double(x.get(base + i)));
    double D = 0;  // over finite logits; -Inf ones give exactly 0
    for (int64_t i = 0; i < V; ++i)
      if (std::isfinite(x.get(base + i))) D = std::max(D, m - x.get(base + i));
    for (int64_t i = 0; i < V; ++i) {
      const size_t k = size_t(base + i);
      const double rel = kEps32 * ((m - x.get(int64_t(k))) + D + L + 8);
      const double tol = (std::isfinite(rel) ? rel * want[k] : 0.0) + 0x1p-147;
      ASSERT_TRUE(near_oracle(out.get(int64_t(k)), want[k], tol, DType::f32, &stats, label, int64_t(k)));
    }
  }
}

TEST(Softmax, MatchesOracle) {
  ErrorStats stats;
  uint64_t seed = 500;
  // 516, 100 and 65532 are not multiples of 512: partial threads and lane tails.
  for (int64_t V : {256, 768, 2048, 4096, 516, 100, 65532, 65536}) {
    for (int64_t T : {1, 7, 32, 33}) {
      if (V >= 65532 && T > 7) continue;  // keeps the oracle's time down
      Rng rng(++seed);
      const float scale = rng.uniform(0.5f, 8.0f);
      const float shift = rng.uniform(-50, 50);
      Tensor x = make_tensor(DType::f32, Shape(V, T), [&] { return shift + scale * rng.normal(); });
      Tensor out(DType::f32, x.shape);
      softmax(x.view(), out.view());
      check_softmax(x.view(), out.view(), stats, fmt::format("V={} T={}", V, T));
      Tensor inplace = x;
      softmax(inplace.view());
      EXPECT_EQ(inplace.bytes, out.bytes) << "in place differs, V=" << V << " T=" << T;
    }
  }
  // Several batches: x [V, T, B].
  Rng rng(599);
  Tensor x = make_tensor(DType::f32, Shape(1028, 3, 2), [&] { return 4 * rng.normal(); });
  Tensor out(DType::f32, x.shape);
  softmax(x.view(), out.view());
  check_softmax(x.view(), out.view(), stats, "V=1028 T=3 B=2");
  stats.print("softmax");
}

// Logits spanning the whole f32 range: exp arguments far below -104 give 0,
// x - m may overflow to -Inf (still 0), subnormal probabilities appear.
TEST(Softmax, ExtremeLogits) {
  ErrorStats stats;
  Rng rng(501);
  const int64_t V = 1024;
  Tensor x = make_tensor(DType::f32, Shape(V, 4), [&] { return rng.uniform(-120, 0); });
  x.view().set(3, 3.4e38f);        // column 0: one enormous logit takes everything
  x.view().set(5, -3.4e38f);       //   and x - m overflows to -Inf for this one
  x.view().set(V + 7, -3.0e38f);   // column 1: a hugely negative logit gives 0
  x.view().set(2 * V + 9, 1e30f);  // column 2: 1e30 next to ordinary logits
  Tensor out(DType::f32, x.shape);
  softmax(x.view(), out.view());
  check_softmax(x.view(), out.view(), stats, "extreme");
  EXPECT_EQ(out.view().get(3), 1.0f);
  EXPECT_EQ(out.view().get(5), 0.0f);
  stats.print("softmax extremes");
}

// See softmax.h: NaN or +Inf anywhere gives a NaN column, -Inf gives 0, all
// -Inf or all below -1e30 give NaN (0/0); other columns are untouched.
TEST(Softmax, NanAndInf) {
  const int64_t V = 2052;
  for (int64_t pos : {int64_t{0}, int64_t{1}, int64_t{513}, V - 1}) {
    for (float bad : {kNaN, kInf, -kInf}) {
      Rng rng(502);
      Tensor x = make_tensor(DType::f32, Shape(V, 3), [&] { return rng.normal(); });
      x.view().set(V + pos, bad);
      Tensor out(DType::f32, x.shape);
      softmax(x.view(), out.view());
      ErrorStats stats;
      check_softmax(x.view(), out.view(), stats, fmt::format("bad at {}", pos));  // oracle agrees
      for (int64_t i = 0; i < V; ++i) {
        EXPECT_FALSE(std::isnan(out.view().get(i)));
        EXPECT_FALSE(std::isnan(out.view().get(2 * V + i)));
        EXPECT_EQ(std::isnan(out.view().get(V + i)), bad != -kInf) << "pos " << pos << " bad " << bad;
      }
      if (bad == -kInf) {
        EXPECT_EQ(out.view().get(V + pos), 0.0f);
      }
    }
  }
  // All -Inf, and all finite but below the shader's initial max of -1e30.
  for (float v : {-kInf, -2e30f}) {
    Tensor x = make_tensor(DType::f32, Shape(64, 1), [&] { return v; });
    softmax(x.view());
    for (int64_t i = 0; i < 64; ++i) EXPECT_TRUE(std::isnan(x.view().get(i))) << v;
  }
}

TEST(Softmax, BadArguments) {
  using test::expect_error;
  Tensor h(DType::f16, Shape(256, 2)), x(DType::f32, Shape(256, 2)), y(DType::f32, Shape(256, 3)),
      odd(DType::f32, Shape(258, 2)), buf(DType::f32, Shape(256, 3));
  expect_error([&] { softmax(h.view()); }, "softmax: x is f16, expected f32");
  expect_error([&] { softmax(x.view(), y.view()); }, "softmax: out has shape");
  expect_error([&] { softmax(odd.view()); }, "multiple of 4");
  TensorView a(buf.view().f32(), Shape(256, 2)), shifted(buf.view().f32() + 4, Shape(256, 2));
  expect_error([&] { softmax(a, shifted); }, "overlaps");
}

// A literal transliteration of softmax.wgsl, thread by thread with vec4s and
// the shader's loops, independent of softmax.simd.cpp's flat lanes: the kernel
// must reproduce it bit for bit (max = lane_max: a > b ? a : b).
std::vector<float> shader_softmax(const std::vector<float>& x) {
  const int bs = 128, stride = int(x.size()) / 4;
  auto mx = [](float a, float b) { return a > b ? a : b; };
  std::vector<std::array<float, 4>> sketch(static_cast<size_t>(bs));
  for (int index = 0; index < bs; ++index) {
    sketch[size_t(index)] = {-1e30f, -1e30f, -1e30f, -1e30f};
    for (int i = index; i < stride; i += bs)
      for (int c = 0; c < 4; ++c) sketch[size_t(index)][size_t(c)] = mx(sketch[size_t(index)][size_t(c)], x[size_t(4 * i + c)]);
  }
  for (int s = 64; s >= 1; s /= 2)
    for (int index = 0; index < s; ++index)
      for (int c = 0; c < 4; ++c)
        sketch[size_t(index)][size_t(c)] = mx(sketch[size_t(index)][size_t(c)], sketch[size_t(index + s)][size_t(c)]);
  float maximum = sketch[0][0];
  maximum = mx(maximum, sketch[0][1]);
  maximum = mx(maximum, sketch[0][2]);
  maximum = mx(maximum, sketch[0][3]);
  for (int index = 0; index < bs; ++index) {
    sketch[size_t(index)] = {0, 0, 0, 0};
    for (int i = index; i < stride; i += bs)
      for (int c = 0; c < 4; ++c)
        sketch[size_t(index)][size_t(c)] = sketch[size_t(index)][size_t(c)] + canon::exp(x[size_t(4 * i + c)] - maximum);
  }
  for (int s = 64; s >= 1; s /= 2)
    for (int index = 0; index < s; ++index)
      for (int c = 0; c < 4; ++c)
        sketch[size_t(index)][size_t(c)] = sketch[size_t(index)][size_t(c)] + sketch[size_t(index + s)][size_t(c)];
  float sum = sketch[0][0] * 1.0f + sketch[0][1] * 1.0f;
  sum = sum + sketch[0][2] * 1.0f;
  sum = sum + sketch[0][3] * 1.0f;
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = canon::exp(x[i] - maximum) / sum;
  return y;
}

TEST(Softmax, MatchesLiteralShaderTransliteration) {
  Rng rng(504);
  for (int64_t V : {4, 100, 516, 2048, 4100, 65532}) {
    Tensor x = make_tensor(DType::f32, Shape(V, 2), [&] { return 5 * rng.normal(); });
    Tensor out(DType::f32, x.shape);
    softmax(x.view(), out.view());
    for (int64_t t = 0; t < 2; ++t) {
      const std::vector<float> col(x.view().f32() + t * V, x.view().f32() + (t + 1) * V);
      const auto want = shader_softmax(col);
      ASSERT_EQ(0, std::memcmp(want.data(), out.view().f32() + t * V, size_t(V) * 4)) << "V=" << V;
    }
  }
}

TEST(Softmax, SameBitsAtEverySimdLevelAndThreadCount) {
  Rng rng(503);
  Tensor x = make_tensor(DType::f32, Shape(4100, 9), [&] { return 6 * rng.normal(); });
  x.view().set(4100 * 3 + 17, kNaN);
  std::vector<std::vector<uint8_t>> results;
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel scoped(level);
    for (int threads : {1, 2, 8}) {
      omp_set_num_threads(threads);
      Tensor out(DType::f32, x.shape);
      softmax(x.view(), out.view());
      results.push_back(out.bytes);
      EXPECT_EQ(results.front(), out.bytes) << simd::name(level) << " with " << threads << " threads";
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}

}  // namespace
}  // namespace rwkv
