#pragma once
// Normalisation kernels, mirroring web-rwkv's shaders (layer_norm.wgsl with and
// without GROUP_NORM, normalize.wgsl l2_norm) thread for thread: the same
// per-thread partials, the same shared-memory tree, the same final fold. The
// canonical orders are written beside the code in norm.simd.cpp.
//
// Activations x and out are f16 or f32 (independently); arithmetic is f32;
// results are rounded to out's type on store. out may be x itself (in place, as
// web-rwkv runs them); any other overlap is an error. Weights and biases are f16.
// Bad arguments throw std::invalid_argument naming the kernel and argument.
#include <cstdint>

#include "reference/numeric/f16.h"
#include "reference/tensor.h"

namespace rwkv {

// web-rwkv v7 constants (spec section 1).
inline constexpr float kLayerNormEps = 1e-5f;  // ln0, ln1, ln2, ln_out
inline constexpr float kGroupNormEps = 64e-5f; // ln_x: 1e-5 * 8^2
inline constexpr float kL2NormEps = 1e-12f;    // kk normalisation

// Longest normalised row: the Chan merge multiplies two per-lane counts, which
// web-rwkv does in u32 and converts to f32; our f32 product equals it while it
// is exact, i.e. while each count is <= row/8 <= 4096.
inline constexpr int64_t kMaxNormRow = 32768;

// NaN and Inf: one NaN or +-Inf in a (head) row makes that whole output row NaN
// for layer_norm and group_norm (the Welford M2 becomes NaN); for l2_norm a NaN
// makes the head row NaN and an Inf gives NaN at the Inf and 0 elsewhere
// (scale = 1/sqrt(Inf) = 0). Other rows are unaffected. With f32 activations
// beyond ~1.8e19 the f32 squares overflow: M2 or the sum of squares becomes Inf,
// rstd or scale 0, so layer_norm / group_norm give y = b and l2_norm gives 0;
// and where a thread state with |mean| beyond ~1.8e19 merges an empty one (a
// row with fewer than 4*BS channels, or not a multiple of it), the merge's
// delta^2 * (n1*n2) is Inf * 0 = NaN and the whole row is NaN. That is the
// shader's formula, kept as is.
//
// LayerNorm over each row of x [C, T, B] (C a multiple of 4, <= kMaxNormRow):
//   y = ((x - mean) * rstd) * w + b,  rstd = 1/sqrt(M2/C + eps)
// with w, b f16 [C]. A workgroup of 128 threads per row (BS = 128).
void layer_norm(const TensorView& x, const TensorView& out, const f16* w, const f16* b,
                float eps = kLayerNormEps);

// GroupNorm (ln_x): x [C, T, B] viewed as [N, H, T*B] with N = head_size; each
// (head, token) row of N channels is normalised like layer_norm, with w, b f16
// [N, H] (i.e. [C]). A workgroup of 32 threads per row (BS = 32). web-rwkv
// still runs the tree strides 64 and 32, whose partners lie outside the
// workgroup (spec 3.1, [unsure, possible bug]); we read them as empty states
// (n = 0), see norm.simd.cpp.
void group_norm(const TensorView& x, const TensorView& out, const f16* w, const f16* b,
                int64_t head_size, float eps = kGroupNormEps);

// L2 normalisation per head: x [C, T, B] viewed as [N, H, T*B];
//   y = x * (1/sqrt(sum(x^2) + eps))   (web-rwkv's eps placement, spec section 8)
// A workgroup of 128 threads per (head, token) row.
void l2_norm(const TensorView& x, const TensorView& out, int64_t head_size, float eps = kL2NormEps);

}  // namespace rwkv
