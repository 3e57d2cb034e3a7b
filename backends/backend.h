#pragma once
// What a backend implements to be validated against the reference: it runs
// the reference's op plan (reference/plan/op_plan.h), one op at a time or a
// range of them, on weights it took once, and gives back any named tensor.
// The plan and the step's layout come from the harness (the same objects the
// reference runs), so no backend describes the model graph itself.
//
//   backend.load(weights, options);
//   for each step:  backend.begin_step(plan, layout);
//                   backend.run_ops(0, plan.ops.size());   // or op by op
//                   backend.read("att_x") ...              // any buffer, host copy
//                   backend.end_step();
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/forward/step_layout.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/plan/op_plan.h"
#include "reference/tensor.h"

namespace rwkv::backends {

struct BackendOptions {
  forward::ForwardOptions forward;  // activation precision, decay constant, embedding rounding
  int64_t slots = 1;                // batch slots (states)
  std::string fault;                // the `faulty` backend: which bug to plant (faults.h)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Takes the weights once (a GPU backend uploads them here). They outlive the backend.
  virtual void load(const Rwkv7Weights& weights, const BackendOptions& options) = 0;

  // A step: `plan` was built for `layout` (forward::layout_step) and this model.
  virtual void begin_step(const plan::Plan& plan, const forward::StepLayout& layout) = 0;
  virtual void run_op(size_t index) = 0;
  // Ops [begin, end) of the step's plan: a layer, the whole step. A backend may
  // batch them (one command buffer, one graph) as long as the buffers hold the
  // results when it returns.
  virtual void run_ops(size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) run_op(i);
  }
  virtual void end_step() = 0;

  // A plan buffer of the current step, copied to the host in the element type
  // the backend holds it in (a backend that keeps an f16 buffer as f32 says so).
  virtual Tensor read(const std::string& buffer) = 0;
  // Overwrites a plan buffer of the current step (conformance sets inputs so).
  virtual void write(const std::string& buffer, const TensorView& data) = 0;
  // Layer l's state, web-rwkv layout f32 [C, N+2, slots] (reference/kernels/batch.h).
  virtual std::vector<float> read_state(int64_t layer) = 0;
  virtual void write_state(int64_t layer, std::span<const float> state) = 0;
};

// The backends this build has: "reference", "cpu-reordered", "faulty" (and
// "cuda" when built with CUDA). Throws std::invalid_argument listing them for
// an unknown name, or naming the fault for an unknown --fault.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options);
std::vector<std::string> backend_names();

}  // namespace rwkv::backends
