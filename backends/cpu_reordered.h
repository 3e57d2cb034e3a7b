#pragma once
// cpu-reordered: the RWKV-7 op plan computed a second, independent and
// legitimate way, the stand-in for a correct GPU backend whose small
// differences the harness must accept:
//   - other summation orders (sequential or 8-way interleaved sums, two-pass
//     mean and variance instead of Welford with a tree),
//   - FMA contraction on (std::fma in every multiply-add of the formulas, and
//     the dot products compiled with FMA where the CPU has it),
//   - float32 library functions (std::exp, std::tanh, std::sqrt and a division
//     instead of the canonical exp/tanh/rsqrt),
//   - its own Q4_K decoding (fma(d*sc, q, -dmin*m)).
// With a fault (faults.h) it becomes the `faulty` backend: the same code with
// one bug planted.
#include <map>

#include "backends/backend.h"
#include "backends/faults.h"

namespace rwkv::backends {

class CpuReordered : public Backend {
 public:
  explicit CpuReordered(Fault fault = Fault::none) : fault_(fault) {}
  std::string name() const override { return fault_ == Fault::none ? "cpu-reordered" : "faulty"; }
  void load(const Rwkv7Weights& weights, const BackendOptions& options) override;
  void begin_step(const plan::Plan& plan, const forward::StepLayout& layout) override;
  void run_op(size_t index) override;
  void end_step() override;
  Tensor read(const std::string& buffer) override;
  void write(const std::string& buffer, const TensorView& data) override;
  std::vector<float> read_state(int64_t layer) override;
  void write_state(int64_t layer, std::span<const float> state) override;

 private:
  TensorView buf(const std::string& name);
  void matmul(const plan::Op& op);
  void layer_norm(const plan::Op& op, bool group);
  void time_mix(const plan::Op& op);

  Fault fault_;
  const Rwkv7Weights* w_ = nullptr;
  BackendOptions options_;
  const plan::Plan* plan_ = nullptr;
  forward::StepLayout layout_;
  std::map<std::string, Tensor> buffers_;
  std::vector<std::vector<float>> state_;  // per layer [C, N+2, slots]
  int64_t steps_ = 0;
};

}  // namespace rwkv::backends
