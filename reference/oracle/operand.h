#pragma once
// What a float64 oracle reads: a tensor's values as doubles, either from the
// kernels' f16/f32 TensorView (widened exactly) or from another oracle's
// float64 output, so that oracles chain into a whole forward pass in float64
// (reference/forward/f64_run.h) as well as check one kernel. Converting a
// TensorView or a LayerState is implicit: every oracle takes them as before.
#include <cstdint>

#include "reference/kernels/batch.h"
#include "reference/numeric/f16.h"
#include "reference/tensor.h"

namespace rwkv::oracle {

class Operand {
 public:
  Operand(const TensorView& v)  // NOLINT: implicit on purpose
      : shape(v.shape),
        f16_(v.dtype == DType::f16 ? v.half() : nullptr),
        f32_(v.dtype == DType::f32 ? v.f32() : nullptr) {}
  Operand(const double* p, Shape s) : shape(s), f64_(p) {}

  double get(int64_t i) const { return f64_ ? f64_[i] : f32_ ? double(f32_[i]) : double(to_f32(f16_[i])); }
  int64_t numel() const { return shape.numel(); }

  Shape shape;

 private:
  const f16* f16_ = nullptr;
  const float* f32_ = nullptr;
  const double* f64_ = nullptr;
};

// A layer's recurrent state in web-rwkv's layout [C, N+2, B], f32 (the
// kernels' LayerState) or f64.
class StateOperand {
 public:
  StateOperand(const LayerState& s)  // NOLINT: implicit on purpose
      : C(s.C), N(s.N), B(s.B), f32_(s.data) {}
  StateOperand(const double* p, int64_t C_, int64_t N_, int64_t B_) : C(C_), N(N_), B(B_), f64_(p) {}

  int64_t rows() const { return N + 2; }
  int64_t size() const { return C * rows() * B; }
  double at(int64_t flat) const { return f64_ ? f64_[flat] : double(f32_[flat]); }
  double at(int64_t batch, int64_t row, int64_t c) const { return at((batch * rows() + row) * C + c); }

  int64_t C, N, B;

 private:
  const float* f32_ = nullptr;
  const double* f64_ = nullptr;
};

}  // namespace rwkv::oracle
