// Lane code for canon::apply. The template for every *.simd.cpp: include
// variant.h, write the body once over Lane, handle the tail with the scalar
// (float) instantiation of the same template.
#include "reference/simd/variant.h"
#include "reference/numeric/canon_math_array.h"

namespace rwkv::RWKV_SIMD_NS {

template <class V> static V apply_one(canon::Func f, V x) {
  switch (f) {
    case canon::Func::exp: return canon_exp(x);
    case canon::Func::tanh: return canon_tanh(x);
    case canon::Func::sigmoid: return canon_sigmoid(x);
    case canon::Func::sqrt: return canon_sqrt(x);
    case canon::Func::rsqrt: return canon_rsqrt(x);
    case canon::Func::squared_relu: return canon_squared_relu(x);
  }
  return x;
}

void canon_apply(canon::Func f, const float* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) lane_store(out + i, apply_one(f, lane_load<Lane>(in + i)));
  for (; i < n; ++i) out[i] = apply_one(f, in[i]);
}

}  // namespace rwkv::RWKV_SIMD_NS
