#include "reference/oracle/elementwise_oracle.h"

#include <cmath>

namespace rwkv::oracle {
namespace {

// Element (c, t, b) of a possibly broadcast operand.
double at(const Operand& v, int64_t c, int64_t t, int64_t b) {
  const int64_t tt = v.shape[1] == 1 ? 0 : t, bb = v.shape[2] == 1 ? 0 : b;
  return v.get((bb * v.shape[1] + tt) * v.shape[0] + c);
}

}  // namespace

double activate(Activation a, double x) {
  switch (a) {
    case Activation::tanh: return x > 42 ? 1.0 : std::tanh(x);
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::squared_relu: return std::isnan(x) ? x : x > 0 ? x * x : 0.0;
    case Activation::none: break;
  }
  return x;
}

std::vector<double> token_shift(std::span<const Cursor> cursors, const StateOperand& state, int64_t state_row,
                                const Operand& mu, const Operand& x) {
  const int64_t C = x.shape[0], T = x.shape[1];
  std::vector<double> y(size_t(C * T));
  for (int64_t s = 0; s < T; ++s) {
    const Cursor& cur = cursors[size_t(s)];
    for (int64_t c = 0; c < C; ++c) {
      const double xv = x.get(s * C + c);
      const double prev = s == int64_t(cur.start) ? state.at(cur.batch, state_row, c) : x.get((s - 1) * C + c);
      y[size_t(s * C + c)] = xv + (prev - xv) * at(mu, c, s, 0);
    }
  }
  return y;
}

std::vector<double> lerp(const Operand& f, const Operand& x, const Operand& y) {
  std::vector<double> out(size_t(y.numel()));
  for (int64_t b = 0; b < y.shape[2]; ++b)
    for (int64_t t = 0; t < y.shape[1]; ++t)
      for (int64_t c = 0; c < y.shape[0]; ++c) {
        const int64_t k = (b * y.shape[1] + t) * y.shape[0] + c;
        out[size_t(k)] = y.get(k) + (x.get(k) - y.get(k)) * at(f, c, t, b);
      }
  return out;
}

std::vector<double> binary(BinaryOp op, const Operand& in, const Operand& out, BinaryActivations act) {
  std::vector<double> r(size_t(out.numel()));
  for (int64_t b = 0; b < out.shape[2]; ++b)
    for (int64_t t = 0; t < out.shape[1]; ++t)
      for (int64_t c = 0; c < out.shape[0]; ++c) {
        const int64_t k = (b * out.shape[1] + t) * out.shape[0] + c;
        const double u = activate(act.x, at(in, c, t, b)), w = activate(act.y, out.get(k));
        r[size_t(k)] = activate(act.out, op == BinaryOp::add ? u + w : u * w);
      }
  return r;
}

std::vector<double> affine(const Operand& x, double scale, double bias) {
  std::vector<double> y(size_t(x.numel()));
  for (int64_t k = 0; k < x.numel(); ++k) y[size_t(k)] = scale * x.get(k) + bias;
  return y;
}

std::vector<double> blit(const Operand& in) {
  std::vector<double> y(size_t(in.numel()));
  for (int64_t k = 0; k < in.numel(); ++k) y[size_t(k)] = in.get(k);
  return y;
}

std::vector<double> embedding(const Operand& table, std::span<const uint32_t> ids) {
  const int64_t C = table.shape[0];
  std::vector<double> y;
  for (uint32_t id : ids)
    for (int64_t c = 0; c < C; ++c) y.push_back(table.get(int64_t(id) * C + c));
  return y;
}

std::vector<double> control_k_v7(const Operand& k, const Operand& a, const f16* k_a) {
  std::vector<double> y(size_t(k.numel()));
  for (int64_t i = 0; i < k.numel(); ++i)
    y[size_t(i)] = k.get(i) * (1.0 + (double(a.get(i)) - 1.0) * to_f32(k_a[i % k.shape[0]]));
  return y;
}

ChannelMixResult channel_mix_v7(std::span<const Cursor> cursors, const StateOperand& state, const Operand& v,
                                const Operand& x) {
  const int64_t C = x.shape[0], T = x.shape[1];
  ChannelMixResult r;
  r.state.resize(size_t(state.size()));
  for (int64_t i = 0; i < state.size(); ++i) r.state[size_t(i)] = state.at(i);
  r.x.resize(size_t(C * T));
  for (int64_t s = 0; s < T; ++s) {
    const Cursor& cur = cursors[size_t(s)];
    const bool last = s - int64_t(cur.start) + 1 == int64_t(cur.len);
    for (int64_t c = 0; c < C; ++c) {
      if (last) r.state[size_t((int64_t(cur.batch) * state.rows() + state.N + 1) * C + c)] = x.get(s * C + c);
      r.x[size_t(s * C + c)] = v.get(s * C + c);
    }
  }
  return r;
}

}  // namespace rwkv::oracle
