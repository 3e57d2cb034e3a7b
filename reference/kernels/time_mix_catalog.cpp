// Catalog entries of the attention-recurrence family: time_mix_v7 (one per
// decay profile), time_first_v7 and the state layout converters. Oracles:
// oracle/time_mix_oracle.h (the official matrix form in double) and, for the
// layout converters, the index formulas of state_layout.h applied here.
#include <vector>

#include <fmt/format.h>

#include "reference/kernel_catalog.h"
#include "reference/kernels/batch_case.h"
#include "reference/kernels/state_layout.h"
#include "reference/kernels/time_mix.h"
#include "reference/kernels/time_mix_inputs.h"
#include "reference/oracle/time_mix_oracle.h"

namespace rwkv {
namespace {

using Chunks = std::vector<std::pair<uint32_t, uint32_t>>;

// Shapes: N = 8 (narrower than AVX-512 and AVX2 lanes: the scalar tail) with
// two slots; one head of the usual N = 64; several slots and chunks (a slot
// used twice, one untouched) at N = 64; N = 128.
struct MixShape {
  int64_t C, N, B;
  Chunks chunks;
};
const MixShape kMixShapes[] = {
    {40, 8, 2, {{1, 2}, {0, 3}}},
    {64, 64, 1, {{0, 3}}},
    {256, 64, 4, {{0, 3}, {2, 1}, {1, 5}, {0, 2}}},
    {256, 128, 1, {{0, 3}}},
};
// Every shape with both activation dtypes, alternating, so that the first
// cases already hold both.
struct MixCase {
  const MixShape& shape;
  DType dtype;
};
std::vector<MixCase> mix_cases() {
  std::vector<MixCase> v;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < std::size(kMixShapes); ++i)
      v.push_back({kMixShapes[i], (i + size_t(pass)) % 2 == 0 ? DType::f32 : DType::f16});
  return v;
}

std::string mix_label(const MixShape& m, int64_t T, DType dt) {
  std::string chunks;
  for (auto [slot, len] : m.chunks) chunks += fmt::format("{}({}, {})", chunks.empty() ? "" : " ", slot, len);
  return fmt::format("C {}, N {}, B {}, chunks (slot, tokens) {}, T {}, {}", m.C, m.N, m.B, chunks, T, dtype_name(dt));
}

// The oracle's state after the run in web-rwkv's layout [B, N+2, C]; the FFN
// row is not touched by time_mix_v7.
std::vector<double> oracle_state(TimeMixOracleState& os, const LayerState& before) {
  const int64_t C = os.C, N = os.N, H = C / N;
  std::vector<double> s(size_t(os.B * (N + 2) * C));
  for (int64_t b = 0; b < os.B; ++b) {
    double* slot = s.data() + b * (N + 2) * C;
    for (int64_t c = 0; c < C; ++c) {
      slot[c] = os.att_shift[size_t(b * C + c)];
      slot[(N + 1) * C + c] = before.ffn_shift(b)[c];
    }
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) slot[before.wkv_offset(h, i, j)] = os.S(b, h, i, j);
  }
  return s;
}

