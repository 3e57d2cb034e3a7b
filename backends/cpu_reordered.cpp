// cpu-reordered and faulty (cpu_reordered.h). Compiled with
// -ffp-contract=fast: unlike the reference, a*b+c may fuse anywhere here.
#include "backends/cpu_reordered.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/kernels/parallel_work.h"

namespace rwkv::backends {

using plan::Kernel;
using plan::Op;

namespace {

// sum a[k] * b[k] as 8 interleaved partial sums, each a chain of fmas, added
// pairwise at the end (an order the reference never uses).
__attribute__((target_clones("fma", "default"))) float dot(const float* a, const float* b, int64_t n) {
  float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) p[j] = std::fma(a[k + j], b[k + j], p[j]);
  for (int j = 0; k < n; ++k, ++j) p[j] = std::fma(a[k], b[k], p[j]);
  return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float activate(Activation a, float x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::tanh: return std::tanh(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::squared_relu: {
      const float r = x > 0 ? x : 0.0f;
      return r * r;
    }
  }
  return x;
}

std::vector<float> to_floats(const TensorView& v) {
  std::vector<float> out(size_t(v.numel()));
  for (int64_t i = 0; i < v.numel(); ++i) out[size_t(i)] = v.get(i);
  return out;
}

// Q4_K decoded our own way: y = fma(d*sc, q, -(dmin*m)); the faults change the
// sign of the minimum or the unpacking of sub-blocks 4..7.
void decode_q4_k_row(const uint8_t* row, int64_t K, float* out, Fault fault) {
  for (int64_t b = 0; b < K / 256; ++b) {
    const uint8_t* blk = row + b * 144;
    const float d = f16_bits_to_f32(uint16_t(blk[0] | blk[1] << 8));
    const float dmin = f16_bits_to_f32(uint16_t(blk[2] | blk[3] << 8));
    const uint8_t* sc = blk + 4;
    const uint8_t* qs = blk + 16;
    for (int j = 0; j < 8; ++j) {
      uint8_t s = 0, m = 0;
      if (j < 4 || fault == Fault::q4k_scale_hi) {  // the fault reads 4..7 like 0..3: low 6 bits only
        s = sc[j] & 63;
        m = sc[j + 4] & 63;
      } else {
        s = uint8_t((sc[j + 4] & 0x0f) | ((sc[j - 4] >> 6) << 4));
        m = uint8_t((sc[j + 4] >> 4) | ((sc[j] >> 6) << 4));
      }
      const float ds = d * float(s), dm = dmin * float(m);
      const float minus = fault == Fault::q4k_min_sign ? dm : -dm;
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = qs[32 * (j / 2) + l];
        const float q = float(j % 2 == 0 ? byte & 0x0f : byte >> 4);
        out[b * 256 + 32 * j + l] = std::fma(ds, q, minus);
      }
    }
  }
}

void decode_row(const Matrix& w, int64_t m, float* out, Fault fault) {
  if (w.format == WeightFormat::q4_k) {
    decode_q4_k_row(w.data + m * blocks::ggml_row_bytes(w.format, w.K), w.K, out, fault);
    return;
  }
  blocks::dequantize_row(w, m, out);  // the formats' values are fixed by their definition
}

}  // namespace

void CpuReordered::load(const Rwkv7Weights& weights, const BackendOptions& options) {
  w_ = &weights;
  options_ = options;
  const plan::ModelConfig& c = weights.config;
  state_.assign(size_t(c.L), std::vector<float>(size_t(c.C * (c.N + 2) * options.slots), 0.0f));
  steps_ = 0;
}

void CpuReordered::begin_step(const plan::Plan& plan, const forward::StepLayout& layout) {
  plan_ = &plan;
  layout_ = layout;
  if (fault_ == Fault::state_not_carried)
    for (auto& s : state_) std::fill(s.begin(), s.end(), 0.0f);
  for (const plan::Buffer& b : plan.buffers) {
    DType t = forward::buffer_dtype(b, options_.forward);
    // The fault: one buffer kept in f32 where the plan stores f16.
    if (fault_ == Fault::f16_store && b.name == "w_lora") t = DType::f32;
    const Shape shape(b.d0, b.d1, b.d2);
    auto it = buffers_.find(b.name);
    if (it == buffers_.end() || it->second.dtype != t || !(it->second.shape == shape))
      buffers_.insert_or_assign(b.name, Tensor(t, shape));
  }
}

