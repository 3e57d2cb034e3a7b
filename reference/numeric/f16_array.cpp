#include "reference/numeric/f16_array.h"

#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void f16_encode_array(const float* in, rwkv::f16* out, int64_t n))
RWKV_SIMD_DECLARE(void f16_decode_array(const rwkv::f16* in, float* out, int64_t n))

namespace rwkv {
void f32_to_f16_array(const float* in, f16* out, int64_t n) { RWKV_SIMD_CALL(f16_encode_array, in, out, n); }
void f16_to_f32_array(const f16* in, float* out, int64_t n) { RWKV_SIMD_CALL(f16_decode_array, in, out, n); }
}  // namespace rwkv
