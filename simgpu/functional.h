#pragma once
// Functional mode: a schedule executes the op plan through the reference
// kernels (reference/forward/executor.h, op by op) in the order the
// simulated device completes the work, so a schedule that breaks a data
// dependency produces wrong tensors. Two findings are reported:
//   - the first op (in run order) that read or overwrote a buffer before the
//     op it depends on had completed, from the dependency check (hazards.h)
//     on the simulated timeline: the cause;
//   - the first op (in plan order) whose outputs differ from an in-order
//     reference run of the same tokens, bit for bit: the effect.
// The comparison sits behind OpChecker so that the validation harness (golden
// files, tolerances) can take it over; simgpu's own checker is the in-order
// reference run.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/model/rwkv7_weights.h"
#include "simgpu/dispatch.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"

namespace rwkv::simgpu {

// The bytes an op leaves behind: its output buffers and, for an op that
// writes the recurrent state, that layer's state. Hashed (SHA-256).
using OpDigest = std::array<uint8_t, 32>;
OpDigest op_output_digest(const forward::Executor& ex, const plan::Op& op);

// Judges every op of a functional run as it completes.
class OpChecker {
 public:
  virtual ~OpChecker() = default;
  // Called before the functional run with the tokens of every step (T = 1 each).
  virtual void prepare(const std::vector<std::vector<uint32_t>>& steps) = 0;
  // Op `index` of step `step` has just run; `ex` holds its outputs. True when they are right.
  virtual bool check(int64_t step, size_t index, const forward::Executor& ex) = 0;
};

// simgpu's checker: an in-order reference run of the same tokens on the same
// weights, every op's outputs hashed, compared bit for bit (the reference is
// deterministic).
class InOrderReference : public OpChecker {
 public:
  InOrderReference(const Rwkv7Weights& weights, forward::ForwardOptions options);
  void prepare(const std::vector<std::vector<uint32_t>>& steps) override;
  bool check(int64_t step, size_t index, const forward::Executor& ex) override;

 private:
  const Rwkv7Weights& weights_;
  forward::ForwardOptions options_;
  std::vector<std::vector<OpDigest>> digests_;  // [step][op]
};

struct OpRef {
  int64_t step = 0;
  size_t index = 0;
  std::string name;
};

struct NotReady {
  OpRef consumer, producer;
  std::string resource;
  std::string hazard;  // RAW, WAR, WAW
  double consumer_start_us = 0, producer_end_us = 0;
};

struct FunctionalReport {
  std::string schedule, config;
  int64_t steps = 0;
  size_t ops_per_step = 0;
  size_t ops_run = 0, ops_divergent = 0;
  std::optional<OpRef> first_divergent;          // plan order
  std::optional<OpRef> first_divergent_run;      // run order
  std::optional<NotReady> first_not_ready;       // run order
  size_t not_ready_count = 0;
  std::vector<std::string> notes;                // e.g. which model the run used
  bool passed() const { return ops_divergent == 0 && !first_not_ready; }
};

// The timeline of `schedule` on the profiles for the plan of `weights`
// (T = 1 per step), then the plan run op by op in that timeline's order.
// `checker` defaults to an InOrderReference. Throws std::invalid_argument if
// the schedule runs steps out of order (the executor runs one step at a time).
FunctionalReport check_functional(const Rwkv7Weights& weights, forward::ForwardOptions options,
                                  const Schedule& schedule, const Profile& given, const Profile* peer,
                                  const WeightFormats& formats, int64_t steps, uint64_t token_seed,
                                  OpChecker* checker = nullptr);

struct FunctionalOptions {
  std::string config_name;     // "" : the timing config if its synthetic model is small enough, else "tiny"
  double max_model_bytes = 512.0 * 1024 * 1024;
  WeightFormats formats;
  int64_t steps = 3;
  uint64_t model_seed = 20261122, token_seed = 7;
};

// check_functional on a synthetic model (reference/model/synth.h) written to
// a temporary file.
FunctionalReport run_functional(const plan::ModelConfig& timing_config, const Schedule& schedule,
                                const Profile& given, const Profile* peer, const FunctionalOptions& options);

std::string describe(const FunctionalReport& r);

}  // namespace rwkv::simgpu
