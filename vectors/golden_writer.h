#pragma once
// Writes a golden file (vectors/SCHEMA.md) while the reference executor runs:
// an OpObserver that stores every op output of every step as it is produced,
// with the reference's own error against the op's float64 execution
// (reference/forward/op_oracle.h), then the states and logits of the step.
// Layer and embedding outputs go to one row stack per op (a row per token of
// the run, vectors/row_stacks.h), so a decode step costs a few HDF5 calls, not
// one dataset per op. Memory stays bounded however many tokens are fed: at
// most one chunk (32 KiB) of rows per stack waits to be written.
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
#include "vectors/row_stacks.h"

namespace rwkv::vectors {

// Schema 2: layer and embedding outputs in row stacks (schema 1 had a dataset
// per op per step).
inline constexpr const char* kGoldenSchema = "rwkv-oracle-golden/2";

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

// Where an op's output is stored: a row stack of the whole run (layer and
// embedding ops, /layers/<l>/<op> and /embed/<op>: every step appends its
// tokens' rows), a dataset of step `step` (the head: /steps/<s>/head/ln_out and
// /steps/<s>/logits), or nowhere (blits, which only copy: path empty).
struct GoldenPlace {
  std::string path;
  bool stacked = false;
};
GoldenPlace golden_op_place(const plan::Op& op, int64_t step);
// The path of the per-step error rows of a stacked tensor: /envelope<path>.
std::string golden_envelope_path(const std::string& stacked_path);
// The columns of an envelope row (local, then global when the file has it).
std::vector<std::string> golden_envelope_columns(bool global);
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
  // Writes the rows waiting for a whole chunk too (bench timings include
  // every byte), then waits for the writer.
  void settle() override;

  int64_t steps_written() const { return step_; }
  int64_t tensors_written() const { return tensors_; }
  uint64_t bytes_written() const { return bytes_; }  // tensor data before compression

 private:
  void write_states(const forward::Executor& ex, const std::string& group);
  void set_errors(const std::string& path, const forward::ErrorStats& e, const char* suffix = "");
  void write_stacked(const forward::Executor& ex, const plan::Op& op, size_t index, const std::string& path);
  void write_step_tensor(const forward::Executor& ex, const plan::Op& op, size_t index, const std::string& path);

  // What a stack's attributes say, set once its rows are all written (finish()).
  struct StackInfo {
    std::string op;
    uint64_t plan_index = 0;
    std::vector<std::string> kernels;  // the variants that wrote rows, first seen first
    std::string dtype_policy;
  };

  H5Writer& out_;
  RowStacks stacks_;
  std::map<std::string, StackInfo> stack_info_;
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
