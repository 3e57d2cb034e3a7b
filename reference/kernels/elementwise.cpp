// Argument checks, cursor decoding and dispatch for the element-wise kernels;
// the loops and their expression orders are in elementwise.simd.cpp.
#include "reference/kernels/elementwise.h"

#include <vector>

#include "reference/kernels/elementwise_rows.h"
#include "reference/kernels/view_checks.h"
#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void token_shift_rows(const rwkv::TokenShiftRows& a))
RWKV_SIMD_DECLARE(void lerp_rows(rwkv::ActRows f, rwkv::ActRows x, rwkv::ActOut y, int64_t C, int64_t T, int64_t B))
RWKV_SIMD_DECLARE(void binary_rows(bool mul, rwkv::Activation act_x, rwkv::Activation act_y,
                                   rwkv::Activation act_out, rwkv::ActRows in, rwkv::ActOut out, int64_t C,
                                   int64_t T, int64_t B))
RWKV_SIMD_DECLARE(void affine_rows(rwkv::ActOut x, int64_t n, float scale, float bias))
RWKV_SIMD_DECLARE(void blit_rows(const void* in, bool in_f16, rwkv::ActOut out, int64_t n))
RWKV_SIMD_DECLARE(void embedding_rows(const rwkv::f16* table, const uint32_t* ids, rwkv::ActOut out, int64_t C,
                                      int64_t T))
RWKV_SIMD_DECLARE(void control_k_rows(rwkv::ActOut k, rwkv::ActRows a, const rwkv::f16* k_a, int64_t C, int64_t T,
                                      int64_t B))
RWKV_SIMD_DECLARE(void channel_mix_rows(const rwkv::ChannelMixRows& a))

