// matmul_vec / matmul_mat entry points: argument checks, scratch buffers, and
// the call into the active SIMD variant (matmul_vec.simd.cpp, matmul_mat.simd.cpp).
#include "reference/kernels/matmul.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/kernels/matmul_detail.h"
#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void matmul_vec_lanes(const rwkv::matmul_detail::VecArgs& a))
RWKV_SIMD_DECLARE(void matmul_mat_lanes(const rwkv::matmul_detail::MatArgs& a))

namespace rwkv {
namespace {

using matmul_detail::WeightSource;

bool fast_path_from_env() {
  const char* v = std::getenv("RWKV_ORACLE_MATMUL_FAST");
  return !(v && std::strcmp(v, "0") == 0);
}
bool g_fast_path = fast_path_from_env();

// Checks w, x [K, T, 1] and y [M, T, 1]; returns T.
int64_t check_args(const char* kernel, const Matrix& w, const TensorView& x, const TensorView& y) {
  const std::string what = std::string(kernel) + ": w";
  blocks::validate_matrix(w, what.c_str());
  if (w.K % 4 != 0) fail_arg("{}: w has K = {}, expected a multiple of 4 (vec4 columns)", kernel, w.K);
  const int64_t T = x.shape[1];
  if (T < 1) fail_arg("{}: x has shape {}, expected [K = {}, T >= 1, 1]", kernel, x.shape.str(), w.K);
  require_shape(kernel, "x", x, Shape(w.K, T, 1));
  require_shape(kernel, "y", y, Shape(w.M, T, 1));
  const auto* xb = static_cast<const uint8_t*>(x.data);
  const auto* yb = static_cast<const uint8_t*>(y.data);
  const size_t xn = size_t(x.numel()) * dtype_size(x.dtype), yn = size_t(y.numel()) * dtype_size(y.dtype);
  if (xb < yb + yn && yb < xb + xn) fail_arg("{}: y overlaps x (the kernel does not work in place)", kernel);
  return T;
}

WeightSource weight_source(const Matrix& w) {
  WeightSource s;
  s.format = w.format;
  s.K = w.K;
  s.M = w.M;
  s.data = w.data;
  s.meta = reinterpret_cast<const uint16_t*>(w.meta);
  if (w.format == WeightFormat::nf4) s.fp4_table = blocks::nf4_table();
  if (w.format == WeightFormat::sf4) s.fp4_table = blocks::sf4_table();
  s.row_bytes = blocks::ggml_row_bytes(w.format, w.K);
  return s;
}

}  // namespace

void set_matmul_vec_fast_path(bool on) { g_fast_path = on; }
bool matmul_vec_fast_path() { return g_fast_path; }

void matmul_vec(const Matrix& w, const TensorView& x, const TensorView& y, Activation act, bool sparse_input) {
  const char* kernel = sparse_input ? "matmul_vec (sparse input)" : "matmul_vec";
  const int64_t T = check_args(kernel, w, x, y);
  const int64_t Kp = matmul_detail::padded_k(w.K);
  std::vector<float> x_scratch(size_t(T * Kp)), x_nonzero(size_t(T * Kp / 4));
  matmul_detail::VecArgs a;
  a.w = weight_source(w);
  a.T = T;
  a.x = x.data;
  a.x_f16 = x.dtype == DType::f16;
  a.y = y.data;
  a.y_f16 = y.dtype == DType::f16;
  a.act = act;
  a.sparse = sparse_input;
  a.fast = g_fast_path;
  a.x_scratch = x_scratch.data();
  a.x_nonzero = x_nonzero.data();
  RWKV_SIMD_CALL(matmul_vec_lanes, a);
}

void matmul_mat(const Matrix& w, const TensorView& x, const TensorView& y, Activation act) {
  const int64_t T = check_args("matmul_mat", w, x, y);
  std::vector<float> x32;
  const float* xp = x.f32();
  if (x.dtype == DType::f16) {  // exact widening, once
    x32.resize(size_t(x.numel()));
    const f16* h = x.half();
    for (size_t i = 0; i < x32.size(); ++i) x32[i] = to_f32(h[i]);
    xp = x32.data();
  }
  matmul_detail::MatArgs a;
  a.w = weight_source(w);
  a.T = T;
  a.x = xp;
  a.y = y.data;
  a.y_f16 = y.dtype == DType::f16;
  a.act = act;
  RWKV_SIMD_CALL(matmul_mat_lanes, a);
}

void matmul(const Matrix& w, const TensorView& x, const TensorView& y, Activation act, bool sparse_input) {
  if (x.shape[1] % 32 == 0) matmul_mat(w, x, y, act);
  else matmul_vec(w, x, y, act, sparse_input);
}

}  // namespace rwkv
