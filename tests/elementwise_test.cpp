// The element-wise kernels against their float64 oracles, the cursor and state
// handling of token_shift and channel_mix_v7, edge inputs and bad arguments.
//
// Error bounds (eps = 2^-24; each f32 operation rounds once, by at most
// eps/2 of its result; we allow eps per operation). With the exact values of
// the intermediate results named as in elementwise.h:
//   token_shift  d = prev - x, e = d*mu, out = x + e:   eps (|mu||d| + |e| + |out|)
//   lerp         d = x - y,    e = d*f,  out = y + e:    eps (|f||d| + |e| + |out|)
//   affine       out = s*x + b:                          eps (|s x| + |out|)
//   control_k    d = a - 1, e = d*k_a, g = 1 + e, out = k*g:
//                                                        eps (|k| (|d||k_a| + |e| + |g|) + |out|)
//   binary       u = A_x(in), w = A_y(out), r = u op w, out = A_out(r): an
//                activation's error is slope(A, u) * (input error) + rel(A) |A(u)|
//                with rel = 4 eps for tanh and sigmoid (canon_* are within a few
//                ulp), eps for squared_relu (one product), 0 for none.
//   blit, embedding, channel_mix_v7: exact (moves, f32 -> f16 rounds once).
// Every bound gets 2^-146 absolute for results in f32's subnormal range, and
// near_oracle adds the output type's half spacing. Worst |err| / bound is
// printed per test ("[ bound  ]").
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"

#include "reference/kernels/elementwise.h"
#include "reference/oracle/elementwise_oracle.h"
#include "reference/oracle/oracle_round.h"
#include "reference/util/rng.h"
#include "tests/support/oracle_check.h"

