// Q6_K encoder: llama.cpp's quantize_row_q6_K_ref (no importance matrix),
// byte for byte (../shared/spec/quant-formats.md section 3).
//
// As for Q4_K, sums are sequential f32 and products left to right as written
// in ggml-quants.c (w*x*l is (w*x)*l), never fused.
#include <cmath>
#include <cstring>

#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/formats/ggml_rounding.h"
#include "reference/formats/quant_args.h"

namespace rwkv {

namespace {

constexpr int kSubBlock = 16;
constexpr int kSubBlocks = blocks::kQK_K / kSubBlock;  // 16
constexpr float kGroupMaxEps = 1e-15f;                 // ggml's GROUP_MAX_EPS

// ggml's make_qx_quants with rmse_type 1 and no importance weights (w = x*x):
// a symmetric fit x ~ scale*l, l in -nmax..nmax-1, stored as L = l + nmax.
// The first trial scale is -nmax/max with max the signed value of largest |x|
// (the first one on equal magnitudes), so the extreme value maps to -nmax;
// then 18 more trials -(nmax + 0.1*is)/max, is = -9..9 except 0, keep the one
// maximising (sum w*x*l)^2 / sum w*l^2. Returns sum w*x*l / sum w*l^2.
float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {  // all (nearly) zero
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto clamp_code = [nmax](int l) { return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l); };
  float iscale = float(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_code(ggml::nearest_int(iscale * x[i]));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_code(ggml::nearest_int(iscale * x[i]));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * float(l);
      suml2 += w * float(l) * float(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clamp_code(ggml::nearest_int(iscale * x[i])));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quantize_block_q6_k(const float* x, uint8_t* out) {
  int8_t L[blocks::kQK_K];
  float scales[kSubBlocks];

  // 1. Fit each 16-value sub-block; keep the signed scale of largest magnitude.
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < kSubBlocks; ++ib) {
    const float scale = make_qx_quants_rmse1(kSubBlock, 32, x + kSubBlock * ib, L + kSubBlock * ib);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }

  uint8_t* ql = out;
  uint8_t* qh = out + 128;
  int8_t* sc = reinterpret_cast<int8_t*>(out + 192);
  if (max_abs_scale < kGroupMaxEps) {  // a (nearly) zero block is written as zeros
    std::memset(out, 0, blocks::kQ6KBytes);
    return;
  }

  // 2. int8 scales: iscale = -128/max_scale, so the largest maps to -128 and
  //    d = 1/iscale carries the opposite sign of max_scale.
  const float iscale = -128.0f / max_scale;
  const uint16_t d_bits = f32_to_f16_bits(1 / iscale);
  out[208] = uint8_t(d_bits & 0xff);
  out[209] = uint8_t(d_bits >> 8);
  for (int ib = 0; ib < kSubBlocks; ++ib) {
    const int l = ggml::nearest_int(iscale * scales[ib]);
    sc[ib] = static_cast<int8_t>(l < 127 ? l : 127);  // int -> int8 wraps modulo 256 (C++20), as gcc's C does
  }

  // 3. Requantise with the stored scales (true division). A sub-block whose
  //    scale is 0 keeps the fit's codes.
  const float d16 = f16_bits_to_f32(d_bits);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = d16 * float(sc[j]);
    if (d == 0.0f) continue;
    for (int i = 0; i < kSubBlock; ++i) {
      int l = ggml::nearest_int(x[kSubBlock * j + i] / d);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      L[kSubBlock * j + i] = static_cast<int8_t>(l + 32);
    }
  }

  // 4. Pack: per 128-value half, ql[l] = elements l | l+64 (low | high nibble),
  //    ql[l+32] = l+32 | l+96, qh[l] = the top two bits of l, l+32, l+64, l+96.
  for (int half = 0; half < 2; ++half) {
    const int8_t* Lh = L + 128 * half;
    uint8_t* qlh = ql + 64 * half;
    uint8_t* qhh = qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      qlh[l] = uint8_t((q1 & 0x0f) | ((q3 & 0x0f) << 4));
      qlh[l + 32] = uint8_t((q2 & 0x0f) | ((q4 & 0x0f) << 4));
      qhh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace

void quantize_row_q6_k(const float* x, int64_t k, uint8_t* out) {
  require_block_multiple("quantize_row_q6_k", "Q6_K", k, blocks::kQK_K);
  for (int64_t b = 0; b < k / blocks::kQK_K; ++b) quantize_block_q6_k(x + b * blocks::kQK_K, out + b * blocks::kQ6KBytes);
}

}  // namespace rwkv
