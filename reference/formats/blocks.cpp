#include "reference/formats/blocks.h"
#include "reference/numeric/f16_array.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace rwkv {

std::string_view format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp16: return "fp16";
    case WeightFormat::q4_k: return "q4_k";
    case WeightFormat::q6_k: return "q6_k";
    case WeightFormat::q8_0: return "q8_0";
    case WeightFormat::int8: return "int8";
    case WeightFormat::nf4: return "nf4";
    case WeightFormat::sf4: return "sf4";
  }
  return "?";
}

WeightFormat parse_format(std::string_view s) {
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k, WeightFormat::q8_0,
                         WeightFormat::int8, WeightFormat::nf4, WeightFormat::sf4})
    if (s == format_name(f)) return f;
  throw std::invalid_argument(
      fmt::format("unknown weight format '{}': expected one of fp16, q4_k, q6_k, q8_0, int8, nf4, sf4", s));
}

}  // namespace rwkv

namespace rwkv::blocks {

void dequantize_q4_k_block(const uint8_t* b, float* y) {
  const float d = f16_bits_to_f32(uint16_t(b[0] | b[1] << 8));
  const float dmin = f16_bits_to_f32(uint16_t(b[2] | b[3] << 8));
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int g = 0; g < 4; ++g) {
    uint8_t sc, m;
    q4k_scale_min(2 * g, scales, &sc, &m);
    const float d1 = d * float(sc), m1 = dmin * float(m);
    q4k_scale_min(2 * g + 1, scales, &sc, &m);
    const float d2 = d * float(sc), m2 = dmin * float(m);
    for (int l = 0; l < 32; ++l) y[64 * g + l] = d1 * float(q[32 * g + l] & 0x0f) - m1;
    for (int l = 0; l < 32; ++l) y[64 * g + 32 + l] = d2 * float(q[32 * g + l] >> 4) - m2;
  }
}

