#pragma once
// The float64 execution of one op of the plan on exactly the inputs the
// reference kernel read, and the reference's own error against it: what the
// golden file stores beside every tensor (vectors/SCHEMA.md: max_abs_err_f64,
// max_rel_err_f64) and what tolerances are derived from.
//
// Use it as an OpObserver does: before(op) while the op's inputs are still
// intact (it copies what an in-place op will overwrite, and the layer's state
// for the ops that update it), then after(op) once the op has run. The f64
// side is the kernel family's oracle (reference/oracle/): the textbook math in
// double on the stored (already rounded) inputs, never rounded itself, so the
// error includes the store's rounding to the activation type.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/oracle/operand.h"

namespace rwkv::forward {

// How far a reference tensor is from its float64 value.
struct ErrorStats {
  int64_t count = 0;         // elements compared
  double max_abs = 0;        // max |ref - f64|
  double max_rel = 0;        // max over elements with f64 != 0 of |ref - f64| / |f64|
  double max_abs_f64 = 0;    // max |f64| (the tensor's scale)
  int64_t nonfinite = 0;     // elements where ref or f64 is NaN or Inf and the two differ
  // Folds another tensor's statistics into this one.
  void merge(const ErrorStats& o);
};

// Compares ref values (read with TensorView::get) with their f64 values.
// Where both are the same non-finite value (NaN and NaN, or equal Infs), the
// element is counted but has no error; where they differ, max_abs becomes
// +Inf and `nonfinite` counts it.
ErrorStats compare_with_f64(const TensorView& ref, const std::vector<double>& f64);
ErrorStats compare_with_f64(const TensorView& ref, const oracle::Operand& f64);

struct OpError {
  ErrorStats output;               // the op's output tensor (outputs[0])
  std::optional<ErrorStats> state; // time_mix_v7 / channel_mix_v7: the state rows they wrote
};

// What one op reads, as float64 operands: its inputs (an input that names
// the op's own output buffer must be given as it was before the op), the
// output buffer before the op, the state of its layer before the op.
struct OpOperands {
  std::function<oracle::Operand(size_t input)> input;
  std::optional<oracle::Operand> out_before;          // every op but the gather and the matmul read it
  std::optional<oracle::StateOperand> state_before;   // token_shift, time_mix_v7, channel_mix_v7
};

// What the op computes, in float64: its output buffer after the op and, for
// time_mix_v7 and channel_mix_v7, its layer's whole state after the op
// (web-rwkv layout [C, N+2, B]).
struct OpValues {
  std::vector<double> output;
  std::optional<std::vector<double>> state;
};

// The float64 execution of one op: the kernel family's oracle (the textbook
// math in double, never rounded), blits as copies. One switch over the kernel
// kinds for both uses below: one op on the reference's inputs (OpOracle) and
// a whole run in float64 (Float64Run).
OpValues evaluate_f64(const plan::Op& op, const Rwkv7Weights& w, std::span<const uint32_t> tokens,
                      std::span<const Cursor> cursors, float decay, const OpOperands& in);

class OpOracle {
 public:
  // Does the op have a float64 counterpart worth measuring? Blits are copies
  // (exact by construction) and answer false.
  static bool measures(const plan::Op& op);

  // Call before the op runs.
  void before(const Executor& ex, const plan::Op& op);
  // Call after it ran; measures the error of what it wrote.
  OpError after(const Executor& ex, const plan::Op& op);

 private:
  Tensor out_before_;               // the output buffer before the op (in-place ops read it)
  std::vector<float> state_before_; // the op's layer state before the op, [C, N+2, B]
};

// The f64 matmul y[t][m] = act(sum_k W[m][k] x[t][k]) on the decoded weights:
// each sum over k as 8 interleaved partial sums (k mod 8, each sequential in k)
// added as ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)); rows decoded one
// at a time (memory stays O(K) per thread), threads split rows. Same bits for
// any thread count. Result [T][M].
std::vector<double> matmul_f64(const Matrix& w, const oracle::Operand& x, Activation act);

// The whole forward pass in float64: every op of the plan evaluated by
// evaluate_f64 on the float64 results of the ops before it, state carried in
// float64 from step to step. Nothing is rounded anywhere (the f16 embedding
// and ln0 output included), so how far a reference tensor is from this run's
// is the reference's global error: all its roundings up to that op,
// accumulated. (Rounding ln0 here too was tried: two correct engines then
// still differ by one f16 ulp where a value straddles a rounding boundary, and
// that difference propagates far beyond an f32-sized tolerance; the exact run
// keeps the tolerance honest instead.) Drive it with the reference's plans and
// layouts, op for op.
class Float64Run {
 public:
  Float64Run(const Rwkv7Weights& w, const ForwardOptions& o, int64_t slots);
  void begin_step(const plan::Plan& plan, std::span<const uint32_t> tokens, std::span<const Cursor> cursors);
  void run_op(size_t index);
  // A plan buffer of the current step (after the ops run so far).
  oracle::Operand buffer(const std::string& name) const;
  // Layer l's state, web-rwkv layout [C, N+2, slots].
  const std::vector<double>& state(int64_t layer) const { return state_.at(size_t(layer)); }

 private:
  const Rwkv7Weights& w_;
  float decay_;
  const plan::Plan* plan_ = nullptr;
  std::vector<uint32_t> tokens_;
  std::vector<Cursor> cursors_;
  std::map<std::string, std::pair<Shape, std::vector<double>>> buffers_;
  std::vector<std::vector<double>> state_;
};

}  // namespace rwkv::forward
