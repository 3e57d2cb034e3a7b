#pragma once
// Float64 oracles of the element-wise kernels (kernels/elementwise.h): the same
// expressions in double, unrounded (oracle::round_to gives what a store holds).
// Activations follow the spec's definitions: tanh is 1 for x > 42 (web-rwkv's
// custom_tanh), sigmoid = 1/(1 + exp(-x)), squared_relu = max(x, 0)^2.
#include <cstdint>
#include <span>
#include <vector>

#include "reference/kernels/elementwise.h"
#include "reference/oracle/operand.h"

namespace rwkv::oracle {

double activate(Activation a, double x);

std::vector<double> token_shift(std::span<const Cursor> cursors, const StateOperand& state, int64_t state_row,
                                const Operand& mu, const Operand& x);
std::vector<double> lerp(const Operand& f, const Operand& x, const Operand& y);
std::vector<double> binary(BinaryOp op, const Operand& in, const Operand& out, BinaryActivations act);
std::vector<double> affine(const Operand& x, double scale, double bias);
// blit and embedding move values: the oracle is the value itself.
std::vector<double> blit(const Operand& in);
std::vector<double> embedding(const Operand& table, std::span<const uint32_t> ids);
std::vector<double> control_k_v7(const Operand& k, const Operand& a, const f16* k_a);

// channel_mix_v7's two results: the new x (= v) and the whole state buffer
// after the FFN rows of the chunks' last tokens were written.
struct ChannelMixResult {
  std::vector<double> x;
  std::vector<double> state;  // [C, N+2, B]
};
ChannelMixResult channel_mix_v7(std::span<const Cursor> cursors, const StateOperand& state, const Operand& v,
                                const Operand& x);

}  // namespace rwkv::oracle
