#include "reference/numeric/canon_math_array.h"

#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void canon_apply(rwkv::canon::Func f, const float* in, float* out, int64_t n))

namespace rwkv::canon {
void apply(Func f, const float* in, float* out, int64_t n) { RWKV_SIMD_CALL(canon_apply, f, in, out, n); }
}  // namespace rwkv::canon
