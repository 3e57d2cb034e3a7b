#pragma once
// Block layouts and decoders of the weight formats (../shared/spec/quant-formats.md).
// Decoding here is the reference dequantisation: for the ggml formats it
// reproduces llama.cpp's dequantize_row_* bit for bit (signed zeros included);
// for web-rwkv's formats it fixes one canonical order (documented per function).
// The quantisers live beside these (ggml_quant.h, webrwkv_quant.h, quantize_matrix.h).
#include <cstdint>
#include <memory>
#include <vector>

#include "reference/formats/matrix.h"

namespace rwkv::blocks {

constexpr int kQK_K = 256;
constexpr int kQ4KBytes = 144;  // d, dmin (f16), scales[12], qs[128]
constexpr int kQ6KBytes = 210;  // ql[128], qh[64], int8 scales[16], d (f16)
constexpr int kQ8_0Bytes = 34;  // d (f16), int8 qs[32]
constexpr int kQ8_0Values = 32;
constexpr int kInt8Block = 128;  // web-rwkv Int8: values per (min, max) pair
constexpr int kNf4Block = 64;    // web-rwkv NF4/SF4: values per absmax

// Q4_K's packed 6-bit scale and min of sub-block j (0..7); ggml get_scale_min_k4.
inline void q4k_scale_min(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = uint8_t((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
    *m = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Decoders of one block into f32, in element order.
// Q4_K: x = D_j*q - M_j, D_j = f32(d)*sc_j, M_j = f32(dmin)*m_j (each rounded once).
void dequantize_q4_k_block(const uint8_t* block, float* out256);
// Q6_K: x = (f32(d)*sc)*(q - 32), left to right.
void dequantize_q6_k_block(const uint8_t* block, float* out256);
// Q8_0: x = q*f32(d).
void dequantize_q8_0_block(const uint8_t* block, float* out32);

// web-rwkv Int8: v = q/255 (correctly rounded division, = unpack4x8unorm), then
// x = v*(max - min) + min, unfused (GPUs fuse the last step: <= 1 ulp apart).
inline float int8_value(uint8_t q, float mn, float mx) {
  const float v = float(q) / 255.0f;
  return v * (mx - mn) + mn;
}
// NF4 and SF4 tables (f32, as web-rwkv uploads them).
const float* nf4_table();
const float* sf4_table();
// x = table[q] * f32(absmax)
inline float fp4_value(const float* table, uint8_t q, float absmax) { return table[q & 15] * absmax; }

// Bytes of one output row for the ggml formats (rows are whole blocks).
int64_t ggml_row_bytes(WeightFormat f, int64_t K);

// Decodes the whole matrix into f32, row after row ([M][K]). Works for every
// format (web-rwkv's blocks may cross rows; ggml rows are whole blocks).
// Throws std::invalid_argument naming the field if sizes do not match K and M.
void dequantize_matrix(const Matrix& w, float* out);
// Decodes one row m into out[K].
void dequantize_row(const Matrix& w, int64_t m, float* out);
// The bytes and metadata of a Matrix that owns them.
struct MatrixStorage {
  std::vector<uint8_t> data;
  std::vector<f16> meta;  // empty for formats without metadata
};
// A Matrix of `format` and shape [K, M] viewing `storage` and keeping it alive,
// validated (validate_matrix, naming `what` in the error).
Matrix owned_matrix(WeightFormat format, int64_t K, int64_t M, std::shared_ptr<MatrixStorage> storage,
                    const char* what);

// Checks that data_bytes and meta_count fit the format, K and M; throws
// std::invalid_argument naming what was expected otherwise.
void validate_matrix(const Matrix& w, const char* what = "matrix");

}  // namespace rwkv::blocks
