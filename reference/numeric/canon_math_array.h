#pragma once
// The canonical math functions applied over arrays by the active SIMD variant.
// Tests use this to prove that every variant gives the scalar bits.
#include <cstdint>

namespace rwkv::canon {

enum class Func : uint8_t { exp, tanh, sigmoid, sqrt, rsqrt, squared_relu };

// out[i] = f(in[i]) for i < n, using the active SIMD level.
void apply(Func f, const float* in, float* out, int64_t n);

}  // namespace rwkv::canon
