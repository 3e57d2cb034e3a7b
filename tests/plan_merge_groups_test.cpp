// The merged launches found on the plan (reference/plan/merge_groups.h):
// the launch counts the CUDA backend's GPU test asserts for its `merge`
// option (tests/cuda_backend_test.cpp MergeShortensTheLaunchesOfADecodeStep:
// a 0.1b layer in 25 launches, and backends/cuda/README.md), the groups of
// one layer by name, none in prefill.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reference/plan/merge_groups.h"
#include "reference/plan/model_config.h"
#include "reference/plan/op_plan.h"

namespace {

using namespace rwkv;
using namespace rwkv::plan;

// What a step's groups cost in launches: one per group (the embedding gather
// is a launch in the CUDA backend, as it counts them).
size_t launches(const Plan& p, const MatrixFormatOf& f = nullptr) { return merge_groups(p, f).size(); }

WeightFormat q4k_layers(const std::string& w) {
  for (const char* tail : {".att.receptance.weight", ".att.key.weight", ".att.value.weight", ".att.output.weight",
                           ".ffn.key.weight", ".ffn.value.weight"})
    if (w.ends_with(tail)) return WeightFormat::q4_k;
  return w == "head.weight" ? WeightFormat::q6_k : WeightFormat::fp16;
}

TEST(MergeGroups, DecodeStepLaunchCounts) {
  struct Want {
    const char* model;
    size_t ops, launches;
  };
  for (const Want& w : {Want{"0.1b", 530, 304}, Want{"0.4b", 1058, 604}, Want{"1.5b", 1058, 604},
                        Want{"2.9b", 1410, 804}}) {
    const Plan p = build_plan(preset(w.model), 1);
    ASSERT_EQ(p.ops.size(), w.ops) << w.model;
    EXPECT_EQ(launches(p), w.launches) << w.model << " fp16";
    EXPECT_EQ(launches(p, q4k_layers), w.launches) << w.model << " Q4_K layers, Q6_K head";
  }
}

TEST(MergeGroups, GroupsCoverEveryOpOnceInOrder) {
  const Plan p = build_plan(preset("0.1b"), 1);
  const std::vector<MergeGroup> g = merge_groups(p);
  size_t next = 0;
  for (const MergeGroup& m : g) {
    EXPECT_EQ(m.begin, next);
    EXPECT_GT(m.end, m.begin);
    EXPECT_EQ(m.kind == MergeKind::single, m.size() == 1);
    next = m.end;
  }
  EXPECT_EQ(next, p.ops.size());
  const std::vector<size_t> start = group_starts(g, p.ops.size());
  for (const MergeGroup& m : g)
    for (size_t j = m.begin; j < m.end; ++j) EXPECT_EQ(start[j], m.begin);
}

// The merged groups of layer 1, by the names of their ops (short names, without "blocks.1.").
TEST(MergeGroups, OneLayersGroupsAreTheBackendsList) {
  const Plan p = build_plan(preset("0.1b"), 1);
  std::vector<std::vector<std::string>> merged;
  size_t layer_launches = 0;
  for (const MergeGroup& m : merge_groups(p)) {
    if (p.ops[m.begin].layer != 1) continue;
    ++layer_launches;
    if (m.size() == 1) continue;
    std::vector<std::string> names;
    for (size_t j = m.begin; j < m.end; ++j) names.push_back(p.ops[j].name.substr(std::string("blocks.1.").size()));
    merged.push_back(names);
  }
  EXPECT_EQ(layer_launches, 25u) << "44 ops";
  const std::vector<std::vector<std::string>> want = {
      {"att.blit_x", "att.ln1", "att.token_shift_r", "att.token_shift_w", "att.token_shift_k", "att.token_shift_v",
       "att.token_shift_a", "att.token_shift_g"},
      {"att.matmul_w2", "att.add_w0"},
      {"att.matmul_a2", "att.add_a0"},
      {"att.matmul_v2", "att.add_v0", "att.lerp_v"},
      {"att.time_mix", "att.ln_x", "att.time_first", "att.mul_g"},
      {"att.matmul_o", "att.add_x"},
      {"ffn.blit_x", "ffn.ln2", "ffn.token_shift_k"},
      {"ffn.matmul_v", "ffn.channel_mix", "ffn.add_x"},
  };
  EXPECT_EQ(merged, want);
}

TEST(MergeGroups, KindsOfTheGroups) {
  const Plan p = build_plan(preset("0.1b"), 1);
  for (const MergeGroup& m : merge_groups(p)) {
    const Kernel k = p.ops[m.begin].kernel;
    if (m.kind == MergeKind::matmul_epilogue) {
      EXPECT_EQ(k, Kernel::matmul);
    } else if (m.kind == MergeKind::norm_shift) {
      EXPECT_EQ(k, Kernel::blit);
    } else if (m.kind == MergeKind::time_mix_tail) {
      EXPECT_EQ(k, Kernel::time_mix_v7);
    }
  }
}

TEST(MergeGroups, PrefillStepsMergeNothing) {
  for (const char* model : {"0.1b", "1.5b"})
    for (int64_t T : {32, 128}) {
      const Plan whole = build_plan(preset(model), T);
      EXPECT_EQ(launches(whole), whole.ops.size()) << model << " T = " << T;
      const Plan last = build_plan(preset(model), T, {TokenRun{T - 1, 1}});  // the bench's prefill: logits of the last
      EXPECT_EQ(launches(last, q4k_layers), last.ops.size()) << model << " T = " << T << ", logits of the last";
    }
}

// Formats the warp GEMV does not take (q8_0 here) keep their matmuls alone; the other groups stay.
TEST(MergeGroups, AMatrixTheGemvDoesNotTakeHasNoEpilogue) {
  const Plan p = build_plan(preset("0.1b"), 1);
  const MatrixFormatOf q8 = [](const std::string& w) {
    return w.ends_with(".att.output.weight") ? WeightFormat::q8_0 : WeightFormat::fp16;
  };
  EXPECT_EQ(launches(p, q8), 304u + 12u) << "matmul_o + add_x is two launches in each of the 12 layers";
}

// A layer_norm row outside 129..4096 channels is no merged norm (the fast set's 256-thread row).
TEST(MergeGroups, LimitsOfTheMergedKernels) {
  const Plan p = build_plan(preset("0.1b"), 1);
  MergeLimits narrow;
  narrow.max_norm_row = 512;  // 0.1b's 768 channels no longer fit
  EXPECT_EQ(merge_groups(p, nullptr, narrow).size(), 304u + 12u * (7 + 2)) << "blit + ln1 + 6 shifts, blit + ln2 + shift";
  MergeLimits one_op;
  one_op.epilogue_ops = 1;
  EXPECT_EQ(merge_groups(p, nullptr, one_op).size(), 304u + 11u * 1 + 12u * 1) << "lerp_v alone; channel_mix's add_x alone";
}

}  // namespace
