// matmul_vec / matmul_mat against the float64 oracle, edge inputs, sparse
// input, argument checks, and bit-identity across SIMD levels and threads.
//
// ERROR BOUND (derived; u = 2^-24). Inputs are exact f32 values (decoded
// weights, f16 or f32 activations). If every term w_k*x_k passes through at
// most n roundings on its way into the f32 sum s^ (its product, then each
// addition it takes part in), then, barring overflow,
//     |s^ - s| <= gamma_n * A + K * 2^-149,   gamma_n = n*u / (1 - n*u),
// with s the exact sum, A = sum_k |w_k x_k| (both from the oracle, in double)
// and the last term covering products that underflow (each <= 2^-150 off).
//   matmul_vec: n = 1 (product) + 3 (dot4) + J (thread partial, J = ceil(K/4/128)) + 7 (tree)
//   matmul_mat: n = 1 + 3 + K/4 (sequential accumulator)
// The activation is nondecreasing, so act(s^) lies in [act(s - d), act(s + d)];
// canon_tanh/canon_sigmoid are within 8u relative (+ 2^-140 absolute) of the
// true function (measured worst about 3u), squared_relu within u. Rounding to
// f32 and then to y's dtype is monotonic, so y must lie in the rounded
// interval; this also decides overflow to Inf in f16 exactly. A NaN sum must
// give NaN; an infinite sum must give act(+-Inf) exactly.
#include <gtest/gtest.h>

#include "tests/support/print.h"
#include <omp.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/kernels/matmul.h"
#include "reference/kernels/random_weights.h"
#include "reference/numeric/canon_math.h"
#include "reference/oracle/matmul_oracle.h"
#include "reference/simd/dispatch.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

constexpr double kU = 0x1p-24;
const WeightFormat kFormats[] = {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k, WeightFormat::q8_0,
                                 WeightFormat::int8, WeightFormat::nf4,  WeightFormat::sf4};
const Activation kActs[] = {Activation::none, Activation::tanh, Activation::sigmoid, Activation::squared_relu};
enum class Path { vec, mat, vec_sparse };
const char* path_name(Path p) { return p == Path::vec ? "vec" : p == Path::mat ? "mat" : "vec_sparse"; }

// K granularity of each format.
int64_t k_step(WeightFormat f) {
  switch (f) {
    case WeightFormat::q4_k:
    case WeightFormat::q6_k: return 256;
    case WeightFormat::q8_0: return 32;
    case WeightFormat::nf4:
    case WeightFormat::sf4: return 8;
    default: return 4;
  }
}

int roundings(Path p, int64_t K) {
  if (p == Path::mat) return int(4 + K / 4);
  return int(4 + (K / 4 + 127) / 128 + 7);
}

// Random activations [K, T]: N(0, 1) * scale, and with `zero_quads` some vec4
// quads entirely zero (+0 and -0 mixed) and some partly zero.
Tensor random_input(int64_t K, int64_t T, DType dt, uint64_t seed, bool zero_quads, float scale = 1.0f) {
  Tensor x(dt, Shape(K, T, 1));
  TensorView v = x.view();
  Rng rng(seed);
  for (int64_t i = 0; i < K * T; ++i) v.set(i, rng.normal() * scale);
  if (zero_quads) {
    for (int64_t q = 0; q < K * T / 4; ++q) {
      const uint32_t r = rng.next_u32() % 8;
      if (r < 3)  // whole quad zero, signs random
        for (int e = 0; e < 4; ++e) v.set(4 * q + e, (rng.next_u32() & 1) ? -0.0f : 0.0f);
      else if (r == 3)  // partly zero
        for (int e = 0; e < 3; ++e) v.set(4 * q + e, (rng.next_u32() & 1) ? -0.0f : 0.0f);
    }
  }
  return x;
}

double round_to(DType t, double v) {
  const float f = float(v);  // round to nearest even, overflow to Inf
  return t == DType::f16 ? double(round_to_f16(f)) : double(f);
}