std::vector<KernelCase> time_mix_cases(uint64_t seed, WithOracle oracle, float decay) {
  std::vector<KernelCase> cases;
  uint64_t s = seed;
  for (const MixCase& mc : mix_cases()) {
    const MixShape& m = mc.shape;
    TimeMixInputs in = make_time_mix_inputs(s++, mc.dtype, m.C, m.N, m.chunks);
    std::vector<float> state = make_time_mix_state(s++, m.C, m.N, m.B, 0.3f);
    const LayerState ls{state.data(), m.C, m.N, m.B};
    KernelCase c(mix_label(m, in.T, mc.dtype));
    c.param("head_size", m.N);
    c.param("decay", double(decay));
    add_state_input(c, "state", ls);
    add_cursors(c, in.cursors);
    c.input("r", in.r);
    c.input("w", in.z);  // the raw decay pre-activation z, as web-rwkv stores it
    c.input("n", in.n);
    c.input("x", in.x);
    std::vector<double> want_x, want_state;
    if (oracle == WithOracle::yes) {
      TimeMixOracleState os(m.C, m.N, m.B);
      for (int64_t b = 0; b < m.B; ++b) os.load_slot(ls, b);
      want_x = time_mix_v7_oracle(os, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors, decay).y;
      want_state = oracle_state(os, ls);
    }
    time_mix_v7(ls, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors, m.N, TimeMixParams{decay});
    add_state_output(c, "state", ls).f64 = std::move(want_state);
    c.output("x", in.x).f64 = std::move(want_x);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> time_first_cases(uint64_t seed, WithOracle oracle) {
  std::vector<KernelCase> cases;
  uint64_t s = seed;
  for (const MixCase& mc : mix_cases()) {
    const MixShape& m = mc.shape;
    TimeMixInputs in = make_time_mix_inputs(s++, mc.dtype, m.C, m.N, m.chunks);
    Tensor r_k = make_time_first_weight(s++, m.C);
    KernelCase c(fmt::format("C {}, N {}, T {}, {}", m.C, m.N, in.T, dtype_name(mc.dtype)));
    c.param("head_size", m.N);
    c.input("r_k", ElemType::f16, {uint64_t(m.C)}, r_k.bytes.data());
    c.input("r", in.r);
    c.input("n", in.n);
    c.input("x", in.x);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = time_first_v7_oracle(r_k.view(), in.r.view(), in.n.view(), in.x.view(), m.N).x;
    time_first_v7(r_k.view(), in.r.view(), in.n.view(), in.x.view(), m.N);
    c.output("x", in.x).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

// Every slot of a random state out to the official and ggml layouts and back:
// per slot, to_official; from_official into `back`; to_ggml from `back`;
// from_ggml into `back`.
std::vector<KernelCase> state_layout_cases(uint64_t seed, WithOracle oracle) {
  std::vector<KernelCase> cases;
  for (const MixShape& m : {MixShape{40, 8, 2, {}}, MixShape{64, 16, 2, {}}, MixShape{256, 64, 2, {}}}) {
    const int64_t C = m.C, N = m.N, B = m.B, H = C / N;
    std::vector<float> state = make_time_mix_state(seed, C, N, B, 1.0f);
    std::vector<float> back(state.size(), 0.0f);
    const LayerState src{state.data(), C, N, B}, dst{back.data(), C, N, B};
    std::vector<float> att(size_t(B * C)), ffn(att), wkv(size_t(B * C * N)), gwkv(wkv), shift(size_t(2 * B * C));
    for (int64_t b = 0; b < B; ++b) {
      const std::span<float> att_b(att.data() + b * C, size_t(C)), ffn_b(ffn.data() + b * C, size_t(C)),
          wkv_b(wkv.data() + b * C * N, size_t(C * N)), gwkv_b(gwkv.data() + b * C * N, size_t(C * N)),
          shift_b(shift.data() + 2 * b * C, size_t(2 * C));
      state_slot_to_official(src, b, att_b, wkv_b, ffn_b);
      state_slot_from_official(att_b, wkv_b, ffn_b, dst, b);
      state_slot_to_ggml(dst, b, gwkv_b, shift_b);
      state_slot_from_ggml(gwkv_b, shift_b, dst, b);
    }
    KernelCase c(fmt::format("C {}, N {}, B {}", C, N, B));
    c.param("head_size", N);
    add_state_input(c, "state", src);
    const Dims wkv_dims{uint64_t(B), uint64_t(H), uint64_t(N), uint64_t(N)};
    c.output("official_att_shift", ElemType::f32, {uint64_t(B), uint64_t(C)}, att.data());
    c.output("official_wkv", ElemType::f32, wkv_dims, wkv.data());
    c.output("official_ffn_shift", ElemType::f32, {uint64_t(B), uint64_t(C)}, ffn.data());
    c.output("ggml_wkv", ElemType::f32, wkv_dims, gwkv.data());
    c.output("ggml_token_shift", ElemType::f32, {uint64_t(B), 2, uint64_t(C)}, shift.data());
    add_state_output(c, "round_trip", dst);
    if (oracle == WithOracle::yes) {
      // The index formulas of state_layout.h, applied to the input.
      std::vector<double> a(att.size()), w(wkv.size()), f(ffn.size()), sh(shift.size());
      for (int64_t b = 0; b < B; ++b)
        for (int64_t ch = 0; ch < C; ++ch) {
          a[size_t(b * C + ch)] = src.att_shift(b)[ch];
          f[size_t(b * C + ch)] = src.ffn_shift(b)[ch];
          sh[size_t(2 * b * C + ch)] = src.att_shift(b)[ch];
          sh[size_t(2 * b * C + C + ch)] = src.ffn_shift(b)[ch];
          for (int64_t j = 0; j < N; ++j) {
            const int64_t h = ch / N, i = ch % N;
            w[size_t(b * C * N + (h * N + i) * N + j)] = src.row(b, 0)[src.wkv_offset(h, i, j)];
          }
        }
      c.out("official_att_shift").f64 = a;
      c.out("official_wkv").f64 = w;
      c.out("official_ffn_shift").f64 = f;
      c.out("ggml_wkv").f64 = w;
      c.out("ggml_token_shift").f64 = sh;
      c.out("round_trip").f64 = to_f64(state);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

const char* kTimeMixOrder =
    "tokens in order, heads in parallel, lanes = value channels i; w = exp(-decay*sigmoid(z)), A = -kk, "
    "Bv = kk*a; sa_i = ((0 + p_0) + p_1) + ... over key groups, p_q = ((S[4q]A[4q] + S[4q+1]A[4q+1]) + "
    "S[4q+2]A[4q+2]) + S[4q+3]A[4q+3] (old S); S_ij = ((S_ij*w_j) + (k_j*v_i)) + (sa_i*Bv_j) unfused, "
    "y_i = ((0 + r_0 S_i0) + r_1 S_i1) + ... (new S), j ascending";
const char* kTimeMixOracle =
    "the official matrix form per head in double (rwkv_v7_numpy.py; oracle/time_mix_oracle.h), "
    "C library exp, from the same inputs and state";

}  // namespace

void register_time_mix_kernels(std::vector<KernelVariant>& out) {
  out.push_back(make_variant("time_mix_v7", "-", "-", std::string(kTimeMixOrder) + "; decay 0.606531 (web-rwkv)",
                             kTimeMixOracle,
                             [](uint64_t seed, WithOracle o) { return time_mix_cases(seed, o, kDecayWebRwkv); }));
  out.push_back(make_variant("time_mix_v7_exact_decay", "-", "-",
                             std::string(kTimeMixOrder) + "; decay e^-0.5 = 0.60653066f", kTimeMixOracle,
                             [](uint64_t seed, WithOracle o) { return time_mix_cases(seed, o, kDecayExact); }));
  out.push_back(make_variant("time_first_v7", "-", "-",
                             "tokens in parallel, lanes = channels; p = (r_k*k)*r per channel; per vec4 component a "
                             "tree over the head's N/4 threads, a[q] += a[q+s] for s = N/8..1; xx = ((c0 + c1) + "
                             "c2) + c3; x = x + xx*v",
                             "x + (sum over the head of r_k*k*r)*v in double (oracle/time_mix_oracle.h)",
                             time_first_cases));
  out.push_back(make_variant("state_layout", "-", "-",
                             "copies: web-rwkv [C, N+2, B] slot <-> official (att_shift, wkv [h][i][j], ffn_shift) "
                             "and ggml (wkv [h][i][j], token shift [att, ffn])",
                             "the input's values placed by the index formulas of state_layout.h (exact)",
                             state_layout_cases));
}

}  // namespace rwkv
