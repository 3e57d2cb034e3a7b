#include "reference/numeric/canon_math.h"

#include <cstdint>
#include "reference/numeric/f16.h"
#include "reference/kernels/activation.h"

// The scalar instantiation of the lane code, in a namespace of its own.
namespace rwkv::canon_detail {
#include "reference/simd/lane_ops.inc"
#include "reference/numeric/canon_math.inc"
}  // namespace rwkv::canon_detail

namespace rwkv::canon {
float exp(float x) { return canon_detail::canon_exp(x); }
float tanh(float x) { return canon_detail::canon_tanh(x); }
float sigmoid(float x) { return canon_detail::canon_sigmoid(x); }
float sqrt(float x) { return canon_detail::canon_sqrt(x); }
float rsqrt(float x) { return canon_detail::canon_rsqrt(x); }
float squared_relu(float x) { return canon_detail::canon_squared_relu(x); }
}  // namespace rwkv::canon
