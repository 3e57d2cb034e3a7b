#pragma once
// RWKV-7 attention recurrence (web-rwkv time_mix_v7.wgsl; spec §3.7, §3.8).
//
//   time_mix_v7    the WKV state update and read-out, token by token, plus the
//                  attention token-shift save (state row 0).
//   time_first_v7  the "bonus" term added after group_norm:
//                  x_i += (sum over the head of r_k_j * k_j * r_j) * v_i.
//
// Canonical orders (fixed here where WGSL leaves them to the implementation):
//   w_j  = canon_exp((-decay) * canon_sigmoid(z_j))        (f32)
//   A_j  = -kk_j (sign flip), Bv_j = kk_j * a_j
//   sa_i = sum over key groups q = 0..N/4-1, in order, of the mat4x4*vec4 term
//          p_q = ((S[i][4q]*A[4q] + S[i][4q+1]*A[4q+1]) + S[i][4q+2]*A[4q+2]) + S[i][4q+3]*A[4q+3];
//          sa = ((0 + p_0) + p_1) + ...                    (old state)
//   S[i][j] = ((S[i][j]*w_j) + (k_j*v_i)) + (sa_i*Bv_j)     for j = 0..N-1, unfused
//   y_i  = ((0 + r_0*S[i][0]) + r_1*S[i][1]) + ...         (new state, j ascending)
// Every value channel i is independent given its head's per-token vectors, so
// SIMD lanes and threads split value channels and heads, never a sum.
#include <cstdint>
#include <span>

#include "reference/kernels/batch.h"
#include "reference/tensor.h"

namespace rwkv {

// web-rwkv's shader literal (also rwkv_v7_demo_rnn.py, older llama.cpp):
// 0.606531 rounds to the f32 0.606531024 (0x1.368b3cp-1).
inline constexpr float kDecayWebRwkv = 0.606531f;
// e^-0.5 rounded to f32, 0.606530666 (0x1.368b3p-1), 6 ulp below the literal:
// the profile of rwkv_v7_numpy.py, which computes sigmoid(z)/sqrt(e) exactly.
inline constexpr float kDecayExact = 0.60653066f;

struct TimeMixParams {
  // w = exp(-decay * sigmoid(z)).
  float decay = kDecayWebRwkv;
};

// Head sizes the web-rwkv shader supports: N a multiple of 4 with N/4 dividing
// its workgroup of 32 threads, so N in {4, 8, 16, 32, 64, 128}.
bool time_mix_head_size_supported(int64_t head_size);

// The WKV recurrence over all T = cursors.size() stacked tokens, in order.
//   state    one layer, web-rwkv layout f32 [C, N+2, B] (reference/kernels/batch.h);
//            rows 0..N of slot cursors[t].batch are read and written
//   r        [C, T] receptance
//   w        [C, T] the raw decay pre-activation z (web-rwkv stores z, not w)
//   n        [C, T, 4] = stack(k, v, a, kk): k (k_a-corrected), v, a in (0, 1),
//            kk (L2-normalised per head)
//   x        [C, T] in: xa (the token-shift source); out: y
//   cursors  one per token (reference/kernels/batch.h)
// r, w, n and x share one activation dtype (f16 or f32); arithmetic is f32 and
// y is rounded to that dtype on store. For token t (stack index):
//   1. if t is the last token of its chunk, state row 0 of its slot <- x[t] (xa);
//   2. w, A = -kk, Bv = kk*a for the token's head vectors;
//   3. sa from the old state; 4. S update and y (orders above); 5. x[t] <- y.
// Throws std::invalid_argument naming the argument on bad shapes, dtypes,
// head size or cursors. NaN/Inf inputs propagate within their head and slot.
void time_mix_v7(const LayerState& state, const TensorView& r, const TensorView& w, const TensorView& n,
                 const TensorView& x, std::span<const Cursor> cursors, int64_t head_size,
                 const TimeMixParams& params = {});

// x_i += xx * v_i for every token, where per head and token
//   shared[q] = (r_k[q] * k[q]) * r[q]      vec4 over the head's N/4 "threads" q
//   for step = N/8, N/16, ..., 1: shared[q] += shared[q + step] for q < step
//                                 (the shader's unguarded tree read in lockstep)
//   xx = ((shared[0].x + shared[0].y) + shared[0].z) + shared[0].w
// i.e. each vec4 component is reduced by the tree, then the 4 components are
// added left to right (our order for WGSL's dot(v, vec4(1))).
//   r_k  f16 [C] (or [N, H]): the weight, broadcast over tokens
//   r    [C, T];  n [C, T, 4] as for time_mix_v7 (k = plane 0, v = plane 1)
//   x    [C, T] in: group_norm output; out: with the bonus added, rounded to its dtype
// r, n and x share one activation dtype. Tokens are independent.
void time_first_v7(const TensorView& r_k, const TensorView& r, const TensorView& n, const TensorView& x,
                   int64_t head_size);

}  // namespace rwkv
