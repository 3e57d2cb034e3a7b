#include "reference/forward/op_oracle.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/kernels/parallel_work.h"
#include "reference/oracle/elementwise_oracle.h"
#include "reference/oracle/matmul_oracle.h"
#include "reference/oracle/norm_oracle.h"
#include "reference/oracle/softmax_oracle.h"
#include "reference/oracle/time_mix_oracle.h"

namespace rwkv::forward {

using plan::Kernel;
using plan::Op;

void ErrorStats::merge(const ErrorStats& o) {
  count += o.count;
  max_abs = std::max(max_abs, o.max_abs);
  max_rel = std::max(max_rel, o.max_rel);
  max_abs_f64 = std::max(max_abs_f64, o.max_abs_f64);
  nonfinite += o.nonfinite;
}

namespace {

// One element's contribution (ref value r, float64 value e).
void account(ErrorStats& s, double r, double e) {
  ++s.count;
  if (!std::isfinite(r) || !std::isfinite(e)) {
    const bool same = (std::isnan(r) && std::isnan(e)) || r == e;
    if (!same) ++s.nonfinite;  // counted apart: max_abs stays the finite elements' (a tolerance scale)
    return;
  }
  const double d = std::abs(r - e);
  s.max_abs = std::max(s.max_abs, d);
  s.max_abs_f64 = std::max(s.max_abs_f64, std::abs(e));
  if (e != 0) s.max_rel = std::max(s.max_rel, d / std::abs(e));
}

// A copy of a buffer (the state of an in-place operand before the op).
Tensor copy_of(const TensorView& v) {
  Tensor t(v.dtype, v.shape);
  std::memcpy(t.bytes.data(), v.data, t.bytes.size());
  return t;
}

// The rows an op wrote into a layer state, against the oracle's state buffer
// (same layout), over the slots the step's cursors touch.
ErrorStats compare_state_rows(const LayerState& s, const std::vector<double>& want, std::span<const Cursor> cursors,
                              int64_t row_begin, int64_t row_end) {
  ErrorStats e;
  std::vector<bool> done(size_t(s.B), false);
  for (const Cursor& c : cursors) {
    if (done[c.batch]) continue;
    done[c.batch] = true;
    for (int64_t r = row_begin; r < row_end; ++r)
      for (int64_t i = 0; i < s.C; ++i) {
        const int64_t k = (int64_t(c.batch) * s.rows() + r) * s.C + i;
        account(e, double(s.data[k]), want[size_t(k)]);
      }
  }
  return e;
}

// sum w[k] * x[k] in double as 8 interleaved partial sums (k mod 8), added
// ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)). w is the row's decoded
// f32 weights, widened here (exact), so a decode step converts each weight
// once, in the same pass as its product. Each lane of a vector version does
// exactly one partial's operations (no FMA: -ffp-contract=off; the products
// of two floats are exact in double anyway), so every clone gives the same bits.
__attribute__((target_clones("avx512f", "avx2", "default"))) double dot8(const float* w, const double* x,
                                                                          int64_t K) {
  double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8)
    for (int j = 0; j < 8; ++j) p[j] += double(w[k + j]) * x[k + j];
  for (int j = 0; k < K; ++k, ++j) p[j] += double(w[k]) * x[k];
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

}  // namespace

ErrorStats compare_with_f64(const TensorView& ref, const oracle::Operand& f64) {
  if (f64.numel() != ref.numel())
    throw std::logic_error(fmt::format("compare_with_f64: {} reference values, {} float64 values", ref.numel(),
                                       f64.numel()));
  ErrorStats s;
  for (int64_t i = 0; i < ref.numel(); ++i) account(s, double(ref.get(i)), f64.get(i));
  return s;
}

ErrorStats compare_with_f64(const TensorView& ref, const std::vector<double>& f64) {
  if (int64_t(f64.size()) != ref.numel())
    throw std::logic_error(fmt::format("compare_with_f64: {} reference values, {} float64 values", ref.numel(),
                                       f64.size()));
  ErrorStats s;
  for (int64_t i = 0; i < ref.numel(); ++i) account(s, double(ref.get(i)), f64[size_t(i)]);
  return s;
}

std::vector<double> matmul_f64(const Matrix& w, const oracle::Operand& x, Activation act) {
  const int64_t K = w.K, M = w.M, T = x.shape[1];
  if (!(x.shape == Shape(K, T, 1)))
    fail_arg("matmul_f64: x has shape {}, expected {}", x.shape.str(), Shape(K, T, 1).str());
  std::vector<double> xd(size_t(K * T));
  for (int64_t i = 0; i < K * T; ++i) xd[size_t(i)] = double(x.get(i));
  std::vector<double> y(size_t(M * T));
#pragma omp parallel if (K * M * T >= kParallelMinMacs)
  {
    std::vector<float> row(static_cast<size_t>(K));
#pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
      blocks::dequantize_row(w, m, row.data());
      for (int64_t t = 0; t < T; ++t)
        y[size_t(t * M + m)] = oracle::activate_f64(act, dot8(row.data(), xd.data() + t * K, K));
    }
  }
  return y;
}

