#pragma once
// Saving and loading one batch slot's recurrent state (forward::SlotState) as
// a safetensors file of F32 tensors, in either of two layouts:
//
//   webrwkv   one tensor "state" of shape (L, N+2, C): what web-rwkv's
//             State::back gives for one batch (ne [C, N+2, L]): per layer row 0
//             the attention token-shift vector, rows 1..N the WKV state with
//             each head transposed (row 1+j, column h*N+i = S_h[i][j]), row
//             N+1 the FFN token-shift vector (spec section 5).
//   official  "att_shift" (L, C), "wkv" (L, H, N, N) as [l][h][i = value][j = key],
//             "ffn_shift" (L, C): BlinkDL's rwkv_v7_numpy.py state, layer by
//             layer, under the names of ../shared/crosscheck/state_official_f64.npz.
//
// Loading detects the layout from the tensor names and checks everything
// against the model: a missing, extra or misshapen tensor, a dtype other than
// F32, a NaN or Inf value each throw std::runtime_error naming the file, the
// tensor and what was expected. The conversions are exact copies, so saving in
// either layout and loading gives the same bits.
#include <string>
#include <string_view>

#include "reference/forward/executor.h"
#include "reference/plan/model_config.h"

namespace rwkv::forward {

enum class StateLayout : uint8_t { webrwkv, official };
std::string_view state_layout_name(StateLayout l);
// "webrwkv" or "official"; throws std::invalid_argument otherwise.
StateLayout parse_state_layout(std::string_view s);

// Writes `s` to `path` (temporary file + rename). Throws std::runtime_error if
// `path` exists and !force.
void write_state_file(const std::string& path, const SlotState& s, StateLayout layout, bool force);

// Reads a state file of either layout for a model of config `c`.
SlotState read_state_file(const std::string& path, const plan::ModelConfig& c);

}  // namespace rwkv::forward
