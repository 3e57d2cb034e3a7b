#include "backends/harness/harness.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/forward/chunking.h"
#include "reference/forward/op_oracle.h"
#include "vectors/golden_writer.h"
#include "vectors/h5_file.h"

namespace rwkv::harness {

bool CheckResult::pass() const {
  return std::all_of(records.begin(), records.end(), [](const CheckRecord& r) { return r.pass(); });
}

const CheckRecord* CheckResult::first_divergence() const {
  for (const CheckRecord& r : records)
    if (!r.pass()) return &r;
  return nullptr;
}

std::vector<LayerGrowth> error_growth(const std::vector<CheckRecord>& records) {
  std::map<int64_t, LayerGrowth> by;
  for (const CheckRecord& rec : records) {
    LayerGrowth& g = by.try_emplace(rec.layer, LayerGrowth{rec.layer}).first->second;
    g.worst_ratio = std::max(g.worst_ratio, rec.m.worst_ratio);
    g.max_abs = std::max(g.max_abs, rec.m.max_abs);
    g.max_nmse = std::max(g.max_nmse, rec.m.nmse);
    g.failing += !rec.pass();
  }
  std::vector<LayerGrowth> out;
  for (auto& [l, g] : by) out.push_back(g);
  return out;
}

std::string describe(const CheckRecord& r) {
  const TensorMetrics& m = r.m;
  std::string s = fmt::format("step {} {} {} {}: {} max_abs={:.3g} max_ulp={} nmse={:.3g} cos={:.9f} beyond={} "
                              "(E={:.3g}, k={:g}, n={:g})",
                              r.step, r.op, r.shape.str(), dtype_name(r.dtype), r.pass() ? "OK" : "FAIL", m.max_abs,
                              m.ulp_max == UINT64_MAX ? std::string("inf") : fmt::format("{}", m.ulp_max), m.nmse,
                              m.cosine, m.beyond_str(), r.ref_err, r.tol.k, r.tol.n);
  if (!r.pass())
    s += fmt::format("; worst at element {}: ref {:.9g} cand {:.9g} (tolerance {:.3g}){}{}", m.worst_index,
                     m.worst_ref, m.worst_cand, m.worst_tol,
                     m.nonfinite ? fmt::format(", {} NaN/Inf mismatches", m.nonfinite) : "",
                     m.not_stored_type ? fmt::format(", {} values not representable in {}", m.not_stored_type,
                                                     dtype_name(r.dtype))
                                       : "");
  return s;
}

namespace {

Tolerance tolerance_of(const OpTolerance& t, double E) { return Tolerance{t.k * E, t.n}; }

void emit(CheckResult& res, const CheckOptions& o, CheckRecord rec) {
  if (o.on_record) o.on_record(rec);
  res.records.push_back(std::move(rec));
}

}  // namespace

CheckResult check_backend(const Rwkv7Weights& w, Backend& cand, Backend* chained, const BackendOptions& bo,
                          const RunSpec& run, const CheckOptions& o) {
  forward::Executor ref(w, bo.forward, bo.slots);
  cand.load(w, bo);
  if (chained) chained->load(w, bo);
  forward::PlanCache plans;
  forward::OpOracle oracle;
  CheckResult res;
  const std::vector<int64_t> steps = forward::chunk_lengths(int64_t(run.tokens.size()), run.chunk);
  size_t at = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const forward::Chunk chunk{0, std::span(run.tokens).subspan(at, size_t(steps[s]))};
    at += size_t(steps[s]);
    forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), run.logits, bo.slots, w.config.V);
    const plan::Plan& p = plans.get(w.config, layout.T(), layout.outputs);
    cand.begin_step(p, layout);
    if (chained) chained->begin_step(p, layout);
    ref.begin_step(p, std::move(layout));
    auto is_buffer = [&](const std::string& name) {
      return std::any_of(p.buffers.begin(), p.buffers.end(), [&](const plan::Buffer& b) { return b.name == name; });
    };
    std::map<int64_t, forward::ErrorStats> state_err;  // the reference's state error this step, by layer
    bool failed = false;
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const plan::Op& op = p.ops[i];
      const bool stored = !vectors::golden_op_place(op, 0).path.empty();
      if (stored) oracle.before(ref, op);
      // Isolated: the candidate starts the op from the reference's inputs
      // (in-place operands included), before the reference overwrites them.
      for (const std::string& in : op.inputs)
        if (is_buffer(in)) cand.write(in, ref.buffer(in));
      ref.run_op(i);
      cand.run_op(i);
      if (chained) chained->run_op(i);
      if (!stored) continue;
      const forward::OpError e = oracle.after(ref, op);
      if (e.state) state_err[op.params.state_layer].merge(*e.state);
      const TensorView rv = ref.buffer(op.outputs.at(0));
      const Tensor cv = cand.read(op.outputs.at(0));
      CheckRecord rec;
      rec.step = int64_t(s);
      rec.layer = op.layer;
      rec.op = op.name;
      rec.kernel = std::string(plan::kernel_name(op.kernel));
      rec.dtype = rv.dtype;
      rec.shape = rv.shape;
      rec.ref_err = e.output.max_abs;
      rec.tol = o.policy.lookup(op.name, op.kernel, rv.dtype, o.backend);
      rec.m = compare_tensors(rv, const_cast<Tensor&>(cv).view(), tolerance_of(rec.tol, rec.ref_err));
      failed = failed || !rec.pass();
      if (chained) {
        CheckRecord drift = rec;
        const Tensor dv = chained->read(op.outputs.at(0));
        drift.m = compare_tensors(rv, const_cast<Tensor&>(dv).view(), tolerance_of(rec.tol, rec.ref_err));
        res.chained.push_back(std::move(drift));
      }
      emit(res, o, std::move(rec));
    }
    for (int64_t l = 0; l < w.config.L; ++l) {
      const LayerState& rs = ref.state(l);
      std::vector<float> cs = cand.read_state(l);
      CheckRecord rec;
      rec.step = int64_t(s);
      rec.layer = l;
      rec.op = fmt::format("state.{}", l);
      rec.kernel = "state";
      rec.dtype = DType::f32;
      rec.shape = Shape(rs.C, rs.rows(), rs.B);
      rec.ref_err = state_err[l].max_abs;
      rec.tol = o.policy.lookup_state(l, o.backend);
      rec.m = compare_tensors(TensorView(rs.data, rec.shape), TensorView(cs.data(), rec.shape),
                              tolerance_of(rec.tol, rec.ref_err));
      failed = failed || !rec.pass();
      if (chained) {
        CheckRecord drift = rec;
        std::vector<float> ds = chained->read_state(l);
        drift.m = compare_tensors(TensorView(rs.data, rec.shape), TensorView(ds.data(), rec.shape),
                                  tolerance_of(rec.tol, rec.ref_err));
        res.chained.push_back(std::move(drift));
      }
      emit(res, o, std::move(rec));
      // Isolated: the next step starts from the reference's state.
      cand.write_state(l, std::span<const float>(rs.data, size_t(rs.C * rs.rows() * rs.B)));
    }
    ref.end_step();
    cand.end_step();
    if (chained) chained->end_step();
    if (failed && o.stop_at_first) break;
  }
  return res;
}