void CpuReordered::end_step() { ++steps_; }

TensorView CpuReordered::buf(const std::string& name) {
  auto it = buffers_.find(name);
  if (it == buffers_.end()) throw std::logic_error(fmt::format("cpu-reordered: no buffer '{}'", name));
  return it->second.view();
}

Tensor CpuReordered::read(const std::string& buffer) {
  const TensorView v = buf(buffer);
  Tensor t(v.dtype, v.shape);
  std::memcpy(t.bytes.data(), v.data, t.bytes.size());
  return t;
}

void CpuReordered::write(const std::string& buffer, const TensorView& data) {
  const TensorView v = buf(buffer);
  if (!(v.shape == data.shape))
    throw std::invalid_argument(fmt::format("cpu-reordered: buffer '{}' is {}, data {}", buffer, v.shape.str(),
                                            data.shape.str()));
  for (int64_t i = 0; i < v.numel(); ++i) v.set(i, data.get(i));
}

std::vector<float> CpuReordered::read_state(int64_t layer) { return state_.at(size_t(layer)); }

void CpuReordered::write_state(int64_t layer, std::span<const float> state) {
  auto& s = state_.at(size_t(layer));
  if (state.size() != s.size())
    throw std::invalid_argument(fmt::format("cpu-reordered: state of layer {} needs {} values", layer, s.size()));
  std::copy(state.begin(), state.end(), s.begin());
}

void CpuReordered::matmul(const Op& op) {
  const Matrix& w = w_->matrix(op.params.weights.at(0));
  const TensorView xin = buf(op.inputs.at(0)), y = buf(op.outputs.at(0));
  const int64_t K = w.K, M = w.M, T = xin.shape[1];
  const std::vector<float> x = to_floats(xin);
  Activation act = op.params.act;
  if (fault_ == Fault::decay_act_swap && act == Activation::tanh) act = Activation::sigmoid;
#pragma omp parallel if (K * M * T >= kParallelMinMacs)
  {
    std::vector<float> row(static_cast<size_t>(K));
#pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
      decode_row(w, m, row.data(), fault_);
      for (int64_t t = 0; t < T; ++t) y.set(t * M + m, activate(act, dot(row.data(), x.data() + t * K, K)));
    }
  }
}

// Two passes: the mean, then the mean of squared deviations (population);
// y = fma((x - mean) / sqrt(var + eps), w, b). group: per head of N channels.
void CpuReordered::layer_norm(const Op& op, bool group) {
  const TensorView x = buf(op.inputs.at(0)), out = buf(op.outputs.at(0));
  const f16* wt = w_->vector(op.params.weights.at(0)).data;
  const f16* bs = w_->vector(op.params.weights.at(1)).data;
  const int64_t C = x.shape[0], T = x.shape[1] * x.shape[2];
  int64_t len = group ? op.params.head_size : C;
  float eps = op.params.eps;
  if (fault_ == Fault::ln_eps && !group) eps = 64e-5f;
  if (fault_ == Fault::gn_eps && group) eps = 1e-5f;
  if (fault_ == Fault::gn_group_size && group) len = 32;
  std::vector<float> v(static_cast<size_t>(len));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c0 = 0; c0 < C; c0 += len) {
      float sum = 0;
      for (int64_t i = 0; i < len; ++i) sum += (v[size_t(i)] = x.get(t * C + c0 + i));
      const float mean = sum / float(len);
      float sq = 0;
      for (int64_t i = 0; i < len; ++i) sq = std::fma(v[size_t(i)] - mean, v[size_t(i)] - mean, sq);
      const float sd = std::sqrt(sq / float(len) + eps);
      for (int64_t i = 0; i < len; ++i)
        out.set(t * C + c0 + i,
                std::fma((v[size_t(i)] - mean) / sd, to_f32(wt[c0 + i]), to_f32(bs[c0 + i])));
    }
}

