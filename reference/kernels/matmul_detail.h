#pragma once
// Arguments handed from matmul.cpp (validation, scratch allocation) to the
// per-SIMD-variant lane code (matmul_vec.simd.cpp, matmul_mat.simd.cpp).
// Plain data only: the lane files may not use std containers.
#include <cstdint>

#include "reference/formats/matrix.h"
#include "reference/kernels/activation.h"

namespace rwkv::matmul_detail {

// Where the weights are and how to decode them (see matmul_weights.inc).
struct WeightSource {
  WeightFormat format = WeightFormat::fp16;
  int64_t K = 0;
  int64_t M = 0;
  const uint8_t* data = nullptr;
  const uint16_t* meta = nullptr;      // f16 bits: int8 (min, max) pairs, nf4/sf4 absmax
  const float* fp4_table = nullptr;    // nf4/sf4: the 16 levels
  int64_t row_bytes = 0;               // q4_k, q6_k, q8_0: bytes of one row
};

// matmul_vec. x_scratch and x_nonzero are filled by the lane code in its own
// layout; matmul.cpp sizes them as T * padded_K floats and T * padded_K / 4
// floats, padded_K = K rounded up to a multiple of 64 (the widest lane block).
struct VecArgs {
  WeightSource w;
  int64_t T = 0;
  const void* x = nullptr;
  bool x_f16 = false;
  void* y = nullptr;
  bool y_f16 = false;
  Activation act = Activation::none;
  bool sparse = false;
  bool fast = true;  // the single-token fast path where the variant has one (same bits)
  float* x_scratch = nullptr;
  float* x_nonzero = nullptr;
};

// matmul_mat. x is f32 [K, T] (matmul.cpp converts an f16 input exactly).
struct MatArgs {
  WeightSource w;
  int64_t T = 0;
  const float* x = nullptr;
  void* y = nullptr;
  bool y_f16 = false;
  Activation act = Activation::none;
};

constexpr int64_t kPadValues = 64;  // K is padded to this for the vec scratch
inline int64_t padded_k(int64_t K) { return (K + kPadValues - 1) / kPadValues * kPadValues; }

}  // namespace rwkv::matmul_detail