double act_rel_error(Activation a) {
  switch (a) {
    case Activation::none: return 0;
    case Activation::squared_relu: return kU;
    default: return 8 * kU;
  }
}

// Accumulates how close the outputs come to their bounds.
struct Tally {
  double worst_ratio = 0;  // act none, f32 y: max |y - s| / (gamma_n A + K 2^-149), the share of the bound used
  int64_t checked = 0;
  int64_t failures = 0;
  std::string first_failure;
};

void check_against_oracle(const oracle::MatmulSums& s, int64_t K, Activation act, int n, const TensorView& y,
                          Tally& tally, const std::string& label) {
  const double gamma = n * kU / (1 - n * kU);
  for (int64_t i = 0; i < s.M * s.T; ++i) {
    const double sum = s.sum[size_t(i)], A = s.abs_sum[size_t(i)];
    const double yv = y.get(i);
    bool ok;
    double ratio = 0;
    if (std::isnan(sum)) {
      ok = std::isnan(yv);
    } else if (std::isinf(sum)) {
      ok = yv == round_to(y.dtype, oracle::activate_f64(act, sum));
    } else {
      const double d = gamma * A + double(K) * 0x1p-149;
      double lo = oracle::activate_f64(act, sum - d), hi = oracle::activate_f64(act, sum + d);
      const double widen = act_rel_error(act) * std::max(std::fabs(lo), std::fabs(hi)) +
                           (act == Activation::none ? 0 : 0x1p-140);
      lo = round_to(y.dtype, lo - widen);
      hi = round_to(y.dtype, hi + widen);
      ok = lo <= yv && yv <= hi;
      if (act == Activation::none && y.dtype == DType::f32 && d > 0) ratio = std::fabs(yv - sum) / d;
    }
    ++tally.checked;
    tally.worst_ratio = std::max(tally.worst_ratio, ratio);
    if (!ok && tally.failures++ == 0)
      tally.first_failure = fmt::format("{}: output {} (m {}, t {}) = {:.9g}, oracle sum {:.17g} (abs sum {:.6g})",
                                        label, i, i % s.M, i / s.M, yv, sum, A);
  }
}

void run_path(Path p, const Matrix& w, const TensorView& x, const TensorView& y, Activation act) {
  if (p == Path::mat) matmul_mat(w, x, y, act);
  else matmul_vec(w, x, y, act, p == Path::vec_sparse);
}


struct ShapeCase {
  int64_t K, M, T;
  DType x_dtype, y_dtype;
  bool zero_quads;
};

// Seeded shapes covering K, M in 256..4096, T = 1, 7, 32, 33, both dtypes,
// tails of the 128-thread sweep and of M % 4; one full 4096 x 4096 case.
std::vector<ShapeCase> shape_cases(WeightFormat f, uint64_t seed) {
  Rng rng(seed);
  const int64_t step = k_step(f);
  auto pick_k = [&](int64_t lo, int64_t hi) {
    const int64_t k = lo + int64_t(rng.next_u32() % uint32_t(hi - lo + 1));
    return std::max(step, k / step * step);
  };
  auto pick_m = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng.next_u32() % uint32_t(hi - lo + 1)); };
  return {
      {pick_k(256, 700), pick_m(256, 700), 7, DType::f16, DType::f16, true},
      {pick_k(700, 1500), pick_m(256, 600), 33, DType::f32, DType::f32, false},
      {pick_k(256, 1200), pick_m(256, 900), 32, DType::f16, DType::f32, true},
      {pick_k(1500, 4096), pick_m(1500, 4096), 1, DType::f32, DType::f16, true},
      {4096, 4096, 1, DType::f16, DType::f32, false},
  };
}

class MatmulFormatTest : public ::testing::TestWithParam<WeightFormat> {};

