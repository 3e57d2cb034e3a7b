#pragma once
// Activation tensors as the kernels see them: contiguous [d0, d1, d2] with d0
// fastest (web-rwkv's Shape, ggml's ne), stored as f16 or f32. A TensorView
// does not own its memory; a Tensor does.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reference/numeric/f16.h"

namespace rwkv {

enum class DType : uint8_t { f16, f32 };

inline const char* dtype_name(DType t) { return t == DType::f16 ? "f16" : "f32"; }
inline size_t dtype_size(DType t) { return t == DType::f16 ? 2 : 4; }

struct Shape {
  std::array<int64_t, 3> d{1, 1, 1};
  Shape() = default;
  Shape(int64_t d0, int64_t d1 = 1, int64_t d2 = 1) : d{d0, d1, d2} {}
  int64_t operator[](int i) const { return d[size_t(i)]; }
  int64_t numel() const { return d[0] * d[1] * d[2]; }
  bool operator==(const Shape&) const = default;
  std::string str() const { return fmt::format("[{}, {}, {}]", d[0], d[1], d[2]); }
};

struct TensorView {
  DType dtype = DType::f32;
  void* data = nullptr;
  Shape shape;

  TensorView() = default;
  TensorView(float* p, Shape s) : dtype(DType::f32), data(p), shape(s) {}
  TensorView(f16* p, Shape s) : dtype(DType::f16), data(p), shape(s) {}

  int64_t numel() const { return shape.numel(); }
  float* f32() const { return static_cast<float*>(data); }
  f16* half() const { return static_cast<f16*>(data); }
  // Element i converted to f32 (slow; for tests and oracles).
  float get(int64_t i) const { return dtype == DType::f32 ? f32()[i] : to_f32(half()[i]); }
  void set(int64_t i, float v) const {
    if (dtype == DType::f32) f32()[i] = v; else half()[i] = to_f16(v);
  }
};

// An owning tensor, zero-initialised.
struct Tensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<uint8_t> bytes;

  Tensor() = default;
  Tensor(DType t, Shape s) : dtype(t), shape(s), bytes(size_t(s.numel()) * dtype_size(t)) {}
  TensorView view() { TensorView v; v.dtype = dtype; v.data = bytes.data(); v.shape = shape; return v; }
  int64_t numel() const { return shape.numel(); }
};

// Calls f(ptr) with ptr typed float* or f16* according to the view's dtype.
template <class F> decltype(auto) with_typed(const TensorView& v, F&& f) {
  if (v.dtype == DType::f32) return f(v.f32());
  return f(v.half());
}

// Bad-argument errors name the kernel, the argument and what was expected.
template <class... Args>
[[noreturn]] void fail_arg(fmt::format_string<Args...> f, Args&&... args) {
  throw std::invalid_argument(fmt::format(f, std::forward<Args>(args)...));
}
inline void require_shape(const char* kernel, const char* arg, const TensorView& v, Shape want) {
  if (!(v.shape == want))
    fail_arg("{}: {} has shape {}, expected {}", kernel, arg, v.shape.str(), want.str());
  if (v.data == nullptr && want.numel() > 0) fail_arg("{}: {} has no data", kernel, arg);
}

}  // namespace rwkv
