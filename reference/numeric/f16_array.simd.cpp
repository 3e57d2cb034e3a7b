// Lane code for f32_to_f16_array / f16_to_f32_array: whole lanes through the
// variant's lane_store_f16 / lane_load_f16, the tail through the one-lane ones.
#include "reference/simd/variant.h"
#include "reference/numeric/f16_array.h"

namespace rwkv::RWKV_SIMD_NS {

void f16_encode_array(const float* in, f16* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) lane_store_f16(out + i, lane_load<Lane>(in + i));
  for (; i < n; ++i) lane_store_f16(out + i, in[i]);
}

void f16_decode_array(const f16* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) lane_store(out + i, lane_load_f16<Lane>(in + i));
  for (; i < n; ++i) out[i] = lane_load_f16<float>(in + i);
}

}  // namespace rwkv::RWKV_SIMD_NS
