#pragma once
// Builds a Matrix (matrix.h) in any weight format from f32 weights w[M][K]
// (row m = output m, K input-ordered values). The returned Matrix owns its
// bytes through `owner`.
//   fp16            every value rounded to f16 (nearest, ties to even)
//   q4_k/q6_k/q8_0  each row quantised by quantize_row_* (ggml_quant.h);
//                   K must be a multiple of 256 (q4_k, q6_k) or 32 (q8_0)
//   int8/nf4/sf4    values rounded to f16 first (web-rwkv quantises f16
//                   weights), then quantised over the whole matrix in memory
//                   order (webrwkv_quant.h); nf4/sf4 need K % 8 == 0
// Throws std::invalid_argument naming the format and what was expected for a
// bad K or M.
#include <cstdint>

#include "reference/formats/matrix.h"

namespace rwkv {

Matrix quantize_matrix(WeightFormat f, const float* w, int64_t K, int64_t M);

}  // namespace rwkv