// Every activation and path against the oracle on the seeded shapes; vec and
// mat against each other; sparse equal to dense bit for bit (finite weights:
// a skipped quad would have added +-0 to a partial that is never -0).
TEST_P(MatmulFormatTest, MatchesOracleOnSeededShapes) {
  const WeightFormat f = GetParam();
  uint64_t seed = 1000 + uint64_t(f);
  Tally tally[3];
  for (const ShapeCase& c : shape_cases(f, seed)) {
    SCOPED_TRACE(fmt::format("{} K {} M {} T {} x {} y {}", format_name(f), c.K, c.M, c.T, dtype_name(c.x_dtype),
                             dtype_name(c.y_dtype)));
    const Matrix w = random_matrix(f, c.K, c.M, ++seed);
    Tensor x = random_input(c.K, c.T, c.x_dtype, ++seed, c.zero_quads);
    const oracle::MatmulSums sums = oracle::matmul_sums(w, x.view());
    for (Activation act : kActs) {
      Tensor y[3];
      for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
        Tensor& out = y[int(p)];
        out = Tensor(c.y_dtype, Shape(c.M, c.T, 1));
        run_path(p, w, x.view(), out.view(), act);
        check_against_oracle(sums, c.K, act, roundings(p, c.K), out.view(), tally[int(p)],
                             fmt::format("{} {} K {} M {} T {}", path_name(p), activation_name(act), c.K, c.M, c.T));
      }
      EXPECT_EQ(y[int(Path::vec)].bytes, y[int(Path::vec_sparse)].bytes) << activation_name(act);
      if (act == Activation::none && c.y_dtype == DType::f32) {  // vec and mat within both bounds of each other
        const double g = (roundings(Path::vec, c.K) + roundings(Path::mat, c.K)) * kU * 1.01;
        for (int64_t i = 0; i < c.M * c.T; ++i) {
          const double a = y[0].view().get(i), b = y[1].view().get(i);
          ASSERT_LE(std::fabs(a - b), g * sums.abs_sum[size_t(i)] + 2.0 * double(c.K) * 0x1p-149) << i;
        }
      }
    }
  }
  for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
    const Tally& t = tally[int(p)];
    EXPECT_EQ(t.failures, 0) << t.first_failure;
    std::printf("[ bound    ] %-5s %-10s %8lld outputs, worst |y - s| = %.4f of the bound (act none, f32 y)\n",
                std::string(format_name(f)).c_str(), path_name(p), (long long)t.checked, t.worst_ratio);
  }
}

// All-zero input (+0 and -0): y = act(0) exactly on every path; the sparse
// path skips every column.
TEST_P(MatmulFormatTest, ZeroInputGivesActivationOfZero) {
  const WeightFormat f = GetParam();
  const int64_t K = 512, M = 37;
  const Matrix w = random_matrix(f, K, M, 7);
  for (int64_t T : {3, 32}) {
    Tensor x(DType::f16, Shape(K, T, 1));
    for (int64_t i = 0; i < K * T; i += 3) x.view().set(i, -0.0f);
    for (Activation act : kActs) {
      const float want = act == Activation::sigmoid ? 0.5f : 0.0f;
      for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
        Tensor y(DType::f32, Shape(M, T, 1));
        run_path(p, w, x.view(), y.view(), act);
        for (int64_t i = 0; i < M * T; ++i) {
          ASSERT_EQ(f32_to_bits(y.view().f32()[i]), f32_to_bits(want))
              << path_name(p) << " " << activation_name(act) << " output " << i;
        }
      }
    }
  }
}

