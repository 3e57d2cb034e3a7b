// time_mix_v7: against the float64 oracle (bounded), against a plain scalar
// replica of the documented order (bit for bit), across SIMD levels and thread
// counts (bit for bit), split calls, decay profiles, edge inputs, bad arguments.
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "reference/kernels/time_mix.h"
#include "reference/kernels/time_mix_inputs.h"
#include "reference/numeric/canon_math.h"
#include "reference/oracle/time_mix_oracle.h"
#include "reference/simd/dispatch.h"

namespace rwkv {
namespace {

using Chunks = std::vector<std::pair<uint32_t, uint32_t>>;
constexpr double kU = 0x1p-24;  // f32 unit roundoff

// ---- running the kernel ------------------------------------------------------

struct Result {
  std::vector<float> state;
  Tensor x;  // y
};

Result run_kernel(const TimeMixInputs& in, std::vector<float> state, int64_t B, float decay) {
  Tensor x = in.x;
  Tensor r = in.r, z = in.z, n = in.n;
  const LayerState ls{state.data(), in.C, in.N, B};
  time_mix_v7(ls, r.view(), z.view(), n.view(), x.view(), in.cursors, in.N, TimeMixParams{decay});
  return {std::move(state), std::move(x)};
}

// A view of a tensor the test only reads.
TensorView cview(const Tensor& t) {
  TensorView v;
  v.dtype = t.dtype;
  v.data = const_cast<uint8_t*>(t.bytes.data());
  v.shape = t.shape;
  return v;
}

bool same_bytes(const Tensor& a, const Tensor& b) { return a.bytes == b.bytes; }
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// ---- the documented order, written plainly ------------------------------------
// One scalar loop per step of the header's order, no lanes, no threads. The
// kernel must give exactly these bits.
void replica_time_mix(std::vector<float>& state, int64_t B, TimeMixInputs& in, TensorView x, float decay) {
  const int64_t C = in.C, N = in.N, T = in.T, plane = C * T;
  const LayerState ls{state.data(), C, N, B};
  const TensorView r = in.r.view(), z = in.z.view(), n = in.n.view();
  std::vector<float> rr(static_cast<size_t>(N)), w(rr), k(rr), A(rr), Bv(rr);
  for (int64_t t = 0; t < T; ++t) {
    const Cursor cur = in.cursors[size_t(t)];
    if (t == int64_t(cur.start + cur.len) - 1)
      for (int64_t c = 0; c < C; ++c) ls.att_shift(cur.batch)[c] = x.get(t * C + c);
    for (int64_t h = 0; h < C / N; ++h) {
      for (int64_t j = 0; j < N; ++j) {
        const int64_t e = t * C + h * N + j;
        const size_t js = size_t(j);
        rr[js] = r.get(e);
        w[js] = canon::exp((-decay) * canon::sigmoid(z.get(e)));
        k[js] = n.get(e);
        const float kk = n.get(3 * plane + e);
        A[js] = -kk;
        Bv[js] = kk * n.get(2 * plane + e);
      }
      for (int64_t i = 0; i < N; ++i) {
        auto S = [&](int64_t j) -> float& { return ls.row(cur.batch, 0)[ls.wkv_offset(h, i, j)]; };
        float sa = 0.0f;
        for (int64_t q = 0; q < N; q += 4) {
          float p = S(q) * A[size_t(q)];
          p = p + S(q + 1) * A[size_t(q + 1)];
          p = p + S(q + 2) * A[size_t(q + 2)];
          p = p + S(q + 3) * A[size_t(q + 3)];
          sa = sa + p;
        }
        const float v = n.get(plane + t * C + h * N + i);
        float y = 0.0f;
        for (int64_t j = 0; j < N; ++j) {
          float s = S(j) * w[size_t(j)];
          s = s + k[size_t(j)] * v;
          s = s + sa * Bv[size_t(j)];
          S(j) = s;
          y = y + rr[size_t(j)] * s;
        }
        x.set(t * C + h * N + i, y);
      }
    }
  }
}

// ---- the oracle comparison ------------------------------------------------------
// Error unit: u * ||r_head|| * R_i, where R_i is the running max over the slot's
// history of ||S[i, :]|| and |v_i| ||k|| (TimeMixOracleState::row_max).
//
// Derivation. Row i of a head is updated by S_i <- S_i (diag(w) - kk (kk ⊙ a)^T) + v_i k^T.
// Per token the kernel rounds: sa (N products, N adds: <= N u ||S_i|| since
// |kk| = 1), each element ((S w + k v) + sa Bv) (3 roundings of terms bounded by
// R), w itself (a few ulp of canon_exp/canon_sigmoid); in row norm at most
// (N + 9) u R. The transition does not amplify (w < 1; the kk term removes a
// fraction a of the row along kk), so after t tokens ||dS_i|| <= t (N + 9) u R,
// and y_i = S_i . r adds N u ||r|| R: worst case |dy_i| <= (t + 1)(N + 9) u ||r|| R.
// Rounding errors are not adversarial: they add like a random walk (~sqrt(t)),
// are forgotten at rate 1 - w, and the N-term sums' errors are O(1) in this unit
// (a random walk of N steps against a norm of sqrt(N) terms).
// Measured (seeds 0..5, C = 2048, N = 16/64/128, T up to 33, and T = 512 at
// C = 512): the worst |dy| is 3.6 units at t < 8 and 5.0 by t = 512; the worst
// state element error is 5.3 u R_i at t = 33, 8.4 at t = 512.
// Bounds used (about 2x margin at t = 0, more later, still 100x below the
// worst case): |dy| <= 8 sqrt(1 + t/64) units, |dS_ij| <= 12 sqrt(1 + t/64) u R_i,
// t = tokens this slot has seen. f16 outputs add the f16 rounding of y,
// 2^-11 |y| + 2^-25.
double y_bound_units(int64_t t) { return 8.0 * std::sqrt(1.0 + double(t) / 64.0); }
double state_bound_units(int64_t t) { return 12.0 * std::sqrt(1.0 + double(t) / 64.0); }

struct OracleCheck {
  double worst_y = 0;      // max |dy| / (bound unit), f16 rounding allowance removed
  double worst_ratio = 0;  // max |dy| / bound (fails above 1)
  double worst_state = 0;  // max |dS| / (u R_i)
  double worst_state_ratio = 0;
  int64_t failures = 0;
};

OracleCheck compare_with_oracle(TimeMixInputs& in, const std::vector<float>& state0, int64_t B, const Result& got,
                                double oracle_decay) {
  const int64_t C = in.C, N = in.N, T = in.T;
  TimeMixOracleState os(C, N, B);
  std::vector<float> s0 = state0;
  const LayerState ls0{s0.data(), C, N, B};
  for (int64_t b = 0; b < B; ++b) os.load_slot(ls0, b);
  const auto ref = time_mix_v7_oracle(os, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors,
                                      oracle_decay);
  OracleCheck out;
  std::vector<int64_t> seen(static_cast<size_t>(B), 0);
  const bool f16 = in.x.dtype == DType::f16;
  const TensorView y = cview(got.x);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t b = in.cursors[size_t(t)].batch;
    const int64_t tb = seen[size_t(b)]++;
    for (int64_t c = 0; c < C; ++c) {
      const size_t e = size_t(t * C + c);
      double err = std::fabs(double(y.get(int64_t(e))) - ref.y[e]);
      if (f16) err = std::max(0.0, err - (std::ldexp(std::fabs(ref.y[e]), -11) + 0x1p-25));
      const double unit = kU * ref.y_scale[e];
      const double q = unit > 0 ? err / unit : (err > 0 ? INFINITY : 0.0);
      out.worst_y = std::max(out.worst_y, q);
      out.worst_ratio = std::max(out.worst_ratio, q / y_bound_units(tb));
      if (!(q <= y_bound_units(tb))) ++out.failures;
    }
  }
  std::vector<float> s1 = got.state;
  const LayerState ls1{s1.data(), C, N, B};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < C / N; ++h)
      for (int64_t i = 0; i < N; ++i) {
        const double unit = kU * os.row_max[size_t(b * C + h * N + i)];
        for (int64_t j = 0; j < N; ++j) {
          const double err = std::fabs(double(ls1.row(b, 0)[ls1.wkv_offset(h, i, j)]) - os.S(b, h, i, j));
          const double q = unit > 0 ? err / unit : (err > 0 ? INFINITY : 0.0);
          out.worst_state = std::max(out.worst_state, q);
          out.worst_state_ratio = std::max(out.worst_state_ratio, q / state_bound_units(seen[size_t(b)]));
          if (!(q <= state_bound_units(seen[size_t(b)]))) ++out.failures;
        }
        // The token-shift save is a copy: exact.
        if (double(ls1.att_shift(b)[h * N + i]) != os.att_shift[size_t(b * C + h * N + i)]) ++out.failures;
      }
  return out;
}

