// Catalog entries of the attention-recurrence family: time_mix_v7 (one per
// decay profile), time_first_v7 and the state layout converters.
#include <vector>

#include "reference/kernel_catalog.h"
#include "reference/kernels/state_layout.h"
#include "reference/kernels/time_mix.h"
#include "reference/kernels/time_mix_inputs.h"

namespace rwkv {
namespace {

using Chunks = std::vector<std::pair<uint32_t, uint32_t>>;

void append_tensor(std::vector<uint8_t>& out, const Tensor& t) { append_bytes(out, t.bytes); }

// Shapes covering several slots and chunks (a slot used twice, one untouched),
// N = 64 and 128, and N = 8 (narrower than AVX-512 and AVX2 lanes: the scalar
// tail), both activation dtypes.
struct MixShape {
  int64_t C, N, B;
  Chunks chunks;
};
const MixShape kMixShapes[] = {
    {256, 64, 4, {{0, 3}, {2, 1}, {1, 5}, {0, 2}}},
    {256, 128, 1, {{0, 3}}},
    {40, 8, 2, {{1, 2}, {0, 3}}},
};

std::vector<uint8_t> sample_time_mix(uint64_t seed, float decay) {
  std::vector<uint8_t> out;
  uint64_t s = seed;
  for (DType dt : {DType::f32, DType::f16})
    for (const MixShape& m : kMixShapes) {
      TimeMixInputs in = make_time_mix_inputs(s++, dt, m.C, m.N, m.chunks);
      std::vector<float> state = make_time_mix_state(s++, m.C, m.N, m.B, 0.3f);
      time_mix_v7(LayerState{state.data(), m.C, m.N, m.B}, in.r.view(), in.z.view(), in.n.view(), in.x.view(),
                  in.cursors, m.N, TimeMixParams{decay});
      append_bytes(out, state);
      append_tensor(out, in.x);
    }
  return out;
}

std::vector<uint8_t> sample_time_first(uint64_t seed) {
  std::vector<uint8_t> out;
  uint64_t s = seed;
  for (DType dt : {DType::f32, DType::f16})
    for (const MixShape& m : kMixShapes) {
      TimeMixInputs in = make_time_mix_inputs(s++, dt, m.C, m.N, m.chunks);
      const Tensor r_k = make_time_first_weight(s++, m.C);
      Tensor rk = r_k;
      time_first_v7(rk.view(), in.r.view(), in.n.view(), in.x.view(), m.N);
      append_tensor(out, in.x);
    }
  return out;
}

// Every slot of a random state out to the official and ggml layouts and back.
std::vector<uint8_t> sample_state_layout(uint64_t seed) {
  std::vector<uint8_t> out;
  for (const MixShape& m : {MixShape{256, 64, 2, {}}, MixShape{40, 8, 2, {}}}) {
    std::vector<float> state = make_time_mix_state(seed, m.C, m.N, m.B, 1.0f);
    std::vector<float> back(state.size(), 0.0f);
    const LayerState src{state.data(), m.C, m.N, m.B}, dst{back.data(), m.C, m.N, m.B};
    std::vector<float> att(static_cast<size_t>(m.C)), ffn(att), shift(2 * att.size()),
        wkv(static_cast<size_t>(m.C * m.N));
    for (int64_t b = 0; b < m.B; ++b) {
      state_slot_to_official(src, b, att, wkv, ffn);
      append_bytes(out, att);
      append_bytes(out, wkv);
      append_bytes(out, ffn);
      state_slot_from_official(att, wkv, ffn, dst, b);
      state_slot_to_ggml(dst, b, wkv, shift);
      append_bytes(out, wkv);
      append_bytes(out, shift);
      state_slot_from_ggml(wkv, shift, dst, b);
    }
    append_bytes(out, back);
  }
  return out;
}

const char* kTimeMixOrder =
    "tokens in order, heads in parallel, lanes = value channels i; w = exp(-decay*sigmoid(z)), A = -kk, "
    "Bv = kk*a; sa_i = ((0 + p_0) + p_1) + ... over key groups, p_q = ((S[4q]A[4q] + S[4q+1]A[4q+1]) + "
    "S[4q+2]A[4q+2]) + S[4q+3]A[4q+3] (old S); S_ij = ((S_ij*w_j) + (k_j*v_i)) + (sa_i*Bv_j) unfused, "
    "y_i = ((0 + r_0 S_i0) + r_1 S_i1) + ... (new S), j ascending";

}  // namespace

void register_time_mix_kernels(std::vector<KernelVariant>& out) {
  out.push_back({"time_mix_v7", "-", "-", std::string(kTimeMixOrder) + "; decay 0.606531 (web-rwkv)",
                 [](uint64_t seed) { return sample_time_mix(seed, kDecayWebRwkv); }});
  out.push_back({"time_mix_v7_exact_decay", "-", "-", std::string(kTimeMixOrder) + "; decay e^-0.5 = 0.60653066f",
                 [](uint64_t seed) { return sample_time_mix(seed, kDecayExact); }});
  out.push_back({"time_first_v7", "-", "-",
                 "tokens in parallel, lanes = channels; p = (r_k*k)*r per channel; per vec4 component a tree "
                 "over the head's N/4 threads, a[q] += a[q+s] for s = N/8..1; xx = ((c0 + c1) + c2) + c3; "
                 "x = x + xx*v",
                 sample_time_first});
  out.push_back({"state_layout", "-", "-",
                 "copies: web-rwkv [C, N+2, B] slot <-> official (att_shift, wkv [h][i][j], ffn_shift) and "
                 "ggml (wkv [h][i][j], token shift [att, ffn])",
                 sample_state_layout});
}

}  // namespace rwkv