// NaN and Inf in x propagate to the outputs of their token as the oracle says
// (NaN everywhere; +-Inf, or NaN where the weight is 0); other tokens are untouched.
TEST_P(MatmulFormatTest, NanAndInfPropagate) {
  const WeightFormat f = GetParam();
  const int64_t K = 512, M = 29, T = 4;
  const Matrix w = random_matrix(f, K, M, 11);
  Tensor x = random_input(K, T, DType::f32, 12, true);
  x.view().set(1 * K + 5, NAN);
  x.view().set(2 * K + 9, INFINITY);
  x.view().set(3 * K + 260, -INFINITY);
  const oracle::MatmulSums sums = oracle::matmul_sums(w, x.view());
  for (Activation act : kActs) {
    for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
      for (DType yt : {DType::f16, DType::f32}) {
        Tensor y(yt, Shape(M, T, 1));
        run_path(p, w, x.view(), y.view(), act);
        Tally t;
        check_against_oracle(sums, K, act, roundings(p, K), y.view(), t, path_name(p));
        EXPECT_EQ(t.failures, 0) << t.first_failure;
        for (int64_t m = 0; m < M; ++m) EXPECT_TRUE(std::isnan(y.view().get(1 * M + m)));
      }
    }
  }
}

// The canonical orders transcribed literally (threads, partial arrays, the
// tree; one sequential accumulator per output), with the scalar canon_*
// functions. The kernels must give exactly these bits.
float canon_act(Activation a, float v) {
  switch (a) {
    case Activation::tanh: return canon::tanh(v);
    case Activation::sigmoid: return canon::sigmoid(v);
    case Activation::squared_relu: return canon::squared_relu(v);
    case Activation::none: break;
  }
  return v;
}
float dot4_literal(const float* w, const float* x) {
  float s = w[0] * x[0] + w[1] * x[1];
  s = s + w[2] * x[2];
  return s + w[3] * x[3];
}
void transcribed(Path p, const Matrix& w, const TensorView& x, const TensorView& y, Activation act) {
  const int64_t K = w.K, M = w.M, T = x.shape[1];
  std::vector<float> wf(size_t(K * M)), xf(size_t(K * T));
  blocks::dequantize_matrix(w, wf.data());
  for (int64_t i = 0; i < K * T; ++i) xf[size_t(i)] = x.get(i);
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = &xf[size_t(t * K)];
    for (int64_t m = 0; m < M; ++m) {
      const float* wm = &wf[size_t(m * K)];
      float out;
      if (p == Path::mat) {
        float acc = 0.0f;
        for (int64_t c = 0; c < K / 4; ++c) acc = acc + dot4_literal(wm + 4 * c, xt + 4 * c);
        out = acc;
      } else {
        float part[128];
        for (int i = 0; i < 128; ++i) {
          part[i] = 0.0f;
          for (int64_t c = i; c < K / 4; c += 128) {
            const float* q = xt + 4 * c;
            if (p == Path::vec_sparse && q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 0) continue;
            part[i] = part[i] + dot4_literal(wm + 4 * c, q);
          }
        }
        for (int s = 64; s >= 1; s /= 2)
          for (int i = 0; i < s; ++i) part[i] = part[i] + part[i + s];
        out = part[0];
      }
      y.set(t * M + m, canon_act(act, out));
    }
  }
}

