#include "backends/faults.h"

#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::backends {

const std::vector<FaultInfo>& fault_catalog() {
  static const std::vector<FaultInfo> all = {
      {Fault::ln_eps, "ln_eps", "layer_norm uses group_norm's epsilon 64e-5 instead of 1e-5", "embed.ln0",
       ""},
      {Fault::gn_eps, "gn_eps", "group_norm (ln_x) uses layer_norm's epsilon 1e-5 instead of 64e-5",
       "blocks.0.att.ln_x", "f32 activations"},
      {Fault::f16_store, "f16_store", "the decay LoRA's tanh output is kept in f32 where the plan stores f16",
       "blocks.0.att.matmul_w1", "f16 activations"},
      {Fault::token_shift_off, "token_shift_off", "token shift mixes the current token instead of the previous one",
       "blocks.0.att.token_shift_r", ""},
      {Fault::wkv_transposed, "wkv_transposed", "WKV state indexed [key][value] instead of [value][key]",
       "state.0", "a state comparison: the backend reads its own layout consistently, so its outputs are right"},
      {Fault::decay_act_swap, "decay_act_swap", "tanh and sigmoid swapped in the decay LoRA (w1 gets sigmoid)",
       "blocks.0.att.matmul_w1", ""},
      {Fault::no_v_first_lerp, "no_v_first_lerp", "the lerp towards layer 0's v skipped on layers above 0",
       "blocks.1.att.lerp_v", ""},
      {Fault::q4k_min_sign, "q4k_min_sign", "Q4_K: the sub-block minimum added instead of subtracted",
       "blocks.0.att.matmul_r", "Q4_K weights"},
      {Fault::q4k_scale_hi, "q4k_scale_hi", "Q4_K: scales and mins of sub-blocks 4..7 unpacked like those of 0..3",
       "blocks.0.att.matmul_r", "Q4_K weights"},
      {Fault::gn_group_size, "gn_group_size", "group_norm normalises groups of 32 channels instead of the head size",
       "blocks.0.att.ln_x", ""},
      {Fault::state_not_carried, "state_not_carried", "the recurrent state is zeroed at every step",
       "blocks.0.att.token_shift_r", "two or more steps (caught in step 1)"},
      {Fault::softmax_no_max, "softmax_no_max", "softmax without subtracting the maximum", "softmax",
       "logits above ~88 (conformance: softmax large logits)"},
      {Fault::l2_eps_torch, "l2_eps_torch", "l2_norm as x / max(|x|, eps) instead of x / sqrt(sum + eps)",
       "l2_norm", "a head vector of norm below ~1e-6 (conformance: l2_norm tiny)"},
  };
  return all;
}

Fault parse_fault(std::string_view name) {
  std::string names;
  for (const FaultInfo& f : fault_catalog()) {
    if (f.name == name) return f.fault;
    names += (names.empty() ? "" : ", ") + std::string(f.name);
  }
  throw std::invalid_argument(fmt::format("unknown fault '{}' (expected one of {})", name, names));
}

const FaultInfo& fault_info(Fault f) {
  for (const FaultInfo& i : fault_catalog())
    if (i.fault == f) return i;
  throw std::invalid_argument("fault_info: no such fault");
}

}  // namespace rwkv::backends
