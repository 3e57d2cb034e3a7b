#pragma once
// float64 oracle of matmul_vec / matmul_mat: y[t][m] = act(sum_k W[m][k] * x[t][k])
// on the dequantised weights (blocks::dequantize_matrix), every product and sum
// in double, no rounding until the caller rounds. Plain loops, sequential in k.
#include <cstdint>
#include <vector>

#include "reference/formats/matrix.h"
#include "reference/kernels/activation.h"
#include "reference/tensor.h"
#include "reference/oracle/operand.h"

namespace rwkv::oracle {

struct MatmulSums {
  int64_t M = 0, T = 0;
  std::vector<double> sum;      // [T][M] sum_k W[m][k] x[t][k]
  std::vector<double> abs_sum;  // [T][M] sum_k |W[m][k] x[t][k]| (error bounds scale with it)
};

MatmulSums matmul_sums(const Matrix& w, const Operand& x);

// The activations in double: tanh (1 when x > 42, web-rwkv's clamp), sigmoid
// 1/(1 + e^-x), squared_relu max(x, 0)^2; NaN stays NaN.
double activate_f64(Activation act, double v);

// y64 [T][M] = act(sum).
std::vector<double> matmul(const Matrix& w, const Operand& x, Activation act);

}  // namespace rwkv::oracle
