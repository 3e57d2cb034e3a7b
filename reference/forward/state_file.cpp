#include "reference/forward/state_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reference/kernels/state_layout.h"
#include "reference/model/safetensors.h"
#include "reference/model/safetensors_writer.h"

namespace rwkv::forward {

std::string_view state_layout_name(StateLayout l) { return l == StateLayout::webrwkv ? "webrwkv" : "official"; }

StateLayout parse_state_layout(std::string_view s) {
  if (s == "webrwkv") return StateLayout::webrwkv;
  if (s == "official") return StateLayout::official;
  throw std::invalid_argument(fmt::format("unknown state layout '{}' (expected webrwkv or official)", s));
}

namespace {

// One layer of a slot as a LayerState of one batch slot (a view, no copy).
LayerState layer_view(const SlotState& s, int64_t l) {
  return LayerState{const_cast<float*>(s.layer(l)), s.C, s.N, 1};
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", path, what));
}

// The tensor's f32 values, checked for dtype, shape and finiteness.
std::vector<float> read_f32(const SafetensorsFile& f, const std::string& name, const std::vector<int64_t>& shape) {
  if (!f.has(name)) bad(f.path(), fmt::format("state tensor '{}' is missing (expected F32 ({}))", name,
                                              fmt::join(shape, ", ")));
  const StTensor& t = f.get(name, shape);  // throws naming both shapes
  if (t.dtype != StDType::f32)
    bad(f.path(), fmt::format("state tensor '{}' is {}, expected F32 (the state is f32)", name,
                              st_dtype_name(t.dtype)));
  std::vector<float> v(size_t(t.numel()));
  std::memcpy(v.data(), t.data, t.bytes);
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      bad(f.path(), fmt::format("state tensor '{}' holds {} at flat index {}: a state must be finite", name, v[i], i));
  return v;
}

void require_only(const SafetensorsFile& f, const std::vector<std::string>& names) {
  std::vector<std::string> extra;
  for (const auto& [name, t] : f.tensors())
    if (std::find(names.begin(), names.end(), name) == names.end()) extra.push_back(name);
  if (!extra.empty())
    bad(f.path(), fmt::format("unexpected tensor(s) {} in a state file (expected only {})", fmt::join(extra, ", "),
                              fmt::join(names, ", ")));
}

}  // namespace

void write_state_file(const std::string& path, const SlotState& s, StateLayout layout, bool force) {
  const int64_t L = s.L, C = s.C, N = s.N, H = s.C / s.N;
  if (layout == StateLayout::webrwkv) {
    SafetensorsWriter out(path, {{"state", {L, N + 2, C}, StDType::f32}}, force);
    out.write(std::span<const float>(s.data));
    out.finish();
    return;
  }
  std::vector<float> att(size_t(L * C)), wkv(size_t(L * C * N)), ffn(size_t(L * C));
  for (int64_t l = 0; l < L; ++l)
    state_slot_to_official(layer_view(s, l), 0, std::span(att).subspan(size_t(l * C), size_t(C)),
                           std::span(wkv).subspan(size_t(l * C * N), size_t(C * N)),
                           std::span(ffn).subspan(size_t(l * C), size_t(C)));
  SafetensorsWriter out(path,
                        {{"att_shift", {L, C}, StDType::f32},
                         {"wkv", {L, H, N, N}, StDType::f32},
                         {"ffn_shift", {L, C}, StDType::f32}},
                        force);
  out.write(std::span<const float>(att));
  out.write(std::span<const float>(wkv));
  out.write(std::span<const float>(ffn));
  out.finish();
}

SlotState read_state_file(const std::string& path, const plan::ModelConfig& c) {
  const SafetensorsFile f = SafetensorsFile::open(path);
  const int64_t L = c.L, C = c.C, N = c.N, H = c.H();
  SlotState s{L, C, N, {}};
  if (f.has("state")) {
    require_only(f, {"state"});
    s.data = read_f32(f, "state", {L, N + 2, C});
    return s;
  }
  if (f.has("att_shift") || f.has("wkv") || f.has("ffn_shift")) {
    require_only(f, {"att_shift", "wkv", "ffn_shift"});
    const std::vector<float> att = read_f32(f, "att_shift", {L, C});
    const std::vector<float> wkv = read_f32(f, "wkv", {L, H, N, N});
    const std::vector<float> ffn = read_f32(f, "ffn_shift", {L, C});
    s.data.assign(size_t(L * (N + 2) * C), 0.0f);
    for (int64_t l = 0; l < L; ++l)
      state_slot_from_official(std::span(att).subspan(size_t(l * C), size_t(C)),
                               std::span(wkv).subspan(size_t(l * C * N), size_t(C * N)),
                               std::span(ffn).subspan(size_t(l * C), size_t(C)), layer_view(s, l), 0);
    return s;
  }
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors()) names.push_back(name);
  bad(path, fmt::format("not a state file: expected a tensor 'state' (webrwkv layout) or 'att_shift', 'wkv', "
                        "'ffn_shift' (official layout), found {}",
                        names.empty() ? std::string("no tensors") : fmt::format("{}", fmt::join(names, ", "))));
}

}  // namespace rwkv::forward