bool OpOracle::measures(const Op& op) { return op.kernel != Kernel::blit; }

void OpOracle::before(const Executor& ex, const Op& op) {
  state_before_.clear();
  out_before_ = Tensor();
  if (!measures(op)) return;
  // Every op but the matmul and the gather updates its output in place or
  // reads it (token_shift writes a separate buffer but is cheap to copy).
  if (op.kernel != Kernel::matmul && op.kernel != Kernel::embedding) out_before_ = copy_of(ex.buffer(op.outputs.at(0)));
  if (op.kernel == Kernel::time_mix_v7 || op.kernel == Kernel::channel_mix_v7) {
    const LayerState& s = ex.state(op.params.state_layer);
    state_before_.assign(s.data, s.data + s.C * s.rows() * s.B);
  }
}

OpValues evaluate_f64(const Op& op, const Rwkv7Weights& W, std::span<const uint32_t> tokens,
                      std::span<const Cursor> cursors, float decay, const OpOperands& in) {
  const plan::OpParams& pr = op.params;
  auto vec = [&](size_t i) { return W.vector(pr.weights.at(i)); };
  auto before = [&]() -> const oracle::Operand& {
    if (!in.out_before) throw std::logic_error(fmt::format("evaluate_f64: op '{}' needs its output before", op.name));
    return *in.out_before;
  };
  auto state = [&]() -> const oracle::StateOperand& {
    if (!in.state_before) throw std::logic_error(fmt::format("evaluate_f64: op '{}' needs its state", op.name));
    return *in.state_before;
  };
  OpValues r;
  switch (op.kernel) {
    case Kernel::embedding: r.output = oracle::embedding(vec(0).view(), tokens); return r;
    case Kernel::layer_norm: r.output = oracle::layer_norm(in.input(0), vec(0).data, vec(1).data, pr.eps); return r;
    case Kernel::group_norm:
      r.output = oracle::group_norm(in.input(0), vec(0).data, vec(1).data, pr.head_size, pr.eps);
      return r;
    case Kernel::l2_norm: r.output = oracle::l2_norm(in.input(0), pr.head_size, pr.eps); return r;
    case Kernel::token_shift:
      r.output = oracle::token_shift(cursors, state(), pr.state_row, vec(0).view(), in.input(0));
      return r;
    case Kernel::blit: {
      // A copy into the output as it was: a plane of n, a run of tokens, or all.
      const oracle::Operand src = in.input(0), dst = before();
      r.output.resize(size_t(dst.numel()));
      for (int64_t i = 0; i < dst.numel(); ++i) r.output[size_t(i)] = dst.get(i);
      int64_t from = 0, to = 0, n = src.numel();
      if (pr.out_plane >= 0) to = pr.out_plane * src.numel();
      if (pr.token_count > 0) {
        from = pr.src_token * src.shape[0];
        to = pr.dst_token * src.shape[0];
        n = pr.token_count * src.shape[0];
      }
      for (int64_t i = 0; i < n; ++i) r.output[size_t(to + i)] = src.get(from + i);
      return r;
    }
    case Kernel::add:
    case Kernel::mul:
    case Kernel::add_activate: {
      BinaryActivations act;
      if (op.kernel == Kernel::add_activate) act.out = pr.act;
      const oracle::Operand operand = pr.weights.empty() ? in.input(0) : oracle::Operand(vec(0).view());
      r.output = oracle::binary(op.kernel == Kernel::mul ? BinaryOp::mul : BinaryOp::add, operand, before(), act);
      return r;
    }
    case Kernel::lerp: r.output = oracle::lerp(in.input(0), in.input(1), before()); return r;
    case Kernel::matmul: r.output = matmul_f64(W.matrix(pr.weights.at(0)), in.input(0), pr.act); return r;
    case Kernel::control_k_v7: r.output = oracle::control_k_v7(before(), in.input(1), vec(0).data); return r;
    case Kernel::time_mix_v7: {
      const oracle::StateOperand& was = state();
      TimeMixOracleState st(was.C, was.N, was.B);
      for (int64_t b = 0; b < was.B; ++b) st.load_slot(was, b);
      r.output = time_mix_v7_oracle(st, in.input(0), in.input(1), in.input(2), before(), cursors, double(decay)).y;
      // The oracle's state back in web-rwkv's layout (rows 0..N of each slot).
      std::vector<double> after(size_t(was.size()));
      for (int64_t i = 0; i < was.size(); ++i) after[size_t(i)] = was.at(i);
      const int64_t C = was.C, N = was.N;
      for (int64_t b = 0; b < was.B; ++b) {
        for (int64_t c = 0; c < C; ++c) after[size_t(b * was.rows() * C + c)] = st.att_shift[size_t(b * C + c)];
        for (int64_t h = 0; h < C / N; ++h)
          for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
              after[size_t((b * was.rows() + 1 + j) * C + h * N + i)] = st.S(b, h, i, j);
      }
      r.state = std::move(after);
      return r;
    }
    case Kernel::time_first_v7:
      r.output = time_first_v7_oracle(vec(0).view(), in.input(0), in.input(1), before(), pr.head_size).x;
      return r;
    case Kernel::channel_mix_v7: {
      oracle::ChannelMixResult o = oracle::channel_mix_v7(cursors, state(), in.input(0), before());
      r.output = std::move(o.x);
      r.state = std::move(o.state);
      return r;
    }
    case Kernel::affine: r.output = oracle::affine(before(), pr.scale, pr.bias); return r;
    case Kernel::softmax: r.output = oracle::softmax(in.input(0)); return r;
  }
  throw std::logic_error(fmt::format("evaluate_f64: op '{}' has an unknown kernel", op.name));
}

