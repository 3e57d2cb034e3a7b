// time_first_v7: against the float64 oracle (a rigorous bound), a plain replica
// of the shader's thread structure (bit for bit), SIMD levels and thread counts,
// edge inputs and bad arguments.
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "reference/kernels/time_mix.h"
#include "reference/kernels/time_mix_inputs.h"
#include "reference/oracle/time_mix_oracle.h"
#include "reference/simd/dispatch.h"

namespace rwkv {
namespace {

constexpr double kU = 0x1p-24;

struct Case {
  DType dt;
  int64_t C, N;
  uint32_t T;
};

struct Inputs {
  TimeMixInputs mix;  // r, n (k, v planes), x
  Tensor r_k;
};

Inputs make_inputs(uint64_t seed, const Case& k) {
  return {make_time_mix_inputs(seed, k.dt, k.C, k.N, {{0, k.T}}), make_time_first_weight(seed + 1, k.C)};
}

Tensor run_kernel(Inputs& in, int64_t N) {
  Tensor x = in.mix.x;
  time_first_v7(in.r_k.view(), in.mix.r.view(), in.mix.n.view(), x.view(), N);
  return x;
}

// The shader, thread by thread: thread q of a head holds the vec4 of channels
// 4q..4q+3; each tree step reads all partners' old values, then writes (lockstep).
Tensor replica(Inputs& in, int64_t N) {
  const int64_t C = in.mix.C, T = in.mix.T;
  Tensor out = in.mix.x;
  const TensorView rk = in.r_k.view(), r = in.mix.r.view(), n = in.mix.n.view(), x = out.view();
  struct Vec4 { float c[4]; };
  const int64_t Q = N / 4;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h0 = 0; h0 < C; h0 += N) {
      std::vector<Vec4> sh(static_cast<size_t>(Q));
      for (int64_t q = 0; q < Q; ++q)
        for (int c = 0; c < 4; ++c) {
          const int64_t ch = h0 + 4 * q + c;
          sh[size_t(q)].c[c] = (rk.get(ch) * n.get(t * C + ch)) * r.get(t * C + ch);
        }
      for (int64_t step = Q / 2; step > 0; step /= 2) {
        const std::vector<Vec4> old = sh;
        for (int64_t q = 0; q < step; ++q)
          for (int c = 0; c < 4; ++c) sh[size_t(q)].c[c] = old[size_t(q)].c[c] + old[size_t(q + step)].c[c];
      }
      const float xx = ((sh[0].c[0] + sh[0].c[1]) + sh[0].c[2]) + sh[0].c[3];
      for (int64_t i = 0; i < N; ++i) {
        const int64_t e = t * C + h0 + i;
        x.set(e, x.get(e) + xx * n.get(C * T + e));
      }
    }
  return out;
}

const Case kCases[] = {
    {DType::f32, 256, 64, 7},  {DType::f16, 256, 64, 7},  {DType::f32, 2048, 64, 33}, {DType::f16, 2048, 64, 32},
    {DType::f32, 256, 128, 5}, {DType::f16, 512, 128, 3}, {DType::f16, 40, 8, 3},     {DType::f32, 12, 4, 2},
    {DType::f32, 48, 16, 1},
};

std::string describe(const Case& k) {
  return std::string(dtype_name(k.dt)) + " C=" + std::to_string(k.C) + " N=" + std::to_string(k.N) +
         " T=" + std::to_string(k.T);
}

// Rigorous bound. Each product (r_k*k)*r rounds twice; every product then passes
// through log2(N/4) tree adds and at most 3 adds of the component fold, so
// |xx - xx_exact| <= (log2 N + 3) u sum|p| (to first order); x + xx*v adds two
// roundings: |dx| <= (log2 N + 5) u (|x| + sum|p| |v|), with 1% slack for the
// second-order terms. f16 outputs add their rounding, 2^-11 |x| + 2^-25.
TEST(TimeFirstOracle, WithinRigorousBound) {
  for (const Case& k : kCases) {
    Inputs in = make_inputs(100 + uint64_t(k.C), k);
    const Tensor got = run_kernel(in, k.N);
    const auto ref = time_first_v7_oracle(in.r_k.view(), in.mix.r.view(), in.mix.n.view(), in.mix.x.view(), k.N);
    const double units = (std::log2(double(k.N)) + 5.0) * 1.01;
    double worst = 0;
    Tensor y = got;
    for (int64_t e = 0; e < y.numel(); ++e) {
      double err = std::fabs(double(y.view().get(e)) - ref.x[size_t(e)]);
      if (k.dt == DType::f16) err = std::max(0.0, err - (std::ldexp(std::fabs(ref.x[size_t(e)]), -11) + 0x1p-25));
      const double q = err / (kU * ref.x_mag[size_t(e)]);
      worst = std::max(worst, q);
      EXPECT_LE(q, units) << describe(k) << " element " << e;
    }
    std::printf("[ measured ] %s: worst |dx| %.2f u x_mag (bound %.2f)\n", describe(k).c_str(), worst, units);
  }
}

TEST(TimeFirstOrder, MatchesShaderReplica) {
  for (const Case& k : kCases) {
    Inputs in = make_inputs(200 + uint64_t(k.N), k);
    EXPECT_EQ(run_kernel(in, k.N).bytes, replica(in, k.N).bytes) << describe(k);
  }
}

TEST(TimeFirstDeterminism, SameBitsAtEverySimdLevelAndThreadCount) {
  const int threads_before = omp_get_max_threads();
  for (const Case& k : {Case{DType::f16, 256, 64, 5}, Case{DType::f32, 40, 8, 3}, Case{DType::f32, 256, 128, 2},
                        Case{DType::f16, 4096, 64, 33}}) {  // the last one large enough to run in parallel
    Inputs in = make_inputs(300, k);
    std::vector<uint8_t> first;
    for (simd::Level level : simd::supported_levels()) {
      simd::ScopedLevel scoped(level);
      for (int threads : {1, 2, 8}) {
        omp_set_num_threads(threads);
        const Tensor x = run_kernel(in, k.N);
        if (first.empty())
          first = x.bytes;
        else
          EXPECT_EQ(first, x.bytes) << describe(k) << " " << simd::name(level) << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(threads_before);
}

// A NaN in r reaches only its head at its token.
TEST(TimeFirstEdge, NanInRStaysInItsHeadAndToken) {
  const Case k{DType::f32, 256, 64, 4};
  Inputs clean = make_inputs(400, k);
  Inputs bad = clean;
  bad.mix.r.view().set(2 * k.C + 64 + 9, NAN);  // token 2, head 1
  const Tensor a = run_kernel(clean, k.N), b = run_kernel(bad, k.N);
  Tensor av = a, bv = b;
  for (int64_t t = 0; t < k.T; ++t)
    for (int64_t c = 0; c < k.C; ++c) {
      const float ya = av.view().get(t * k.C + c), yb = bv.view().get(t * k.C + c);
      if (t == 2 && c / k.N == 1)
        EXPECT_TRUE(std::isnan(yb));
      else
        EXPECT_EQ(f32_to_bits(ya), f32_to_bits(yb));
    }
}

// All-zero inputs leave x = 0; zero r_k leaves x bit for bit (x + 0*v = x for x != -0).
TEST(TimeFirstEdge, ZerosAndZeroWeight) {
  const Case k{DType::f16, 128, 64, 3};
  Inputs in = make_inputs(500, k);
  std::fill(in.r_k.bytes.begin(), in.r_k.bytes.end(), uint8_t(0));
  EXPECT_EQ(run_kernel(in, k.N).bytes, in.mix.x.bytes);
  for (Tensor* t : {&in.mix.r, &in.mix.n, &in.mix.x}) std::fill(t->bytes.begin(), t->bytes.end(), uint8_t(0));
  EXPECT_EQ(run_kernel(in, k.N).bytes, in.mix.x.bytes);
}

// Subnormal results: with x = 0, r scaled by 2^-40 and v by 2^-95, each
// output xx*v lands near 2^-135 (f32 subnormal) while the products p stay
// normal. The bound gains 2^-149 for the one rounding into the subnormal range.
TEST(TimeFirstEdges, SubnormalOutputsWithinTheBoundPlusUnderflow) {
  const Case k{DType::f32, 256, 64, 3};
  Inputs in = make_inputs(808, k);
  const int64_t CT = k.C * k.T;
  for (int64_t e = 0; e < CT; ++e) {
    in.mix.r.view().f32()[e] *= 0x1p-40f;
    in.mix.n.view().f32()[CT + e] *= 0x1p-95f;  // v plane
    in.mix.x.view().f32()[e] = 0.0f;
  }
  const Tensor got = run_kernel(in, k.N);
  const auto ref = time_first_v7_oracle(in.r_k.view(), in.mix.r.view(), in.mix.n.view(), in.mix.x.view(), k.N);
  const double units = (std::log2(double(k.N)) + 5.0) * 1.01;
  int64_t subnormal = 0;
  Tensor y = got;
  for (int64_t e = 0; e < CT; ++e) {
    const float v = y.view().get(e);
    subnormal += v != 0.0f && std::fabs(v) < 0x1p-126f;
    EXPECT_LE(std::fabs(double(v) - ref.x[size_t(e)]), units * kU * ref.x_mag[size_t(e)] + 0x1p-149) << e;
  }
  EXPECT_GT(subnormal, CT / 2) << "the outputs must really be subnormal";
}

void expect_invalid(const std::function<void()>& f, const std::string& arg) {
  test::expect_error(f, "time_first_v7", arg);
}

TEST(TimeFirstArgs, BadArgumentsNameKernelAndArgument) {
  const Case k{DType::f32, 128, 64, 2};
  Inputs in = make_inputs(600, k);
  const TensorView rk = in.r_k.view(), r = in.mix.r.view(), n = in.mix.n.view();
  Tensor x = in.mix.x;
  Tensor rk32(DType::f32, Shape(k.C)), rk_short(DType::f16, Shape(k.C - 4)), r16(DType::f16, r.shape);
  Tensor n3(DType::f32, Shape(k.C, k.T, 3));
  expect_invalid([&] { time_first_v7(rk32.view(), r, n, x.view(), k.N); }, "r_k");
  expect_invalid([&] { time_first_v7(rk_short.view(), r, n, x.view(), k.N); }, "r_k");
  expect_invalid([&] { time_first_v7(rk, r16.view(), n, x.view(), k.N); }, "r is f16");
  expect_invalid([&] { time_first_v7(rk, r, n3.view(), x.view(), k.N); }, "n has shape");
  expect_invalid([&] { time_first_v7(rk, r, n, x.view(), 12); }, "head_size");
  expect_invalid([&] { time_first_v7(rk, r, n, r, k.N); }, "alias r");
  // r_k as [N, H] is accepted.
  TensorView rk2 = rk;
  rk2.shape = Shape(k.N, k.C / k.N);
  EXPECT_NO_THROW(time_first_v7(rk2, r, n, x.view(), k.N));
}

}  // namespace
}  // namespace rwkv
