#pragma once
// Merged launches: the runs of consecutive plan ops the CUDA backend's `merge`
// option (backends/cuda/README.md) launches as ONE kernel, found on the plan
// itself (op kinds, the buffers each op reads and writes, shapes, head sizes),
// so that simgpu prices them and a backend may take them without describing
// the model graph again. Three shapes of group, as the CUDA finder
// (cuda_backend.cpp merged_at) has them:
//
//   matmul_epilogue  a vec-path matmul (T not a multiple of 32) of a matrix the
//                    warp GEMV takes (fp16 with K % 8 == 0, Q4_K/Q6_K with
//                    K % 256 == 0), then up to 3 element-wise ops (add, mul,
//                    add_activate, lerp, channel_mix_v7, control_k_v7, affine)
//                    of the matmul's output shape, each depending on the matmul
//                    or an earlier op of the group, none writing the matmul's
//                    input (matmul_o + add_x; ffn matmul_v + channel_mix + add_x;
//                    w2 + add_w0; a2 + add_a0; v2 + add_v0 + lerp_v)
//   norm_shift       a whole-buffer blit between two buffers of one element
//                    type, the one-row layer_norm (129..4096 channels) in place
//                    on its output, then up to 6 token shifts of the norm's
//                    output (att: blit_x + ln1 + 6 shifts; ffn: blit_x + ln2 +
//                    shift_k). The embedding's ln0 never merges: it follows the
//                    gather, not a blit, and its blit_x is followed by layer 0's
//                    blit, not a norm.
//   time_mix_tail    a one-token time_mix_v7 (heads of 32..128), then its
//                    group_norm, time_first_v7 and the mul by g, all in place on
//                    its output
//
// Every other op is a group of its own (kind single). Groups are found walking
// the plan from its first op: an op inside a group never starts one (as the
// backend's launch units). A decode step (T = 1) of 0.1b: 530 ops in 304
// launches, 0.4b and 1.5b: 1058 in 604, 2.9b: 1410 in 804; a prefill step
// (T a multiple of 32): no group of more than one op.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reference/formats/matrix.h"
#include "reference/plan/op_plan.h"

namespace rwkv::plan {

enum class MergeKind : uint8_t { single, matmul_epilogue, norm_shift, time_mix_tail };
std::string_view merge_kind_name(MergeKind k);

// Ops [begin, end) of a plan, launched as one kernel.
struct MergeGroup {
  size_t begin = 0, end = 0;
  MergeKind kind = MergeKind::single;
  size_t size() const { return end - begin; }
  bool operator==(const MergeGroup&) const = default;
};

// The format of a matrix by its weight name (a safetensors name): decides
// whether the warp GEMV, and so an epilogue, takes the matmul.
using MatrixFormatOf = std::function<WeightFormat(const std::string& weight)>;

// The limits of the backend's merged kernels (backends/cuda/kernels.h).
struct MergeLimits {
  int epilogue_ops = 3;          // kEpilogueOps
  int shift_ops = 6;             // kShiftOps
  int64_t max_elements = 16384;  // kChainMaxElements: the most values of one merged op's output
  int64_t min_norm_row = 129, max_norm_row = 4096;
  int64_t min_head = 32, max_head = 128;
};

// The plan cut into launch groups, in order, covering every op once.
// `format_of` null: every matrix fp16.
std::vector<MergeGroup> merge_groups(const Plan& plan, const MatrixFormatOf& format_of = nullptr,
                                     const MergeLimits& limits = {});

// Per op, the index of the first op of its group.
std::vector<size_t> group_starts(const std::vector<MergeGroup>& groups, size_t ops);

}  // namespace rwkv::plan