// Every format, activation and path equals the literal transcription bit for
// bit, on awkward shapes (K/4 not a multiple of 128 or of the lane width,
// M % 4 != 0, T around the token chunks) and inputs with zero quads.
TEST_P(MatmulFormatTest, EqualsTheTranscribedCanonicalOrderBitForBit) {
  const WeightFormat f = GetParam();
  const int64_t step = k_step(f);
  // 8192: a single token's rows walked side by side (matmul_vec.simd.cpp kWideK)
  const int64_t Ks[] = {std::max<int64_t>(step, 36 / step * step), (620 + step - 1) / step * step, 1024 + step, 8192};
  uint64_t seed = 500 + uint64_t(f);
  for (int64_t K : Ks) {
    for (int64_t T : {int64_t(1), int64_t(9)}) {
      const int64_t M = 13 + T;
      const Matrix w = random_matrix(f, K, M, ++seed);
      Tensor x = random_input(K, T, T == 1 ? DType::f32 : DType::f16, ++seed, true);
      for (Activation act : kActs) {
        for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
          for (DType yt : {DType::f16, DType::f32}) {
            Tensor got(yt, Shape(M, T, 1)), want(yt, Shape(M, T, 1));
            run_path(p, w, x.view(), got.view(), act);
            transcribed(p, w, x.view(), want.view(), act);
            ASSERT_EQ(got.bytes, want.bytes) << path_name(p) << " " << activation_name(act) << " K " << K
                                             << " M " << M << " T " << T << " y " << dtype_name(yt);
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, MatmulFormatTest, ::testing::ValuesIn(kFormats),
                         [](const auto& info) { return std::string(format_name(info.param)); });

// Inputs near the f16 maximum: f32 outputs hold the sums, f16 outputs overflow
// to +-Inf exactly where rounding the bound interval says so.
TEST(MatmulEdgeTest, NearF16MaximumOverflowsLikeTheOracle) {
  const int64_t K = 512, M = 64;
  const Matrix w = random_matrix(WeightFormat::fp16, K, M, 21, 1.0f / 32);
  for (int64_t T : {5, 32}) {
    Tensor x(DType::f16, Shape(K, T, 1));
    Rng rng(22);
    for (int64_t i = 0; i < K * T; ++i) x.view().set(i, ((rng.next_u32() & 1) ? -1.0f : 1.0f) * rng.uniform(60000, 65504));
    const oracle::MatmulSums sums = oracle::matmul_sums(w, x.view());
    for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
      for (Activation act : kActs) {
        for (DType yt : {DType::f16, DType::f32}) {
          Tensor y(yt, Shape(M, T, 1));
          run_path(p, w, x.view(), y.view(), act);
          Tally t;
          check_against_oracle(sums, K, act, roundings(p, K), y.view(), t, path_name(p));
          EXPECT_EQ(t.failures, 0) << t.first_failure;
          if (yt == DType::f16 && act == Activation::none) {  // the case must really straddle the limit
            int64_t inf = 0;
            for (int64_t i = 0; i < M * T; ++i) inf += std::isinf(y.view().get(i));
            EXPECT_GT(inf, 0);
            EXPECT_LT(inf, M * T);
          }
        }
      }
    }
  }
}

// Subnormal inputs: f16 subnormals (exact, products normal in f32) and f32
// subnormals (products underflow: the K*2^-149 term of the bound).
TEST(MatmulEdgeTest, SubnormalInputs) {
  const int64_t K = 1024, M = 40;
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::nf4}) {
    const Matrix w = random_matrix(f, K, M, 31);
    for (DType xt : {DType::f16, DType::f32}) {
      const float tiny = xt == DType::f16 ? 0x1p-20f : 0x1p-130f;
      Tensor x = random_input(K, 7, xt, 32, true, tiny);
      const oracle::MatmulSums sums = oracle::matmul_sums(w, x.view());
      for (Path p : {Path::vec, Path::mat, Path::vec_sparse}) {
        for (Activation act : kActs) {
          Tensor y(DType::f32, Shape(M, 7, 1));
          run_path(p, w, x.view(), y.view(), act);
          Tally t;
          check_against_oracle(sums, K, act, roundings(p, K), y.view(), t,
                               fmt::format("{} {} {}", format_name(f), dtype_name(xt), path_name(p)));
          EXPECT_EQ(t.failures, 0) << t.first_failure;
        }
      }
    }
  }
}

// Sparse input differs from dense only where a skipped all-zero quad meets a
// non-finite weight: dense computes 0*Inf = NaN, sparse never looks.
TEST(MatmulEdgeTest, SparseSkipsNonFiniteWeightsUnderZeroQuads) {
  const int64_t K = 256, M = 4;
  std::vector<f16> wdata(size_t(K * M), to_f16(0.5f));
  wdata[size_t(1 * K + 8)] = to_f16(INFINITY);  // row 1, quad 2
  Matrix w;
  w.format = WeightFormat::fp16;
  w.K = K;
  w.M = M;
  w.data = reinterpret_cast<const uint8_t*>(wdata.data());
  w.data_bytes = wdata.size() * 2;
  Tensor x(DType::f32, Shape(K, 1, 1));
  for (int64_t k = 0; k < K; ++k) x.view().set(k, k / 4 == 2 ? -0.0f : 1.0f);
  Tensor dense(DType::f32, Shape(M, 1, 1)), sparse(DType::f32, Shape(M, 1, 1));
  matmul_vec(w, x.view(), dense.view(), Activation::none, false);
  matmul_vec(w, x.view(), sparse.view(), Activation::none, true);
  EXPECT_TRUE(std::isnan(dense.view().f32()[1]));
  EXPECT_EQ(sparse.view().f32()[1], 0.5f * (K - 4));
  EXPECT_EQ(dense.view().f32()[0], sparse.view().f32()[0]);
}

// The sparse op runs the dense update and recomputes, with the literal skip,
// any row whose sum comes out NaN (matmul_vec.simd.cpp, "sparse input as a
// dense update"). Non-finite weights under zero quads in some rows (fp16: Inf
// and NaN values; q4_k, q6_k: an Inf block scale, so the whole block is
// non-finite), one NaN weight under a nonzero quad (NaN either way): the
// kernel must still give the transcription's bits, on the lane loop (T = 3),
// the single-token fast paths (T = 1) and wide rows walked side by side (K = 8192).
TEST(MatmulEdgeTest, SparseWithNonFiniteWeightsEqualsTheLiteralSkip) {
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k}) {
    for (int64_t K : {int64_t(512), int64_t(8192)}) {
      for (int64_t T : {int64_t(1), int64_t(3)}) {
        const int64_t M = 10;
        const Matrix base = random_matrix(f, K, M, 900 + uint64_t(K) + uint64_t(f));
        std::vector<uint8_t> bytes(base.data, base.data + base.data_bytes);
        const int64_t row_bytes = int64_t(base.data_bytes) / M;
        auto poison = [&](int64_t m, int64_t k, uint16_t bits) {  // the weight, or its block's scale
          uint8_t* at = bytes.data() + m * row_bytes;
          if (f == WeightFormat::fp16) at += 2 * k;
          else if (f == WeightFormat::q4_k) at += (k / 256) * 144;        // d
          else at += (k / 256) * 210 + 208;                               // d
          std::memcpy(at, &bits, 2);
        };
        Tensor x = random_input(K, T, DType::f16, 77 + uint64_t(K), true);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t k = 256; k < 512; ++k) x.view().set(t * K + k, (k & 1) ? -0.0f : 0.0f);
        poison(1, 260, 0x7c00);  // Inf under a zero quad
        poison(4, 300, 0x7e00);  // NaN under a zero quad
        poison(9, 508, 0xfc00);  // -Inf under a zero quad (last rows: the group tail)
        if (f == WeightFormat::fp16) {
          x.view().set(40, 1.0f);  // a nonzero quad (token 0)
          poison(6, 40, 0x7e00);            // NaN under it: NaN on both paths
        }
        Matrix w = base;
        w.data = bytes.data();
        for (Activation act : kActs) {
          Tensor got(DType::f32, Shape(M, T, 1)), want(DType::f32, Shape(M, T, 1)), dense(DType::f32, Shape(M, T, 1));
          matmul_vec(w, x.view(), got.view(), act, true);
          transcribed(Path::vec_sparse, w, x.view(), want.view(), act);
          const std::string where = fmt::format("{} K {} T {} {}", format_name(f), K, T, activation_name(act));
          ASSERT_EQ(got.bytes, want.bytes) << where;
          for (int64_t m : {1, 4, 9}) EXPECT_FALSE(std::isnan(got.view().f32()[m])) << where << " row " << m;
          if (f == WeightFormat::fp16) {
            EXPECT_TRUE(std::isnan(got.view().f32()[6])) << where;
          }
          matmul_vec(w, x.view(), dense.view(), Activation::none, false);
          EXPECT_TRUE(std::isnan(dense.view().f32()[1])) << where << ": the dense update must meet the NaN";
        }
      }
    }
  }
}

