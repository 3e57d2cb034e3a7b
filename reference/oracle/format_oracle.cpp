#include "reference/oracle/format_oracle.h"

#include "reference/formats/blocks.h"

namespace rwkv::oracle {
namespace {

double half_at(const uint8_t* p) { return f16_bits_to_f32(uint16_t(p[0] | p[1] << 8)); }

// Element e (0..255) of a 144-byte Q4_K block.
double q4_k_value(const uint8_t* blk, int e) {
  const int j = e / 32;  // sub-block: scale/min pair j; 64-element groups hold two sub-blocks
  const uint8_t byte = blk[16 + 32 * (e / 64) + e % 32];
  const int q = (j % 2) ? byte >> 4 : byte & 15;
  uint8_t sc, m;
  blocks::q4k_scale_min(j, blk + 4, &sc, &m);
  return half_at(blk) * sc * q - half_at(blk + 2) * m;
}

// Element e (0..255) of a 210-byte Q6_K block: ql[128], qh[64], int8 scales[16], f16 d.
double q6_k_value(const uint8_t* blk, int e) {
  const int n = e / 128, r = e % 128, l = r % 32, quarter = r / 32;  // elements l, l+32, l+64, l+96 of half n
  const uint8_t* ql = blk + 64 * n;
  const uint8_t* qh = blk + 128 + 32 * n;
  const uint8_t low = quarter % 2 ? ql[l + 32] : ql[l];
  const int nibble = quarter < 2 ? low & 15 : low >> 4;
  const int high = (qh[l] >> (2 * quarter)) & 3;
  const int q = (nibble | high << 4) - 32;
  const auto sc = static_cast<int8_t>(blk[192 + e / 16]);
  return half_at(blk + 208) * sc * q;
}

}  // namespace

std::vector<double> dequantize_f64(const Matrix& w) {
  blocks::validate_matrix(w, "oracle::dequantize_f64");
  const int64_t K = w.K, M = w.M;
  std::vector<double> out(size_t(K * M));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t e = m * K + k;  // memory order: web-rwkv's blocks run across rows
      double v = 0;
      switch (w.format) {
        case WeightFormat::fp16: v = to_f32(w.fp16_row(m)[k]); break;
        case WeightFormat::q4_k:
          v = q4_k_value(w.data + m * blocks::ggml_row_bytes(w.format, K) + k / 256 * blocks::kQ4KBytes, int(k % 256));
          break;
        case WeightFormat::q6_k:
          v = q6_k_value(w.data + m * blocks::ggml_row_bytes(w.format, K) + k / 256 * blocks::kQ6KBytes, int(k % 256));
          break;
        case WeightFormat::q8_0: {
          const uint8_t* blk = w.data + m * blocks::ggml_row_bytes(w.format, K) + k / 32 * blocks::kQ8_0Bytes;
          v = half_at(blk) * static_cast<int8_t>(blk[2 + k % 32]);
          break;
        }
        case WeightFormat::int8: {
          const double mn = to_f32(w.meta[2 * (e / blocks::kInt8Block)]);
          const double mx = to_f32(w.meta[2 * (e / blocks::kInt8Block) + 1]);
          v = double(w.data[e]) * (mx - mn) / 255.0 + mn;
          break;
        }
        case WeightFormat::nf4:
        case WeightFormat::sf4: {
          const float* table = w.format == WeightFormat::nf4 ? blocks::nf4_table() : blocks::sf4_table();
          const int q = (w.data[e / 2] >> (4 * (e & 1))) & 15;
          v = double(table[q]) * to_f32(w.meta[e / blocks::kNf4Block]);
          break;
        }
      }
      out[size_t(e)] = v;
    }
  return out;
}

}  // namespace rwkv::oracle
