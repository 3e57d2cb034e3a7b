#pragma once
// Float64 oracle of softmax (kernels/softmax.h): per column of x [V, T, B],
// exp(x - max) / sum exp(x - max), unrounded. A NaN anywhere gives a NaN
// column; so do +Inf (Inf - Inf) and an all -Inf column.
#include <vector>

#include "reference/tensor.h"
#include "reference/oracle/operand.h"

namespace rwkv::oracle {

std::vector<double> softmax(const Operand& x);

}  // namespace rwkv::oracle
