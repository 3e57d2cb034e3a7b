#pragma once
// How GoogleTest prints the project's enums as test parameters, so that ctest
// shows "q4_k" and "exp" rather than raw object bytes.
#include <ostream>

#include "reference/formats/matrix.h"
#include "reference/numeric/canon_math_array.h"
#include "reference/numeric/ulp_sweep.h"
#include "reference/tensor.h"

namespace rwkv {
inline void PrintTo(WeightFormat f, std::ostream* os) { *os << format_name(f); }
inline void PrintTo(DType t, std::ostream* os) { *os << dtype_name(t); }
namespace canon {
inline void PrintTo(Func f, std::ostream* os) { *os << func_name(f); }
}  // namespace canon
}  // namespace rwkv
