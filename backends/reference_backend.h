#pragma once
// The reference executor as a backend: the first one, and the harness's
// sanity check (it must agree with itself bit for bit).
#include <memory>

#include "backends/backend.h"

namespace rwkv::backends {

class ReferenceBackend : public Backend {
 public:
  std::string name() const override { return "reference"; }
  void load(const Rwkv7Weights& weights, const BackendOptions& options) override;
  void begin_step(const plan::Plan& plan, const forward::StepLayout& layout) override;
  void run_op(size_t index) override { ex_->run_op(index); }
  void end_step() override { ex_->end_step(); }
  Tensor read(const std::string& buffer) override;
  void write(const std::string& buffer, const TensorView& data) override;
  std::vector<float> read_state(int64_t layer) override;
  void write_state(int64_t layer, std::span<const float> state) override;

  forward::Executor& executor() { return *ex_; }

 private:
  std::unique_ptr<forward::Executor> ex_;
};

}  // namespace rwkv::backends