// matmul picks mat iff T % 32 == 0 (sparse is then ignored), else vec.
TEST(MatmulPathTest, PathChoiceFollowsWebRwkv) {
  const int64_t K = 260, M = 21;
  const Matrix w = random_matrix(WeightFormat::int8, K, M, 41);
  for (int64_t T : {31, 32, 33, 64}) {
    Tensor x = random_input(K, T, DType::f32, 42, true);
    Tensor a(DType::f32, Shape(M, T, 1)), b(DType::f32, Shape(M, T, 1));
    matmul(w, x.view(), a.view(), Activation::tanh, true);
    if (T % 32 == 0) matmul_mat(w, x.view(), b.view(), Activation::tanh);
    else matmul_vec(w, x.view(), b.view(), Activation::tanh, true);
    EXPECT_EQ(a.bytes, b.bytes) << "T = " << T;
  }
}

// The same bits at every SIMD level and 1, 2, 8 threads (the catalog's
// determinism test covers every variant; this catches problems early).
TEST(MatmulDeterminismTest, SameBitsAtEverySimdLevelAndThreadCount) {
  struct Run {
    WeightFormat f;
    int64_t K, M, T;
    Path p;
  };
  const Run runs[] = {{WeightFormat::fp16, 1028, 131, 1, Path::vec},
                      {WeightFormat::fp16, 1028, 131, 3, Path::vec_sparse},
                      {WeightFormat::fp16, 516, 70, 9, Path::mat},
                      {WeightFormat::q4_k, 768, 45, 2, Path::vec},
                      {WeightFormat::q4_k, 768, 45, 5, Path::mat}};
  const int saved_threads = omp_get_max_threads();
  for (const Run& r : runs) {
    const Matrix w = random_matrix(r.f, r.K, r.M, 51);
    Tensor x = random_input(r.K, r.T, DType::f16, 52, true);
    std::vector<uint8_t> first;
    for (simd::Level level : simd::supported_levels()) {
      simd::ScopedLevel scoped(level);
      for (int threads : {1, 2, 8}) {
        omp_set_num_threads(threads);
        Tensor y(DType::f32, Shape(r.M, r.T, 1));
        run_path(r.p, w, x.view(), y.view(), Activation::sigmoid);
        if (first.empty()) first = y.bytes;
        EXPECT_EQ(y.bytes, first) << format_name(r.f) << " " << path_name(r.p) << " at " << simd::name(level)
                                  << ", " << threads << " threads";
      }
    }
  }
  omp_set_num_threads(saved_threads);
}