namespace rwkv {
namespace {

using testing::ErrorStats;
using testing::make_f16;
using testing::make_tensor;
using testing::near_oracle;

constexpr double kEps32 = 0x1p-24;
constexpr double kTiny = 0x1p-146;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr DType kF16 = DType::f16, kF32 = DType::f32;

const std::vector<int64_t> kChannels = {256, 768, 2048, 4096, 516, 100};  // 516, 100: lane tails
const std::vector<int64_t> kTokens = {1, 7, 32, 33};
const std::vector<std::pair<DType, DType>> kTypePairs = {{kF16, kF16}, {kF32, kF32}, {kF16, kF32}, {kF32, kF16}};

// Element (c, t, b) of a possibly broadcast operand.
double at(const TensorView& v, int64_t c, int64_t t, int64_t b) {
  const int64_t tt = v.shape[1] == 1 ? 0 : t, bb = v.shape[2] == 1 ? 0 : b;
  return v.get((bb * v.shape[1] + tt) * v.shape[0] + c);
}

// The exact-move check: the stored value is the oracle's value rounded to the type.
::testing::AssertionResult stored_exactly(float got, double want, DType t, const std::string& where) {
  const double r = oracle::round_to(t, want);
  if ((std::isnan(r) && std::isnan(got)) || double(got) == r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", expected " << r << " at " << where;
}

// ---- cursors and state ----------------------------------------------------------

// T tokens split into random chunks, each of its own batch slot (in random
// order); the state gets one spare slot that no chunk uses.
struct Batches {
  std::vector<Cursor> cursors;
  int64_t slots = 0;
};
Batches random_batches(int64_t T, Rng& rng) {
  std::vector<uint32_t> lens;
  for (int64_t left = T; left > 0;) {
    const int64_t len = 1 + int64_t(rng.next_u32() % uint32_t(left < 12 ? left : 12));
    lens.push_back(uint32_t(len));
    left -= len;
  }
  std::vector<uint32_t> slot(lens.size() + 1);
  for (size_t i = 0; i < slot.size(); ++i) slot[i] = uint32_t(i);
  for (size_t i = slot.size() - 1; i > 0; --i) std::swap(slot[i], slot[rng.next_u32() % (i + 1)]);
  std::vector<std::pair<uint32_t, uint32_t>> chunks;
  for (size_t i = 0; i < lens.size(); ++i) chunks.emplace_back(slot[i], lens[i]);
  return Batches{make_cursors(chunks), int64_t(slot.size())};
}

struct StateBuffer {
  std::vector<float> data;
  LayerState state;
  StateBuffer(int64_t C, int64_t N, int64_t B, Rng& rng) : data(size_t(C * (N + 2) * B)) {
    for (auto& v : data) v = rng.normal();
    state = LayerState{data.data(), C, N, B};
  }
};

// ---- token_shift ---------------------------------------------------------------

void check_token_shift(std::span<const Cursor> cursors, const LayerState& st, int64_t row, const TensorView& mu,
                       const TensorView& x, const TensorView& out, ErrorStats& stats, const std::string& label) {
  const auto want = oracle::token_shift(cursors, st, row, mu, x);
  const int64_t C = x.shape[0];
  for (int64_t s = 0; s < x.shape[1]; ++s) {
    const Cursor& cur = cursors[size_t(s)];
    for (int64_t c = 0; c < C; ++c) {
      const double xv = x.get(s * C + c);
      const double prev = s == int64_t(cur.start) ? st.row(cur.batch, row)[c] : x.get((s - 1) * C + c);
      const double m = at(mu, c, s, 0), d = prev - xv, e = d * m, o = want[size_t(s * C + c)];
      const double tol = kEps32 * (std::fabs(m * d) + std::fabs(e) + std::fabs(o)) + kTiny;
      ASSERT_TRUE(near_oracle(out.get(s * C + c), o, tol, out.dtype, &stats, label, s * C + c));
    }
  }
}

TEST(TokenShift, MatchesOracle) {
  ErrorStats stats;
  Rng rng(1);
  int variant = 0;
  for (int64_t C : kChannels)
    for (int64_t T : kTokens)
      for (auto [xt, ot] : kTypePairs) {
        ++variant;
        const Batches bt = random_batches(T, rng);
        const int64_t N = 4;
        StateBuffer sb(C, N, bt.slots, rng);
        const std::vector<float> state_before = sb.data;
        Tensor x = make_tensor(xt, Shape(C, T), [&] { return 2 * rng.normal(); });
        // mu: f16 [C] (the model's vectors), or per token [C, T] in f16 or f32.
        const Shape mu_shape = variant % 3 == 0 ? Shape(C, T) : Shape(C);
        Tensor mu = make_tensor(variant % 2 ? kF16 : kF32, mu_shape, [&] { return rng.uniform(-0.5f, 1.5f); });
        Tensor out(ot, x.shape);
        const int64_t row = variant % 2 ? 0 : N + 1;  // attention or FFN shift row
        token_shift(bt.cursors, sb.state, row, mu.view(), x.view(), out.view());
        check_token_shift(bt.cursors, sb.state, row, mu.view(), x.view(), out.view(), stats,
                          fmt::format("C={} T={} {}->{}", C, T, dtype_name(xt), dtype_name(ot)));
        EXPECT_EQ(state_before, sb.data) << "token_shift wrote the state";
      }
  stats.print("token_shift");
}

// With mu = 1 and small integers, out = x + (prev - x) = prev exactly: this
// shows directly which state row or token each output came from.
TEST(TokenShift, ReadsTheRightStateRowsAndTokens) {
  Rng rng(2);
  const int64_t C = 12, N = 4, T = 9;
  const std::vector<Cursor> cursors = make_cursors({{2, 4}, {0, 1}, {3, 4}});  // slot 1 unused
  std::vector<float> data(size_t(C * (N + 2) * 4));
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(1000 + i);
  const LayerState st{data.data(), C, N, 4};
  Tensor x = make_tensor(kF32, Shape(C, T), [&] { return float(rng.next_u32() % 100); });
  const auto ones = make_f16(C, [] { return 1.0f; });
  Tensor mu(kF16, Shape(C));
  std::memcpy(mu.bytes.data(), ones.data(), ones.size() * 2);
  for (int64_t row : {int64_t{0}, N + 1}) {
    Tensor out(kF32, x.shape);
    token_shift(cursors, st, row, mu.view(), x.view(), out.view());
    for (int64_t s = 0; s < T; ++s)
      for (int64_t c = 0; c < C; ++c) {
        const Cursor& cur = cursors[size_t(s)];
        const float want = s == int64_t(cur.start) ? data[size_t((cur.batch * (N + 2) + row) * C + c)]
                                                   : x.view().get((s - 1) * C + c);
        ASSERT_EQ(out.view().get(s * C + c), want) << "token " << s << " channel " << c << " row " << row;
      }
  }
}

// ---- channel_mix_v7 --------------------------------------------------------------

TEST(ChannelMix, StoresLastTokensAndCopiesV) {
  Rng rng(3);
  for (int64_t C : kChannels)
    for (int64_t T : kTokens)
      for (auto [xt, vt] : kTypePairs) {
        const Batches bt = random_batches(T, rng);
        const int64_t N = 4;
        StateBuffer sb(C, N, bt.slots, rng);
        Tensor x = make_tensor(xt, Shape(C, T), [&] { return 3 * rng.normal(); });
        Tensor v = make_tensor(vt, Shape(C, T), [&] { return 1e5f * rng.normal(); });  // overflows f16 at times
        Tensor x0 = x;
        const auto want = oracle::channel_mix_v7(bt.cursors, sb.state, v.view(), x0.view());
        channel_mix_v7(bt.cursors, sb.state, v.view(), x.view());
        const std::string label = fmt::format("C={} T={} {}<-{}", C, T, dtype_name(xt), dtype_name(vt));
        for (size_t i = 0; i < sb.data.size(); ++i)
          ASSERT_EQ(sb.data[i], float(want.state[i])) << label << " state element " << i;
        for (int64_t k = 0; k < x.numel(); ++k)
          ASSERT_TRUE(stored_exactly(x.view().get(k), want.x[size_t(k)], xt, label));
      }
}

// ---- lerp ------------------------------------------------------------------------

void check_lerp(const TensorView& f, const TensorView& x, const TensorView& y0, const TensorView& y,
                ErrorStats& stats, const std::string& label) {
  const auto want = oracle::lerp(f, x, y0);
  for (int64_t b = 0; b < y.shape[2]; ++b)
    for (int64_t t = 0; t < y.shape[1]; ++t)
      for (int64_t c = 0; c < y.shape[0]; ++c) {
        const int64_t k = (b * y.shape[1] + t) * y.shape[0] + c;
        const double fv = at(f, c, t, b), d = x.get(k) - double(y0.get(k)), e = d * fv;
        const double tol = kEps32 * (std::fabs(fv * d) + std::fabs(e) + std::fabs(want[size_t(k)])) + kTiny;
        ASSERT_TRUE(near_oracle(y.get(k), want[size_t(k)], tol, y.dtype, &stats, label, k));
      }
}

TEST(Lerp, MatchesOracle) {
  ErrorStats stats;
  Rng rng(4);
  int variant = 0;
  for (int64_t C : kChannels)
    for (int64_t T : kTokens)
      for (auto [xt, yt] : kTypePairs) {
        ++variant;
        const int64_t B = variant % 4 == 0 ? 2 : 1;
        const Shape full(C, T, B);
        const Shape fshape = variant % 3 == 0 ? Shape(C) : variant % 3 == 1 ? full : Shape(C, 1, B);
        Tensor f = make_tensor(variant % 2 ? kF16 : kF32, fshape, [&] { return rng.uniform(-0.2f, 1.2f); });
        Tensor x = make_tensor(xt, full, [&] { return 2 * rng.normal(); });
        Tensor y = make_tensor(yt, full, [&] { return 2 * rng.normal(); });
        Tensor y0 = y;
        lerp(f.view(), x.view(), y.view());
        check_lerp(f.view(), x.view(), y0.view(), y.view(), stats,
                   fmt::format("C={} T={} B={} {}->{}", C, T, B, dtype_name(xt), dtype_name(yt)));
      }
  stats.print("lerp");
}

// ---- binary: add, mul, add_activate ----------------------------------------------

// The largest slope of an activation over [u - du, u + du]: both tanh' and
// sigmoid' fall with |u|, squared_relu' = 2u grows.
double act_slope(Activation a, double u, double du) {
  const double near = std::max(0.0, std::fabs(u) - du);
  switch (a) {
    case Activation::none: return 1;
    case Activation::tanh: return 1 - std::tanh(near) * std::tanh(near);
    case Activation::sigmoid: {
      const double sg = 1 / (1 + std::exp(near));
      return sg * (1 - sg);
    }
    case Activation::squared_relu: return u + du > 0 ? 2 * (std::fabs(u) + du) : 0;
  }
  return 1;
}
// a * b for error terms, where an exact factor (0) wins over an infinite one.
double err_product(double a, double b) { return a == 0 || b == 0 ? 0 : a * b; }
double act_rel(Activation a) {
  return a == Activation::none ? 0 : a == Activation::squared_relu ? kEps32 : 4 * kEps32;
}

void check_binary(BinaryOp op, const TensorView& in, const TensorView& out0, const TensorView& out,
                  BinaryActivations act, ErrorStats& stats, const std::string& label) {
  const auto want = oracle::binary(op, in, out0, act);
  for (int64_t b = 0; b < out.shape[2]; ++b)
    for (int64_t t = 0; t < out.shape[1]; ++t)
      for (int64_t c = 0; c < out.shape[0]; ++c) {
        const int64_t k = (b * out.shape[1] + t) * out.shape[0] + c;
        const double u = oracle::activate(act.x, at(in, c, t, b)), w = oracle::activate(act.y, out0.get(k));
        const double eu = err_product(act_rel(act.x), std::fabs(u)) + kTiny;
        const double ew = err_product(act_rel(act.y), std::fabs(w)) + kTiny;
        const double r = op == BinaryOp::add ? u + w : u * w;
        const double er = (op == BinaryOp::add ? eu + ew
                                               : err_product(std::fabs(w), eu) + err_product(std::fabs(u), ew)) +
                          kEps32 * std::fabs(r);
        const double tol = err_product(act_slope(act.out, r, er), er) +
                           err_product(act_rel(act.out), std::fabs(want[size_t(k)])) + kTiny;
        ASSERT_TRUE(near_oracle(out.get(k), want[size_t(k)], tol, out.dtype, &stats, label, k));
      }
}

std::vector<BinaryActivations> activation_cases() {
  std::vector<BinaryActivations> v = {{}};
  for (Activation a : {Activation::tanh, Activation::sigmoid, Activation::squared_relu}) {
    v.push_back({a, Activation::none, Activation::none});
    v.push_back({Activation::none, a, Activation::none});
    v.push_back({Activation::none, Activation::none, a});
  }
  return v;
}

TEST(Binary, MatchesOracle) {
  ErrorStats stats;
  Rng rng(5);
  int variant = 0;
  // Logits-sized values with a few far out, to reach tanh's clamp and sigmoid's tails.
  auto value = [&] { return rng.unit() < 0.05f ? rng.uniform(-60, 60) : 3 * rng.normal(); };
  // Every (op, activations) pair over every shape; the operand types cycle.
  for (BinaryOp op : {BinaryOp::add, BinaryOp::mul})
    for (const BinaryActivations& act : activation_cases())
      for (int64_t C : {int64_t{256}, int64_t{516}, int64_t{2048}, int64_t{100}})
        for (int64_t T : {int64_t{1}, int64_t{7}, int64_t{33}}) {
            ++variant;
            const auto [it, ot] = kTypePairs[size_t(variant) % kTypePairs.size()];
            const int64_t B = variant % 3 == 0 ? 2 : 1;
            const Shape full(C, T, B);
            // in: an f16 weight vector [C], a full activation, or [C, 1, B].
            const Shape ishape = variant % 3 == 0 ? Shape(C) : variant % 3 == 1 ? full : Shape(C, 1, B);
            Tensor in = make_tensor(ishape == Shape(C) ? kF16 : it, ishape, value);
            Tensor out = make_tensor(ot, full, value);
            Tensor out0 = out;
            binary(op, in.view(), out.view(), act);
            check_binary(op, in.view(), out0.view(), out.view(), act, stats,
                         fmt::format("{} act {}/{}/{} C={} T={} B={}", op == BinaryOp::add ? "add" : "mul",
                                     activation_name(act.x), activation_name(act.y), activation_name(act.out), C, T,
                                     B));
          }
  stats.print("add/mul/add_activate");
}

// in and out the same tensor: out = in op in, as the in-place rule allows.
TEST(Binary, SameTensorForInAndOut) {
  Rng rng(6);
  Tensor x = make_tensor(kF32, Shape(256, 3), [&] { return rng.normal(); });
  Tensor x0 = x;
  add(x.view(), x.view());
  for (int64_t k = 0; k < x.numel(); ++k) ASSERT_EQ(x.view().get(k), 2 * x0.view().get(k));
}

// ---- affine, control_k_v7 ---------------------------------------------------------

TEST(Affine, MatchesOracle) {
  ErrorStats stats;
  Rng rng(7);
  for (int64_t C : kChannels)
    for (int64_t T : kTokens)
      for (DType t : {kF16, kF32}) {
        const float s = rng.uniform(-2, 2), b = rng.normal();
        Tensor x = make_tensor(t, Shape(C, T, 2), [&] { return 4 * rng.normal(); });
        Tensor x0 = x;
        affine(x.view(), s, b);
        const auto want = oracle::affine(x0.view(), s, b);
        for (int64_t k = 0; k < x.numel(); ++k) {
          const double tol = kEps32 * (std::fabs(s * x0.view().get(k)) + std::fabs(want[size_t(k)])) + kTiny;
          ASSERT_TRUE(near_oracle(x.view().get(k), want[size_t(k)], tol, t, &stats, fmt::format("C={}", C), k));
        }
      }
  stats.print("affine");
}

void check_control_k(const TensorView& k0, const TensorView& a, const std::vector<f16>& ka, const TensorView& k,
                     ErrorStats& stats, const std::string& label) {
  const auto want = oracle::control_k_v7(k0, a, ka.data());
  for (int64_t i = 0; i < k.numel(); ++i) {
    const double p = to_f32(ka[size_t(i % k.shape[0])]), d = a.get(i) - 1.0, e = d * p, g = 1 + e;
    const double tol =
        kEps32 * (std::fabs(k0.get(i)) * (std::fabs(d * p) + std::fabs(e) + std::fabs(g)) + std::fabs(want[size_t(i)])) +
        kTiny;
    ASSERT_TRUE(near_oracle(k.get(i), want[size_t(i)], tol, k.dtype, &stats, label, i));
  }
}

TEST(ControlK, MatchesOracle) {
  ErrorStats stats;
  Rng rng(8);
  for (int64_t C : kChannels)
    for (int64_t T : kTokens)
      for (auto [kt, at_] : kTypePairs) {
        Tensor k = make_tensor(kt, Shape(C, T), [&] { return 2 * rng.normal(); });
        Tensor a = make_tensor(at_, Shape(C, T), [&] { return rng.unit(); });  // a = sigmoid(...) in (0, 1)
        const auto ka = make_f16(C, [&] { return rng.uniform(-1, 3); });
        Tensor k0 = k;
        control_k_v7(k.view(), a.view(), ka.data());
        check_control_k(k0.view(), a.view(), ka, k.view(), stats, fmt::format("C={} T={}", C, T));
      }
  stats.print("control_k_v7");
}

// ---- blit, embedding --------------------------------------------------------------

// f16 -> f32 for every half pattern, and back: exact.
TEST(Blit, AllHalvesRoundTrip) {
  Tensor h(kF16, Shape(65536));
  for (int i = 0; i < 65536; ++i) h.view().half()[i].bits = uint16_t(i);
  Tensor f(kF32, h.shape), back(kF16, h.shape);
  blit(h.view(), f.view());
  blit(f.view(), back.view());
  for (int i = 0; i < 65536; ++i) {
    const float want = f16_bits_to_f32(uint16_t(i));
    ASSERT_TRUE(stored_exactly(f.view().get(i), want, kF32, fmt::format("half {:#06x}", i)));
    if (!std::isnan(want)) {
      ASSERT_EQ(back.view().half()[i].bits, uint16_t(i));
    }
  }
}

// f32 -> f16 against the oracle's independent rounding: random values over the
// whole f16 range, ties, subnormals, the overflow threshold, Inf and NaN.
TEST(Blit, F32ToF16RoundsToNearestEven) {
  Rng rng(9);
  std::vector<float> vals = {0.0f,    -0.0f,   65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e9f,    0x1p-24f,
                             0x1p-25f, 0x1.8p-25f, 0x1p-26f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, kInf, -kInf, kNaN};
  while (vals.size() < 4096) {
    const float m = rng.uniform(1, 2), e = std::exp2(float(int(rng.next_u32() % 50) - 30));
    vals.push_back((rng.unit() < 0.5f ? -1 : 1) * m * e);
  }
  Tensor in(kF32, Shape(int64_t(vals.size())));
  std::memcpy(in.bytes.data(), vals.data(), vals.size() * 4);
  for (DType ot : {kF16, kF32}) {
    Tensor out(ot, in.shape);
    blit(in.view(), out.view());
    const auto want = oracle::blit(in.view());
    for (int64_t k = 0; k < in.numel(); ++k)
      ASSERT_TRUE(stored_exactly(out.view().get(k), want[size_t(k)], ot, fmt::format("value {}", vals[size_t(k)])));
  }
  // Same type: a byte copy.
  Tensor same(kF32, in.shape);
  blit(in.view(), same.view());
  EXPECT_EQ(0, std::memcmp(same.bytes.data(), in.bytes.data(), in.bytes.size()));
}

TEST(Embedding, GathersRows) {
  Rng rng(10);
  for (int64_t C : {int64_t{256}, int64_t{516}, int64_t{100}}) {
    const int64_t V = 50;
    Tensor table = make_tensor(kF16, Shape(C, V), [&] { return rng.normal(); });
    for (int64_t T : kTokens) {
      std::vector<uint32_t> ids(static_cast<size_t>(T));
      for (auto& id : ids) id = rng.next_u32() % uint32_t(V);
      ids[0] = uint32_t(V - 1);
      for (DType ot : {kF16, kF32}) {
        Tensor out(ot, Shape(C, T));
        embedding(table.view(), ids, out.view());
        const auto want = oracle::embedding(table.view(), ids);
        for (int64_t k = 0; k < out.numel(); ++k)
          ASSERT_TRUE(stored_exactly(out.view().get(k), want[size_t(k)], ot, fmt::format("C={} T={} {}", C, T, k)));
      }
    }
  }
}

// ---- edge inputs --------------------------------------------------------------------

// One NaN, +Inf and -Inf in each operand: the results follow IEEE f32 exactly
// as float64 does (no finite overflow is involved), so the oracle's NaN/Inf
// pattern is the expectation; nothing throws. E.g. token_shift: a NaN in
// x[:, s] makes out[:, s] and (as prev) out[:, s+1] NaN.
TEST(Elementwise, NanAndInfPropagate) {
  Rng rng(11);
  ErrorStats stats;
  const int64_t C = 100, T = 5;
  const std::vector<Cursor> cursors = make_cursors({{1, 3}, {0, 2}});
  for (float bad : {kNaN, kInf, -kInf})
    for (DType t : {kF16, kF32})
      for (int where = 0; where < 3; ++where) {
        StateBuffer sb(C, 4, 2, rng);
        Tensor x = make_tensor(t, Shape(C, T), [&] { return rng.normal(); });
        Tensor y = make_tensor(t, Shape(C, T), [&] { return rng.normal(); });
        Tensor f = make_tensor(t, Shape(C, T), [&] { return rng.unit(); });
        Tensor* target = where == 0 ? &x : where == 1 ? &y : &f;
        target->view().set(C + 17, bad);
        sb.state.att_shift(0)[5] = bad;  // batch 0's chunk starts at token 3
        Tensor ts(t, x.shape);
        token_shift(cursors, sb.state, 0, f.view(), x.view(), ts.view());
        check_token_shift(cursors, sb.state, 0, f.view(), x.view(), ts.view(), stats, "token_shift bad");
        Tensor y1 = y;
        lerp(f.view(), x.view(), y1.view());
        check_lerp(f.view(), x.view(), y.view(), y1.view(), stats, "lerp bad");
        for (Activation a : {Activation::none, Activation::tanh, Activation::sigmoid, Activation::squared_relu}) {
          Tensor o = y;
          add_activate(x.view(), o.view(), {a, a, a});
          check_binary(BinaryOp::add, x.view(), y.view(), o.view(), {a, a, a}, stats, "add bad");
          o = y;
          binary(BinaryOp::mul, x.view(), o.view(), {Activation::none, Activation::none, a});
          check_binary(BinaryOp::mul, x.view(), y.view(), o.view(), {Activation::none, Activation::none, a}, stats,
                       "mul bad");
        }
        Tensor k = x;
        const auto ka = make_f16(C, [&] { return rng.uniform(-1, 3); });
        control_k_v7(k.view(), f.view(), ka.data());
        check_control_k(x.view(), f.view(), ka, k.view(), stats, "control_k bad");
        Tensor b16(kF16, x.shape);
        blit(x.view(), b16.view());
        EXPECT_EQ(std::isnan(b16.view().get(C + 17)), where == 0 && std::isnan(bad));
      }
}

// Values near the f16 maximum: f32 arithmetic is exact enough, and f16 results
// beyond 65504 + 16 must be Inf (near_oracle checks overflow against the oracle).
TEST(Elementwise, NearF16Maximum) {
  Rng rng(12);
  ErrorStats stats;
  const int64_t C = 516, T = 4;
  auto big = [&] { return rng.uniform(-65504, 65504); };
  for (DType ot : {kF16, kF32}) {
    Tensor in = make_tensor(kF16, Shape(C, T), big);
    Tensor out = make_tensor(ot, Shape(C, T), big);
    Tensor out0 = out;
    add(in.view(), out.view());
    check_binary(BinaryOp::add, in.view(), out0.view(), out.view(), {}, stats, "add near max");
    int inf = 0;
    for (int64_t k = 0; k < out.numel(); ++k) inf += std::isinf(out.view().get(k));
    if (ot == kF16) {
      EXPECT_GT(inf, 0) << "no f16 overflow exercised";
    }
    Tensor x = make_tensor(ot, Shape(C, T), big);
    Tensor x0 = x;
    affine(x.view(), 1.75f, 3000.0f);
    const auto want = oracle::affine(x0.view(), 1.75, 3000.0);
    for (int64_t k = 0; k < x.numel(); ++k)
      ASSERT_TRUE(near_oracle(x.view().get(k), want[size_t(k)],
                              kEps32 * (std::fabs(1.75 * x0.view().get(k)) + std::fabs(want[size_t(k)])), ot, &stats,
                              "affine near max", k));
    Tensor f = make_tensor(kF16, Shape(C), [&] { return rng.uniform(-1, 2); });
    Tensor y = make_tensor(ot, Shape(C, T), big), y0 = y;
    Tensor src = make_tensor(ot, Shape(C, T), big);
    lerp(f.view(), src.view(), y.view());
    check_lerp(f.view(), src.view(), y0.view(), y.view(), stats, "lerp near max");
    Tensor k = make_tensor(ot, Shape(C, T), big), k0 = k;
    Tensor a = make_tensor(ot, Shape(C, T), [&] { return rng.uniform(0, 3); });
    const auto ka = make_f16(C, [&] { return rng.uniform(-1, 3); });
    control_k_v7(k.view(), a.view(), ka.data());
    check_control_k(k0.view(), a.view(), ka, k.view(), stats, "control_k near max");
  }
  stats.print("near f16 max");
}

// Subnormal operands: f16 subnormals become normal f32 values and round back
// exactly; f32 subnormal products underflow like the oracle's rounding says.
TEST(Elementwise, Subnormals) {
  Rng rng(13);
  ErrorStats stats;
  const int64_t C = 100, T = 3;
  for (DType t : {kF16, kF32}) {
    const float unit = t == kF16 ? 0x1p-24f : 0x1p-149f;
    auto tiny = [&] { return unit * float(int(rng.next_u32() % 2001) - 1000); };
    for (BinaryOp op : {BinaryOp::add, BinaryOp::mul})
      for (DType ot : {kF16, kF32}) {
        Tensor in = make_tensor(t, Shape(C, T), tiny);
        std::function<float()> gen = tiny;
        if (op == BinaryOp::mul) gen = [&] { return rng.normal(); };
        Tensor out = make_tensor(ot, Shape(C, T), gen);
        Tensor out0 = out;
        binary(op, in.view(), out.view());
        check_binary(op, in.view(), out0.view(), out.view(), {}, stats, "subnormal");
      }
    Tensor x = make_tensor(t, Shape(C, T), tiny);
    Tensor h(kF16, x.shape);
    blit(x.view(), h.view());
    const auto want = oracle::blit(x.view());
    for (int64_t k = 0; k < x.numel(); ++k) ASSERT_TRUE(stored_exactly(h.view().get(k), want[size_t(k)], kF16, "blit"));
  }
  stats.print("subnormals");
}

// ---- bad arguments -------------------------------------------------------------------

using test::expect_error;

TEST(Elementwise, BadArguments) {
  Rng rng(14);
  const int64_t C = 64, T = 4;
  StateBuffer sb(C, 4, 2, rng);
  const auto cursors = make_cursors({{0, 2}, {1, 2}});
  Tensor x(kF32, Shape(C, T)), out(kF32, Shape(C, T)), mu(kF16, Shape(C)), wrong(kF32, Shape(C, T + 1));
  Tensor odd(kF32, Shape(C - 2, T)), mu_bad(kF16, Shape(C, 2));
  const auto ka = make_f16(C, [] { return 0.0f; });
  expect_error([&] { token_shift(cursors, sb.state, 0, mu.view(), wrong.view(), out.view()); }, "token_shift: x has shape");
  expect_error([&] { token_shift(cursors, sb.state, 0, mu.view(), x.view(), wrong.view()); }, "token_shift: out has shape");
  expect_error([&] { token_shift(cursors, sb.state, 0, mu_bad.view(), x.view(), out.view()); }, "mu has shape");
  expect_error([&] { token_shift(cursors, sb.state, 6, mu.view(), x.view(), out.view()); }, "state_row is 6");
  expect_error([&] { token_shift(cursors, sb.state, 0, mu.view(), x.view(), x.view()); }, "overlaps");
  expect_error([&] { token_shift(make_cursors({{0, 2}, {2, 2}}), sb.state, 0, mu.view(), x.view(), out.view()); },
               "belongs to batch 2, but the state has 2 batch slots");
  std::vector<Cursor> broken = cursors;
  broken[3].start = 1;
  expect_error([&] { token_shift(broken, sb.state, 0, mu.view(), x.view(), out.view()); }, "cursor of token 3");
  LayerState narrow = sb.state;
  narrow.C = 32;
  expect_error([&] { token_shift(cursors, narrow, 0, mu.view(), x.view(), out.view()); }, "32 channels wide");
  expect_error([&] { token_shift(cursors, sb.state, 0, mu.view(), odd.view(), out.view()); }, "multiple of 4");
  expect_error([&] { channel_mix_v7(make_cursors({{0, 2}, {0, 2}}), sb.state, out.view(), x.view()); },
               "batch 0 has two chunks");
  expect_error([&] { channel_mix_v7(cursors, sb.state, wrong.view(), x.view()); }, "channel_mix_v7: v has shape");
  expect_error([&] { lerp(mu_bad.view(), x.view(), out.view()); }, "lerp: f has shape");
  expect_error([&] { lerp(mu.view(), wrong.view(), out.view()); }, "lerp: x has shape");
  expect_error([&] { add(wrong.view(), out.view()); }, "add: in has shape");
  expect_error([&] { mul(odd.view(), odd.view()); }, "multiple of 4");
  expect_error([&] { blit(x.view(), wrong.view()); }, "blit: out has shape");
  expect_error([&] { control_k_v7(x.view(), wrong.view(), ka.data()); }, "control_k_v7: a has shape");
  expect_error([&] { control_k_v7(x.view(), out.view(), nullptr); }, "k_a is null");
  Tensor table(kF16, Shape(C, 50));
  Tensor emb(kF32, Shape(C, 3));
  const std::vector<uint32_t> ids = {3, 49, 50};
  expect_error([&] { embedding(table.view(), ids, emb.view()); },
               "token id 50 (position 2) is out of range for a vocabulary of V = 50 rows");
  expect_error([&] { embedding(x.view(), std::vector<uint32_t>{0}, emb.view()); }, "table is f32, expected f16");
  // A view shifted by a few elements inside another: a partial overlap.
  TensorView shifted(x.view().f32() + 4, Shape(C, 2));
  TensorView base(x.view().f32(), Shape(C, 2));
  expect_error([&] { add(base, shifted); }, "overlaps");
}

}  // namespace
}  // namespace rwkv
