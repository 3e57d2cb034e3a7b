// Conformance (conformance.h): a case as a one-op plan, its seeded inputs,
// the reference's run with its float64 error, the candidate's run, the lines.
#include "backends/harness/conformance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "backends/reference_backend.h"
#include "reference/forward/op_oracle.h"
#include "reference/kernels/activation_samples.h"
#include "reference/kernels/random_weights.h"
#include "reference/kernels/time_mix_inputs.h"
#include "reference/plan/op_plan.h"
#include "reference/util/rng.h"

namespace rwkv::harness {

using plan::Kernel;

bool CaseResult::pass() const {
  if (!error.empty()) return false;
  return std::all_of(tensors.begin(), tensors.end(), [](const TensorCheck& t) { return t.m.pass(); });
}

namespace {

// A case's own seed: the run's seed and the case name (FNV-1a), mixed by
// one SplitMix64 step, so that a case draws the same inputs whatever else runs.
uint64_t case_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  return Rng(seed ^ h).next_u64();
}

// The step: random token ids per slot, laid out as every runner lays it out.
forward::StepLayout case_layout(const ConformanceCase& c, Rng& rng) {
  std::vector<std::vector<uint32_t>> tokens(c.chunks.size());
  std::vector<forward::Chunk> chunks;
  for (size_t s = 0; s < c.chunks.size(); ++s) {
    for (uint32_t i = 0; i < c.chunks[s]; ++i) tokens[s].push_back(uint32_t(rng.next_u64() % uint64_t(c.config.V)));
    chunks.push_back(forward::Chunk{uint32_t(s), tokens[s]});
  }
  return forward::layout_step(chunks, c.logits, int64_t(c.chunks.size()), c.config.V);
}

// The one-op plan: the case's op as build_plan emits it for this model and
// step, with the buffers it names (and "logits", which end_step returns).
plan::Plan one_op_plan(const ConformanceCase& c, const forward::StepLayout& layout) {
  plan::PlanOptions po;
  po.rescale = 2;  // layer 1 ends with the residual rescale (the affine op)
  const plan::Plan full = plan::build_plan(c.config, layout.T(), layout.outputs, po);
  plan::Op op;
  if (c.kernel == Kernel::softmax) {
    // Not in the default plan: web-rwkv's softmax job, in place on the logits.
    op = plan::Op{Kernel::softmax, c.op, -1, {"logits"}, {"logits"}, {}};
  } else {
    auto it = std::find_if(full.ops.begin(), full.ops.end(), [&](const plan::Op& o) { return o.name == c.op; });
    if (it == full.ops.end()) throw std::logic_error(fmt::format("conformance: {}: the plan has no op '{}'", c.name, c.op));
    op = *it;
  }
  if (op.kernel != c.kernel)
    throw std::logic_error(fmt::format("conformance: {}: op '{}' is a {}", c.name, c.op, plan::kernel_name(op.kernel)));
  if (c.affine_params) {
    op.params.scale = c.scale;
    op.params.bias = c.bias;
  }
  plan::Plan p;
  p.config = c.config;
  p.T = layout.T();
  p.outputs = layout.outputs;
  std::set<std::string> names(op.inputs.begin(), op.inputs.end());
  names.insert(op.outputs.begin(), op.outputs.end());
  names.insert("logits");
  for (const plan::Buffer& b : full.buffers)
    if (names.count(b.name)) p.buffers.push_back(b);
  p.ops.push_back(std::move(op));
  return p;
}

// f16 weight vectors live in the weights' `converted` storage.
void add_vector(Rwkv7Weights& w, const std::string& name, std::vector<f16> values, Shape shape) {
  auto store = std::make_shared<std::vector<f16>>(std::move(values));
  w.vectors[name] = WeightVector{store->data(), shape};
  w.converted.push_back(std::move(store));
}

std::shared_ptr<Rwkv7Weights> case_weights(const ConformanceCase& c, const plan::Plan& p, Rng& rng) {
  auto w = std::make_shared<Rwkv7Weights>();
  w->path = "conformance " + c.name;
  w->config = c.config;
  w->format = "synthetic";
  const plan::Op& op = p.ops.front();
  const int64_t C = c.config.C;
  for (size_t i = 0; i < op.params.weights.size(); ++i) {
    const std::string& name = op.params.weights[i];
    if (op.kernel == Kernel::matmul) {
      const int64_t K = p.buffer(op.inputs.at(0)).d0, M = p.buffer(op.outputs.at(0)).d0;
      const uint64_t seed = rng.next_u64();
      // Entries of the order of 1/sqrt(K): outputs of the order of 1, where
      // tanh and sigmoid are neither linear nor saturated.
      w->matrices[name] = random_matrix(c.format, K, M, seed, 1.0f / std::sqrt(float(K)));
      continue;
    }
    if (op.kernel == Kernel::embedding) {
      add_vector(*w, name, samples::uniform_f16(rng, C * c.config.V, -1, 1), Shape(C, c.config.V));
      continue;
    }
    if (op.kernel == Kernel::time_first_v7) {
      const Tensor rk = make_time_first_weight(rng.next_u64(), C);
      const f16* h = reinterpret_cast<const f16*>(rk.bytes.data());
      add_vector(*w, name, std::vector<f16>(h, h + C), Shape(C));
      continue;
    }
    float lo = -2, hi = 2;  // norm weights, w0, k_k, a0
    if ((op.kernel == Kernel::layer_norm || op.kernel == Kernel::group_norm) && i == 1) lo = -1, hi = 1;  // bias
    if (op.kernel == Kernel::token_shift) {
      // mu, a little outside [0, 1]; inside it near the f16 maximum (a convex mix stays finite).
      lo = c.edge == CaseEdge::near_f16_max ? 0.0f : -0.2f;
      hi = c.edge == CaseEdge::near_f16_max ? 1.0f : 1.2f;
    }
    if (op.kernel == Kernel::control_k_v7) lo = -1, hi = 2;       // k_a
    add_vector(*w, name, samples::uniform_f16(rng, C, lo, hi), Shape(C));
  }
  return w;
}

// Fills `t` element by element from `f()` (one random draw per statement).
template <class F> void fill(Tensor& t, F&& f) {
  const TensorView v = t.view();
  for (int64_t i = 0; i < v.numel(); ++i) {
    const float x = f(i);
    v.set(i, x);
  }
}

// k * 2^-24 for a random integer k in [-kmax, kmax]: f16 subnormals (kmax < 1024).
float subnormal(Rng& rng, int kmax) {
  const int k = int(rng.next_u64() % uint64_t(2 * kmax + 1)) - kmax;
  return float(k) * 0x1p-24f;
}

// The initial content of a buffer the op reads, by kernel and edge.
void fill_buffer(const ConformanceCase& c, const std::string& name, Tensor& t, Rng& rng) {
  const CaseEdge e = c.edge;
  const bool f16 = t.dtype == DType::f16;
  auto normal = [&](float scale, float offset = 0) { fill(t, [&](int64_t) { return offset + scale * rng.normal(); }); };
  auto uniform = [&](float lo, float hi) { fill(t, [&](int64_t) { return rng.uniform(lo, hi); }); };
  switch (c.kernel) {
    case Kernel::layer_norm:
    case Kernel::group_norm: {
      if (e == CaseEdge::small_variance) return normal(1e-3f, 0.25f);  // variance ~1e-6 < eps
      if (e == CaseEdge::near_f16_max) return uniform(-65000, 65000);
      const float scale = rng.uniform(0.1f, 4);
      const float offset = rng.uniform(-2, 2);
      return normal(scale, offset);
    }
    case Kernel::l2_norm:
      if (e == CaseEdge::tiny_norm) {
        // Head norms below 1e-6: f16 subnormals of at most 2 * 2^-24 (norm <= 8 * 1.2e-7), or f32 of ~1e-8.
        if (f16) return fill(t, [&](int64_t) { return subnormal(rng, 2); });
        return normal(1e-8f);
      }
      if (e == CaseEdge::near_f16_max) return uniform(-65000, 65000);
      return normal(1);
    case Kernel::token_shift:
      if (e == CaseEdge::near_f16_max) return uniform(-65000, 65000);
      return normal(2);
    case Kernel::blit:
      if (e == CaseEdge::nonfinite) {
        const float special[] = {INFINITY, -INFINITY, NAN, -0.0f, f16 ? 3 * 0x1p-24f : 1e-40f, 65504.0f};
        return fill(t, [&](int64_t i) {
          const float v = rng.normal();
          return i % 7 == 3 ? special[(i / 7) % 6] : v;
        });
      }
      return normal(2);
    case Kernel::add:
    case Kernel::mul:
      // Subnormal sums, and subnormal g times ordinary values (mul_g: att_x = g * att_x).
      if (e == CaseEdge::subnormal && !(c.kernel == Kernel::mul && name == "att_x"))
        return fill(t, [&](int64_t) { return subnormal(rng, 1023); });
      if (e == CaseEdge::near_f16_max) return uniform(-32000, 32000);  // sums stay below 65504
      return normal(3);
    case Kernel::add_activate:
      // Mostly ordinary values, a few far out (sigmoid's tails).
      return fill(t, [&](int64_t i) {
        const float v = 3 * rng.normal();
        return i % 97 == 5 ? 20 * v : v;
      });
    case Kernel::lerp:
      if (name == "v_gate") return uniform(0, 1);  // a sigmoid's output
      if (e == CaseEdge::near_f16_max) return uniform(-65000, 65000);
      return normal(2);
    case Kernel::matmul:
      if (c.op.find("ffn.matmul_v") != std::string::npos && name == "ffn_k") {
        // The squared-ReLU hidden: most vec4 columns entirely zero (the sparse path skips them).
        bool zero_group = false;
        return fill(t, [&](int64_t i) {
          if (i % 4 == 0) zero_group = rng.unit() < 0.6f;
          const float v = rng.normal();
          return zero_group || v < 0 ? 0.0f : v * v;
        });
      }
      return normal(1);
    case Kernel::control_k_v7:
      if (name == "a") return uniform(0, 1);
      return normal(1);
    case Kernel::softmax:
      if (e == CaseEdge::large_logits) return normal(10, 90);  // max near 130: exp overflows without it
      return normal(3);
    case Kernel::embedding:
    case Kernel::time_mix_v7:
    case Kernel::time_first_v7:
    case Kernel::channel_mix_v7:
    case Kernel::affine:
      return normal(c.kernel == Kernel::channel_mix_v7 || c.kernel == Kernel::affine ? 2 : 1);
  }
}

// Every buffer's initial content. The WKV ops take the time-mix family's
// realistic inputs (decay biases, a in (0, 1), unit kk per head).
std::map<std::string, Tensor> case_inputs(const ConformanceCase& c, const plan::Plan& p,
                                          const forward::ForwardOptions& fo, Rng& rng) {
  std::map<std::string, Tensor> in;
  const plan::Op& op = p.ops.front();
  const std::set<std::string> read(op.inputs.begin(), op.inputs.end());
  for (const plan::Buffer& b : p.buffers) {
    Tensor t(forward::buffer_dtype(b, fo), Shape(b.d0, b.d1, b.d2));
    // What the op only writes starts as noise (one draw per element).
    if (read.count(b.name)) fill_buffer(c, b.name, t, rng);
    else fill(t, [&](int64_t) { return rng.uniform(-4, 4); });
    in.emplace(b.name, std::move(t));
  }
  if (c.kernel == Kernel::time_mix_v7 || c.kernel == Kernel::time_first_v7) {
    std::vector<std::pair<uint32_t, uint32_t>> chunks;
    for (size_t s = 0; s < c.chunks.size(); ++s) chunks.emplace_back(uint32_t(s), c.chunks[s]);
    TimeMixInputs tm = make_time_mix_inputs(rng.next_u64(), c.activations, c.config.C, c.config.N, chunks);
    in["r"] = std::move(tm.r);
    in["n"] = std::move(tm.n);
    in["att_x"] = std::move(tm.x);
    if (c.kernel == Kernel::time_mix_v7) in["w"] = std::move(tm.z);
  }
  return in;
}

TensorView view_of(const Tensor& t) { return const_cast<Tensor&>(t).view(); }

// Runs the case's step on a backend: state (as a previous step left it),
// inputs, the op.
void run_on(backends::Backend& b, const PreparedCase& p, forward::OpOracle* oracle, forward::OpError* err) {
  b.load(*p.weights, p.options);
  for (size_t l = 0; l < p.states.size(); ++l) b.write_state(int64_t(l), p.states[l]);
  b.begin_step(p.plan, p.layout);
  for (const auto& [name, t] : p.inputs) b.write(name, view_of(t));
  auto* ref = dynamic_cast<backends::ReferenceBackend*>(&b);
  const bool measure = oracle && ref && forward::OpOracle::measures(p.op());
  if (measure) oracle->before(ref->executor(), p.op());
  b.run_op(0);
  if (measure) *err = oracle->after(ref->executor(), p.op());
}

std::string ulp_str(uint64_t u) { return u == UINT64_MAX ? std::string("inf") : fmt::format("{}", u); }

// "[5, 2]" for element i of a [d0, d1, d2] tensor (trailing 1s left out).
std::string coords(const Shape& s, int64_t i) {
  const int64_t c0 = i % s[0], c1 = (i / s[0]) % s[1], c2 = i / (s[0] * s[1]);
  if (s[2] > 1) return fmt::format("[{}, {}, {}]", c0, c1, c2);
  if (s[1] > 1) return fmt::format("[{}, {}]", c0, c1);
  return fmt::format("[{}]", c0);
}

}  // namespace

