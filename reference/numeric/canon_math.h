#pragma once
// Scalar entry points to the canonical math functions (canon_math.inc), for
// code outside the per-variant kernels. Same bits as every lane of every
// SIMD variant.
namespace rwkv::canon {
float exp(float x);
float tanh(float x);  // 1 when x > 42 (web-rwkv custom_tanh)
float sigmoid(float x);
float sqrt(float x);
float rsqrt(float x);
float squared_relu(float x);
}  // namespace rwkv::canon
