// Argument checks and dispatch for softmax; the column loop is in softmax.simd.cpp.
#include "reference/kernels/softmax.h"

#include "reference/kernels/view_checks.h"
#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void softmax_columns(const float* x, float* out, int64_t len, int64_t cols))

namespace rwkv {

void softmax(const TensorView& x, const TensorView& out) {
  const char* k = "softmax";
  require_data(k, "x", x);
  require_positive_shape(k, "x", x);
  require_dtype(k, "x", x, DType::f32);
  require_dtype(k, "out", out, DType::f32);
  require_shape(k, "out", out, x.shape);
  require_same_or_disjoint(k, "x", x, "out", out);
  require_vec4(k, "the vocabulary size x.shape[0]", x.shape[0]);
  RWKV_SIMD_CALL(softmax_columns, x.f32(), out.f32(), x.shape[0], x.numel() / x.shape[0]);
}

}  // namespace rwkv
