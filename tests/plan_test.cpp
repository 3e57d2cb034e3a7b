// The op plan: spec 6.1's counts, web-rwkv's order, names unique, and every
// input produced earlier (or a weight, the tokens, or the state).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "reference/plan/op_plan.h"

namespace rwkv::plan {
namespace {

std::map<int64_t, int> ops_per_layer(const Plan& p, Kernel only, bool filter) {
  std::map<int64_t, int> n;
  for (const Op& op : p.ops)
    if (!filter || op.kernel == only) ++n[op.layer];
  return n;
}

TEST(ModelConfig, RankFormulaAndPresets) {
  // The formula gives the crosscheck model's ranks for C = 256.
  const ModelConfig f = config_from_formula("f", 2, 256, 1024);
  EXPECT_EQ(f.Dw, 32);
  EXPECT_EQ(f.Da, 32);
  EXPECT_EQ(f.Dv, 32);
  EXPECT_EQ(f.Dg, 64);
  const ModelConfig tiny = preset("tiny");
  EXPECT_EQ(tiny.L, 2);
  EXPECT_EQ(tiny.C, 256);
  EXPECT_EQ(tiny.F, 1024);
  EXPECT_EQ(tiny.Dg, 64);
  const ModelConfig b7 = preset("7b");
  EXPECT_EQ(b7.L, 32);
  EXPECT_EQ(b7.C, 4096);
  EXPECT_EQ(b7.F, 16384);
  EXPECT_EQ(b7.V, 65536);
  EXPECT_EQ(preset("0.1b").Dw, 64);  // 1.8 * sqrt(768) / 32 = 1.56 -> 2
  EXPECT_THROW(preset("13b"), std::invalid_argument);
}

TEST(Plan, CountsPerLayerAndTotal) {
  for (const std::string& name : preset_names()) {
    const ModelConfig c = preset(name);
    const Plan p = build_plan(c, 1);
    const auto per_layer = ops_per_layer(p, Kernel::blit, false);
    EXPECT_EQ(per_layer.at(0), 41) << name;
    for (int64_t l = 1; l < c.L; ++l) EXPECT_EQ(per_layer.at(l), 44) << name << " layer " << l;
    EXPECT_EQ(p.dispatch_count(), 44 * c.L + 1) << name;
    EXPECT_EQ(int64_t(p.ops.size()), 44 * c.L + 2) << name;  // + the host gather
    const auto mm = ops_per_layer(p, Kernel::matmul, true);
    EXPECT_EQ(mm.at(0), 12);
    for (int64_t l = 1; l < c.L; ++l) EXPECT_EQ(mm.at(l), 14);
    const auto blits = ops_per_layer(p, Kernel::blit, true);
    EXPECT_EQ(blits.at(0), 8);
    EXPECT_EQ(blits.at(1), 7);
  }
  EXPECT_EQ(build_plan(preset("0.4b")).dispatch_count(), 1057);
  EXPECT_EQ(build_plan(preset("7b")).dispatch_count(), 1409);
}

TEST(Plan, LayerKernelMixMatchesSpec) {
  const Plan p = build_plan(preset("tiny"), 1);
  std::map<Kernel, int> n;
  for (const Op& op : p.ops)
    if (op.layer == 1) ++n[op.kernel];
  EXPECT_EQ(n[Kernel::layer_norm], 2);
  EXPECT_EQ(n[Kernel::group_norm], 1);
  EXPECT_EQ(n[Kernel::l2_norm], 1);
  EXPECT_EQ(n[Kernel::token_shift], 7);
  EXPECT_EQ(n[Kernel::add], 3);
  EXPECT_EQ(n[Kernel::add_activate], 2);
  EXPECT_EQ(n[Kernel::mul], 2);
  EXPECT_EQ(n[Kernel::lerp], 1);
  EXPECT_EQ(n[Kernel::control_k_v7], 1);
  EXPECT_EQ(n[Kernel::time_mix_v7], 1);
  EXPECT_EQ(n[Kernel::time_first_v7], 1);
  EXPECT_EQ(n[Kernel::channel_mix_v7], 1);
}

TEST(Plan, OrderFollowsWebRwkv) {
  const Plan p = build_plan(preset("tiny"), 1);
  EXPECT_EQ(p.ops[0].name, "embed.gather");
  EXPECT_EQ(p.ops[1].name, "embed.ln0");
  EXPECT_EQ(p.ops[2].name, "embed.blit_x");
  EXPECT_EQ(p.ops[3].name, "blocks.0.att.blit_x");
  EXPECT_EQ(p.ops[5].name, "blocks.0.att.token_shift_r");
  EXPECT_EQ(p.ops[3 + 28].name, "blocks.0.att.time_mix");  // row 32 of spec 2.2, minus layer 0's 3
  EXPECT_EQ(p.ops[p.ops.size() - 2].name, "head.ln_out");
  EXPECT_EQ(p.ops.back().name, "head.matmul");
  // Layer 1's row 32 is time_mix; rows 24-27 are the value residual.
  const size_t l1 = 3 + 41;
  EXPECT_EQ(p.ops[l1 + 23].name, "blocks.1.att.matmul_v1");
  EXPECT_EQ(p.ops[l1 + 26].name, "blocks.1.att.lerp_v");
  EXPECT_EQ(p.ops[l1 + 31].name, "blocks.1.att.time_mix");
  EXPECT_EQ(p.ops[l1 + 43].name, "blocks.1.ffn.add_x");
}

TEST(Plan, NamesUniqueAndInputsProducedFirst) {
  for (int64_t T : {1, 5}) {
    const Plan p = build_plan(preset("1.5b"), T);
    std::set<std::string> names, produced{"tokens"};
    for (const Op& op : p.ops) {
      EXPECT_TRUE(names.insert(op.name).second) << "duplicate " << op.name;
      for (const std::string& in : op.inputs) {
        if (in == "tokens") continue;
        EXPECT_NO_THROW(p.buffer(in)) << op.name;
        // "n" is written plane by plane, then read whole.
        EXPECT_TRUE(produced.count(in)) << op.name << " reads " << in << " before it is written";
      }
      for (const std::string& out : op.outputs) {
        EXPECT_NO_THROW(p.buffer(out)) << op.name;
        produced.insert(out);
      }
      for (const std::string& w : op.params.weights) EXPECT_FALSE(w.empty()) << op.name;
      if (op.kernel == Kernel::token_shift || op.kernel == Kernel::time_mix_v7 ||
          op.kernel == Kernel::channel_mix_v7) {
        EXPECT_EQ(op.params.state_layer, op.layer) << op.name;
      }
    }
    EXPECT_EQ(p.buffer("x").d1, T);
    EXPECT_EQ(p.buffer("ffn_k").d0, p.config.F);
  }
}

TEST(Plan, RescaleAddsAffine) {
  PlanOptions o;
  o.rescale = 1;
  const Plan p = build_plan(preset("tiny"), 1, o);
  EXPECT_EQ(p.dispatch_count(), 44 * 2 + 1 + 2);
  EXPECT_THROW(build_plan(preset("tiny"), 0), std::invalid_argument);
}

TEST(Plan, DescribeNamesKernelAndParams) {
  const Plan p = build_plan(preset("tiny"), 1);
  const std::string s = describe(p.ops[3 + 11]);  // blocks.0.att.matmul_w1
  EXPECT_NE(s.find("blocks.0.att.matmul_w1 matmul att_wx -> w_lora"), std::string::npos) << s;
  EXPECT_NE(s.find("weights=blocks.0.att.w1"), std::string::npos) << s;
  EXPECT_NE(s.find("act=tanh"), std::string::npos) << s;
}

}  // namespace
}  // namespace rwkv::plan

