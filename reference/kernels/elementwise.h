#pragma once
// Element-wise kernels of the RWKV-7 forward pass (spec 3.2, 3.3), each
// mirroring one web-rwkv shader: every output element is computed by one
// thread from its own inputs, so the only order to fix is the order of the
// operations in each expression. It is written beside each function, exactly
// as the spec writes the expression, evaluated left to right with IEEE f32
// operations, never fused, and rounded once to the output type on store.
//
// Activations ([C, T, B], C contiguous, C a multiple of 4) are f16 or f32,
// independently per operand. Weight vectors (mu, k_a, ...) are f16 [C] unless
// a TensorView says otherwise. Operands that are updated in place may be the
// same tensor as an input; any other overlap is an error, as are bad shapes,
// cursors and token ids (std::invalid_argument naming kernel and argument).
#include <cstdint>
#include <span>

#include "reference/kernels/activation.h"
#include "reference/kernels/batch.h"
#include "reference/numeric/f16.h"
#include "reference/tensor.h"

namespace rwkv {

// token_shift (token_shift.wgsl, REVERSED form of mix):
//   out[:, s] = x[:, s] + (prev - x[:, s]) * mu
// i.e. d = prev - x; e = d * mu; out = x + e. prev is the LayerState row
// `state_row` of batch cursors[s].batch when s is the first token of its chunk
// (s == cursors[s].start), else x[:, s-1]. x and out are [C, T] with
// T = cursors.size(); mu is [C] (shape [C, 1]) or per token [C, T], f16 or f32.
// The state is only read. out must not overlap x (neighbouring tokens are read).
// web-rwkv uses state_row 0 for attention and N+1 for the FFN.
void token_shift(std::span<const Cursor> cursors, const LayerState& state, int64_t state_row,
                 const TensorView& mu, const TensorView& x, const TensorView& out);

// lerp (lerp.wgsl, REVERSED): y <- y + (x - y) * f, i.e. d = x - y; e = d * f;
// y = y + e. x and y [C, T, B]; f [C, 1 or T, 1 or B] (broadcast), f16 or f32.
void lerp(const TensorView& f, const TensorView& x, const TensorView& y);

enum class BinaryOp : uint8_t { add, mul };
struct BinaryActivations {
  Activation x = Activation::none;    // applied to `in`   (web-rwkv ACT_X)
  Activation y = Activation::none;    // applied to `out`  (ACT_Y)
  Activation out = Activation::none;  // applied to the result (ACT_OUT)
};

// binary.wgsl: out = ACT_OUT(ACT_X(in) OP ACT_Y(out)), OP = + or *, the in
// operand first. out [C, T, B]; in [C, 1 or T, 1 or B] (e.g. an f16 weight
// vector [C] broadcast over tokens).
void binary(BinaryOp op, const TensorView& in, const TensorView& out, BinaryActivations act = {});
inline void add(const TensorView& in, const TensorView& out) { binary(BinaryOp::add, in, out); }
inline void mul(const TensorView& in, const TensorView& out) { binary(BinaryOp::mul, in, out); }
inline void add_activate(const TensorView& in, const TensorView& out, BinaryActivations act) {
  binary(BinaryOp::add, in, out, act);
}

// affine: x <- scale * x + bias, i.e. (scale * x) + bias.
void affine(const TensorView& x, float scale, float bias);

// blit (blit.wgsl): out <- in, converting between f16 and f32 (f32 -> f16
// rounds to nearest even, overflow to Inf; f16 -> f32 is exact). Same shape.
void blit(const TensorView& in, const TensorView& out);

// Embedding gather (RnnJob::load on the host): out[:, s] = table[:, ids[s]] for
// table f16 [C, V] (row id at id*C) and out [C, T] with T = ids.size(), f16
// (a copy) or f32 (exact). An id >= V throws, naming the id and V.
void embedding(const TensorView& table, std::span<const uint32_t> ids, const TensorView& out);

// control_k_v7: k <- k * (1 + (a - 1) * k_a), i.e. d = a - 1; e = d * k_a;
// g = 1 + e; k = k * g. k and a [C, T, B]; k_a f16 [C].
void control_k_v7(const TensorView& k, const TensorView& a, const f16* k_a);

// channel_mix_v7 (channel_mix.wgsl, V7): for each token s, if it is the last of
// its chunk (s - start + 1 == len), its x[:, s] (the LayerNormed FFN input xf)
// is stored as f32 into the LayerState FFN row (N+1) of cursors[s].batch; then
// x[:, s] <- v[:, s] (rounded to x's type). x and v [C, T], T = cursors.size().
void channel_mix_v7(std::span<const Cursor> cursors, const LayerState& state, const TensorView& v,
                    const TensorView& x);

}  // namespace rwkv