namespace rwkv {
namespace {

bool is_f16(const TensorView& v) { return v.dtype == DType::f16; }

ActOut out_of(const TensorView& v) { return ActOut{v.data, is_f16(v)}; }

// Rows of a (possibly broadcast) operand: dimensions of size 1 get step 0.
ActRows rows_of(const TensorView& v) {
  const int64_t C = v.shape[0];
  return ActRows{v.data, is_f16(v), v.shape[1] == 1 ? 0 : C, v.shape[2] == 1 ? 0 : C * v.shape[1]};
}

// A written activation [C, T, B]: data, positive dimensions, C a multiple of 4.
void require_activation(const char* kernel, const char* name, const TensorView& v) {
  require_data(kernel, name, v);
  require_positive_shape(kernel, name, v);
  require_vec4(kernel, fmt::format("{}'s channel count", name).c_str(), v.shape[0]);
}

// An operand broadcast to `full`: [C, 1 or T, 1 or B].
void require_broadcast(const char* kernel, const char* name, const TensorView& v, Shape full) {
  require_data(kernel, name, v);
  if (v.shape[0] != full[0] || (v.shape[1] != 1 && v.shape[1] != full[1]) ||
      (v.shape[2] != 1 && v.shape[2] != full[2]))
    fail_arg("{}: {} has shape {}, expected [{}, 1 or {}, 1 or {}]", kernel, name, v.shape.str(), full[0], full[1],
             full[2]);
}

TensorView state_view(const LayerState& s) { return TensorView(s.data, Shape(s.C, s.rows(), s.B)); }

void require_state(const char* kernel, const LayerState& s, int64_t C) {
  if (s.data == nullptr) fail_arg("{}: the layer state has no data", kernel);
  if (s.C != C) fail_arg("{}: the layer state is {} channels wide, x has {}", kernel, s.C, C);
  if (s.N <= 0 || s.B <= 0) fail_arg("{}: the layer state has N = {}, B = {}; both must be positive", kernel, s.N, s.B);
}

// Every token's cursor must describe the chunk that contains it, the same for
// all its tokens, with a batch slot the state has. With `one_chunk_per_batch`
// no batch may have two chunks (its state row would be written twice).
void require_cursors(const char* kernel, std::span<const Cursor> cursors, const LayerState& s,
                     bool one_chunk_per_batch) {
  const int64_t T = int64_t(cursors.size());
  std::vector<int64_t> chunk_of_batch(size_t(s.B), -1);
  for (int64_t t = 0; t < T; ++t) {
    const Cursor& c = cursors[size_t(t)];
    if (c.len == 0 || c.start > t || t >= int64_t(c.start) + c.len || int64_t(c.start) + c.len > T)
      fail_arg("{}: cursor of token {} (batch {}, start {}, len {}) is not a chunk of the {} tokens containing it",
               kernel, t, c.batch, c.start, c.len, T);
    const Cursor& first = cursors[c.start];
    if (first.batch != c.batch || first.start != c.start || first.len != c.len)
      fail_arg("{}: token {}'s cursor differs from that of its chunk's first token {}", kernel, t, c.start);
    if (c.batch >= s.B)
      fail_arg("{}: token {} belongs to batch {}, but the state has {} batch slots", kernel, t, c.batch, s.B);
    if (one_chunk_per_batch && t == int64_t(c.start)) {
      int64_t& seen = chunk_of_batch[c.batch];
      if (seen >= 0)
        fail_arg("{}: batch {} has two chunks (starting at tokens {} and {}); its state row would be written twice",
                 kernel, c.batch, seen, t);
      seen = t;
    }
  }
}

}  // namespace

void token_shift(std::span<const Cursor> cursors, const LayerState& state, int64_t state_row, const TensorView& mu,
                 const TensorView& x, const TensorView& out) {
  const char* k = "token_shift";
  require_activation(k, "x", x);
  const int64_t C = x.shape[0], T = int64_t(cursors.size());
  require_shape(k, "x", x, Shape(C, T));
  require_shape(k, "out", out, x.shape);
  require_broadcast(k, "mu", mu, Shape(C, T));
  require_state(k, state, C);
  if (state_row < 0 || state_row >= state.rows())
    fail_arg("{}: state_row is {}, expected 0..{} (0 attention, N+1 = {} FFN)", k, state_row, state.rows() - 1,
             state.N + 1);
  require_cursors(k, cursors, state, false);
  require_disjoint(k, "x", x, "out", out);
  require_disjoint(k, "mu", mu, "out", out);
  require_disjoint(k, "the state", state_view(state), "out", out);
  std::vector<const float*> prev(size_t(T), nullptr);
  for (int64_t s = 0; s < T; ++s)
    if (s == int64_t(cursors[size_t(s)].start)) prev[size_t(s)] = state.row(cursors[size_t(s)].batch, state_row);
  TokenShiftRows a;
  a.x = x.data;
  a.x_f16 = is_f16(x);
  a.mu = rows_of(mu);
  a.out = out_of(out);
  a.state_prev = prev.data();
  a.C = C;
  a.T = T;
  RWKV_SIMD_CALL(token_shift_rows, a);
}

void lerp(const TensorView& f, const TensorView& x, const TensorView& y) {
  const char* k = "lerp";
  require_activation(k, "y", y);
  require_shape(k, "x", x, y.shape);
  require_broadcast(k, "f", f, y.shape);
  require_same_or_disjoint(k, "y", y, "x", x);
  require_same_or_disjoint(k, "y", y, "f", f);
  RWKV_SIMD_CALL(lerp_rows, rows_of(f), rows_of(x), out_of(y), y.shape[0], y.shape[1], y.shape[2]);
}

void binary(BinaryOp op, const TensorView& in, const TensorView& out, BinaryActivations act) {
  const char* k = op == BinaryOp::add ? "add" : "mul";
  require_activation(k, "out", out);
  require_broadcast(k, "in", in, out.shape);
  require_same_or_disjoint(k, "out", out, "in", in);
  RWKV_SIMD_CALL(binary_rows, op == BinaryOp::mul, act.x, act.y, act.out, rows_of(in), out_of(out), out.shape[0],
                 out.shape[1], out.shape[2]);
}

void affine(const TensorView& x, float scale, float bias) {
  require_activation("affine", "x", x);
  RWKV_SIMD_CALL(affine_rows, out_of(x), x.numel(), scale, bias);
}

void blit(const TensorView& in, const TensorView& out) {
  const char* k = "blit";
  require_activation(k, "in", in);
  require_shape(k, "out", out, in.shape);
  require_same_or_disjoint(k, "in", in, "out", out);
  RWKV_SIMD_CALL(blit_rows, in.data, is_f16(in), out_of(out), in.numel());
}

void embedding(const TensorView& table, std::span<const uint32_t> ids, const TensorView& out) {
  const char* k = "embedding";
  require_activation(k, "table", table);
  require_dtype(k, "table", table, DType::f16);
  if (table.shape[2] != 1) fail_arg("{}: table has shape {}, expected [C, V, 1]", k, table.shape.str());
  const int64_t C = table.shape[0], V = table.shape[1], T = int64_t(ids.size());
  if (T == 0) fail_arg("{}: no token ids", k);
  require_shape(k, "out", out, Shape(C, T));
  require_disjoint(k, "table", table, "out", out);
  for (int64_t s = 0; s < T; ++s)
    if (int64_t(ids[size_t(s)]) >= V)
      fail_arg("{}: token id {} (position {}) is out of range for a vocabulary of V = {} rows", k, ids[size_t(s)], s,
               V);
  RWKV_SIMD_CALL(embedding_rows, table.half(), ids.data(), out_of(out), C, T);
}

void control_k_v7(const TensorView& k, const TensorView& a, const f16* k_a) {
  const char* name = "control_k_v7";
  require_activation(name, "k", k);
  require_shape(name, "a", a, k.shape);
  if (k_a == nullptr) fail_arg("{}: k_a is null", name);
  require_same_or_disjoint(name, "k", k, "a", a);
  RWKV_SIMD_CALL(control_k_rows, out_of(k), rows_of(a), k_a, k.shape[0], k.shape[1], k.shape[2]);
}

void channel_mix_v7(std::span<const Cursor> cursors, const LayerState& state, const TensorView& v,
                    const TensorView& x) {
  const char* k = "channel_mix_v7";
  require_activation(k, "x", x);
  const int64_t C = x.shape[0], T = int64_t(cursors.size());
  require_shape(k, "x", x, Shape(C, T));
  require_shape(k, "v", v, x.shape);
  require_state(k, state, C);
  require_cursors(k, cursors, state, true);
  require_same_or_disjoint(k, "x", x, "v", v);
  require_disjoint(k, "the state", state_view(state), "x", x);
  require_disjoint(k, "the state", state_view(state), "v", v);
  std::vector<float*> dst(size_t(T), nullptr);
  for (int64_t s = 0; s < T; ++s) {
    const Cursor& c = cursors[size_t(s)];
    if (s - int64_t(c.start) + 1 == int64_t(c.len)) dst[size_t(s)] = state.ffn_shift(c.batch);
  }
  ChannelMixRows a;
  a.x = out_of(x);
  a.v = v.data;
  a.v_f16 = is_f16(v);
  a.state_dst = dst.data();
  a.C = C;
  a.T = T;
  RWKV_SIMD_CALL(channel_mix_rows, a);
}

}  // namespace rwkv
