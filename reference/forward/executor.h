#pragma once
// The reference executor: runs an op plan (reference/plan/op_plan.h) op by
// op with the reference kernels, for one batch slot. It knows how to launch
// each kernel kind from an Op's names and params; the model graph itself
// comes only from the plan.
//
// Precision (spec section 4): activations f16 or f32 (ForwardOptions); the
// embedding input and ln0 stay f16 in both modes; state and logits are f32.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "reference/kernels/batch.h"
#include "reference/kernels/time_mix.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/plan/op_plan.h"
#include "reference/tensor.h"

namespace rwkv::forward {

struct ForwardOptions {
  DType activations = DType::f32;
  // w = exp(-decay * sigmoid(z)): kDecayWebRwkv (0.606531, web-rwkv's literal,
  // the default) or kDecayExact (e^-0.5 in f32, the official numpy code's).
  float decay = kDecayWebRwkv;
  // web-rwkv keeps the embedding and its ln0 output in f16 even with f32
  // activations (spec section 4). The official numpy code does not round
  // there; false stores them in the activation type instead (its profile).
  bool embedding_f16 = true;
};

class Executor;

// Sees every op of a step, in plan order: before_op when the op's inputs hold
// what the kernel will read (in-place ops: before they are overwritten), and
// after_op when its outputs are written. The golden writer hangs here; the
// executor itself never depends on what an observer does.
class OpObserver {
 public:
  virtual ~OpObserver() = default;
  virtual void begin_step(const Executor&) {}
  virtual void before_op(const Executor&, const plan::Op&, size_t /*index in plan().ops*/) {}
  virtual void after_op(const Executor&, const plan::Op&, size_t /*index in plan().ops*/) {}
  virtual void end_step(const Executor&) {}
};

class Executor {
 public:
  // `weights` must outlive the executor.
  Executor(const Rwkv7Weights& weights, ForwardOptions options = {});

  // Feeds the tokens as one chunk (T = tokens.size() >= 1) and returns the
  // logits of every token, token after token: [V, T] (logits[t * V + v]).
  // The state carries over to the next call.
  std::vector<float> step(std::span<const uint32_t> tokens);

  // Zeroes the state (all token-shift vectors and WKV states).
  void reset();

  // Layer l's state, web-rwkv layout f32 [C, N+2, 1] (kernels/batch.h).
  const LayerState& state(int64_t layer) const { return states_.at(size_t(layer)); }
  const plan::ModelConfig& config() const { return weights_.config; }

  // The observer (not owned; nullptr for none) sees every op of later steps.
  void set_observer(OpObserver* observer) { observer_ = observer; }

  // What an observer may look at during a step.
  const plan::Plan& plan() const { return *plan_; }
  std::span<const uint32_t> tokens() const { return tokens_; }
  std::span<const Cursor> cursors() const { return cursors_; }
  const Rwkv7Weights& weights() const { return weights_; }
  const ForwardOptions& options() const { return options_; }
  int64_t steps_done() const { return steps_done_; }  // steps completed since construction or reset()
  // A plan buffer of the current step (throws std::logic_error if the plan has none).
  TensorView buffer(const std::string& name) const;

 private:
  void run(const plan::Op& op, std::span<const uint32_t> tokens, std::span<const Cursor> cursors);
  TensorView operand(const plan::Op& op);  // weights[0] as a vector if given, else inputs[0]

  const Rwkv7Weights& weights_;
  ForwardOptions options_;
  std::map<int64_t, plan::Plan> plans_;      // by T
  std::map<std::string, Tensor> buffers_;    // for the current T
  int64_t buffers_T_ = 0;
  std::vector<std::vector<float>> state_data_;
  std::vector<LayerState> states_;
  OpObserver* observer_ = nullptr;
  const plan::Plan* plan_ = nullptr;
  std::span<const uint32_t> tokens_;
  std::vector<Cursor> cursors_;
  int64_t steps_done_ = 0;
};

}  // namespace rwkv::forward
