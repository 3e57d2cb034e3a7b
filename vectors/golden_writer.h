#pragma once
// Writes a golden file (vectors/SCHEMA.md) while the reference executor runs:
// an OpObserver that stores every op output of every step as it is produced,
// with the reference's own error against the op's float64 execution
// (reference/forward/op_oracle.h), then the states and logits of the step.
// Nothing of a run is held beyond one op's tensors, so memory stays bounded
// however many tokens are fed.
//
//   vectors::H5Writer out("g.h5");
//   vectors::GoldenWriter golden(out, options);
//   golden.write_provenance(provenance);
//   golden.write_inputs(tokens);
//   executor.set_observer(&golden);
//   ... executor.step(...) for every chunk ...
//   golden.finish();  out.close();
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/forward/op_oracle.h"
#include "vectors/h5_file.h"

namespace rwkv::vectors {

inline constexpr const char* kGoldenSchema = "rwkv-oracle-golden/1";

struct GoldenOptions {
  bool envelope = true;           // measure every tensor against its float64 execution (the op alone: local)
  bool global_envelope = true;    // and against a whole run in float64 (global; needs envelope)
  bool states_every_step = true;  // the state after every step, else after the last only
};

struct Provenance {
  std::string tool_version;  // "rwkv-oracle 0.1.0"
  std::string git_commit;    // the oracle's source ("+dirty" if modified)
  std::string model_file;    // file name as given, without its directory
  std::string model_sha256;  // of the whole model file
  std::string config_json;   // the model config
  std::string precision;     // the precision policy in words
  std::string options_json;  // chunk size, logits wanted, decay, ...
  std::map<std::string, uint64_t> seeds;  // seed_<what>
};

// The dataset path of an op's output within step s ("" for ops not stored:
// blits, which only copy).
std::string golden_op_path(const plan::Op& op, int64_t step);
// numpy dims of a plan buffer as stored: [d2, d1, d0] with a leading 1 dropped.
Dims golden_dims(const Shape& s);
// The precision policy of a run, in words (the provenance "precision").
std::string precision_policy(const forward::ForwardOptions& o);

class GoldenWriter : public forward::OpObserver {
 public:
  GoldenWriter(H5Writer& out, GoldenOptions options);

  void write_provenance(const Provenance& p);
  void write_inputs(std::span<const uint32_t> tokens);
  // After the last step: the final states if they were not written every
  // step, and the run's totals on the root.
  void finish(const forward::Executor& ex);

  void begin_step(const forward::Executor& ex) override;
  void before_op(const forward::Executor& ex, const plan::Op& op, size_t index) override;
  void after_op(const forward::Executor& ex, const plan::Op& op, size_t index) override;
  void end_step(const forward::Executor& ex) override;
  void settle() override { out_.wait(); }

  int64_t steps_written() const { return step_; }
  int64_t tensors_written() const { return tensors_; }
  uint64_t bytes_written() const { return bytes_; }  // tensor data before compression

 private:
  void write_states(const forward::Executor& ex, const std::string& group);
  void set_errors(const std::string& path, const forward::ErrorStats& e, const char* suffix = "");

  H5Writer& out_;
  GoldenOptions options_;
  forward::OpOracle oracle_;
  std::unique_ptr<forward::Float64Run> f64_;  // the whole run in float64 (global envelope)
  int64_t step_ = 0;        // index of the step being written
  int64_t first_token_ = 0; // stack index of its first token in the whole run
  int64_t tensors_ = 0;
  uint64_t bytes_ = 0;
  std::map<int64_t, forward::ErrorStats> state_errors_;  // by layer, this step
};

}  // namespace rwkv::vectors
