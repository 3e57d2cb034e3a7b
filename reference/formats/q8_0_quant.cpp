// Q8_0 encoder: llama.cpp's quantize_row_q8_0_ref, byte for byte, including
// what its x86-64 build makes of non-finite input:
//   - a NaN element resets the running amax (MAX(a, b) = a > b ? a : b keeps
//     the NaN for one step, then takes the next |x|), so amax covers only the
//     elements after the last NaN; a trailing NaN gives d = NaN;
//   - an Inf element makes d = Inf and 1/d = 0, so every code is 0;
//   - codes of NaN or Inf products are 0 (ggml_rounding.h, roundf_to_i8).
#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/formats/ggml_rounding.h"
#include "reference/formats/quant_args.h"

namespace rwkv {

namespace {

void quantize_block_q8_0(const float* x, uint8_t* out) {
  // amax in element order with ggml's MAX(a, b) = a > b ? a : b. A NaN element
  // therefore becomes amax only for the moment (the next comparison drops it),
  // exactly as in llama.cpp; a trailing NaN leaves d = NaN.
  float amax = 0.0f;
  for (int j = 0; j < blocks::kQ8_0Values; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  // The codes use the unrounded f32 d and its reciprocal; only the stored d is f16.
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // NaN d counts as non-zero, as in C
  const uint16_t d_bits = f32_to_f16_bits(d);
  out[0] = uint8_t(d_bits & 0xff);
  out[1] = uint8_t(d_bits >> 8);
  for (int j = 0; j < blocks::kQ8_0Values; ++j)
    out[2 + j] = static_cast<uint8_t>(ggml::roundf_to_i8(x[j] * id));
}

}  // namespace

void quantize_row_q8_0(const float* x, int64_t k, uint8_t* out) {
  require_block_multiple("quantize_row_q8_0", "Q8_0", k, blocks::kQ8_0Values);
  for (int64_t b = 0; b < k / blocks::kQ8_0Values; ++b)
    quantize_block_q8_0(x + b * blocks::kQ8_0Values, out + b * blocks::kQ8_0Bytes);
}

}  // namespace rwkv
