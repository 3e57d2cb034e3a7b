#include "backends/reference_backend.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::backends {

void ReferenceBackend::load(const Rwkv7Weights& weights, const BackendOptions& options) {
  ex_ = std::make_unique<forward::Executor>(weights, options.forward, options.slots);
}

void ReferenceBackend::begin_step(const plan::Plan& plan, const forward::StepLayout& layout) {
  ex_->begin_step(plan, layout);
}

Tensor ReferenceBackend::read(const std::string& buffer) {
  const TensorView v = ex_->buffer(buffer);
  Tensor t(v.dtype, v.shape);
  std::memcpy(t.bytes.data(), v.data, t.bytes.size());
  return t;
}

void ReferenceBackend::write(const std::string& buffer, const TensorView& data) {
  const TensorView v = ex_->buffer(buffer);
  if (!(v.shape == data.shape))
    throw std::invalid_argument(fmt::format("reference backend: buffer '{}' is {}, data {}", buffer, v.shape.str(),
                                            data.shape.str()));
  for (int64_t i = 0; i < v.numel(); ++i) v.set(i, data.get(i));
}

std::vector<float> ReferenceBackend::read_state(int64_t layer) {
  const LayerState& s = ex_->state(layer);
  return std::vector<float>(s.data, s.data + s.C * s.rows() * s.B);
}

void ReferenceBackend::write_state(int64_t layer, std::span<const float> state) {
  const LayerState& s = ex_->state(layer);
  if (int64_t(state.size()) != s.C * s.rows() * s.B)
    throw std::invalid_argument(fmt::format("reference backend: state of layer {} needs {} values, got {}", layer,
                                            s.C * s.rows() * s.B, state.size()));
  std::memcpy(s.data, state.data(), state.size() * sizeof(float));
}

}  // namespace rwkv::backends