OpError OpOracle::after(const Executor& ex, const Op& op) {
  if (!measures(op))
    throw std::logic_error(fmt::format("OpOracle: op '{}' ({}) is a copy and is not measured", op.name,
                                       plan::kernel_name(op.kernel)));
  const TensorView out = ex.buffer(op.outputs.at(0));
  OpOperands in;
  const bool has_before = !out_before_.bytes.empty();
  in.input = [&](size_t i) -> oracle::Operand {
    const std::string& name = op.inputs.at(i);
    if (name == op.outputs.at(0) && has_before) return out_before_.view();  // in place: as it was
    return ex.buffer(name);
  };
  if (has_before) in.out_before = oracle::Operand(out_before_.view());
  if (op.params.state_layer >= 0) {
    const LayerState& now = ex.state(op.params.state_layer);
    if (!state_before_.empty())
      in.state_before = oracle::StateOperand(LayerState{state_before_.data(), now.C, now.N, now.B});
    else
      in.state_before = oracle::StateOperand(now);  // token_shift only reads it
  }
  const OpValues v = evaluate_f64(op, ex.weights(), ex.tokens(), ex.cursors(), ex.options().decay, in);
  OpError r;
  r.output = compare_with_f64(out, v.output);
  if (v.state) {
    const LayerState& now = ex.state(op.params.state_layer);
    r.state = op.kernel == Kernel::time_mix_v7 ? compare_state_rows(now, *v.state, ex.cursors(), 0, now.N + 1)
                                               : compare_state_rows(now, *v.state, ex.cursors(), now.N + 1, now.N + 2);
  }
  return r;
}

Float64Run::Float64Run(const Rwkv7Weights& w, const ForwardOptions& o, int64_t slots) : w_(w), decay_(o.decay) {
  const plan::ModelConfig& c = w.config;
  state_.assign(size_t(c.L), std::vector<double>(size_t(c.C * (c.N + 2) * slots), 0.0));
}

void Float64Run::begin_step(const plan::Plan& plan, std::span<const uint32_t> tokens, std::span<const Cursor> cursors) {
  plan_ = &plan;
  tokens_.assign(tokens.begin(), tokens.end());
  cursors_.assign(cursors.begin(), cursors.end());
  for (const plan::Buffer& b : plan.buffers) {
    const Shape shape(b.d0, b.d1, b.d2);
    auto it = buffers_.find(b.name);
    if (it == buffers_.end() || !(it->second.first == shape))
      buffers_.insert_or_assign(b.name, std::pair(shape, std::vector<double>(size_t(shape.numel()), 0.0)));
  }
}

oracle::Operand Float64Run::buffer(const std::string& name) const {
  auto it = buffers_.find(name);
  if (it == buffers_.end()) throw std::logic_error(fmt::format("Float64Run: no buffer '{}'", name));
  return oracle::Operand(it->second.second.data(), it->second.first);
}

void Float64Run::run_op(size_t index) {
  const Op& op = plan_->ops.at(index);
  const plan::ModelConfig& c = w_.config;
  OpOperands in;
  in.input = [&](size_t i) { return buffer(op.inputs.at(i)); };
  if (op.kernel != Kernel::embedding) in.out_before = buffer(op.outputs.at(0));
  if (op.params.state_layer >= 0) {
    const std::vector<double>& s = state_.at(size_t(op.params.state_layer));
    in.state_before = oracle::StateOperand(s.data(), c.C, c.N, int64_t(s.size()) / (c.C * (c.N + 2)));
  }
  OpValues v = evaluate_f64(op, w_, tokens_, cursors_, decay_, in);
  std::vector<double>& out = buffers_.at(op.outputs.at(0)).second;
  if (v.output.size() != out.size())
    throw std::logic_error(fmt::format("Float64Run: op '{}' gave {} values for a buffer of {}", op.name,
                                       v.output.size(), out.size()));
  out = std::move(v.output);
  if (v.state) state_.at(size_t(op.params.state_layer)) = std::move(*v.state);
}

}  // namespace rwkv::forward