// The single-token fast path (AVX-512: q4_k and q6_k decoded straight into
// lane registers, matmul_vec.simd.cpp) against the lane loop at the same
// level (set_matmul_vec_fast_path(false)), the scalar level and the
// transcribed canonical order: K from one lane block to several rounds of 8
// with every kind of tail (partial block, partial round, odd superblock
// count), M below, at and above a group, dense and sparse, f16 and f32 x,
// every activation; fp16 (no fast path: the lane loop on both sides) with
// Inf/NaN weights under zero and nonzero quads.
TEST(MatmulFastPathTest, SingleTokenEqualsScalarAndTranscribedBitForBit) {
  struct FormatKs {
    WeightFormat f;
    std::vector<int64_t> Ks;
  };
  const FormatKs cases[] = {
      {WeightFormat::fp16, {4, 60, 64, 68, 128, 508, 512, 516, 576, 1024, 1036, 2048, 2052, 4096 + 64}},
      {WeightFormat::q4_k, {256, 512, 768, 1024, 1280, 2048, 2304, 4096}},
      {WeightFormat::q6_k, {256, 512, 768, 1280, 2048, 2304}}};
  uint64_t seed = 900;
  for (const FormatKs& c : cases) {
    for (int64_t K : c.Ks) {
      for (int64_t M : {int64_t(1), int64_t(6), int64_t(67)}) {
        Matrix w = random_matrix(c.f, K, M, ++seed);
        std::vector<uint8_t> data;
        if (c.f == WeightFormat::fp16 && K >= 64) {  // non-finite weights: row 0 Inf at quad 1, NaN at the last value
          data.assign(w.data, w.data + w.data_bytes);
          f16* h = reinterpret_cast<f16*>(data.data());
          h[4] = to_f16(INFINITY);
          h[K - 1] = to_f16(NAN);
          w.data = data.data();
        }
        for (DType xt : {DType::f32, DType::f16}) {
          Tensor x = random_input(K, 1, xt, ++seed, true);
          for (Path p : {Path::vec, Path::vec_sparse}) {
            for (Activation act : {Activation::none, Activation::sigmoid}) {
              Tensor fast(DType::f32, Shape(M, 1, 1)), slow(DType::f32, Shape(M, 1, 1)),
                  scalar(DType::f32, Shape(M, 1, 1)), want(DType::f32, Shape(M, 1, 1));
              run_path(p, w, x.view(), fast.view(), act);
              set_matmul_vec_fast_path(false);
              run_path(p, w, x.view(), slow.view(), act);
              set_matmul_vec_fast_path(true);
              {
                simd::ScopedLevel forced(simd::Level::scalar);
                run_path(p, w, x.view(), scalar.view(), act);
              }
              transcribed(p, w, x.view(), want.view(), act);
              const std::string what = fmt::format("{} K {} M {} x {} {} {}", format_name(c.f), K, M,
                                                   dtype_name(xt), path_name(p), activation_name(act));
              ASSERT_EQ(fast.bytes, slow.bytes) << what << " (lane loop, same level)";
              ASSERT_EQ(fast.bytes, scalar.bytes) << what;
              ASSERT_EQ(fast.bytes, want.bytes) << what;
            }
          }
        }
      }
    }
  }
}

