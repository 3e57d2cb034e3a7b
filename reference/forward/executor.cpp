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

namespace {

// A view of tokens [first, first + count) of a [C, T] buffer.
TensorView token_range(TensorView v, int64_t first, int64_t count) {
  v.data = static_cast<uint8_t*>(v.data) + size_t(first * v.shape[0]) * dtype_size(v.dtype);
  v.shape = Shape(v.shape[0], count);
  return v;
}

}  // namespace

Executor::Executor(const Rwkv7Weights& weights, ForwardOptions options, int64_t slots)
    : weights_(weights), options_(options), slots_(slots) {
  if (slots < 1 || slots > kMaxSlots)
    throw std::invalid_argument(fmt::format("executor: {} batch slots, expected 1 to {}", slots, kMaxSlots));
  const plan::ModelConfig& c = weights_.config;
  state_data_.assign(size_t(c.L), std::vector<float>(size_t(c.C * (c.N + 2) * slots), 0.0f));
  for (auto& d : state_data_) states_.push_back(LayerState{d.data(), c.C, c.N, slots});
}

void Executor::reset() {
  for (auto& d : state_data_) std::fill(d.begin(), d.end(), 0.0f);
  steps_done_ = 0;
}

void Executor::check_slot(uint32_t slot, const char* what) const {
  if (int64_t(slot) >= slots_)
    throw std::invalid_argument(fmt::format("{}: slot {} out of range (the executor has {} slots)", what, slot, slots_));
}

void Executor::reset_slot(uint32_t slot) {
  check_slot(slot, "reset_slot");
  for (const LayerState& s : states_) std::fill(s.row(slot, 0), s.row(slot, 0) + s.rows() * s.C, 0.0f);
}

SlotState Executor::export_state(uint32_t slot) const {
  check_slot(slot, "export_state");
  const plan::ModelConfig& c = config();
  SlotState out{c.L, c.C, c.N, std::vector<float>(size_t(c.L * (c.N + 2) * c.C))};
  for (int64_t l = 0; l < c.L; ++l) std::copy_n(states_[size_t(l)].row(slot, 0), (c.N + 2) * c.C, out.layer(l));
  return out;
}

void Executor::import_state(uint32_t slot, const SlotState& s) {
  check_slot(slot, "import_state");
  const plan::ModelConfig& c = config();
  if (s.L != c.L || s.C != c.C || s.N != c.N || int64_t(s.data.size()) != c.L * (c.N + 2) * c.C)
    throw std::invalid_argument(fmt::format("import_state: state of L={} C={} N={} ({} values), the model has "
                                            "L={} C={} N={}",
                                            s.L, s.C, s.N, s.data.size(), c.L, c.C, c.N));
  for (int64_t l = 0; l < c.L; ++l) std::copy_n(s.layer(l), (c.N + 2) * c.C, states_[size_t(l)].row(slot, 0));
}

const plan::Plan& Executor::plan() const {
  if (!plan_) throw std::logic_error("executor: no step has begun");
  return *plan_;
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

DType buffer_dtype(const plan::Buffer& b, const ForwardOptions& o) {
  if (b.type == plan::BufferType::f16 && o.embedding_f16) return DType::f16;
  if (b.type == plan::BufferType::f32) return DType::f32;
  return o.activations;
}

void Executor::begin_step(std::span<const Chunk> chunks, LogitsFor want) {
  if (in_step_) throw std::logic_error("executor: begin_step inside a step (call end_step first)");
  StepLayout layout = layout_step(chunks, want, slots_, config().V);  // checks everything first
  const plan::Plan& p = plans_.get(weights_.config, layout.T(), layout.outputs);
  begin_step(p, std::move(layout));
}

void Executor::begin_step(const plan::Plan& p, StepLayout layout) {
  if (in_step_) throw std::logic_error("executor: begin_step inside a step (call end_step first)");
  if (p.T != layout.T() || !(p.outputs == layout.outputs) || p.config.C != config().C || p.config.L != config().L)
    throw std::logic_error("executor: the plan was not built for this step layout and model");
  plan_ = &p;
  // Buffers: keep those whose shape and type already fit.
  for (const plan::Buffer& b : plan_->buffers) {
    const DType t = buffer_dtype(b, options_);
    const Shape shape(b.d0, b.d1, b.d2);
    auto bt = buffers_.find(b.name);
    if (bt == buffers_.end() || bt->second.dtype != t || !(bt->second.shape == shape))
      buffers_.insert_or_assign(b.name, Tensor(t, shape));
  }
  tokens_ = std::move(layout.tokens);
  cursors_ = std::move(layout.cursors);
  rows_ = std::move(layout.rows);
  in_step_ = true;
  if (observer_) observer_->begin_step(*this);
}

void Executor::run_op(size_t index) {
  if (!in_step_) throw std::logic_error("executor: run_op outside a step (call begin_step first)");
  const Op& op = plan_->ops.at(index);
  if (observer_) observer_->before_op(*this, op, index);
  run(op);
  if (observer_) observer_->after_op(*this, op, index);
}

StepResult Executor::end_step() {
  if (!in_step_) throw std::logic_error("executor: end_step outside a step");
  if (observer_) observer_->end_step(*this);
  in_step_ = false;
  ++steps_done_;
  const TensorView logits = buffer("logits");
  StepResult r;
  r.V = config().V;
  r.rows = rows_;
  r.logits.assign(logits.f32(), logits.f32() + logits.numel());
  return r;
}

StepResult Executor::step(std::span<const Chunk> chunks, LogitsFor want) {
  begin_step(chunks, want);
  try {
    for (size_t i = 0; i < plan_->ops.size(); ++i) run_op(i);
  } catch (...) {
    in_step_ = false;  // the executor stays usable; the states hold whatever the ops wrote
    throw;
  }
  return end_step();
}

std::vector<float> Executor::step(std::span<const uint32_t> tokens) {
  const Chunk chunk{0, tokens};
  return step(std::span(&chunk, 1), LogitsFor::all).logits;
}

void Executor::run(const Op& op) {
  const std::span<const uint32_t> tokens = tokens_;
  const std::span<const Cursor> cursors = cursors_;
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
      TensorView src = in(0), dst = out();
      if (pr.out_plane >= 0) {  // plane p of a [C, T, planes] buffer
        const int64_t plane = dst.shape[0] * dst.shape[1];
        dst.data = static_cast<uint8_t*>(dst.data) + size_t(pr.out_plane * plane) * dtype_size(dst.dtype);
        dst.shape = src.shape;
      }
      if (pr.token_count > 0) {  // a run of tokens (the head's wanted rows)
        src = token_range(src, pr.src_token, pr.token_count);
        dst = token_range(dst, pr.dst_token, pr.token_count);
      }
      blit(src, dst);
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
