#include "reference/forward/executor.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/kernels/elementwise.h"
#include "reference/kernels/matmul.h"
#include "reference/kernels/norm.h"

namespace rwkv::forward {

using plan::Kernel;
using plan::Op;

Executor::Executor(const Rwkv7Weights& weights, ForwardOptions options) : weights_(weights), options_(options) {
  const plan::ModelConfig& c = weights_.config;
  state_data_.assign(size_t(c.L), std::vector<float>(size_t(c.C * (c.N + 2)), 0.0f));
  for (auto& d : state_data_) states_.push_back(LayerState{d.data(), c.C, c.N, 1});
}

void Executor::reset() {
  for (auto& d : state_data_) std::fill(d.begin(), d.end(), 0.0f);
  steps_done_ = 0;
}

TensorView Executor::buffer(const std::string& name) const {
  auto it = buffers_.find(name);
  if (it == buffers_.end()) throw std::logic_error(fmt::format("executor: plan buffer '{}' not allocated", name));
  // Observers get views onto the executor's own buffers; they must not write.
  return const_cast<Tensor&>(it->second).view();
}

TensorView Executor::operand(const Op& op) {
  if (!op.params.weights.empty()) return weights_.vector(op.params.weights[0]).view();
  return buffer(op.inputs.at(0));
}

std::vector<float> Executor::step(std::span<const uint32_t> tokens) {
  const int64_t T = int64_t(tokens.size());
  if (T < 1) throw std::invalid_argument("executor: step needs at least one token");
  auto it = plans_.find(T);
  if (it == plans_.end()) it = plans_.emplace(T, plan::build_plan(weights_.config, T)).first;
  const plan::Plan& p = it->second;
  if (buffers_T_ != T) {
    buffers_.clear();
    for (const plan::Buffer& b : p.buffers) {
      const bool f16 = b.type == plan::BufferType::f16 && options_.embedding_f16;
      const DType t = f16                               ? DType::f16
                      : b.type == plan::BufferType::f32 ? DType::f32
                                                        : options_.activations;
      buffers_.emplace(b.name, Tensor(t, Shape(b.d0, b.d1, b.d2)));
    }
    buffers_T_ = T;
  }
  cursors_ = make_cursors({{0u, uint32_t(T)}});
  plan_ = &p;
  tokens_ = tokens;
  if (observer_) observer_->begin_step(*this);
  for (size_t i = 0; i < p.ops.size(); ++i) {
    if (observer_) observer_->before_op(*this, p.ops[i], i);
    run(p.ops[i], tokens, cursors_);
    if (observer_) observer_->after_op(*this, p.ops[i], i);
  }
  if (observer_) observer_->end_step(*this);
  ++steps_done_;
  const TensorView logits = buffer("logits");
  return std::vector<float>(logits.f32(), logits.f32() + logits.numel());
}

void Executor::run(const Op& op, std::span<const uint32_t> tokens, std::span<const Cursor> cursors) {
  const plan::OpParams& pr = op.params;
  auto in = [&](size_t i) { return buffer(op.inputs.at(i)); };
  auto out = [&] { return buffer(op.outputs.at(0)); };
  auto vec = [&](size_t i) { return weights_.vector(pr.weights.at(i)).data; };
  auto layer_state = [&]() -> const LayerState& { return states_.at(size_t(pr.state_layer)); };
  switch (op.kernel) {
    case Kernel::embedding:
      embedding(weights_.vector(pr.weights.at(0)).view(), tokens, out());
      return;
    case Kernel::layer_norm: layer_norm(in(0), out(), vec(0), vec(1), pr.eps); return;
    case Kernel::group_norm: group_norm(in(0), out(), vec(0), vec(1), pr.head_size, pr.eps); return;
    case Kernel::l2_norm: l2_norm(in(0), out(), pr.head_size, pr.eps); return;
    case Kernel::token_shift:
      token_shift(cursors, layer_state(), pr.state_row, weights_.vector(pr.weights.at(0)).view(), in(0), out());
      return;
    case Kernel::blit: {
      TensorView dst = out();
      if (pr.out_plane >= 0) {  // plane p of a [C, T, planes] buffer
        const TensorView src = in(0);
        const int64_t plane = dst.shape[0] * dst.shape[1];
        dst.data = static_cast<uint8_t*>(dst.data) + size_t(pr.out_plane * plane) * dtype_size(dst.dtype);
        dst.shape = src.shape;
      }
      blit(in(0), dst);
      return;
    }
    case Kernel::add: binary(BinaryOp::add, operand(op), out()); return;
    case Kernel::mul: binary(BinaryOp::mul, operand(op), out()); return;
    case Kernel::add_activate: {
      BinaryActivations act;
      act.out = pr.act;
      binary(BinaryOp::add, operand(op), out(), act);
      return;
    }
    case Kernel::lerp: lerp(in(0), in(1), out()); return;
    case Kernel::matmul: matmul(weights_.matrix(pr.weights.at(0)), in(0), out(), pr.act, pr.sparse_input); return;
    case Kernel::control_k_v7: control_k_v7(out(), in(1), vec(0)); return;
    case Kernel::time_mix_v7: {
      TimeMixParams tp;
      tp.decay = options_.decay;
      time_mix_v7(layer_state(), in(0), in(1), in(2), out(), cursors, pr.head_size, tp);
      return;
    }
    case Kernel::time_first_v7:
      time_first_v7(weights_.vector(pr.weights.at(0)).view(), in(0), in(1), out(), pr.head_size);
      return;
    case Kernel::channel_mix_v7: channel_mix_v7(cursors, layer_state(), in(0), out()); return;
    case Kernel::affine: affine(out(), pr.scale, pr.bias); return;
  }
  throw std::logic_error(fmt::format("executor: op '{}' has an unknown kernel", op.name));
}

}  // namespace rwkv::forward
