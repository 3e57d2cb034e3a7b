#pragma once
// The bugs the `faulty` backend can plant (--fault NAME), each one a mistake
// engineers porting RWKV-7 have made or easily could. Each names where the
// harness must see the first divergence and what it needs to show at all.
#include <string>
#include <string_view>
#include <vector>

namespace rwkv::backends {

enum class Fault : uint8_t {
  none,
  ln_eps,            // layer_norm with group_norm's epsilon (64e-5 instead of 1e-5)
  gn_eps,            // group_norm (ln_x) with layer_norm's epsilon (1e-5: the x64 for head size 64 forgotten)
  f16_store,         // the decay LoRA's tanh output kept in f32 where the plan stores f16
  token_shift_off,   // token shift reads the current token instead of the previous one
  wkv_transposed,    // WKV state indexed [key][value] instead of [value][key]
  decay_act_swap,    // tanh and sigmoid swapped in the decay LoRA (w1 sigmoid)
  no_v_first_lerp,   // the value-residual lerp towards v_first skipped on layers above 0
  q4k_min_sign,      // Q4_K: the sub-block minimum added instead of subtracted
  q4k_scale_hi,      // Q4_K: 6-bit scales/mins of sub-blocks 4..7 unpacked like those of 0..3
  gn_group_size,     // group_norm over groups of 32 channels instead of the head size
  state_not_carried, // the recurrent state zeroed at every step instead of carried over
  softmax_no_max,    // softmax without subtracting the maximum (overflows for large logits)
  l2_eps_torch,      // l2_norm as x / max(|x|, eps) (torch's F.normalize) instead of x / sqrt(sum + eps)
};

struct FaultInfo {
  Fault fault;
  std::string_view name;         // --fault NAME
  std::string_view description;
  std::string_view first_op;     // the plan op (or conformance kernel) where it must be caught first
  std::string_view needs;        // what a run needs for the bug to show ("" = any run)
};

const std::vector<FaultInfo>& fault_catalog();
// Throws std::invalid_argument listing the names for an unknown one.
Fault parse_fault(std::string_view name);
const FaultInfo& fault_info(Fault f);

}  // namespace rwkv::backends
