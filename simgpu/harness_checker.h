#pragma once
// Functional mode judged by the validation harness: every op of a functional
// run (simgpu/functional.h) is compared, as it completes, with the same op of
// an in-order reference run, under the harness's metrics and default
// tolerance (backends/harness/), and the first op beyond it is named with the
// harness's line. Correct schedules run the reference kernels on the right
// inputs, so they match bit for bit; a schedule that breaks a dependency makes
// an op read a stale buffer, and that op fails.
#include <map>
#include <utility>

#include "backends/harness/harness.h"
#include "simgpu/functional.h"

namespace rwkv::simgpu {

class HarnessChecker : public DescribingChecker {
 public:
  HarnessChecker(const Rwkv7Weights& weights, forward::ForwardOptions options);
  void prepare(const std::vector<std::vector<uint32_t>>& steps) override;
  bool check(int64_t step, size_t index, const forward::Executor& ex) override;

  // Every judged op in run order.
  const std::vector<harness::CheckRecord>& records() const { return records_; }
  // The failing record earliest in plan order (step, then op index), if any.
  const harness::CheckRecord* first_failure() const;
  std::string first_failure_line() const override;

 private:
  struct Expected {
    Tensor output;
    double err = 0;                 // the reference's own float64 error (local envelope)
    std::vector<float> state;       // the layer state after the op, for ops that write it
  };
  const Rwkv7Weights& weights_;
  forward::ForwardOptions options_;
  harness::TolerancePolicy policy_;
  std::map<std::pair<int64_t, size_t>, Expected> expected_;
  std::vector<harness::CheckRecord> records_;
  std::map<std::pair<int64_t, size_t>, size_t> failures_;  // (step, op) -> record index
};

}  // namespace rwkv::simgpu
