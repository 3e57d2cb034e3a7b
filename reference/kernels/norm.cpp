// Argument checks and dispatch for the normalisation kernels; the row loops
// and their canonical orders are in norm.simd.cpp.
#include "reference/kernels/norm.h"

#include <cmath>

#include "reference/kernels/norm_rows.h"
#include "reference/kernels/view_checks.h"
#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void layer_norm_rows(const rwkv::NormRows& a))
RWKV_SIMD_DECLARE(void l2_norm_rows(const rwkv::NormRows& a))

namespace rwkv {
namespace {

// Checks shared by the three kernels; returns the rows of `row_len` channels.
NormRows check_rows(const char* kernel, const TensorView& x, const TensorView& out, int64_t row_len,
                    float eps) {
  require_data(kernel, "x", x);
  require_positive_shape(kernel, "x", x);
  require_shape(kernel, "out", out, x.shape);
  require_same_or_disjoint(kernel, "x", x, "out", out);
  require_vec4(kernel, "the row length", row_len);
  if (row_len > kMaxNormRow)
    fail_arg("{}: rows of {} channels are longer than the supported {} (the f32 count product must stay exact)",
             kernel, row_len, kMaxNormRow);
  if (!std::isfinite(eps) || eps < 0) fail_arg("{}: eps is {}, expected a finite value >= 0", kernel, eps);
  NormRows a;
  a.x = x.data;
  a.x_f16 = x.dtype == DType::f16;
  a.out = out.data;
  a.out_f16 = out.dtype == DType::f16;
  a.len = row_len;
  a.rows = x.numel() / row_len;
  a.eps = eps;
  return a;
}

void check_head_size(const char* kernel, const TensorView& x, int64_t head_size) {
  if (head_size <= 0 || x.shape[0] % head_size != 0)
    fail_arg("{}: head_size {} does not divide the channel count {}", kernel, head_size, x.shape[0]);
}

void check_weights(const char* kernel, const f16* w, const f16* b) {
  if (w == nullptr) fail_arg("{}: weight w is null", kernel);
  if (b == nullptr) fail_arg("{}: bias b is null", kernel);
}

}  // namespace

void layer_norm(const TensorView& x, const TensorView& out, const f16* w, const f16* b, float eps) {
  NormRows a = check_rows("layer_norm", x, out, x.shape[0], eps);
  check_weights("layer_norm", w, b);
  a.w = w;
  a.b = b;
  a.weight_rows = 1;
  a.bs = 128;
  RWKV_SIMD_CALL(layer_norm_rows, a);
}

void group_norm(const TensorView& x, const TensorView& out, const f16* w, const f16* b, int64_t head_size,
                float eps) {
  check_head_size("group_norm", x, head_size);
  NormRows a = check_rows("group_norm", x, out, head_size, eps);
  check_weights("group_norm", w, b);
  a.w = w;
  a.b = b;
  a.weight_rows = x.shape[0] / head_size;  // H: row (token, head) uses w[head * N ..]
  a.bs = 32;
  RWKV_SIMD_CALL(layer_norm_rows, a);
}

void l2_norm(const TensorView& x, const TensorView& out, int64_t head_size, float eps) {
  check_head_size("l2_norm", x, head_size);
  NormRows a = check_rows("l2_norm", x, out, head_size, eps);
  a.bs = 128;
  RWKV_SIMD_CALL(l2_norm_rows, a);
}

}  // namespace rwkv