namespace rwkv::plan {
namespace {

// Spec 2.4: with every token wanting logits the head runs in place on x; with
// some, one blit per wanted run into head_x, and logits hold n_out columns.
TEST(Plan, HeadOutputRuns) {
  const ModelConfig c = preset("tiny");
  const Plan all = build_plan(c, 8);
  EXPECT_EQ(all.n_out(), 8);
  EXPECT_EQ(all.ops.back().inputs.at(0), "x");
  EXPECT_EQ(all.buffer("logits").d1, 8);
  const Plan some = build_plan(c, 8, {{2, 1}, {5, 3}});
  EXPECT_EQ(some.n_out(), 4);
  EXPECT_EQ(some.dispatch_count(), all.dispatch_count() + 2);
  EXPECT_EQ(some.buffer("head_x").d1, 4);
  EXPECT_EQ(some.buffer("logits").d1, 4);
  const Op& blit1 = some.ops[some.ops.size() - 3];
  EXPECT_EQ(blit1.name, "head.blit_x_1");
  EXPECT_EQ(blit1.params.src_token, 5);
  EXPECT_EQ(blit1.params.dst_token, 1);
  EXPECT_EQ(blit1.params.token_count, 3);
  EXPECT_EQ(some.ops.back().inputs.at(0), "head_x");
  EXPECT_THROW(build_plan(c, 8, std::vector<TokenRun>{}), std::invalid_argument);
  EXPECT_THROW(build_plan(c, 8, {{5, 1}, {2, 1}}), std::invalid_argument);  // out of order
  EXPECT_THROW(build_plan(c, 8, {{6, 3}}), std::invalid_argument);          // past T
  EXPECT_THROW(build_plan(c, 8, {{1, 0}}), std::invalid_argument);          // empty run
  EXPECT_THROW(build_plan(c, 8, {{0, 3}, {2, 2}}), std::invalid_argument);  // overlap
}

}  // namespace
}  // namespace rwkv::plan
