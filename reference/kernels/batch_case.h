#pragma once
// Cursors and layer states as kernel-case tensors (kernel_case.h), for the
// catalog entries of the kernels that take them.
//   cursors  u32 [T, 3]: per token (batch, start, len), batch.h's Cursor
//   state    f32 [B, N+2, C]: one layer in web-rwkv's layout (batch.h)
#include <span>
#include <string>

#include "reference/kernel_case.h"
#include "reference/kernels/batch.h"

namespace rwkv {

inline CaseTensor& add_cursors(KernelCase& c, std::span<const Cursor> cursors) {
  std::vector<uint32_t> v;
  for (const Cursor& k : cursors) v.insert(v.end(), {k.batch, k.start, k.len});
  return c.input("cursors", ElemType::u32, {cursors.size(), 3}, v.data());
}

inline Dims state_dims(const LayerState& s) { return {uint64_t(s.B), uint64_t(s.rows()), uint64_t(s.C)}; }

inline CaseTensor& add_state_input(KernelCase& c, const std::string& name, const LayerState& s) {
  return c.input(name, ElemType::f32, state_dims(s), s.data);
}
inline CaseTensor& add_state_output(KernelCase& c, const std::string& name, const LayerState& s) {
  return c.output(name, ElemType::f32, state_dims(s), s.data);
}

}  // namespace rwkv
