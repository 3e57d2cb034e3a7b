#include "simgpu/harness_checker.h"

#include <cstring>

#include "reference/forward/op_oracle.h"

namespace rwkv::simgpu {

HarnessChecker::HarnessChecker(const Rwkv7Weights& weights, forward::ForwardOptions options)
    : weights_(weights), options_(options) {}

void HarnessChecker::prepare(const std::vector<std::vector<uint32_t>>& steps) {
  forward::Executor ex(weights_, options_);
  forward::OpOracle oracle;
  expected_.clear();
  for (size_t s = 0; s < steps.size(); ++s) {
    const forward::Chunk chunk{0, steps[s]};
    ex.begin_step(std::span(&chunk, 1));
    for (size_t i = 0; i < ex.plan().ops.size(); ++i) {
      const plan::Op& op = ex.plan().ops[i];
      const bool measured = forward::OpOracle::measures(op);
      if (measured) oracle.before(ex, op);
      ex.run_op(i);
      Expected e;
      const TensorView out = ex.buffer(op.outputs.at(0));
      e.output = Tensor(out.dtype, out.shape);
      std::memcpy(e.output.bytes.data(), out.data, e.output.bytes.size());
      if (measured) e.err = oracle.after(ex, op).output.max_abs;
      if (op.kernel == plan::Kernel::time_mix_v7 || op.kernel == plan::Kernel::channel_mix_v7) {
        const LayerState& st = ex.state(op.params.state_layer);
        e.state.assign(st.data, st.data + st.C * st.rows() * st.B);
      }
      expected_.emplace(std::pair(int64_t(s), i), std::move(e));
    }
    ex.end_step();
  }
}

bool HarnessChecker::check(int64_t step, size_t index, const forward::Executor& ex) {
  const plan::Op& op = ex.plan().ops.at(index);
  const Expected& e = expected_.at(std::pair(step, index));
  const TensorView got = ex.buffer(op.outputs.at(0));
  harness::CheckRecord rec;
  rec.step = step;
  rec.layer = op.layer;
  rec.op = op.name;
  rec.kernel = std::string(plan::kernel_name(op.kernel));
  rec.dtype = got.dtype;
  rec.shape = got.shape;
  rec.ref_err = e.err;
  rec.tol = policy_.lookup(op.name, op.kernel, got.dtype, "simgpu");
  rec.m = harness::compare_tensors(const_cast<Tensor&>(e.output).view(), got,
                                   harness::Tolerance{rec.tol.k * rec.ref_err, rec.tol.n});
  if (!e.state.empty()) {
    // The state the op wrote must match too (a stale state is a broken dependency as well).
    const LayerState& st = ex.state(op.params.state_layer);
    const harness::TensorMetrics sm =
        harness::compare_tensors(TensorView(const_cast<float*>(e.state.data()), Shape(int64_t(e.state.size()))),
                                 TensorView(st.data, Shape(int64_t(e.state.size()))), harness::Tolerance{0, 0});
    if (!sm.pass() && rec.m.pass()) rec.m = sm;
  }
  const bool ok = rec.pass();
  if (!ok) failures_.emplace(std::pair(step, index), records_.size());
  records_.push_back(std::move(rec));
  return ok;
}

std::string HarnessChecker::first_failure_line() const {
  const harness::CheckRecord* f = first_failure();
  return f ? harness::describe(*f) : "";
}

const harness::CheckRecord* HarnessChecker::first_failure() const {
  if (failures_.empty()) return nullptr;
  return &records_.at(failures_.begin()->second);
}

}  // namespace rwkv::simgpu
