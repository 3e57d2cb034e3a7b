#pragma once
// Rounding an oracle's exact (float64) value to what an activation store of a
// given type holds, computed independently of numeric/f16.h: round to nearest,
// ties to even, overflow to +-Inf, NaN stays NaN.
#include <cmath>

#include "reference/tensor.h"

namespace rwkv::oracle {

inline double round_to_f16(double v) {
  if (std::isnan(v) || std::isinf(v)) return v;
  const double a = std::fabs(v);
  if (a >= 65520.0) return std::copysign(INFINITY, v);  // 65504 + half its spacing rounds up to Inf
  int e = 0;
  std::frexp(a, &e);                  // a in [2^(e-1), 2^e)
  const int lead = e - 1 < -14 ? -14 : e - 1;  // below 2^-14: subnormal spacing 2^-24
  const double q = std::ldexp(1.0, lead - 10);  // spacing of halves at a
  return std::copysign(std::nearbyint(a / q) * q, v);  // a / q is exact; nearbyint rounds ties to even
}

inline double round_to(DType t, double v) {
  return t == DType::f16 ? round_to_f16(v) : double(float(v));
}

}  // namespace rwkv::oracle
