#pragma once
// Accuracy of the canonical math functions against float64: run a function
// over every float of an interval (or every stride-th one), compare each
// result with the float64 value rounded to float, and keep the worst case.
// Used by `rwkv-oracle ulp` (every float) and the tests (strided subsets).
#include <cstdint>

#include "reference/numeric/canon_math_array.h"

namespace rwkv::canon {

// The float64 function the canonical one approximates: std::exp, std::tanh
// (no clamp: tanh(42) rounds to 1.0f anyway), 1/(1 + exp(-x)), std::sqrt,
// 1/std::sqrt, max(x, 0)^2.
double reference(Func f, double x);
const char* func_name(Func f);

struct UlpStats {
  uint64_t checked = 0;      // inputs compared
  uint64_t max_ulp = 0;      // largest ulp_distance(result, float(reference))
  uint64_t sum_ulp = 0;      // for the mean; exact, so the same for any thread count
  uint64_t by_ulp[4] = {};   // how many inputs were 0, 1, 2, >= 3 ulp off
  float worst_input = 0;     // the first input (in increasing order) with max_ulp
  float worst_result = 0;    // canon f(worst_input)
  double worst_reference = 0;  // reference(f, worst_input) in float64
  double mean_ulp() const { return checked ? double(sum_ulp) / double(checked) : 0.0; }
};

// Checks f on the floats lo, next after lo, ..., hi (stepping by `stride` places
// on the ulp line, so +0 and -0 count once), with the active SIMD level and
// OpenMP threads. lo <= hi, both not NaN. The result does not depend on the
// thread count.
UlpStats ulp_sweep(Func f, float lo, float hi, int64_t stride = 1);

}  // namespace rwkv::canon