// ---- oracle cases -------------------------------------------------------------------

struct OracleCase {
  const char* name;
  DType dtype;
  int64_t C, N, B;
  Chunks chunks;
  float decay;
  float state_scale;  // 0: web-rwkv's zero initial state
};

void PrintTo(const OracleCase& c, std::ostream* os) { *os << c.name; }

class TimeMixOracle : public ::testing::TestWithParam<OracleCase> {};

TEST_P(TimeMixOracle, WithinBound) {
  const OracleCase& k = GetParam();
  TimeMixInputs in = make_time_mix_inputs(1000 + uint64_t(k.C) + uint64_t(k.N), k.dtype, k.C, k.N, k.chunks);
  const auto state0 = make_time_mix_state(77, k.C, k.N, k.B, k.state_scale);
  const Result got = run_kernel(in, state0, k.B, k.decay);
  const OracleCheck chk = compare_with_oracle(in, state0, k.B, got, double(k.decay));
  std::printf("[ measured ] %s: worst |dy| %.2f units (%.0f%% of bound), worst |dS| %.2f u R (%.0f%% of bound)\n",
              k.name, chk.worst_y, 100 * chk.worst_ratio, chk.worst_state, 100 * chk.worst_state_ratio);
  EXPECT_EQ(chk.failures, 0);
  // ffn_shift rows are not the kernel's: untouched.
  const LayerState a{const_cast<float*>(state0.data()), k.C, k.N, k.B};
  const LayerState b{const_cast<float*>(got.state.data()), k.C, k.N, k.B};
  for (int64_t s = 0; s < k.B; ++s)
    EXPECT_EQ(std::memcmp(a.ffn_shift(s), b.ffn_shift(s), size_t(k.C) * 4), 0) << "slot " << s;
}

