#pragma once
// The reference executor: runs an op plan (reference/plan/op_plan.h) op by
// op with the reference kernels. It knows how to launch each kernel kind from
// an Op's names and params; the model graph itself comes only from the plan.
//
// A step is one job in web-rwkv's sense: one chunk of tokens for each of some
// batch slots, stacked along T, each slot with its own recurrent state
// (cursors, reference/kernels/batch.h). Logits come back for the last token of
// each chunk or for every token.
//
// Precision (spec section 4): activations f16 or f32 (ForwardOptions); the
// embedding input and ln0 stay f16 in both modes; state and logits are f32.
//
// Two ways to run a step: step() runs every op in plan order; begin_step(),
// run_op() and end_step() let a caller (simgpu's functional mode, a backend
// harness) run the ops one at a time in an order of its choosing, on the same
// buffers.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "reference/kernels/batch.h"
#include "reference/forward/step_layout.h"
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

struct StepResult {
  int64_t V = 0;
  std::vector<OutputRow> rows;  // one per row of logits, in stacking order
  std::vector<float> logits;    // [rows.size()][V], row after row
  std::span<const float> row(size_t i) const { return std::span(logits).subspan(i * size_t(V), size_t(V)); }
};

// One slot's whole recurrent state in web-rwkv's layout: per layer the slot's
// [C, N+2] block of the layer state (reference/kernels/batch.h), layer after
// layer: data[(l * (N+2) + row) * C + c].
struct SlotState {
  int64_t L = 0, C = 0, N = 0;
  std::vector<float> data;
  const float* layer(int64_t l) const { return data.data() + l * (N + 2) * C; }
  float* layer(int64_t l) { return data.data() + l * (N + 2) * C; }
};

// The element type a plan buffer has under these options (spec section 4).
DType buffer_dtype(const plan::Buffer& b, const ForwardOptions& o);

class Executor;

// Sees every op of a step, in the order they run: before_op when the op's
// inputs hold what the kernel will read (in-place ops: before they are
// overwritten), and after_op when its outputs are written. The golden writer
// hangs here; the executor itself never depends on what an observer does.
class OpObserver {
 public:
  virtual ~OpObserver() = default;
  virtual void begin_step(const Executor&) {}
  virtual void before_op(const Executor&, const plan::Op&, size_t /*index in plan().ops*/) {}
  virtual void after_op(const Executor&, const plan::Op&, size_t /*index in plan().ops*/) {}
  virtual void end_step(const Executor&) {}
  // Returns once the work the observer took on for the ops so far is done
  // (a writer that stores tensors in the background waits for its queue), so
  // that timings of a run with an observer include all of it.
  virtual void settle() {}
};

class Executor {
 public:
  // Batch slots: 1 to 256 (web-rwkv packs the batch index in 8 bits).
  static constexpr int64_t kMaxSlots = 256;

  // `weights` must outlive the executor. Throws std::invalid_argument for a
  // slot count outside [1, kMaxSlots].
  Executor(const Rwkv7Weights& weights, ForwardOptions options = {}, int64_t slots = 1);

  // A whole step: every op in plan order. Bad input (no tokens at all, a slot
  // out of range or given twice, a token id >= V) throws std::invalid_argument
  // naming it, before anything runs. The states carry over to the next step.
  StepResult step(std::span<const Chunk> chunks, LogitsFor want = LogitsFor::last);
  // Slot 0 only, logits of every token: [V, T] (logits[t * V + v]).
  std::vector<float> step(std::span<const uint32_t> tokens);

  // The same step op by op: begin_step() checks the input, picks the plan and
  // its buffers and runs nothing; run_op(i) runs plan().ops[i] on the current
  // buffers (the caller chooses the order: out of order, an op reads whatever
  // its input buffers hold); end_step() returns the logits buffer as it is.
  void begin_step(std::span<const Chunk> chunks, LogitsFor want = LogitsFor::last);
  // The same with a step laid out and planned by the caller (layout_step and
  // a plan for its T and outputs of this model), so that several runners
  // execute one plan object.
  void begin_step(const plan::Plan& plan, StepLayout layout);
  void run_op(size_t index);
  StepResult end_step();
  bool in_step() const { return in_step_; }

  // Zeroes every slot's state (all token-shift vectors and WKV states).
  void reset();
  void reset_slot(uint32_t slot);
  // A slot's state, copied out or in (web-rwkv layout; see SlotState). import
  // throws std::invalid_argument if the state's L, C or N is not the model's.
  SlotState export_state(uint32_t slot) const;
  void import_state(uint32_t slot, const SlotState& s);

  // Layer l's state, web-rwkv layout f32 [C, N+2, slots] (kernels/batch.h).
  const LayerState& state(int64_t layer) const { return states_.at(size_t(layer)); }
  int64_t slots() const { return slots_; }
  const plan::ModelConfig& config() const { return weights_.config; }

  // The observer (not owned; nullptr for none) sees every op of later steps.
  void set_observer(OpObserver* observer) { observer_ = observer; }

  // What an observer may look at during a step.
  const plan::Plan& plan() const;
  std::span<const uint32_t> tokens() const { return tokens_; }  // stacked
  std::span<const Cursor> cursors() const { return cursors_; }
  const Rwkv7Weights& weights() const { return weights_; }
  const ForwardOptions& options() const { return options_; }
  int64_t steps_done() const { return steps_done_; }  // steps completed since construction or reset()
  // A plan buffer of the current step (throws std::logic_error if the plan has none).
  TensorView buffer(const std::string& name) const;

 private:
  void run(const plan::Op& op);
  TensorView operand(const plan::Op& op);  // weights[0] as a vector if given, else inputs[0]
  void check_slot(uint32_t slot, const char* what) const;

  const Rwkv7Weights& weights_;
  ForwardOptions options_;
  int64_t slots_ = 1;
  PlanCache plans_;
  std::map<std::string, Tensor> buffers_;    // sized for the current plan
  std::vector<std::vector<float>> state_data_;
  std::vector<LayerState> states_;
  OpObserver* observer_ = nullptr;
  const plan::Plan* plan_ = nullptr;
  std::vector<uint32_t> tokens_;
  std::vector<Cursor> cursors_;
  std::vector<OutputRow> rows_;
  bool in_step_ = false;
  int64_t steps_done_ = 0;
};

}  // namespace rwkv::forward
