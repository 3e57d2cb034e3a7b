#pragma once
// The validation harness: a candidate's tensors against the reference's, op
// by op, layer by layer, each within the tolerance its op kind allows
// (tolerance.h), the first divergence named.
//
//   check_backend  runs the plan on the candidate backend and on the reference
//                  side by side; every op output is compared as soon as both
//                  have produced it (memory holds one op's tensors at a time),
//                  and each layer's state after every step. Isolated: before
//                  each op the candidate is given the reference's inputs (and
//                  after each step its state), so each op is judged on its own
//                  work against its own float64 envelope and the first
//                  divergence is the op that is wrong. A second, chained
//                  instance may run free beside it: how far the candidate as
//                  it really runs drifts, layer after layer.
//   check_files    a golden file against a dump of any engine written in the
//                  same schema (vectors/SCHEMA.md), read tensor by tensor.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/harness/metrics.h"
#include "backends/harness/tolerance.h"

namespace rwkv::harness {

using backends::Backend;
using backends::BackendOptions;

struct CheckRecord {
  int64_t step = 0;
  int64_t layer = -1;   // -1: embedding or head
  std::string op;       // the plan's op name, or "state.<layer>"
  std::string kernel;   // its kernel kind
  DType dtype = DType::f32;  // the reference's stored type
  Shape shape;
  double ref_err = 0;   // E: the reference's own float64 error (max_abs_err_f64)
  OpTolerance tol;
  TensorMetrics m;
  bool pass() const { return m.pass(); }
};

struct CheckOptions {
  std::string backend = "candidate";   // the candidate's name (policy rules match it)
  TolerancePolicy policy;
  bool stop_at_first = false;           // stop after the first failing step
  std::function<void(const CheckRecord&)> on_record;  // sees every record as it is made
};

struct CheckResult {
  std::vector<CheckRecord> records;   // isolated (backend) or the files' tensors
  std::vector<CheckRecord> chained;   // the free-running instance, if any: drift, not judged
  int64_t missing = 0;   // golden tensors the candidate file does not have (check_files)
  bool pass() const;
  // The earliest record (run order: step, then plan order) beyond tolerance.
  const CheckRecord* first_divergence() const;
};

// Per layer (-1 first: embedding and head), the worst |cand - ref| / tolerance
// and the largest max_abs over its ops and steps: how the error grows along depth.
struct LayerGrowth {
  int64_t layer;
  double worst_ratio = 0, max_abs = 0, max_nmse = 0;
  int64_t failing = 0;
};
std::vector<LayerGrowth> error_growth(const std::vector<CheckRecord>& records);

// Steps of a run: chunks of one slot's tokens, as rwkv-oracle golden cuts them.
struct RunSpec {
  std::vector<uint32_t> tokens;
  int64_t chunk = 128;
  forward::LogitsFor logits = forward::LogitsFor::last;
};

// `chained` (may be null): a second instance of the candidate, run free.
CheckResult check_backend(const Rwkv7Weights& w, Backend& candidate, Backend* chained, const BackendOptions& bo,
                          const RunSpec& run, const CheckOptions& o);

// Throws std::runtime_error (bad input) if a file is not a golden file, the
// candidate holds none of the golden's tensors, or a tensor's shape differs.
CheckResult check_files(const std::string& golden, const std::string& candidate, const CheckOptions& o);

// One line per record, test-backend-ops style:
//   "step 0 blocks.3.att.matmul_r [1, 768] f16: OK max_ulp=1 nmse=1.2e-09 ..."
std::string describe(const CheckRecord& r);

}  // namespace rwkv::harness
