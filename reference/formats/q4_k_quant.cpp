// Q4_K encoder: llama.cpp's quantize_row_q4_K_ref (no importance matrix),
// byte for byte (../shared/spec/quant-formats.md sections 2.1, 2.4, 2.5).
//
// Every sum is f32 and runs sequentially over i, and every product is
// evaluated left to right as written in ggml-quants.c (w*l*x is (w*l)*x): the
// fit compares accumulated errors, so one reassociated or fused operation
// can flip a choice and change the bytes. -ffp-contract=off keeps the
// compiler from fusing.
#include <cmath>

#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/formats/ggml_rounding.h"
#include "reference/formats/quant_args.h"

namespace rwkv {

namespace {

constexpr int kSubBlock = 32;
constexpr int kSubBlocks = blocks::kQK_K / kSubBlock;  // 8

// ggml's make_qkx2_quants: weighted least-squares affine fit x ~ scale*L + min
// with L in 0..nmax, searched over nstep+1 trial inverse scales
// (rmin + rdelta*is + nmax)/(max - min). Returns scale; *the_min = -min >= 0.
// L receives the chosen codes (left as found when the fit is degenerate).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {  // constant sub-block (or all >= 0 with max 0): codes 0, scale 0
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = ggml::nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(l < 0 ? 0 : (l > nmax ? nmax : l));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = ggml::nearest_int(iscale * (x[i] - min));
      l = l < 0 ? 0 : (l > nmax ? nmax : l);
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      const float fl = float(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {  // strictly better only
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// 6-bit code as ggml forms it: nearest_int stored to uint8_t (modulo 256),
// then MIN(63, .). Only a negative fit (never seen in practice) would wrap.
uint8_t six_bit_code(float v) {
  const uint8_t l = static_cast<uint8_t>(ggml::nearest_int(v));
  return l < 63 ? l : 63;
}

void quantize_block_q4_k(const float* x, uint8_t* out) {
  uint8_t L[blocks::kQK_K];
  uint8_t Laux[kSubBlock];
  float weights[kSubBlock];
  float mins[kSubBlocks];
  float scales[kSubBlocks];

  // 1. Fit each 32-value sub-block with weights av_x + |x|.
  float max_scale = 0;  // scales and mins are >= 0 (the min is subtracted)
  float max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xs = x + kSubBlock * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSubBlock; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < kSubBlock; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(kSubBlock, 15, xs, weights, L + kSubBlock * j, &mins[j], Laux, -1.0f, 0.1f, 20,
                                 false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }

  // 2. Quantise the scales and mins to 6 bits and pack them (spec 2.1).
  uint8_t* packed = out + 4;
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < kSubBlocks; ++j) {
    const uint8_t ls = six_bit_code(inv_scale * scales[j]);
    const uint8_t lm = six_bit_code(inv_min * mins[j]);
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {  // low nibbles share byte j+4; top two bits go to bits 6-7 of bytes j-4 and j
      packed[j + 4] = uint8_t((ls & 0x0f) | ((lm & 0x0f) << 4));
      packed[j - 4] = uint8_t(packed[j - 4] | ((ls >> 4) << 6));
      packed[j] = uint8_t(packed[j] | ((lm >> 4) << 6));
    }
  }
  const uint16_t d_bits = f32_to_f16_bits(max_scale / 63.0f);
  const uint16_t dmin_bits = f32_to_f16_bits(max_min / 63.0f);
  out[0] = uint8_t(d_bits & 0xff);
  out[1] = uint8_t(d_bits >> 8);
  out[2] = uint8_t(dmin_bits & 0xff);
  out[3] = uint8_t(dmin_bits >> 8);

  // 3. Requantise with the stored (rounded) scales: a true division, not a
  //    multiplication by a reciprocal. A sub-block whose scale is 0 keeps the
  //    codes the fit left (they decode to -M whatever they are).
  const float d16 = f16_bits_to_f32(d_bits);
  const float dmin16 = f16_bits_to_f32(dmin_bits);
  for (int j = 0; j < kSubBlocks; ++j) {
    uint8_t sc, m;
    blocks::q4k_scale_min(j, packed, &sc, &m);
    const float d = d16 * float(sc);
    if (d == 0.0f) continue;
    const float dm = dmin16 * float(m);
    for (int i = 0; i < kSubBlock; ++i) {
      const int l = ggml::nearest_int((x[kSubBlock * j + i] + dm) / d);
      L[kSubBlock * j + i] = uint8_t(l < 0 ? 0 : (l > 15 ? 15 : l));
    }
  }

  // 4. Pack nibbles: group g's byte l holds element 64g+l (low) and 64g+32+l (high).
  uint8_t* qs = out + 16;
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) qs[32 * g + l] = uint8_t(L[64 * g + l] | (L[64 * g + 32 + l] << 4));
}

}  // namespace

void quantize_row_q4_k(const float* x, int64_t k, uint8_t* out) {
  require_block_multiple("quantize_row_q4_k", "Q4_K", k, blocks::kQK_K);
  for (int64_t b = 0; b < k / blocks::kQK_K; ++b) quantize_block_q4_k(x + b * blocks::kQK_K, out + b * blocks::kQ4KBytes);
}

}  // namespace rwkv
