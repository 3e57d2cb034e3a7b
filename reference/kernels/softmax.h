#pragma once
// softmax over each column of logits, mirroring web-rwkv's softmax.wgsl (a
// separate job after the head; spec 3.9). Canonical order in softmax.simd.cpp.
#include "reference/tensor.h"

namespace rwkv {

// out[:, t, b] = softmax(x[:, t, b]) for x f32 [V, T, B], V a multiple of 4
// (web-rwkv pads the vocabulary to a multiple of 8; padded logits take part).
// out is f32 of x's shape and may be x itself (in place).
//
// NaN and Inf: a NaN anywhere in a column makes the whole column NaN (the max
// may or may not keep the NaN, see lane_max, but exp(NaN - max) = NaN enters
// the sum, and every output is divided by it). A +Inf makes the max +Inf and
// exp(Inf - Inf) = NaN: the column is NaN. -Inf logits give probability 0;
// a column whose logits are all -Inf, or all below -1e30 (the shader's initial
// max), sums to 0 and gives 0/0 = NaN. None of this throws.
void softmax(const TensorView& x, const TensorView& out);
inline void softmax(const TensorView& x) { softmax(x, x); }

}  // namespace rwkv
