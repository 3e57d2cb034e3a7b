#pragma once
// float64 oracles for time_mix_v7 and time_first_v7: the official matrix form
// (rwkv_v7_numpy.py), per head, no rounding until the caller compares.
//
//   S_t = S_{t-1} diag(w_t) + (S_{t-1} (-kk_t)) (kk_t ⊙ a_t)^T + v_t k_t^T,   y_t = S_t r_t
//   w_t = exp(-decay * sigmoid(z_t)), all in double from the stored inputs.
//
// Alongside, the scale a forward-error bound is measured in: per value row i
// of each head, the running maximum over the slot's history of the row's
// 2-norm ||S_t[i, :]|| and of the injected |v_i| ||k||. Every f32 rounding in
// the kernel's update of row i is at most 2^-24 times a term bounded by that,
// and the transition S -> S (diag(w) - kk (kk ⊙ a)^T) does not amplify errors
// (w < 1, 0 < a < 1, |kk| = 1), so the error of y_i grows at most linearly
// with the tokens seen and with N (see tests/time_mix_test.cpp). (A bound from
// the recurrence on |S| instead grows exponentially: the absolute values lose
// the cancellation that makes the kk term a contraction.)
#include <cstdint>
#include <span>
#include <vector>

#include "reference/kernels/batch.h"
#include "reference/tensor.h"
#include "reference/oracle/operand.h"

namespace rwkv {

// One layer's state for B slots in the official layout, in double.
struct TimeMixOracleState {
  int64_t C = 0, N = 0, B = 0;
  std::vector<double> att_shift;  // [B][C]
  std::vector<double> wkv;        // [B][H][N][N], [h][i = value][j = key]
  std::vector<double> row_max;    // [B][H][N]: running max of ||S[i, :]|| and |v_i| ||k||

  TimeMixOracleState() = default;
  TimeMixOracleState(int64_t C, int64_t N, int64_t B);
  // Slot b from a web-rwkv layer state, f32 or f64 (row_max starts at the rows' norms).
  void load_slot(const oracle::StateOperand& s, int64_t b);
  double& S(int64_t b, int64_t h, int64_t i, int64_t j) { return wkv[size_t(((b * (C / N) + h) * N + i) * N + j)]; }
};

struct TimeMixOracleOutput {
  std::vector<double> y;      // [C, T]
  std::vector<double> y_scale;  // [C, T]: ||r_head||_2 * row_max[i] after the token
};

// Runs all tokens in order; tokens use slot cursors[t].batch and the chunk's
// last token saves x[t] (xa) into att_shift. x is read, not written.
TimeMixOracleOutput time_mix_v7_oracle(TimeMixOracleState& state, const oracle::Operand& r, const oracle::Operand& z,
                                       const oracle::Operand& n, const oracle::Operand& x, std::span<const Cursor> cursors,
                                       double decay);

struct TimeFirstOracleOutput {
  std::vector<double> x;      // [C, T]: x + (sum_j r_k_j k_j r_j) v_i
  std::vector<double> x_mag;  // [C, T]: |x| + (sum_j |r_k_j k_j r_j|) |v_i|
};
TimeFirstOracleOutput time_first_v7_oracle(const oracle::Operand& r_k, const oracle::Operand& r, const oracle::Operand& n,
                                           const oracle::Operand& x, int64_t head_size);

}  // namespace rwkv