PreparedCase prepare_case(const ConformanceCase& c, uint64_t seed) {
  PreparedCase p;
  p.spec = &c;
  p.seed = case_seed(seed, c.name);
  Rng rng(p.seed);
  p.options.forward.activations = c.activations;
  p.options.forward.embedding_f16 = c.embedding_f16;
  p.options.slots = int64_t(c.chunks.size());
  p.layout = case_layout(c, rng);
  p.plan = one_op_plan(c, p.layout);
  p.weights = case_weights(c, p.plan, rng);
  p.inputs = case_inputs(c, p.plan, p.options.forward, rng);
  const plan::Op& op = p.op();
  if (op.params.state_layer >= 0)
    for (int64_t l = 0; l < c.config.L; ++l)
      p.states.push_back(make_time_mix_state(rng.next_u64(), c.config.C, c.config.N, p.options.slots, 0.5f));

  backends::ReferenceBackend ref;
  forward::OpOracle oracle;
  forward::OpError err;
  run_on(ref, p, &oracle, &err);
  p.ref_out = ref.read(op.outputs.at(0));
  p.ref_err = err.output.max_abs;
  if (err.state) {
    p.ref_state = ref.read_state(op.params.state_layer);
    p.ref_state_err = err.state->max_abs;
  }
  ref.end_step();
  if (!std::isfinite(p.ref_err) || !std::isfinite(p.ref_state_err))
    throw std::logic_error(fmt::format("conformance: {}: the reference's own float64 error is not finite (the "
                                       "case overflows)",
                                       c.name));
  return p;
}