// The official per-head form: sa = S (-kk); S <- S diag(w) + sa (kk*a)^T + v k^T
// (each element as nested fmas); y = S r, sums sequential in j.
void CpuReordered::time_mix(const Op& op) {
  const TensorView r = buf(op.inputs.at(0)), z = buf(op.inputs.at(1)), n = buf(op.inputs.at(2)),
                   x = buf(op.outputs.at(0));
  const int64_t C = x.shape[0], T = x.shape[1], N = op.params.head_size, H = C / N;
  float* state = state_.at(size_t(op.params.state_layer)).data();
  const int64_t rows = N + 2;
  const float decay = options_.forward.decay;
  auto at = [&](int64_t plane, int64_t t, int64_t c) { return n.get((plane * T + t) * C + c); };
  for (int64_t t = 0; t < T; ++t) {
    const Cursor& cur = layout_.cursors[size_t(t)];
    float* slot = state + int64_t(cur.batch) * rows * C;
    if (t == int64_t(cur.start + cur.len) - 1)
      for (int64_t c = 0; c < C; ++c) slot[c] = x.get(t * C + c);  // token-shift state: xa before y
#pragma omp parallel for schedule(static) if (C * N >= kParallelMinElements)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<float> w(static_cast<size_t>(N)), k(static_cast<size_t>(N)), kk(static_cast<size_t>(N)),
          b(static_cast<size_t>(N)), rr(static_cast<size_t>(N));
      for (int64_t j = 0; j < N; ++j) {
        const int64_t c = h * N + j;
        w[size_t(j)] = std::exp(-decay * sigmoid(z.get(t * C + c)));
        k[size_t(j)] = at(0, t, c);
        kk[size_t(j)] = at(3, t, c);
        b[size_t(j)] = kk[size_t(j)] * at(2, t, c);
        rr[size_t(j)] = r.get(t * C + c);
      }
      for (int64_t i = 0; i < N; ++i) {
        auto S = [&](int64_t ii, int64_t jj) -> float& {
          // web-rwkv layout: row 1 + key, column value; the fault swaps them.
          return fault_ == Fault::wkv_transposed ? slot[(1 + ii) * C + h * N + jj] : slot[(1 + jj) * C + h * N + ii];
        };
        float sa = 0;
        for (int64_t j = 0; j < N; ++j) sa = std::fma(S(i, j), -kk[size_t(j)], sa);
        const float vi = at(1, t, h * N + i);
        float y = 0;
        for (int64_t j = 0; j < N; ++j) {
          float& s = S(i, j);
          s = std::fma(s, w[size_t(j)], std::fma(sa, b[size_t(j)], vi * k[size_t(j)]));
          y = std::fma(s, rr[size_t(j)], y);
        }
        x.set(t * C + h * N + i, y);
      }
    }
  }
}

