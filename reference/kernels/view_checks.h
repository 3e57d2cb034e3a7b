#pragma once
// Argument checks shared by the element-wise, norm and softmax kernels: the
// activation layout rules that tensor.h's require_shape does not cover.
#include <cstdint>

#include "reference/tensor.h"

namespace rwkv {

// Byte range [begin, end) of a view's elements.
inline const uint8_t* view_begin(const TensorView& v) { return static_cast<const uint8_t*>(v.data); }
inline const uint8_t* view_end(const TensorView& v) {
  return view_begin(v) + v.numel() * int64_t(dtype_size(v.dtype));
}

inline bool views_overlap(const TensorView& a, const TensorView& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  return view_begin(a) < view_end(b) && view_begin(b) < view_end(a);
}

// `b` may be `a` itself (same memory, type and shape: an in-place update where
// each element is read before it is written by the same lane) or disjoint from
// it; a partial or shifted overlap would make the result depend on the order
// in which threads run, so it is refused.
inline void require_same_or_disjoint(const char* kernel, const char* a_name, const TensorView& a,
                                     const char* b_name, const TensorView& b) {
  if (!views_overlap(a, b)) return;
  if (a.data == b.data && a.dtype == b.dtype && a.shape == b.shape) return;
  fail_arg("{}: {} ({} {}) overlaps {} ({} {}) without being the same tensor", kernel, b_name,
           dtype_name(b.dtype), b.shape.str(), a_name, dtype_name(a.dtype), a.shape.str());
}

inline void require_disjoint(const char* kernel, const char* a_name, const TensorView& a,
                             const char* b_name, const TensorView& b) {
  if (views_overlap(a, b))
    fail_arg("{}: {} overlaps {}; they must be separate buffers", kernel, b_name, a_name);
}

inline void require_data(const char* kernel, const char* name, const TensorView& v) {
  if (v.data == nullptr && v.numel() > 0) fail_arg("{}: {} has no data", kernel, name);
}

inline void require_positive_shape(const char* kernel, const char* name, const TensorView& v) {
  for (int i = 0; i < 3; ++i)
    if (v.shape[i] <= 0) fail_arg("{}: {} has shape {}, every dimension must be positive", kernel, name,
                                  v.shape.str());
}

// Channel counts are multiples of 4: every shader works on vec4s.
inline void require_vec4(const char* kernel, const char* what, int64_t n) {
  if (n <= 0 || n % 4 != 0)
    fail_arg("{}: {} is {}, expected a positive multiple of 4 (the shaders work on vec4s)", kernel, what, n);
}

inline void require_dtype(const char* kernel, const char* name, const TensorView& v, DType want) {
  if (v.dtype != want)
    fail_arg("{}: {} is {}, expected {}", kernel, name, dtype_name(v.dtype), dtype_name(want));
}

}  // namespace rwkv