CaseResult check_case(const PreparedCase& p, backends::Backend& cand, const std::string& backend,
                      const TolerancePolicy& policy) {
  const ConformanceCase& c = *p.spec;
  CaseResult r;
  r.spec = &c;
  Tensor out;
  std::vector<float> state;
  try {
    run_on(cand, p, nullptr, nullptr);
    out = cand.read(p.op().outputs.at(0));
    if (!p.ref_state.empty()) state = cand.read_state(p.op().params.state_layer);
    cand.end_step();
    if (out.numel() != p.ref_out.numel())
      throw std::runtime_error(fmt::format("'{}' has {} elements {}, expected {} {}", p.op().outputs.at(0),
                                           out.numel(), out.shape.str(), p.ref_out.numel(), p.ref_out.shape.str()));
    if (state.size() != p.ref_state.size())
      throw std::runtime_error(fmt::format("the state has {} values, expected {}", state.size(), p.ref_state.size()));
  } catch (const std::exception& e) {
    r.error = e.what();  // a backend that cannot run the case fails it
    return r;
  }
  TensorCheck o;
  o.what = "out";
  o.dtype = p.ref_out.dtype;
  o.shape = p.ref_out.shape;
  o.ref_err = p.ref_err;
  o.tol = policy.lookup(c.name, c.kernel, o.dtype, backend);
  o.m = compare_tensors(view_of(p.ref_out), out.view(), Tolerance{o.tol.k * o.ref_err, o.tol.n});
  r.tensors.push_back(std::move(o));
  if (!p.ref_state.empty()) {
    TensorCheck s;
    s.what = "state";
    s.dtype = DType::f32;
    s.shape = Shape(c.config.C, c.config.N + 2, p.options.slots);
    s.ref_err = p.ref_state_err;
    s.tol = policy.lookup(c.name + ".state", c.kernel, DType::f32, backend);
    s.m = compare_tensors(TensorView(const_cast<float*>(p.ref_state.data()), s.shape),
                          TensorView(state.data(), s.shape), Tolerance{s.tol.k * s.ref_err, s.tol.n});
    r.tensors.push_back(std::move(s));
  }
  return r;
}