void CpuReordered::run_op(size_t index) {
  const Op& op = plan_->ops.at(index);
  const plan::OpParams& pr = op.params;
  auto in = [&](size_t i) { return buf(op.inputs.at(i)); };
  auto out = [&] { return buf(op.outputs.at(0)); };
  auto wvec = [&](size_t i) { return w_->vector(pr.weights.at(i)); };
  const std::span<const Cursor> cursors = layout_.cursors;
  switch (op.kernel) {
    case Kernel::embedding: {
      const WeightVector e = wvec(0);
      const TensorView o = out();
      const int64_t C = o.shape[0];
      for (size_t s = 0; s < layout_.tokens.size(); ++s)
        for (int64_t c = 0; c < C; ++c)
          o.set(int64_t(s) * C + c, to_f32(e.data[int64_t(layout_.tokens[s]) * C + c]));
      return;
    }
    case Kernel::layer_norm: layer_norm(op, false); return;
    case Kernel::group_norm: layer_norm(op, true); return;
    case Kernel::l2_norm: {
      const TensorView x = in(0), o = out();
      const int64_t N = pr.head_size, rowsn = x.numel() / N;
      for (int64_t r = 0; r < rowsn; ++r) {
        float s = 0;
        for (int64_t i = 0; i < N; ++i) s = std::fma(x.get(r * N + i), x.get(r * N + i), s);
        const float norm = fault_ == Fault::l2_eps_torch ? std::max(std::sqrt(s), pr.eps) : std::sqrt(s + pr.eps);
        for (int64_t i = 0; i < N; ++i) o.set(r * N + i, x.get(r * N + i) / norm);
      }
      return;
    }
    case Kernel::token_shift: {
      // WGSL mix's other form: x * (1 - mu) + prev * mu.
      const TensorView x = in(0), o = out(), mu = wvec(0).view();
      const float* st = state_.at(size_t(pr.state_layer)).data();
      const int64_t C = x.shape[0], T = x.shape[1], rows = w_->config.N + 2;
      for (int64_t s = 0; s < T; ++s) {
        const Cursor& cur = cursors[size_t(s)];
        for (int64_t c = 0; c < C; ++c) {
          const float xv = x.get(s * C + c), m = mu.get(c);
          float prev = s == int64_t(cur.start) ? st[(int64_t(cur.batch) * rows + pr.state_row) * C + c]
                                               : x.get((s - 1) * C + c);
          if (fault_ == Fault::token_shift_off) prev = xv;
          o.set(s * C + c, std::fma(prev, m, xv * (1.0f - m)));
        }
      }
      return;
    }
    case Kernel::blit: {
      const TensorView src = in(0), dst = out();
      if (pr.out_plane >= 0) {
        const int64_t plane = dst.shape[0] * dst.shape[1];
        for (int64_t i = 0; i < src.numel(); ++i) dst.set(pr.out_plane * plane + i, src.get(i));
      } else if (pr.token_count > 0) {
        const int64_t C = src.shape[0];
        for (int64_t i = 0; i < pr.token_count * C; ++i) dst.set(pr.dst_token * C + i, src.get(pr.src_token * C + i));
      } else {
        for (int64_t i = 0; i < src.numel(); ++i) dst.set(i, src.get(i));
      }
      return;
    }
    case Kernel::add:
    case Kernel::mul:
    case Kernel::add_activate: {
      const TensorView a = pr.weights.empty() ? in(0) : wvec(0).view(), o = out();
      const int64_t C = o.shape[0];
      const bool broadcast = a.numel() == C;
      const Activation act = op.kernel == Kernel::add_activate ? pr.act : Activation::none;
      for (int64_t i = 0; i < o.numel(); ++i) {
        const float u = a.get(broadcast ? i % C : i), v = o.get(i);
        o.set(i, activate(act, op.kernel == Kernel::mul ? u * v : u + v));
      }
      return;
    }
    case Kernel::lerp: {
      if (fault_ == Fault::no_v_first_lerp && op.layer > 0) return;
      const TensorView f = in(0), x = in(1), y = out();
      for (int64_t i = 0; i < y.numel(); ++i) y.set(i, std::fma(x.get(i) - y.get(i), f.get(i), y.get(i)));
      return;
    }
    case Kernel::matmul: matmul(op); return;
    case Kernel::control_k_v7: {
      const TensorView k = out(), a = in(1);
      const f16* ka = wvec(0).data;
      const int64_t C = k.shape[0];
      for (int64_t i = 0; i < k.numel(); ++i)
        k.set(i, k.get(i) * std::fma(a.get(i) - 1.0f, to_f32(ka[i % C]), 1.0f));
      return;
    }
    case Kernel::time_mix_v7: time_mix(op); return;
    case Kernel::time_first_v7: {
      const TensorView rk = wvec(0).view(), r = in(0), n = in(1), x = out();
      const int64_t C = x.shape[0], T = x.shape[1], N = pr.head_size;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < C / N; ++h) {
          float xx = 0;
          for (int64_t j = 0; j < N; ++j) {
            const int64_t c = h * N + j;
            xx = std::fma(rk.get(c) * n.get(t * C + c), r.get(t * C + c), xx);
          }
          for (int64_t i = 0; i < N; ++i) {
            const int64_t c = t * C + h * N + i;
            x.set(c, std::fma(xx, n.get(T * C + c), x.get(c)));
          }
        }
      return;
    }
    case Kernel::channel_mix_v7: {
      const TensorView v = in(0), x = out();
      float* st = state_.at(size_t(pr.state_layer)).data();
      const int64_t C = x.shape[0], T = x.shape[1], rows = w_->config.N + 2;
      for (int64_t s = 0; s < T; ++s) {
        const Cursor& cur = cursors[size_t(s)];
        if (s == int64_t(cur.start + cur.len) - 1)
          for (int64_t c = 0; c < C; ++c) st[(int64_t(cur.batch) * rows + rows - 1) * C + c] = x.get(s * C + c);
        for (int64_t c = 0; c < C; ++c) x.set(s * C + c, v.get(s * C + c));
      }
      return;
    }
    case Kernel::affine: {
      const TensorView x = out();
      for (int64_t i = 0; i < x.numel(); ++i) x.set(i, std::fma(pr.scale, x.get(i), pr.bias));
      return;
    }
  }
  throw std::logic_error(fmt::format("cpu-reordered: op '{}' has an unknown kernel", op.name));
}

}  // namespace rwkv::backends
