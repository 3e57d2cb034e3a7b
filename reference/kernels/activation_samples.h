#pragma once
// Seeded inputs for the catalog samples of the norm and element-wise kernels
// (norm_catalog.cpp, elementwise_catalog.cpp): activations of either type,
// and f16 weight vectors. Finite values only, so
// that no NaN payload (which IEEE leaves open when two NaNs meet) enters a
// digest that GCC and Clang builds must agree on. Draw each random number in
// its own statement: the order in which a call's arguments (or an operator's
// operands) are evaluated is unspecified, and GCC and Clang differ.
#include <cstdint>
#include <vector>

#include "reference/tensor.h"
#include "reference/util/rng.h"

namespace rwkv::samples {

// N(0, 1) * scale + offset, rounded to the tensor's type.
inline Tensor normal_tensor(Rng& rng, DType t, Shape s, float scale = 1, float offset = 0) {
  Tensor out(t, s);
  TensorView v = out.view();
  for (int64_t i = 0; i < v.numel(); ++i) v.set(i, offset + scale * rng.normal());
  return out;
}

inline Tensor uniform_tensor(Rng& rng, DType t, Shape s, float lo, float hi) {
  Tensor out(t, s);
  TensorView v = out.view();
  for (int64_t i = 0; i < v.numel(); ++i) v.set(i, rng.uniform(lo, hi));
  return out;
}

inline std::vector<f16> uniform_f16(Rng& rng, int64_t n, float lo, float hi) {
  std::vector<f16> out(static_cast<size_t>(n));
  for (auto& h : out) h = to_f16(rng.uniform(lo, hi));
  return out;
}

}  // namespace rwkv::samples