namespace {

// The kernel kind of a golden dataset from its "kernel" attribute ("matmul_vec fp16 tanh" -> matmul).
plan::Kernel kernel_of(const std::string& variant) {
  const std::string first = variant.substr(0, variant.find(' '));
  if (first.rfind("matmul", 0) == 0) return plan::Kernel::matmul;
  for (int k = 0; k <= int(plan::Kernel::softmax); ++k)
    if (plan::kernel_name(plan::Kernel(k)) == first) return plan::Kernel(k);
  return plan::Kernel::add;  // unknown: the generic element-wise default
}

// Raw rows as a tensor of `dtype`, shape [d0, d1, d2] (d0 fastest).
Tensor tensor_of(DType dtype, const Shape& shape, const void* data) {
  Tensor t(dtype, shape);
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

// A step's tensor, whichever layout the file uses: a dataset of the step
// (/steps/<s>/<key>: schema 1, and dumps written step by step) or the step's
// rows [first, first + n) of the row stack /<key> (schema 2). Numpy shape
// [.., rows, cols] becomes [cols, rows, ..]. nullopt if the file has neither.
struct StepTensor {
  Tensor t;
  std::string path;   // the dataset read
  bool stacked = false;
};
std::optional<StepTensor> read_step_tensor(const vectors::H5Reader& r, const std::string& key, int64_t step,
                                           uint64_t first, uint64_t n) {
  const std::string own = fmt::format("/steps/{}/{}", step, key), stack = "/" + key;
  const bool stacked = !r.is_dataset(own);
  const std::string& path = stacked ? stack : own;
  if (stacked && !r.is_dataset(stack)) return std::nullopt;
  const vectors::DatasetInfo info = r.info(path);
  if (info.type != vectors::H5Type::f16 && info.type != vectors::H5Type::f32)
    throw std::runtime_error(
        fmt::format("{}: {}: a {} dataset, expected f16 or f32", r.path(), path, vectors::h5_type_name(info.type)));
  const DType dtype = info.type == vectors::H5Type::f16 ? DType::f16 : DType::f32;
  if (stacked) {
    if (info.dims.size() != 2)
      throw std::runtime_error(fmt::format("{}: {}: shape {}, expected a row stack [tokens, width]", r.path(), path,
                                           vectors::dims_str(info.dims)));
    const Shape shape(int64_t(info.dims[1]), int64_t(n), 1);
    if (dtype == DType::f16) return StepTensor{tensor_of(dtype, shape, r.read_f16_rows(path, first, n).data()), path, true};
    return StepTensor{tensor_of(dtype, shape, r.read_f32_rows(path, first, n).data()), path, true};
  }
  int64_t d0 = 1, d1 = 1, d2 = 1;
  const auto& d = info.dims;
  if (d.size() >= 1) d0 = int64_t(d.back());
  if (d.size() >= 2) d1 = int64_t(d[d.size() - 2]);
  for (size_t i = 0; i + 2 < d.size(); ++i) d2 *= int64_t(d[i]);
  const Shape shape(d0, d1, d2);
  if (dtype == DType::f16) return StepTensor{tensor_of(dtype, shape, r.read_f16_bits(path).data()), path, false};
  return StepTensor{tensor_of(dtype, shape, r.read_f32(path).data()), path, false};
}

// The reference's error at a golden tensor of step s (global if the file has
// it, else local, else 0), and which of the two it is.
std::pair<double, Envelope> golden_error(const vectors::H5Reader& g, const StepTensor& t, int64_t step) {
  if (!t.stacked) {
    if (g.has_attr(t.path, "max_abs_err_f64_global")) return {g.attr_f64(t.path, "max_abs_err_f64_global"), Envelope::global};
    if (g.has_attr(t.path, "max_abs_err_f64")) return {g.attr_f64(t.path, "max_abs_err_f64"), Envelope::local};
    return {0.0, Envelope::local};
  }
  const std::string env = vectors::golden_envelope_path(t.path);
  if (!g.is_dataset(env)) return {0.0, Envelope::local};
  std::vector<std::string> columns(1);
  for (char ch : g.attr_string(env, "columns"))
    if (ch == ',') columns.emplace_back(); else columns.back() += ch;
  const std::vector<double> row = g.read_f64_rows(env, uint64_t(step), 1);
  const std::pair<const char*, Envelope> wanted[] = {{"max_abs_err_f64_global", Envelope::global},
                                                     {"max_abs_err_f64", Envelope::local}};
  for (const auto& [name, kind] : wanted)
    for (size_t i = 0; i < columns.size() && i < row.size(); ++i)
      if (columns[i] == name) return {row[i], kind};
  throw std::runtime_error(fmt::format("{}: {}: attribute 'columns' names no max_abs_err_f64 column", g.path(), env));
}

}  // namespace

CheckResult check_files(const std::string& golden, const std::string& candidate, const CheckOptions& o) {
  const vectors::H5Reader g(golden), c(candidate);
  const std::string schema = g.has_attr("/", "schema") ? g.attr_string("/", "schema") : "";
  if (schema != vectors::kGoldenSchema)
    throw std::runtime_error(fmt::format("{}: not a golden file of this version (attribute 'schema' is '{}', expected "
                                         "'{}'; rwkv-oracle golden writes one)",
                                         golden, schema, vectors::kGoldenSchema));
  if (!g.is_group("/steps")) throw std::runtime_error(fmt::format("{}: no group /steps", golden));
  // Tensors stacked over the whole run, in run order: embedding, layers.
  std::vector<std::pair<int64_t, std::string>> stacked;  // (layer, key)
  if (g.is_group("/embed"))
    for (const std::string& n : g.members("/embed")) stacked.emplace_back(-1, "embed/" + n);
  if (g.is_group("/layers"))
    for (const std::string& l : g.members("/layers"))
      for (const std::string& n : g.members("/layers/" + l)) stacked.emplace_back(std::stoll(l), "layers/" + l + "/" + n);
  CheckResult res;
  int64_t compared = 0;
  const std::vector<std::string> steps = g.members("/steps");
  for (const std::string& s : steps) {
    const std::string sp = "/steps/" + s;
    const int64_t step = std::stoll(s);
    const uint64_t first = g.attr_u64(sp, "first_token"), n = g.attr_u64(sp, "num_tokens");
    // This step's tensors in run order: embedding, layers, head, logits, states.
    std::vector<std::pair<int64_t, std::string>> keys = stacked;
    if (g.is_group(sp + "/head"))
      for (const std::string& m : g.members(sp + "/head")) keys.emplace_back(-1, "head/" + m);
    if (g.is_dataset(sp + "/logits")) keys.emplace_back(-1, "logits");
    if (g.is_group(sp + "/state"))
      for (const std::string& l : g.members(sp + "/state")) keys.emplace_back(std::stoll(l), "state/" + l);
    bool failed = false;
    for (const auto& [layer, key] : keys) {
      const std::optional<StepTensor> rt = read_step_tensor(g, key, step, first, n);
      const std::optional<StepTensor> ct = read_step_tensor(c, key, step, first, n);
      if (!rt) throw std::runtime_error(fmt::format("{}: step {}: {} listed but not readable", golden, step, key));
      if (!ct) {
        ++res.missing;
        continue;
      }
      if (!(rt->t.shape == ct->t.shape))
        throw std::runtime_error(fmt::format("{}: {} (step {}) has shape {}, the golden file's is {}", candidate,
                                             ct->path, step, ct->t.shape.str(), rt->t.shape.str()));
      const bool state = key.rfind("state/", 0) == 0;
      CheckRecord rec;
      rec.step = step;
      rec.layer = layer;
      rec.op = state ? fmt::format("state.{}", layer)
               : g.has_attr(rt->path, "op") ? g.attr_string(rt->path, "op")
                                            : key;
      const plan::Kernel kind =
          g.has_attr(rt->path, "kernel") ? kernel_of(g.attr_string(rt->path, "kernel")) : plan::Kernel::add;
      rec.kernel = state ? "state" : std::string(plan::kernel_name(kind));
      rec.dtype = rt->t.dtype;
      rec.shape = rt->t.shape;
      // The candidate ran free: judge it against the reference's global error
      // (its distance from a whole run in float64) where the file has it.
      const auto [ref_err, env] = golden_error(g, *rt, step);
      rec.ref_err = ref_err;
      rec.tol = state ? o.policy.lookup_state(layer, o.backend, env)
                      : o.policy.lookup(rec.op, kind, rt->t.dtype, o.backend, env);
      rec.m = compare_tensors(const_cast<Tensor&>(rt->t).view(), const_cast<Tensor&>(ct->t).view(),
                              tolerance_of(rec.tol, rec.ref_err));
      failed = failed || !rec.pass();
      ++compared;
      emit(res, o, std::move(rec));
    }
    if (failed && o.stop_at_first) break;
  }
  if (compared == 0)
    throw std::runtime_error(fmt::format("{}: holds none of the tensors of {} (paths as in vectors/SCHEMA.md, e.g. "
                                         "/layers/0/att.ln1 rows or /steps/0/layers/0/att.ln1)",
                                         candidate, golden));
  return res;
}

}  // namespace rwkv::harness