void dequantize_q6_k_block(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16_bits_to_f32(uint16_t(b[208] | b[209] << 8));
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
      const int q2 = int((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
      const int q3 = int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
      const int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

void dequantize_q8_0_block(const uint8_t* b, float* y) {
  const float d = f16_bits_to_f32(uint16_t(b[0] | b[1] << 8));
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < kQ8_0Values; ++j) y[j] = float(qs[j]) * d;
}

const float* nf4_table() {
  // The QLoRA NormalFloat4 levels, as web-rwkv's Matrix::quant_nf4 uploads them.
  static const float t[16] = {-1.0f,
                              -0.6961928009986877f,
                              -0.5250730514526367f,
                              -0.39491748809814453f,
                              -0.28444138169288635f,
                              -0.18477343022823334f,
                              -0.09105003625154495f,
                              0.0f,
                              0.07958029955625534f,
                              0.16093020141124725f,
                              0.24611230194568634f,
                              0.33791524171829224f,
                              0.44070982933044434f,
                              0.5626170039176941f,
                              0.7229568362236023f,
                              1.0f};
  return t;
}

int64_t ggml_row_bytes(WeightFormat f, int64_t K) {
  switch (f) {
    case WeightFormat::q4_k: return K / kQK_K * kQ4KBytes;
    case WeightFormat::q6_k: return K / kQK_K * kQ6KBytes;
    case WeightFormat::q8_0: return K / kQ8_0Values * kQ8_0Bytes;
    default: return 0;
  }
}

void validate_matrix(const Matrix& w, const char* what) {
  const std::string fmt_name(format_name(w.format));
  if (w.K <= 0 || w.M <= 0) throw std::invalid_argument(fmt::format("{}: K = {} and M = {} must be positive", what, w.K, w.M));
  auto need_bytes = [&](size_t want) {
    if (w.data == nullptr || w.data_bytes != want)
      throw std::invalid_argument(fmt::format("{} ({}, K = {}, M = {}): data holds {} bytes, expected {}", what,
                                              fmt_name, w.K, w.M, w.data ? w.data_bytes : 0, want));
  };
  auto need_meta = [&](size_t want) {
    if (w.meta == nullptr || w.meta_count != want)
      throw std::invalid_argument(fmt::format("{} ({}, K = {}, M = {}): meta holds {} f16 values, expected {}",
                                              what, fmt_name, w.K, w.M, w.meta ? w.meta_count : 0, want));
  };
  const size_t n = size_t(w.K) * size_t(w.M);
  switch (w.format) {
    case WeightFormat::fp16: need_bytes(n * 2); break;
    case WeightFormat::q4_k:
    case WeightFormat::q6_k:
      if (w.K % kQK_K) throw std::invalid_argument(fmt::format("{} ({}): K = {} is not a multiple of 256", what, fmt_name, w.K));
      need_bytes(size_t(ggml_row_bytes(w.format, w.K)) * size_t(w.M));
      break;
    case WeightFormat::q8_0:
      if (w.K % kQ8_0Values) throw std::invalid_argument(fmt::format("{} (q8_0): K = {} is not a multiple of 32", what, w.K));
      need_bytes(size_t(ggml_row_bytes(w.format, w.K)) * size_t(w.M));
      break;
    case WeightFormat::int8:
      need_bytes(n);
      need_meta(2 * ((n + kInt8Block - 1) / kInt8Block));
      break;
    case WeightFormat::nf4:
    case WeightFormat::sf4:
      if (w.K % 8) throw std::invalid_argument(fmt::format("{} ({}): K = {} is not a multiple of 8", what, fmt_name, w.K));
      need_bytes(n / 2);
      need_meta((n + kNf4Block - 1) / kNf4Block);
      break;
  }
}

void dequantize_row(const Matrix& w, int64_t m, float* out) {
  const int64_t K = w.K;
  switch (w.format) {
    case WeightFormat::fp16:
      f16_to_f32_array(w.fp16_row(m), out, K);  // exact, vectorised
      return;
    case WeightFormat::q4_k:
    case WeightFormat::q6_k:
    case WeightFormat::q8_0: {
      const uint8_t* row = w.data + m * ggml_row_bytes(w.format, K);
      if (w.format == WeightFormat::q8_0) {
        for (int64_t b = 0; b < K / kQ8_0Values; ++b) dequantize_q8_0_block(row + b * kQ8_0Bytes, out + b * kQ8_0Values);
      } else {
        const int bytes = w.format == WeightFormat::q4_k ? kQ4KBytes : kQ6KBytes;
        for (int64_t b = 0; b < K / kQK_K; ++b) {
          if (w.format == WeightFormat::q4_k) dequantize_q4_k_block(row + b * bytes, out + b * kQK_K);
          else dequantize_q6_k_block(row + b * bytes, out + b * kQK_K);
        }
      }
      return;
    }
    case WeightFormat::int8: {
      for (int64_t k = 0; k < K; ++k) {
        const int64_t e = m * K + k;
        const int64_t blk = e / kInt8Block;
        out[k] = int8_value(w.data[e], to_f32(w.meta[2 * blk]), to_f32(w.meta[2 * blk + 1]));
      }
      return;
    }
    case WeightFormat::nf4:
    case WeightFormat::sf4: {
      const float* table = w.format == WeightFormat::nf4 ? nf4_table() : sf4_table();
      for (int64_t k = 0; k < K; ++k) {
        const int64_t e = m * K + k;
        const uint8_t q = uint8_t((w.data[e / 2] >> (4 * (e & 1))) & 15);
        out[k] = fp4_value(table, q, to_f32(w.meta[e / kNf4Block]));
      }
      return;
    }
  }
}

Matrix owned_matrix(WeightFormat format, int64_t K, int64_t M, std::shared_ptr<MatrixStorage> storage,
                    const char* what) {
  Matrix w;
  w.format = format;
  w.K = K;
  w.M = M;
  w.data = storage->data.data();
  w.data_bytes = storage->data.size();
  w.meta = storage->meta.empty() ? nullptr : storage->meta.data();
  w.meta_count = storage->meta.size();
  w.owner = std::move(storage);
  validate_matrix(w, what);
  return w;
}

void dequantize_matrix(const Matrix& w, float* out) {
  validate_matrix(w);
  for (int64_t m = 0; m < w.M; ++m) dequantize_row(w, m, out + m * w.K);
}

}  // namespace rwkv::blocks
