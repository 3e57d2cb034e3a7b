#include "vectors/golden_writer.h"

#include <algorithm>

#include <fmt/format.h>

#include "reference/kernels/matmul.h"

namespace rwkv::vectors {

using plan::Kernel;
using plan::Op;

GoldenPlace golden_op_place(const Op& op, int64_t step) {
  if (op.kernel == Kernel::blit) return {};
  if (op.layer >= 0) {
    const std::string prefix = fmt::format("blocks.{}.", op.layer);
    return {fmt::format("/layers/{}/{}", op.layer, op.name.substr(prefix.size())), true};
  }
  const size_t dot = op.name.find('.');
  const std::string part = op.name.substr(0, dot);
  if (part == "embed") return {"/embed/" + op.name.substr(dot + 1), true};
  // The head runs on the rows that want logits only: a dataset per step.
  const std::string s = fmt::format("/steps/{}", step);
  if (op.name == "head.matmul") return {s + "/logits", false};
  return {fmt::format("{}/{}/{}", s, part, op.name.substr(dot + 1)), false};
}

std::string golden_envelope_path(const std::string& stacked_path) { return "/envelope" + stacked_path; }

std::vector<std::string> golden_envelope_columns(bool global) {
  std::vector<std::string> c = {"max_abs_err_f64", "max_rel_err_f64", "max_abs_f64", "nonfinite_mismatches"};
  if (global)
    for (size_t i = 0, n = c.size(); i < n; ++i) c.push_back(c[i] + "_global");
  return c;
}

Dims golden_dims(const Shape& s) {
  if (s[2] == 1) return {uint64_t(s[1]), uint64_t(s[0])};
  return numpy_dims(s);
}

std::string precision_policy(const forward::ForwardOptions& o) {
  return fmt::format(
      "activations {} (rounded on every store), embedding and ln0 output {}, arithmetic f32, state f32, logits f32, "
      "decay {:.9g}",
      dtype_name(o.activations), o.embedding_f16 ? "f16" : dtype_name(o.activations), o.decay);
}

namespace {

// The catalog name of the kernel variant an op runs (reference/kernel_catalog.h).
std::string kernel_variant(const forward::Executor& ex, const Op& op) {
  if (op.kernel != Kernel::matmul) return std::string(plan::kernel_name(op.kernel));
  const Matrix& m = ex.weights().matrix(op.params.weights.at(0));
  const bool mat = ex.buffer(op.inputs.at(0)).shape[1] % 32 == 0;  // matmul()'s path choice (web-rwkv's)
  const char* kind = mat ? "matmul_mat" : op.params.sparse_input ? "matmul_vec_sparse" : "matmul_vec";
  return fmt::format("{} {} {}", kind, format_name(m.format), activation_name(op.params.act));
}

}  // namespace

GoldenWriter::GoldenWriter(H5Writer& out, GoldenOptions options) : out_(out), stacks_(out), options_(options) {
  if (!options_.envelope) options_.global_envelope = false;
  out_.set_attr("/", "schema", kGoldenSchema);
  out_.set_attr("/", "envelope", !options_.envelope          ? "none"
                                 : options_.global_envelope ? "float64 per op and of the whole run"
                                                            : "float64 per op");
  out_.set_attr("/", "states", options_.states_every_step ? "every step" : "last step");
}

void GoldenWriter::write_provenance(const Provenance& p) {
  const std::string g = "/provenance";
  out_.create_group(g);
  out_.set_attr(g, "tool_version", p.tool_version);
  out_.set_attr(g, "git_commit", p.git_commit);
  out_.set_attr(g, "model_file", p.model_file);
  out_.set_attr(g, "model_sha256", p.model_sha256);
  out_.set_attr(g, "config", p.config_json);
  out_.set_attr(g, "precision", p.precision);
  out_.set_attr(g, "options", p.options_json);
  for (const auto& [what, seed] : p.seeds) out_.set_attr(g, "seed_" + what, seed);
}

void GoldenWriter::write_inputs(std::span<const uint32_t> tokens) {
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  out_.write_i32("/inputs/tokens", ids, {ids.size()});
}

void GoldenWriter::begin_step(const forward::Executor& ex) {
  const std::string g = fmt::format("/steps/{}", step_);
  out_.create_group(g);
  out_.set_attr(g, "first_token", uint64_t(first_token_));
  out_.set_attr(g, "num_tokens", uint64_t(ex.tokens().size()));
  // Which matmul path the step took (web-rwkv's choice: mat for a multiple of 32 rows).
  out_.set_attr(g, "matmul", ex.tokens().size() % 32 == 0 ? "matmul_mat" : "matmul_vec");
  state_errors_.clear();
  if (options_.global_envelope) {
    if (!f64_) f64_ = std::make_unique<forward::Float64Run>(ex.weights(), ex.options(), ex.slots());
    f64_->begin_step(ex.plan(), ex.tokens(), ex.cursors());
  }
}

void GoldenWriter::before_op(const forward::Executor& ex, const Op& op, size_t) {
  if (options_.envelope && forward::OpOracle::measures(op)) oracle_.before(ex, op);
}

void GoldenWriter::set_errors(const std::string& path, const forward::ErrorStats& e, const char* suffix) {
  const std::string s = suffix;
  out_.set_attr(path, "max_abs_err_f64" + s, e.max_abs);
  out_.set_attr(path, "max_rel_err_f64" + s, e.max_rel);
  out_.set_attr(path, "max_abs_f64" + s, e.max_abs_f64);
  if (e.nonfinite) out_.set_attr(path, "nonfinite_mismatches" + s, e.nonfinite);
}

void GoldenWriter::after_op(const forward::Executor& ex, const Op& op, size_t index) {
  if (f64_) f64_->run_op(index);  // every op, blits included: the float64 run must see them all
  const GoldenPlace place = golden_op_place(op, step_);
  if (place.path.empty()) return;
  if (place.stacked)
    write_stacked(ex, op, index, place.path);
  else
    write_step_tensor(ex, op, index, place.path);
}

void GoldenWriter::write_stacked(const forward::Executor& ex, const Op& op, size_t index, const std::string& path) {
  const TensorView t = ex.buffer(op.outputs.at(0));
  // A row per token of the step: [C, T] (d0 fastest) is T rows of C.
  if (t.shape[2] != 1 || t.shape[1] != int64_t(ex.tokens().size()))
    throw H5Error(fmt::format("{}: {}: op {} has shape {}, expected one row per token of the step ({})", out_.path(),
                              path, op.name, t.shape.str(), ex.tokens().size()));
  const H5Type type = t.dtype == DType::f16 ? H5Type::f16 : H5Type::f32;
  stacks_.append(path, type, uint64_t(t.shape[0]), t.data, uint64_t(t.shape[1]));
  if (stacks_.rows(path) != uint64_t(first_token_ + t.shape[1]))
    throw H5Error(fmt::format("{}: {}: op {} ran in some steps only ({} rows after token {})", out_.path(), path,
                              op.name, stacks_.rows(path), first_token_ + t.shape[1]));
  ++tensors_;
  bytes_ += uint64_t(t.numel()) * dtype_size(t.dtype);
  auto [it, created] = stack_info_.try_emplace(path);
  StackInfo& info = it->second;
  const std::string variant = kernel_variant(ex, op);
  if (created) {
    info.op = op.name;
    info.plan_index = uint64_t(index);
    info.dtype_policy = fmt::format("f32 arithmetic, stored {}", dtype_name(t.dtype));
  }
  if (std::find(info.kernels.begin(), info.kernels.end(), variant) == info.kernels.end())
    info.kernels.push_back(variant);
  if (!options_.envelope) return;
  // The step's error row: local columns, then global ones (golden_envelope_columns).
  const forward::OpError e = oracle_.after(ex, op);
  if (e.state) state_errors_[op.params.state_layer].merge(*e.state);
  std::vector<double> row = {e.output.max_abs, e.output.max_rel, e.output.max_abs_f64, double(e.output.nonfinite)};
  if (f64_) {
    const forward::ErrorStats g = forward::compare_with_f64(t, f64_->buffer(op.outputs.at(0)));
    row.insert(row.end(), {g.max_abs, g.max_rel, g.max_abs_f64, double(g.nonfinite)});
  }
  stacks_.append(golden_envelope_path(path), H5Type::f64, row.size(), row.data(), 1);
}

void GoldenWriter::write_step_tensor(const forward::Executor& ex, const Op& op, size_t index, const std::string& path) {
  const TensorView t = ex.buffer(op.outputs.at(0));
  const Dims dims = golden_dims(t.shape);
  if (t.dtype == DType::f16)
    out_.write_f16(path, std::span<const f16>(t.half(), size_t(t.numel())), dims);
  else
    out_.write_f32(path, std::span<const float>(t.f32(), size_t(t.numel())), dims);
  ++tensors_;
  bytes_ += uint64_t(t.numel()) * dtype_size(t.dtype);
  out_.set_attr(path, "op", op.name);
  out_.set_attr(path, "plan_index", uint64_t(index));
  out_.set_attr(path, "kernel", kernel_variant(ex, op));
  out_.set_attr(path, "dtype_policy", fmt::format("f32 arithmetic, stored {}", dtype_name(t.dtype)));
  if (!options_.envelope) return;
  const forward::OpError e = oracle_.after(ex, op);
  set_errors(path, e.output);
  if (e.state) state_errors_[op.params.state_layer].merge(*e.state);
  if (f64_) set_errors(path, forward::compare_with_f64(t, f64_->buffer(op.outputs.at(0))), "_global");
}

void GoldenWriter::write_states(const forward::Executor& ex, const std::string& group) {
  const plan::ModelConfig& c = ex.config();
  for (int64_t l = 0; l < c.L; ++l) {
    const LayerState& s = ex.state(l);
    const std::string path = fmt::format("{}/{}", group, l);
    out_.write_f32(path, std::span<const float>(s.data, size_t(s.C * s.rows() * s.B)),
                   {uint64_t(s.B), uint64_t(s.rows()), uint64_t(s.C)});
    bytes_ += uint64_t(s.C * s.rows() * s.B) * 4;
    ++tensors_;
    auto it = state_errors_.find(l);
    if (options_.envelope && it != state_errors_.end()) set_errors(path, it->second);
    if (f64_) {
      const std::vector<double>& g = f64_->state(l);
      set_errors(path,
                 forward::compare_with_f64(TensorView(s.data, Shape(s.C * s.rows() * s.B)),
                                           oracle::Operand(g.data(), Shape(int64_t(g.size())))),
                 "_global");
    }
  }
}

void GoldenWriter::end_step(const forward::Executor& ex) {
  if (options_.states_every_step) write_states(ex, fmt::format("/steps/{}/state", step_));
  first_token_ += int64_t(ex.tokens().size());
  ++step_;
}

void GoldenWriter::settle() {
  stacks_.flush();
  out_.wait();
}

void GoldenWriter::finish(const forward::Executor& ex) {
  if (!options_.states_every_step && step_ > 0) write_states(ex, "/final_state");
  stacks_.flush();
  std::string columns;
  for (const std::string& c : golden_envelope_columns(options_.global_envelope))
    columns += (columns.empty() ? "" : ",") + c;
  for (const std::string& path : stacks_.paths()) {
    const auto it = stack_info_.find(path);
    if (it == stack_info_.end()) {  // an envelope stack
      out_.set_attr(path, "columns", columns);
      continue;
    }
    const StackInfo& info = it->second;
    std::string kernels;
    for (const std::string& k : info.kernels) kernels += (kernels.empty() ? "" : ", ") + k;
    out_.set_attr(path, "op", info.op);
    out_.set_attr(path, "plan_index", info.plan_index);
    out_.set_attr(path, "kernel", kernels);
    out_.set_attr(path, "dtype_policy", info.dtype_policy);
  }
  out_.set_attr("/", "num_steps", uint64_t(step_));
  out_.set_attr("/", "num_tokens", uint64_t(first_token_));
}

}  // namespace rwkv::vectors
