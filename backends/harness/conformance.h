#pragma once
// Conformance: every kernel kind of the op plan, one op at a time, on a
// candidate backend against the reference, like llama.cpp's test-backend-ops
// (../shared/spec/validation-and-costs.md 1.3) but seeded and reproducible.
//
// A case is a ONE-OP PLAN: the op exactly as build_plan emits it for a small
// model and step shape (its names, eps, head size, state row, token ranges,
// ...), the plan buffers it touches, synthetic weights of the case's format,
// seeded inputs written with Backend::write (and the recurrent state with
// write_state, before the step begins, as a previous step would have left
// it). The reference runs the op with its float64 oracle watching
// (forward::OpOracle), which gives E, the reference's own error; the
// candidate runs the same plan, and each output tensor (and the layer state
// for the ops that keep it) must be within k * E + n ulp
// (tolerance.h, TolerancePolicy::lookup with the case name as the op name).
//
//   for (const ConformanceCase* c : select_cases(regex)) {
//     const PreparedCase p = prepare_case(*c, seed);        // reference run, E
//     auto cand = backends::make_backend(name, p.options);
//     const CaseResult r = check_case(p, *cand, name, policy);
//     puts(describe(r).c_str());                            // "matmul(...): OK max_ulp=1 ..."
//   }
//
// Case names read like test-backend-ops: kernel(parameters,activation type),
// e.g. "matmul(fmt=q4_k,act=tanh,K=768,M=64,T=7,f16)". They are unique and
// stable; each case's inputs are drawn from the seed and the name alone, so
// a case gives the same line whatever --op selects.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/harness/metrics.h"
#include "backends/harness/tolerance.h"
#include "reference/formats/matrix.h"

namespace rwkv::harness {

// Inputs that exercise what ordinary random values never reach.
enum class CaseEdge : uint8_t {
  none,
  small_variance,  // layer_norm rows whose variance is below eps (eps decides the result)
  near_f16_max,    // values up to ~65000 whose results stay finite
  subnormal,       // f16 subnormals in and out
  tiny_norm,       // l2_norm heads of norm below 1e-6 (eps decides the result)
  large_logits,    // softmax logits above 88 (exp overflows f32 without the max)
  nonfinite,       // NaN, +-Inf, -0 and subnormals copied through
};
const char* edge_name(CaseEdge e);

struct ConformanceCase {
  std::string name;
  plan::Kernel kernel = plan::Kernel::blit;
  std::string op;             // the plan op it runs ("blocks.1.att.matmul_w1"); softmax: built here
  plan::ModelConfig config;   // the model sizes the op is planned for (C, N, V, F, LoRA ranks; L = 2)
  std::vector<uint32_t> chunks;  // tokens of batch slots 0, 1, ... in the step
  forward::LogitsFor logits = forward::LogitsFor::all;
  DType activations = DType::f32;
  bool embedding_f16 = true;  // ForwardOptions::embedding_f16
  WeightFormat format = WeightFormat::fp16;  // matmul
  CaseEdge edge = CaseEdge::none;
  float scale = 1, bias = 0;  // affine: overrides the plan's when `affine_params`
  bool affine_params = false;
  int64_t T() const;
};

// Every case, in a stable order (kernel kinds in plan::Kernel order).
const std::vector<ConformanceCase>& conformance_cases();
// The cases whose name matches `regex` (ECMAScript, searched anywhere in the
// name; empty: all). Throws std::invalid_argument for a bad expression or one
// that matches no case.
std::vector<const ConformanceCase*> select_cases(const std::string& regex);

// A case made concrete: weights, plan, inputs and the reference's results.
struct PreparedCase {
  const ConformanceCase* spec = nullptr;
  uint64_t seed = 0;  // this case's own seed (from the run's seed and the name)
  backends::BackendOptions options;
  std::shared_ptr<Rwkv7Weights> weights;
  plan::Plan plan;  // one op
  forward::StepLayout layout;
  std::map<std::string, Tensor> inputs;         // every plan buffer's initial content
  std::vector<std::vector<float>> states;       // per layer (state ops only; else empty)
  // The reference's results and its own float64 error.
  Tensor ref_out;
  double ref_err = 0;
  std::vector<float> ref_state;  // layer params.state_layer after the op (state ops only)
  double ref_state_err = 0;
  const plan::Op& op() const { return plan.ops.front(); }
};

// Builds and runs the reference. Throws std::logic_error if the reference's
// own error is not finite (a case that overflows: a bug of the case list).
PreparedCase prepare_case(const ConformanceCase& c, uint64_t seed);

struct TensorCheck {
  std::string what;  // "out" (the op's output buffer) or "state"
  DType dtype = DType::f32;
  Shape shape;
  double ref_err = 0;  // E
  OpTolerance tol;
  TensorMetrics m;
};

struct CaseResult {
  const ConformanceCase* spec = nullptr;
  std::vector<TensorCheck> tensors;  // "out", then "state" where the op writes it
  std::string error;                 // the backend threw (or returned a wrong shape): the case fails
  bool pass() const;
};

// Runs the prepared case on `cand` (load, write_state, begin_step, write,
// run_op, read, end_step) and compares. `backend` is the name policy rules
// match; the state is looked up as "<case name>.state".
CaseResult check_case(const PreparedCase& p, backends::Backend& cand, const std::string& backend,
                      const TolerancePolicy& policy);

// One line: "name: OK max_ulp=1 nmse=2.1e-09 beyond=0 of 448" or
// "name: FAIL ... ; worst out[5, 2] (element 133): ref .. cand .. tolerance ..".
// verbose adds max_abs, max_rel, cosine, the ULP histogram, E, k and n.
std::string describe(const CaseResult& r, bool verbose = false);

struct ConformanceOptions {
  std::string backend;  // a name make_backend knows
  std::string fault;    // the faulty backend's bug
  uint64_t seed = 1;
  std::string op_regex;
  TolerancePolicy policy;
  std::function<void(const CaseResult&)> on_case;  // sees each result as it is made
};

struct ConformanceSummary {
  int64_t cases = 0, passed = 0, failed = 0;
  std::map<std::string, int64_t> failed_by_kernel;
  bool pass() const { return failed == 0; }
};

// Throws std::invalid_argument for an unknown backend or fault, or an --op
// that matches nothing (before any case runs).
ConformanceSummary run_conformance(const ConformanceOptions& o);

}  // namespace rwkv::harness
