#include "reference/metal/dequantize_q4k.h"

#include "reference/formats/blocks.h"

namespace rwkv::metal {

std::string_view high_nibble_scale_name(HighNibbleScale hn) {
  return hn == HighNibbleScale::half_divide ? "half_divide" : "exact";
}

void dequantize_q4k_chunk(const uint8_t* block, int il, HighNibbleScale hn, f16* out16) {
  const float d = f16_bits_to_f32(uint16_t(block[0] | block[1] << 8));
  const float dmin = f16_bits_to_f32(uint16_t(block[2] | block[3] << 8));
  const uint8_t* scales = block + 4;
  const uint8_t* q = block + 16 + (il / 4) * 32 + 16 * (il & 1);
  const int part = il & 3;  // 0, 1: low nibbles; 2, 3: high nibbles
  // get_scale_min_k4_just2(2*(il/4), part/2, scales) is get_scale_min_k4 of sub-block 2*(il/4) + part/2.
  uint8_t sc, m;
  blocks::q4k_scale_min(2 * (il / 4) + part / 2, scales, &sc, &m);
  // d/16 is exact in f32; rounding it to half is what `xb->d / 16.h` does.
  const float d_eff = part < 2 ? d : (hn == HighNibbleScale::half_divide ? round_to_f16(d / 16.0f) : d / 16.0f);
  const float dl = d_eff * float(sc);
  const float ml = dmin * float(m);
  const uint8_t mask = part < 2 ? 0x0f : 0xf0;
  for (int i = 0; i < 16; ++i) out16[i] = to_f16(dl * float(q[i] & mask) - ml);
}

}  // namespace rwkv::metal
