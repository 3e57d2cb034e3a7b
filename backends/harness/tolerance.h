#pragma once
// The default tolerance of each op kind and the policy file that overrides it.
//
// A candidate's element passes when |cand - ref| <= k * E + n * ulp(ref):
// E is the reference's own float64-measured error of that op (its envelope,
// vectors/SCHEMA.md: max_abs_err_f64), k how many times that a correct
// backend may be off, n a floor in units in the last place of the stored type
// for what E cannot see (two correct roundings of nearly equal f32 values can
// land one f16 ulp apart even where E is tiny). The defaults and their
// reasoning are in tolerance.cpp and backends/README.md.
//
// Which E: an isolated check (a backend given the reference's inputs before
// each op) uses the op's local envelope, the error of that op alone; a chained
// comparison (a dump of an engine that ran free) uses the global envelope, the
// reference's distance from a whole run in float64, which grows along depth
// as a correct engine's drift does. The defaults differ between the two.
//
// Policy file (JSON): rules applied in order, the last that matches wins; any
// field but k and n may be left out (it then matches everything):
//   {"rules": [
//     {"op": "*.matmul_*", "dtype": "f16", "backend": "cuda", "k": 6, "n": 2, "why": "tensor-core order"},
//     {"op": "blocks.*.att.time_mix", "k": 16}
//   ]}
// op: a glob (fnmatch) over the plan's op names ("blocks.3.att.matmul_r",
// "head.matmul", "state.3" for layer 3's state); dtype: f16 or f32; backend: a
// glob over backend names.
#include <string>
#include <vector>

#include "reference/plan/op_plan.h"
#include "reference/tensor.h"

namespace rwkv::harness {

enum class Envelope : uint8_t { local, global };

struct ToleranceRule {
  std::string op = "*", dtype = "*", backend = "*";
  double k = 0, n = 0;
  std::string why;
};

struct OpTolerance {
  double k = 0, n = 0;
  std::string source;  // "default: <kernel>" or "policy rule <i>"
};

class TolerancePolicy {
 public:
  // The defaults only.
  TolerancePolicy();
  // Defaults, then the file's rules. Throws std::runtime_error naming the file
  // and the rule/field on a bad file.
  static TolerancePolicy from_file(const std::string& path);

  // The tolerance of an op's output (`op_name` as in the plan, `kernel` its kind).
  OpTolerance lookup(const std::string& op_name, plan::Kernel kernel, DType dtype, const std::string& backend,
                     Envelope env = Envelope::local) const;
  // The state after a step ("state.<layer>").
  OpTolerance lookup_state(int64_t layer, const std::string& backend, Envelope env = Envelope::local) const;

  const std::vector<ToleranceRule>& rules() const { return rules_; }

 private:
  std::vector<ToleranceRule> rules_;  // from the file, in order
};

// The default (k, n) of a kernel kind and stored type, with the reason.
ToleranceRule default_tolerance(plan::Kernel kernel, DType dtype, Envelope env = Envelope::local);
ToleranceRule default_state_tolerance(Envelope env = Envelope::local);

}  // namespace rwkv::harness
