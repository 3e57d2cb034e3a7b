#pragma once
// Float64 oracles of the normalisation kernels (kernels/norm.h): the textbook
// math with two-pass mean and variance, no rounding at all. The results are the
// exact-as-float64 values; oracle::round_to gives what a store would hold.
#include <cstdint>
#include <vector>

#include "reference/numeric/f16.h"
#include "reference/tensor.h"
#include "reference/oracle/operand.h"

namespace rwkv::oracle {

// y = (x - mean) / sqrt(var + eps) * w + b per row of C = x.shape[0] channels,
// var the population variance.
std::vector<double> layer_norm(const Operand& x, const f16* w, const f16* b, double eps);
// The same per (head, token) row of head_size channels, w and b [head_size, H].
std::vector<double> group_norm(const Operand& x, const f16* w, const f16* b, int64_t head_size,
                               double eps);
// y = x / sqrt(sum(x^2) + eps) per (head, token) row.
std::vector<double> l2_norm(const Operand& x, int64_t head_size, double eps);

}  // namespace rwkv::oracle
