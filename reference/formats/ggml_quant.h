#pragma once
// Encoders of the ggml block formats. Each reproduces llama.cpp's reference
// quantiser (ggml-quants.c, no importance matrix) byte for byte, as checked
// against ../shared/vectors (tests/formats_ggml_test.cpp):
//   quantize_row_q4_k  quantize_row_q4_K_ref  (make_qkx2_quants fit, 6-bit scales/mins)
//   quantize_row_q6_k  quantize_row_q6_K_ref  (make_qx_quants rmse_type 1, signed int8 scales)
//   quantize_row_q8_0  quantize_row_q8_0_ref  (amax/127, roundf)
// A row of k values becomes k/256 (k/32 for Q8_0) consecutive blocks, each
// quantised independently. Layouts are in blocks.h; decoders are there too.
//
// NaN and Inf in x are not errors. Q8_0 defines what they give (see
// q8_0_quant.cpp). The K-quants run llama.cpp's arithmetic unchanged: the
// result is deterministic, but it is whatever those comparisons and
// nearest_int's bit trick make of a NaN, and a NaN scale stored in a block
// carries the platform's default-NaN sign. Blocks are independent: a NaN
// never reaches another block.
#include <cstdint>

namespace rwkv {

// k must be a non-negative multiple of 256; out receives k/256 * 144 bytes.
void quantize_row_q4_k(const float* x, int64_t k, uint8_t* out);
// k must be a non-negative multiple of 256; out receives k/256 * 210 bytes.
void quantize_row_q6_k(const float* x, int64_t k, uint8_t* out);
// k must be a non-negative multiple of 32; out receives k/32 * 34 bytes.
void quantize_row_q8_0(const float* x, int64_t k, uint8_t* out);

}  // namespace rwkv