const OracleCase kOracleCases[] = {
    {"f32_C256_T1", DType::f32, 256, 64, 1, {{0, 1}}, kDecayWebRwkv, 0.0f},
    {"f16_C256_T7_exact", DType::f16, 256, 64, 1, {{0, 7}}, kDecayExact, 0.3f},
    {"f32_C768_T32_3batches", DType::f32, 768, 64, 3, {{0, 12}, {1, 9}, {2, 11}}, kDecayWebRwkv, 0.3f},
    {"f16_C768_T33_slot1of2", DType::f16, 768, 64, 2, {{1, 33}}, kDecayWebRwkv, 0.0f},
    {"f32_C2048_T33_4chunks_exact", DType::f32, 2048, 64, 4, {{0, 5}, {3, 1}, {1, 20}, {2, 7}}, kDecayExact, 0.3f},
    {"f16_C2048_T32", DType::f16, 2048, 64, 1, {{0, 32}}, kDecayExact, 0.3f},
    {"f32_C2048_T7_f32", DType::f32, 2048, 64, 2, {{1, 3}, {0, 4}}, kDecayWebRwkv, 0.0f},
    {"f32_N128_C256_T33", DType::f32, 256, 128, 1, {{0, 33}}, kDecayWebRwkv, 0.3f},
    {"f16_N128_C512_T7", DType::f16, 512, 128, 2, {{0, 4}, {1, 3}}, kDecayExact, 0.3f},
    {"f32_N16_C64_T32", DType::f32, 64, 16, 2, {{0, 16}, {1, 16}}, kDecayWebRwkv, 0.3f},
    {"f16_N8_C40_T33", DType::f16, 40, 8, 3, {{2, 11}, {0, 11}, {1, 11}}, kDecayWebRwkv, 0.3f},
    {"f32_N4_C12_T32", DType::f32, 12, 4, 1, {{0, 32}}, kDecayExact, 0.3f},
    {"f32_slot_twice_T33", DType::f32, 256, 64, 2, {{0, 10}, {1, 13}, {0, 10}}, kDecayWebRwkv, 0.3f},
    {"f16_C4096_T7_2batches", DType::f16, 4096, 64, 2, {{0, 3}, {1, 4}}, kDecayWebRwkv, 0.3f},
};
INSTANTIATE_TEST_SUITE_P(Cases, TimeMixOracle, ::testing::ValuesIn(kOracleCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Subnormal results: r and v scaled by 2^-70 put y = r.S near 2^-140, deep in
// f32's subnormal range, while the state stays normal (about 2^-70). Every
// rounding into the subnormal range may add up to 2^-150 absolute, so the bound
// is the usual one plus (2N + 2) * 2^-150 for the N products and sums of y
// (without it, most outputs fail: the allowance is what makes subnormal
// results comparable at all).
TEST(TimeMixEdges, SubnormalOutputsStayWithinTheBoundPlusUnderflow) {
  const int64_t C = 256, N = 64, B = 1;
  TimeMixInputs in = make_time_mix_inputs(4242, DType::f32, C, N, {{0, 7}});
  const float tiny = 0x1p-70f;
  for (int64_t i = 0; i < C * in.T; ++i) {
    in.r.view().f32()[i] *= tiny;
    in.n.view().f32()[C * in.T + i] *= tiny;  // v is slice 1 of stack(k, v, a, kk)
  }
  const std::vector<float> state0(size_t(C * (N + 2) * B), 0.0f);
  const Result got = run_kernel(in, state0, B, kDecayWebRwkv);
  TimeMixOracleState os(C, N, B);
  const auto ref = time_mix_v7_oracle(os, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors,
                                      double(kDecayWebRwkv));
  const TensorView y = cview(got.x);
  int64_t subnormal = 0, failures = 0;
  for (int64_t e = 0; e < C * in.T; ++e) {
    const float v = y.get(e);
    if (v != 0.0f && std::fabs(v) < 0x1p-126f) ++subnormal;
    const double bound = y_bound_units(e / C) * kU * ref.y_scale[size_t(e)] + double(2 * N + 2) * 0x1p-150;
    if (!(std::fabs(double(v) - ref.y[size_t(e)]) <= bound)) ++failures;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(subnormal, C * in.T / 2) << "the test must actually produce subnormal outputs";
}

// ---- bit-exact properties -------------------------------------------------------------

TEST(TimeMixOrder, MatchesDocumentedReplica) {
  struct Case { DType dt; int64_t C, N, B; Chunks chunks; float decay; };
  const Case cases[] = {
      {DType::f32, 256, 64, 3, {{0, 5}, {2, 9}, {1, 3}}, kDecayWebRwkv},
      {DType::f16, 256, 64, 2, {{1, 7}, {0, 6}}, kDecayExact},
      {DType::f32, 256, 128, 1, {{0, 9}}, kDecayExact},
      {DType::f16, 24, 8, 2, {{0, 9}, {1, 8}}, kDecayWebRwkv},
      {DType::f32, 20, 4, 1, {{0, 7}}, kDecayWebRwkv},
  };
  for (const Case& k : cases) {
    TimeMixInputs in = make_time_mix_inputs(5, k.dt, k.C, k.N, k.chunks);
    const auto state0 = make_time_mix_state(6, k.C, k.N, k.B, 0.3f);
    const Result got = run_kernel(in, state0, k.B, k.decay);
    std::vector<float> state = state0;
    Tensor x = in.x;
    replica_time_mix(state, k.B, in, x.view(), k.decay);
    EXPECT_TRUE(same_bits(state, got.state)) << "C=" << k.C << " N=" << k.N;
    EXPECT_TRUE(same_bytes(x, got.x)) << "C=" << k.C << " N=" << k.N;
  }
}

TEST(TimeMixDeterminism, SameBitsAtEverySimdLevelAndThreadCount) {
  struct Case { DType dt; int64_t C, N, B; Chunks chunks; };
  const Case cases[] = {
      {DType::f32, 256, 64, 3, {{0, 4}, {2, 9}, {1, 1}}},
      {DType::f16, 512, 128, 2, {{1, 3}, {0, 2}}},
      {DType::f16, 40, 8, 2, {{0, 5}, {1, 2}}},
      {DType::f32, 1024, 64, 2, {{0, 9}, {1, 7}}},  // T*C*N = 2^20: large enough to run in parallel
  };
  const int threads_before = omp_get_max_threads();
  for (const Case& k : cases) {
    TimeMixInputs in = make_time_mix_inputs(11, k.dt, k.C, k.N, k.chunks);
    const auto state0 = make_time_mix_state(12, k.C, k.N, k.B, 0.3f);
    std::vector<float> ref_state;
    Tensor ref_x;
    bool first = true;
    for (simd::Level level : simd::supported_levels()) {
      simd::ScopedLevel scoped(level);
      for (int threads : {1, 2, 8}) {
        omp_set_num_threads(threads);
        Result got = run_kernel(in, state0, k.B, kDecayWebRwkv);
        if (first) {
          ref_state = got.state;
          ref_x = got.x;
          first = false;
          continue;
        }
        EXPECT_TRUE(same_bits(ref_state, got.state)) << simd::name(level) << " threads " << threads;
        EXPECT_TRUE(same_bytes(ref_x, got.x)) << simd::name(level) << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(threads_before);
}

// Running tokens in one call equals running them in two calls, bit for bit:
// the state carries everything.
TEST(TimeMixState, TwoCallsEqualOneCall) {
  // Stack index of token u of `slot` in a job made of `chunks`, where the job
  // starts at token offset[slot] of each slot's sequence; -1 if absent.
  auto stack_index = [](const Chunks& chunks, const std::vector<uint32_t>& offset, uint32_t slot, uint32_t u) {
    int64_t s = 0;
    for (const auto& [cs, len] : chunks) {
      if (cs == slot && u >= offset[cs] && u < offset[cs] + len) return s + (u - offset[cs]);
      s += len;
    }
    return int64_t(-1);
  };
  for (DType dt : {DType::f32, DType::f16}) {
    const int64_t C = 256, N = 64, B = 3;
    // Per slot the same token sequence (9, 12 and 5 tokens), chunked differently.
    const Chunks whole = {{0, 9}, {1, 12}, {2, 5}};
    const Chunks first = {{0, 4}, {1, 7}, {2, 1}};
    const Chunks second = {{2, 4}, {0, 5}, {1, 5}};
    const std::vector<uint32_t> zero = {0, 0, 0}, after_first = {4, 7, 1};
    TimeMixInputs all = make_time_mix_inputs(21, dt, C, N, whole);
    // The same per-token inputs rearranged into a call made of `chunks`.
    auto part = [&](const Chunks& chunks, const std::vector<uint32_t>& offset) {
      TimeMixInputs p = make_time_mix_inputs(0, dt, C, N, chunks);
      for (const auto& [slot, len] : whole)
        for (uint32_t u = 0; u < len; ++u) {
          const int64_t dst = stack_index(chunks, offset, slot, u), src = stack_index(whole, zero, slot, u);
          if (dst < 0) continue;
          for (int64_t c = 0; c < C; ++c) {
            p.r.view().set(dst * C + c, all.r.view().get(src * C + c));
            p.z.view().set(dst * C + c, all.z.view().get(src * C + c));
            p.x.view().set(dst * C + c, all.x.view().get(src * C + c));
            for (int64_t q = 0; q < 4; ++q)
              p.n.view().set((q * p.T + dst) * C + c, all.n.view().get((q * all.T + src) * C + c));
          }
        }
      return p;
    };
    TimeMixInputs p1 = part(first, zero), p2 = part(second, after_first);
    const auto state0 = make_time_mix_state(22, C, N, B, 0.3f);
    const Result one = run_kernel(all, state0, B, kDecayWebRwkv);
    const Result r1 = run_kernel(p1, state0, B, kDecayWebRwkv);
    const Result r2 = run_kernel(p2, r1.state, B, kDecayWebRwkv);
    EXPECT_TRUE(same_bits(one.state, r2.state)) << dtype_name(dt);
    // y of every token is the same wherever it was computed.
    int64_t compared = 0;
    for (const auto& [slot, len] : whole)
      for (uint32_t u = 0; u < len; ++u) {
        const int64_t s = stack_index(whole, zero, slot, u);
        const int64_t s1 = stack_index(first, zero, slot, u), s2 = stack_index(second, after_first, slot, u);
        const TensorView yp = s1 >= 0 ? cview(r1.x) : cview(r2.x);
        const int64_t sp = s1 >= 0 ? s1 : s2;
        ASSERT_GE(sp, 0);
        for (int64_t c = 0; c < C; ++c)
          EXPECT_EQ(f32_to_bits(cview(one.x).get(s * C + c)), f32_to_bits(yp.get(sp * C + c)))
              << "slot " << slot << " token " << u << " channel " << c;
        ++compared;
      }
    EXPECT_EQ(compared, 26);
  }
}

// Only the slots named by cursors change; each chunk's last token saves its xa.
TEST(TimeMixState, SlotsAndTokenShiftSave) {
  const int64_t C = 128, N = 64, B = 4;
  TimeMixInputs in = make_time_mix_inputs(31, DType::f16, C, N, {{2, 3}, {0, 1}, {2, 2}});
  const auto state0 = make_time_mix_state(32, C, N, B, 0.3f);
  const Result got = run_kernel(in, state0, B, kDecayWebRwkv);
  const LayerState a{const_cast<float*>(state0.data()), C, N, B};
  const LayerState b{const_cast<float*>(got.state.data()), C, N, B};
  const size_t slot_bytes = size_t((N + 2) * C * 4);
  EXPECT_EQ(std::memcmp(a.row(1, 0), b.row(1, 0), slot_bytes), 0);
  EXPECT_EQ(std::memcmp(a.row(3, 0), b.row(3, 0), slot_bytes), 0);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_EQ(b.att_shift(0)[c], in.x.view().get(3 * C + c));  // slot 0's only token: stack 3
    EXPECT_EQ(b.att_shift(2)[c], in.x.view().get(5 * C + c));  // slot 2's last chunk ends at stack 5
  }
}

// ---- decay profiles -------------------------------------------------------------

// With kk = 0, k = 0 and S = identity-like, y reads w directly: w must be
// canon_exp((-decay) * canon_sigmoid(z)) to the bit, for both constants.
TEST(TimeMixDecay, WIsCanonExpOfScaledSigmoid) {
  for (float decay : {kDecayWebRwkv, kDecayExact}) {
    const int64_t C = 64, N = 64;
    TimeMixInputs in = make_time_mix_inputs(41, DType::f32, C, N, {{0, 1}});
    std::vector<float> state = make_time_mix_state(0, C, N, 1, 0.0f);
    const LayerState ls{state.data(), C, N, 1};
    for (int64_t i = 0; i < N; ++i) ls.row(0, 0)[ls.wkv_offset(0, i, i)] = 1.0f;  // S = I
    for (int64_t c = 0; c < C; ++c) {
      in.r.view().set(c, 1.0f);
      in.n.view().set(c, 0.0f);          // k
      in.n.view().set(3 * C + c, 0.0f);  // kk
      in.z.view().set(c, -9.0f + 0.19f * float(c));
    }
    const Result got = run_kernel(in, state, 1, decay);
    for (int64_t i = 0; i < N; ++i) {
      const float want = canon::exp((-decay) * canon::sigmoid(in.z.view().get(i)));
      EXPECT_EQ(cview(got.x).get(i), want) << "decay " << decay << " i " << i;
    }
  }
}

// The two profiles give different bits and each is within the bound of its own
// oracle. The bound cannot tell them apart, and no bound in this unit could: a
// relative change e = 3.6e-7 in decay changes log w by e*sigmoid(z) per token,
// and a state term that has decayed for t tokens by w^t = exp(-0.6065 t sigmoid)
// carries t*e*sigmoid*w^t <= e/(0.6065 * 2.718) = 0.61 e, about 3.7 u, of R.
// The choice of constant is below rounding noise; it is checked bitwise above.
TEST(TimeMixDecay, ProfilesDifferAndEachMeetsItsOracle) {
  const int64_t C = 256, N = 64;
  TimeMixInputs in = make_time_mix_inputs(42, DType::f32, C, N, {{0, 32}});
  const auto state0 = make_time_mix_state(43, C, N, 1, 0.3f);
  const Result exact = run_kernel(in, state0, 1, kDecayExact);
  const Result literal = run_kernel(in, state0, 1, kDecayWebRwkv);
  EXPECT_FALSE(same_bytes(exact.x, literal.x));
  EXPECT_FALSE(same_bits(exact.state, literal.state));
  EXPECT_EQ(compare_with_oracle(in, state0, 1, exact, double(kDecayExact)).failures, 0);
  EXPECT_EQ(compare_with_oracle(in, state0, 1, literal, double(kDecayWebRwkv)).failures, 0);
}

// ---- edge inputs ----------------------------------------------------------------

TEST(TimeMixEdge, ZerosGiveZeros) {
  for (DType dt : {DType::f32, DType::f16}) {
    const int64_t C = 128, N = 64;
    TimeMixInputs in = make_time_mix_inputs(51, dt, C, N, {{0, 3}});
    for (Tensor* t : {&in.r, &in.z, &in.n, &in.x}) std::fill(t->bytes.begin(), t->bytes.end(), uint8_t(0));
    const auto state0 = make_time_mix_state(0, C, N, 1, 0.0f);
    const Result got = run_kernel(in, state0, 1, kDecayWebRwkv);
    for (int64_t e = 0; e < in.x.numel(); ++e) EXPECT_EQ(cview(got.x).get(e), 0.0f);
    for (float s : got.state) EXPECT_EQ(s, 0.0f);
  }
}

// Large f32 values (|k v| ~ 1e12 and state ~1e12) stay within the same bound;
// f16 outputs beyond its range become Inf of the right sign.
TEST(TimeMixEdge, LargeMagnitudes) {
  {
    const int64_t C = 256, N = 64;
    TimeMixInputs in = make_time_mix_inputs(52, DType::f32, C, N, {{0, 8}});
    for (int64_t e = 0; e < 2 * C * in.T; ++e) in.n.view().set(e, in.n.view().get(e) * 1e6f);  // k, v
    auto state0 = make_time_mix_state(53, C, N, 1, 1e12f);
    const Result got = run_kernel(in, state0, 1, kDecayWebRwkv);
    EXPECT_EQ(compare_with_oracle(in, state0, 1, got, double(kDecayWebRwkv)).failures, 0);
  }
  {
    const int64_t C = 128, N = 64;
    TimeMixInputs in = make_time_mix_inputs(54, DType::f16, C, N, {{0, 4}});
    for (int64_t e = 0; e < 2 * C * in.T; ++e)  // k, v near the f16 maximum
      in.n.view().set(e, in.n.view().get(e) < 0 ? -60000.0f : 60000.0f);
    const auto state0 = make_time_mix_state(0, C, N, 1, 0.0f);
    const Result got = run_kernel(in, state0, 1, kDecayWebRwkv);
    TimeMixOracleState os(C, N, 1);
    const auto ref = time_mix_v7_oracle(os, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors,
                                        double(kDecayWebRwkv));
    int64_t infs = 0;
    for (int64_t e = 0; e < C * in.T; ++e) {
      const float y = cview(got.x).get(e);
      const double want = ref.y[size_t(e)];
      if (std::fabs(want) > 65520.0 * 1.001) {
        EXPECT_TRUE(std::isinf(y) && (y > 0) == (want > 0)) << e;
        ++infs;
      } else if (std::fabs(want) < 65504.0 * 0.999) {
        EXPECT_LE(std::fabs(double(y) - want), std::fabs(want) * 0x1p-10 + 1e-3 * ref.y_scale[size_t(e)]) << e;
      }
    }
    EXPECT_GT(infs, 0);
    for (float s : got.state) EXPECT_TRUE(std::isfinite(s));
  }
}

// A NaN in r at one token poisons y of that head at that token only; the state
// does not see r.
TEST(TimeMixEdge, NanInRStaysInItsHeadAndToken) {
  const int64_t C = 256, N = 64, T = 6;
  TimeMixInputs clean = make_time_mix_inputs(55, DType::f16, C, N, {{0, uint32_t(T)}});
  TimeMixInputs bad = clean;
  const int64_t t0 = 2, h0 = 1;
  bad.r.view().set(t0 * C + h0 * N + 17, NAN);
  const auto state0 = make_time_mix_state(56, C, N, 1, 0.3f);
  const Result a = run_kernel(clean, state0, 1, kDecayWebRwkv);
  const Result b = run_kernel(bad, state0, 1, kDecayWebRwkv);
  EXPECT_TRUE(same_bits(a.state, b.state));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      const float ya = cview(a.x).get(t * C + c), yb = cview(b.x).get(t * C + c);
      if (t == t0 && c / N == h0)
        EXPECT_TRUE(std::isnan(yb));
      else
        EXPECT_EQ(f32_to_bits(ya), f32_to_bits(yb)) << t << " " << c;
    }
}

// An Inf (or NaN) in k poisons its head's state in its slot from that token on;
// other heads and other slots keep their bits.
TEST(TimeMixEdge, InfOrNanInKStaysInItsHeadAndSlot) {
  for (float poison : {INFINITY, NAN}) {
    const int64_t C = 256, N = 64, B = 2;
    TimeMixInputs clean = make_time_mix_inputs(57, DType::f32, C, N, {{0, 4}, {1, 4}});
    TimeMixInputs bad = clean;
    const int64_t t0 = 1, h0 = 2;  // slot 0's second token
    bad.n.view().set(t0 * C + h0 * N + 5, poison);
    const auto state0 = make_time_mix_state(58, C, N, B, 0.3f);
    const Result a = run_kernel(clean, state0, B, kDecayWebRwkv);
    const Result b = run_kernel(bad, state0, B, kDecayWebRwkv);
    const LayerState sa{const_cast<float*>(a.state.data()), C, N, B};
    const LayerState sb{const_cast<float*>(b.state.data()), C, N, B};
    for (int64_t t = 0; t < 8; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const float ya = cview(a.x).get(t * C + c), yb = cview(b.x).get(t * C + c);
        if (t >= t0 && t < 4 && c / N == h0)
          EXPECT_FALSE(std::isfinite(yb)) << t << " " << c;
        else
          EXPECT_EQ(f32_to_bits(ya), f32_to_bits(yb)) << t << " " << c;
      }
    for (int64_t s = 0; s < B; ++s)
      for (int64_t r = 0; r < N + 2; ++r)
        for (int64_t c = 0; c < C; ++c) {
          const bool poisoned = s == 0 && r >= 1 && r <= N && c / N == h0;
          if (poisoned)
            EXPECT_FALSE(std::isfinite(sb.row(s, r)[c])) << r << " " << c;
          else
            EXPECT_EQ(f32_to_bits(sa.row(s, r)[c]), f32_to_bits(sb.row(s, r)[c])) << s << " " << r << " " << c;
        }
  }
}

// ---- bad arguments ----------------------------------------------------------------

void expect_invalid(const std::function<void()>& f, const std::string& arg) {
  test::expect_error(f, "time_mix_v7", arg);
}

TEST(TimeMixArgs, BadArgumentsNameKernelAndArgument) {
  const int64_t C = 128, N = 64, B = 2;
  TimeMixInputs in = make_time_mix_inputs(61, DType::f32, C, N, {{0, 2}, {1, 1}});
  std::vector<float> state = make_time_mix_state(0, C, N, B, 0.0f);
  const LayerState ls{state.data(), C, N, B};
  const TensorView r = in.r.view(), z = in.z.view(), n = in.n.view(), x = in.x.view();
  const std::vector<Cursor> cur = in.cursors;
  Tensor r16(DType::f16, r.shape), short_n(DType::f32, Shape(C, in.T, 3)), other(DType::f32, r.shape);
  expect_invalid([&] { time_mix_v7(ls, short_n.view(), z, n, x, cur, N); }, "r");
  expect_invalid([&] { time_mix_v7(ls, r, z, short_n.view(), x, cur, N); }, "n");
  expect_invalid([&] { time_mix_v7(ls, r, r16.view(), n, x, cur, N); }, "w");
  expect_invalid([&] { time_mix_v7(ls, r, z, n, TensorView(), cur, N); }, "x");
  expect_invalid([&] { time_mix_v7(ls, r, z, n, r, cur, N); }, "alias r");
  expect_invalid([&] { time_mix_v7(ls, r, z, n, x, cur, 32); }, "head_size");
  expect_invalid([&] { time_mix_v7(LayerState{state.data(), C, 48, B}, r, z, n, x, cur, 48); }, "head_size");
  expect_invalid([&] { time_mix_v7(LayerState{state.data(), 96, N, B}, r, z, n, x, cur, N); }, "width");
  expect_invalid([&] { time_mix_v7(LayerState{nullptr, C, N, B}, r, z, n, x, cur, N); }, "state");
  auto bad_batch = cur;
  bad_batch[2].batch = 2;
  expect_invalid([&] { time_mix_v7(ls, r, z, n, x, bad_batch, N); }, "cursors[2].batch");
  auto bad_range = cur;
  bad_range[1].len = 1;
  expect_invalid([&] { time_mix_v7(ls, r, z, n, x, bad_range, N); }, "cursors[1]");
  // Empty job: nothing to do, no error.
  Tensor e0(DType::f32, Shape(C, 0)), e4(DType::f32, Shape(C, 0, 4)), ex(DType::f32, Shape(C, 0));
  EXPECT_NO_THROW(time_mix_v7(ls, e0.view(), e0.view(), e4.view(), ex.view(), {}, N));
}

}  // namespace
}  // namespace rwkv
