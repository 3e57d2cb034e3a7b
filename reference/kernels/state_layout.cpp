#include "reference/kernels/state_layout.h"

#include <algorithm>

#include "reference/tensor.h"

namespace rwkv {
namespace {

void require_slot(const char* fn, const LayerState& s, int64_t batch) {
  if (s.data == nullptr) fail_arg("{}: state has no data", fn);
  if (s.N <= 0 || s.C <= 0 || s.C % s.N != 0)
    fail_arg("{}: state has C = {}, N = {}; expected C a positive multiple of N", fn, s.C, s.N);
  if (batch < 0 || batch >= s.B) fail_arg("{}: batch is {}, expected 0 <= batch < B = {}", fn, batch, s.B);
}

void require_size(const char* fn, const char* arg, size_t have, int64_t want) {
  if (int64_t(have) != want) fail_arg("{}: {} holds {} floats, expected {}", fn, arg, have, want);
}

// The WKV rows 1..N of a slot <-> [h][i][j]. Every element is one copy.
void wkv_to_hij(const LayerState& s, int64_t batch, float* out) {
  const int64_t H = s.C / s.N, N = s.N;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) out[(h * N + i) * N + j] = s.row(batch, 0)[s.wkv_offset(h, i, j)];
}
void wkv_from_hij(const float* in, const LayerState& s, int64_t batch) {
  const int64_t H = s.C / s.N, N = s.N;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) s.row(batch, 0)[s.wkv_offset(h, i, j)] = in[(h * N + i) * N + j];
}

}  // namespace

void state_slot_to_official(const LayerState& state, int64_t batch, std::span<float> att_shift,
                            std::span<float> wkv, std::span<float> ffn_shift) {
  const char* fn = "state_slot_to_official";
  require_slot(fn, state, batch);
  require_size(fn, "att_shift", att_shift.size(), state.C);
  require_size(fn, "wkv", wkv.size(), state.C * state.N);
  require_size(fn, "ffn_shift", ffn_shift.size(), state.C);
  std::copy_n(state.att_shift(batch), state.C, att_shift.data());
  wkv_to_hij(state, batch, wkv.data());
  std::copy_n(state.ffn_shift(batch), state.C, ffn_shift.data());
}

void state_slot_from_official(std::span<const float> att_shift, std::span<const float> wkv,
                              std::span<const float> ffn_shift, const LayerState& state, int64_t batch) {
  const char* fn = "state_slot_from_official";
  require_slot(fn, state, batch);
  require_size(fn, "att_shift", att_shift.size(), state.C);
  require_size(fn, "wkv", wkv.size(), state.C * state.N);
  require_size(fn, "ffn_shift", ffn_shift.size(), state.C);
  std::copy_n(att_shift.data(), state.C, state.att_shift(batch));
  wkv_from_hij(wkv.data(), state, batch);
  std::copy_n(ffn_shift.data(), state.C, state.ffn_shift(batch));
}

void state_slot_to_ggml(const LayerState& state, int64_t batch, std::span<float> wkv, std::span<float> token_shift) {
  const char* fn = "state_slot_to_ggml";
  require_slot(fn, state, batch);
  require_size(fn, "wkv", wkv.size(), state.C * state.N);
  require_size(fn, "token_shift", token_shift.size(), 2 * state.C);
  wkv_to_hij(state, batch, wkv.data());
  std::copy_n(state.att_shift(batch), state.C, token_shift.data());
  std::copy_n(state.ffn_shift(batch), state.C, token_shift.data() + state.C);
}

void state_slot_from_ggml(std::span<const float> wkv, std::span<const float> token_shift, const LayerState& state,
                          int64_t batch) {
  const char* fn = "state_slot_from_ggml";
  require_slot(fn, state, batch);
  require_size(fn, "wkv", wkv.size(), state.C * state.N);
  require_size(fn, "token_shift", token_shift.size(), 2 * state.C);
  wkv_from_hij(wkv.data(), state, batch);
  std::copy_n(token_shift.data(), state.C, state.att_shift(batch));
  std::copy_n(token_shift.data() + state.C, state.C, state.ffn_shift(batch));
}

}  // namespace rwkv