// Bad arguments throw std::invalid_argument naming the kernel and the argument.
TEST(MatmulArgumentTest, BadArgumentsAreNamed) {
  auto expect_error = [](auto&& call, const std::string& want) {
    try {
      call();
      ADD_FAILURE() << "no exception; expected one mentioning '" << want << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  const Matrix w = random_matrix(WeightFormat::fp16, 64, 8, 61);
  Tensor x(DType::f32, Shape(64, 2, 1)), y(DType::f32, Shape(8, 2, 1));
  Tensor bad_x(DType::f32, Shape(60, 2, 1)), bad_y(DType::f32, Shape(8, 3, 1));
  expect_error([&] { matmul_vec(w, bad_x.view(), y.view(), Activation::none); }, "matmul_vec: x has shape");
  expect_error([&] { matmul_mat(w, x.view(), bad_y.view(), Activation::none); }, "matmul_mat: y has shape");
  expect_error([&] { matmul_vec(w, x.view(), x.view(), Activation::none); }, "matmul_vec: y has shape");
  Tensor square(DType::f32, Shape(64, 2, 1));
  const Matrix w_sq = random_matrix(WeightFormat::fp16, 64, 64, 62);
  expect_error([&] { matmul_mat(w_sq, square.view(), square.view(), Activation::none); }, "y overlaps x");
  Matrix odd = random_matrix(WeightFormat::fp16, 6, 4, 63);
  Tensor x6(DType::f32, Shape(6, 1, 1)), y4(DType::f32, Shape(4, 1, 1));
  expect_error([&] { matmul_vec(odd, x6.view(), y4.view(), Activation::none, true); },
               "matmul_vec (sparse input): w has K = 6");
  Matrix short_data = w;
  short_data.data_bytes -= 2;
  expect_error([&] { matmul_mat(short_data, x.view(), y.view(), Activation::none); }, "matmul_mat: w");
}

}  // namespace
}  // namespace rwkv
