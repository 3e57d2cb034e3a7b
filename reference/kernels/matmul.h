#pragma once
// Matrix-vector and matrix-matrix products with a fused activation, for every
// weight format (reference/formats/matrix.h): y = act(W x), web-rwkv's
// matmul_vec_* and matmul_mat_* (../shared/spec/rwkv7-forward.md §3.5, §3.6).
//
//   w  [K, M]  Matrix (fp16, q4_k, q6_k, q8_0, int8, nf4, sf4); K % 4 == 0
//   x  [K, T]  activations, f16 or f32 (K contiguous per token)
//   y  [M, T]  outputs, f16 or f32; must not overlap x
//
// Arithmetic is f32 on the dequantised weights (blocks.h: the value each
// format's decoder gives); y is rounded to its dtype once, after the
// activation. M may be any positive count (web-rwkv needs M % 4 == 0: the last
// workgroup here simply has fewer rows; a row's bits never depend on the rows
// computed beside it). The canonical summation orders are written beside the
// code (matmul_vec.simd.cpp, matmul_mat.simd.cpp) and in the kernel catalog.
#include "reference/formats/matrix.h"
#include "reference/kernels/activation.h"
#include "reference/tensor.h"

namespace rwkv {

// One workgroup of 128 threads per (4 output rows, token); thread partials
// reduced by a tree. sparse_input: a vec4 column of K is skipped when its four
// inputs are all exactly zero (+0 or -0), as web-rwkv's SPARSE_INPUT does.
void matmul_vec(const Matrix& w, const TensorView& x, const TensorView& y, Activation act,
                bool sparse_input = false);

// matmul_vec's single-token fast path (AVX-512, q4_k and q6_k: weights decoded
// straight into lane registers; matmul_vec.simd.cpp) on or off. It gives the
// same bits as the lane loop, so this only moves speed: tests compare the two.
// Default on; the environment variable RWKV_ORACLE_MATMUL_FAST=0 turns it off
// at start-up (A/B timing: RWKV_ORACLE_MATMUL_FAST=0 rwkv-oracle bench). Not thread-safe against
// concurrent matmuls (set it between them).
void set_matmul_vec_fast_path(bool on);
bool matmul_vec_fast_path();

// Per output a sequential K sum in 4-element pieces (no cross-thread tree).
void matmul_mat(const Matrix& w, const TensorView& x, const TensorView& y, Activation act);

// web-rwkv's path choice: matmul_mat iff T % 32 == 0, else matmul_vec (the
// sparse flag only matters on the vec path, as in web-rwkv).
void matmul(const Matrix& w, const TensorView& x, const TensorView& y, Activation act,
            bool sparse_input = false);

}  // namespace rwkv
