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
    if (!same) {
      ++s.nonfinite;
      s.max_abs = std::numeric_limits<double>::infinity();
    }
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

}  // namespace

ErrorStats compare_with_f64(const TensorView& ref, const std::vector<double>& f64) {
  if (int64_t(f64.size()) != ref.numel())
    throw std::logic_error(fmt::format("compare_with_f64: {} reference values, {} float64 values", ref.numel(),
                                       f64.size()));
  ErrorStats s;
  for (int64_t i = 0; i < ref.numel(); ++i) account(s, double(ref.get(i)), f64[size_t(i)]);
  return s;
}

std::vector<double> matmul_f64(const Matrix& w, const TensorView& x, Activation act) {
  const int64_t K = w.K, M = w.M, T = x.shape[1];
  require_shape("matmul_f64", "x", x, Shape(K, T, 1));
  std::vector<double> xd(size_t(K * T));
  for (int64_t i = 0; i < K * T; ++i) xd[size_t(i)] = double(x.get(i));
  std::vector<double> y(size_t(M * T));
#pragma omp parallel if (K * M * T >= kParallelMinMacs)
  {
    std::vector<float> row(static_cast<size_t>(K));
    std::vector<double> wd(static_cast<size_t>(K));
#pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
      blocks::dequantize_row(w, m, row.data());
      for (int64_t k = 0; k < K; ++k) wd[size_t(k)] = double(row[size_t(k)]);
      for (int64_t t = 0; t < T; ++t) {
        const double* xr = xd.data() + t * K;
        double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= K; k += 8)
          for (int j = 0; j < 8; ++j) p[j] += wd[size_t(k + j)] * xr[k + j];  // products exact in double
        for (int j = 0; k < K; ++k, ++j) p[j] += wd[size_t(k)] * xr[k];
        const double s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
        y[size_t(t * M + m)] = oracle::activate_f64(act, s);
      }
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

OpError OpOracle::after(const Executor& ex, const Op& op) {
  const plan::OpParams& pr = op.params;
  const Rwkv7Weights& W = ex.weights();
  auto in = [&](size_t i) { return ex.buffer(op.inputs.at(i)); };
  const TensorView out = ex.buffer(op.outputs.at(0));
  TensorView before = out_before_.view();
  auto vec = [&](size_t i) { return W.vector(pr.weights.at(i)); };
  // The in-place operand as it was: inputs that name the output buffer read the copy.
  auto input = [&](size_t i) { return op.inputs.at(i) == op.outputs.at(0) ? before : in(i); };
  OpError r;
  switch (op.kernel) {
    case Kernel::embedding:
      r.output = compare_with_f64(out, oracle::embedding(vec(0).view(), ex.tokens()));
      return r;
    case Kernel::layer_norm:
      r.output = compare_with_f64(out, oracle::layer_norm(input(0), vec(0).data, vec(1).data, pr.eps));
      return r;
    case Kernel::group_norm:
      r.output = compare_with_f64(out, oracle::group_norm(input(0), vec(0).data, vec(1).data, pr.head_size, pr.eps));
      return r;
    case Kernel::l2_norm:
      r.output = compare_with_f64(out, oracle::l2_norm(input(0), pr.head_size, pr.eps));
      return r;
    case Kernel::token_shift:
      r.output = compare_with_f64(
          out, oracle::token_shift(ex.cursors(), ex.state(pr.state_layer), pr.state_row, vec(0).view(), input(0)));
      return r;
    case Kernel::add:
    case Kernel::mul:
    case Kernel::add_activate: {
      BinaryActivations act;
      if (op.kernel == Kernel::add_activate) act.out = pr.act;
      const TensorView operand = pr.weights.empty() ? input(0) : vec(0).view();
      r.output = compare_with_f64(
          out, oracle::binary(op.kernel == Kernel::mul ? BinaryOp::mul : BinaryOp::add, operand, before, act));
      return r;
    }
    case Kernel::lerp:
      r.output = compare_with_f64(out, oracle::lerp(input(0), input(1), before));
      return r;
    case Kernel::matmul:
      r.output = compare_with_f64(out, matmul_f64(W.matrix(pr.weights.at(0)), in(0), pr.act));
      return r;
    case Kernel::control_k_v7:
      r.output = compare_with_f64(out, oracle::control_k_v7(before, input(1), vec(0).data));
      return r;
    case Kernel::time_mix_v7: {
      const LayerState& now = ex.state(pr.state_layer);
      const LayerState was{state_before_.data(), now.C, now.N, now.B};
      TimeMixOracleState st(now.C, now.N, now.B);
      for (int64_t b = 0; b < now.B; ++b) st.load_slot(was, b);
      const TimeMixOracleOutput o =
          time_mix_v7_oracle(st, in(0), in(1), in(2), before, ex.cursors(), double(ex.options().decay));
      r.output = compare_with_f64(out, o.y);
      // The oracle's state back in web-rwkv's layout (rows 0..N of each slot).
      std::vector<double> want(state_before_.begin(), state_before_.end());
      const int64_t C = now.C, N = now.N;
      for (int64_t b = 0; b < now.B; ++b) {
        for (int64_t c = 0; c < C; ++c) want[size_t((b * now.rows()) * C + c)] = st.att_shift[size_t(b * C + c)];
        for (int64_t h = 0; h < C / N; ++h)
          for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
              want[size_t(b * now.rows() * C + now.wkv_offset(h, i, j))] = st.S(b, h, i, j);
      }
      r.state = compare_state_rows(now, want, ex.cursors(), 0, N + 1);
      return r;
    }
    case Kernel::time_first_v7:
      r.output =
          compare_with_f64(out, time_first_v7_oracle(vec(0).view(), in(0), in(1), before, pr.head_size).x);
      return r;
    case Kernel::channel_mix_v7: {
      const LayerState& now = ex.state(pr.state_layer);
      const LayerState was{state_before_.data(), now.C, now.N, now.B};
      const oracle::ChannelMixResult o = oracle::channel_mix_v7(ex.cursors(), was, in(0), before);
      r.output = compare_with_f64(out, o.x);
      r.state = compare_state_rows(now, o.state, ex.cursors(), now.N + 1, now.N + 2);
      return r;
    }
    case Kernel::affine:
      r.output = compare_with_f64(out, oracle::affine(before, pr.scale, pr.bias));
      return r;
    case Kernel::blit:
      break;
  }
  throw std::logic_error(fmt::format("OpOracle: op '{}' ({}) has no float64 oracle", op.name,
                                     plan::kernel_name(op.kernel)));
}

}  // namespace rwkv::forward
