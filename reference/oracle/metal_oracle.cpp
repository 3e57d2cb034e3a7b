#include "reference/oracle/metal_oracle.h"

#include <cmath>
#include <vector>

#include "reference/formats/blocks.h"

namespace rwkv::oracle {

float metal_q4k_weight_operand(const Matrix& w, int64_t m, int64_t k, metal::HighNibbleScale hn) {
  const uint8_t* blk =
      w.data + m * blocks::ggml_row_bytes(w.format, w.K) + (k / blocks::kQK_K) * blocks::kQ4KBytes;
  const int e = int(k % blocks::kQK_K);
  const int j = e / 32;                    // sub-block
  const bool high = (e % 64) >= 32;        // sub-blocks 1, 3, 5, 7 are the high nibbles
  const uint8_t byte = blk[16 + 32 * (e / 64) + e % 32];
  const int q = high ? byte >> 4 : byte & 15;
  uint8_t sc, mn;
  blocks::q4k_scale_min(j, blk + 4, &sc, &mn);
  const double d = f16_bits_to_f32(uint16_t(blk[0] | blk[1] << 8));
  const double dmin = f16_bits_to_f32(uint16_t(blk[2] | blk[3] << 8));
  // Metal computes (d_eff*sc)*(16q) for a high nibble; (d/16)*16 = d keeps the plain formula.
  double d_scaled = d;
  if (high && hn == metal::HighNibbleScale::half_divide) d_scaled = double(round_to_f16(float(d / 16.0))) * 16.0;
  const double v = d_scaled * sc * q - dmin * mn;  // both products exact in double
  return round_to_f16(float(v));
}

void mma_f64(const metal::Half8x8& A, const metal::Half8x8& B, const double* C, double* D) {
  double out[64];
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) {
      double s = C[8 * r + c];
      for (int k = 0; k < 8; ++k) s += double(A.at(r, k)) * double(B.at(k, c));
      out[8 * r + c] = s;
    }
  for (int i = 0; i < 64; ++i) D[i] = out[i];
}

namespace {

template <class WeightOf>
void dense_f64(const Matrix& w, const float* x, int64_t T, WeightOf weight_row, bool round_x, double* y,
               double* y_abs) {
  std::vector<double> wr(size_t(w.K));
  for (int64_t m = 0; m < w.M; ++m) {
    weight_row(m, wr.data());
    for (int64_t t = 0; t < T; ++t) {
      double s = 0.0, a = 0.0;
      for (int64_t k = 0; k < w.K; ++k) {
        const float xv = x[t * w.K + k];
        const double xo = round_x ? double(round_to_f16(xv)) : double(xv);
        const double p = wr[size_t(k)] * xo;
        s += p;
        a += std::fabs(p);
      }
      y[t * w.M + m] = s;
      if (y_abs) y_abs[t * w.M + m] = a;
    }
  }
}

}  // namespace

void metal_q4k_mul_mm_f64(const Matrix& w, const float* x, int64_t T, metal::HighNibbleScale hn, double* y,
                          double* y_abs) {
  blocks::validate_matrix(w, "oracle::metal_q4k_mul_mm_f64");
  dense_f64(
      w, x, T,
      [&](int64_t m, double* out) {
        for (int64_t k = 0; k < w.K; ++k) out[k] = metal_q4k_weight_operand(w, m, k, hn);
      },
      true, y, y_abs);
}

void q4k_mul_f64(const Matrix& w, const float* x, int64_t T, double* y, double* y_abs) {
  blocks::validate_matrix(w, "oracle::q4k_mul_f64");
  std::vector<float> row(size_t(w.K));
  dense_f64(
      w, x, T,
      [&](int64_t m, double* out) {
        blocks::dequantize_row(w, m, row.data());
        for (int64_t k = 0; k < w.K; ++k) out[k] = row[size_t(k)];
      },
      false, y, y_abs);
}

}  // namespace rwkv::oracle