std::string describe(const CaseResult& r, bool verbose) {
  std::string s = fmt::format("{}: {}", r.spec->name, r.pass() ? "OK" : "FAIL");
  if (!r.error.empty()) return s + " the backend could not run it: " + r.error;
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const TensorCheck& t = r.tensors[i];
    const TensorMetrics& m = t.m;
    s += fmt::format("{}{}max_ulp={} nmse={:.2g} beyond={}", i ? "; " : " ", i ? t.what + " " : "", ulp_str(m.ulp_max),
                     m.nmse, m.beyond_str());
    if (verbose) {
      std::string hist;
      for (int b = 0; b < kUlpBuckets; ++b)
        if (m.ulp_hist[size_t(b)]) hist += fmt::format("{}{}:{}", hist.empty() ? "" : " ", ulp_bucket_label(b), m.ulp_hist[size_t(b)]);
      s += fmt::format(" (max_abs={:.3g} max_rel={:.3g} cos={:.9f} ulps {{{}}} E={:.3g} k={:g} n={:g}: {})", m.max_abs,
                       m.max_rel, m.cosine, hist, t.ref_err, t.tol.k, t.tol.n, t.tol.source);
    }
  }
  for (const TensorCheck& t : r.tensors) {
    const TensorMetrics& m = t.m;
    if (m.pass()) continue;
    s += fmt::format("; worst {}{} (element {}): ref {:.9g} cand {:.9g} (tolerance {:.3g})", t.what,
                     coords(t.shape, m.worst_index), m.worst_index, m.worst_ref, m.worst_cand, m.worst_tol);
    if (m.nonfinite) s += fmt::format(", {} NaN/Inf mismatches", m.nonfinite);
    if (m.not_stored_type)
      s += fmt::format(", {} values not representable in {}", m.not_stored_type, dtype_name(t.dtype));
  }
  return s;
}

ConformanceSummary run_conformance(const ConformanceOptions& o) {
  const std::vector<const ConformanceCase*> cases = select_cases(o.op_regex);
  backends::BackendOptions bo;
  bo.fault = o.fault;
  backends::make_backend(o.backend, bo);  // an unknown backend or fault throws before anything runs
  ConformanceSummary sum;
  for (const ConformanceCase* c : cases) {
    PreparedCase p = prepare_case(*c, o.seed);
    p.options.fault = o.fault;
    auto cand = backends::make_backend(o.backend, p.options);
    const CaseResult r = check_case(p, *cand, o.backend, o.policy);
    ++sum.cases;
    if (r.pass()) {
      ++sum.passed;
    } else {
      ++sum.failed;
      ++sum.failed_by_kernel[std::string(plan::kernel_name(c->kernel))];
    }
    if (o.on_case) o.on_case(r);
  }
  return sum;
}

}  // namespace rwkv::harness
